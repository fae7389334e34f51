"""Plain NumPy/polars references of :mod:`griddiag.kernels.balance`.

The array formulation the kernels replaced (``detectors/theft.py`` before its kernels):
meter readings copied out of the batch, every (instant, member) pair materialised, pairs
found by binary search on a packed (meter, time) key, and sums done by polars' group-by
sum: Kahan summation in row order, written out here as a loop (polars runs it per partition
of the frame, so it gives the same bits only for a group it does not split; the loop always
does). Several full-size temporaries per step: slow and memory-hungry, but each line is
obviously what it says.
``tests/test_balance.py`` compares the two.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["group_sum", "local_day_sums", "matched_day_sums", "matched_sums", "series_step"]

_US_PER_DAY = 86_400_000_000
_LATTICE_US = 900_000_000


def _copy_rows(t, values, starts, ends):
    """Rows of each meter copied out, with the meter index of each row."""
    n = np.asarray(ends) - np.asarray(starts)
    rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)] or
                          [np.empty(0, dtype=np.int64)]).astype(np.int64)
    return np.repeat(np.arange(n.shape[0]), n), np.asarray(t)[rows], np.asarray(values)[rows]


def group_sum(values, offsets) -> np.ndarray:
    """Kahan sum of each group, term by term (invalid values replaced by 0)."""
    values = np.where(np.isfinite(values), values, 0.0).tolist()
    out = []
    for a, b in zip(offsets[:-1], offsets[1:]):
        s = c = 0.0
        for x in values[a:b]:
            y = x - c
            t = s + y
            c = (t - s) - y
            s = t
        out.append(s)
    return np.array(out, dtype=np.float64)


def series_step(t, values, starts, ends, *, default_us):
    code, tt, vv = _copy_rows(t, values, starts, ends)
    d = pl.col("t").diff()
    stats = (pl.DataFrame({"c": code, "t": tt, "v": vv},
                          schema={"c": pl.Int64, "t": pl.Int64, "v": pl.Float64})
             .group_by("c").agg(step=d.filter(d > 0).median(),
                                n=pl.col("v").is_finite().sum()))
    step = np.full(len(starts), default_us, dtype=np.int64)
    n_valid = np.zeros(len(starts), dtype=np.int64)
    c = stats["c"].to_numpy()
    step[c] = stats["step"].fill_null(default_us).round().cast(pl.Int64).to_numpy()
    n_valid[c] = stats["n"].to_numpy()
    return step, n_valid


def _lookup(code, t, q_code, q_t):
    """Row of each (q_code, q_t) among rows sorted by (code, t), -1 where absent (the first
    of equal rows)."""
    out = np.full(q_code.shape[0], -1, dtype=np.int64)
    if code.size == 0 or q_code.size == 0:
        return out
    t_min = int(min(t.min(), q_t.min()))
    span = int(max(t.max(), q_t.max())) - t_min + 1
    key = code * span + (t - t_min)
    qk = q_code * span + (q_t - t_min)
    i = np.minimum(np.searchsorted(key, qk), key.size - 1)
    return np.where(key[i] == qk, i, -1)


def _pairs(t, values, starts, ends, step_us, inst_t_us, inst_offsets, inst_step_us, inst_power,
           members, member_offsets):
    """Every (instant, member) pair, instant after instant: instant, member position,
    matched kWh and whether it is matched with valid data."""
    code, mt, me = _copy_rows(t, values, starts, ends)
    step = np.asarray(step_us, dtype=np.int64)
    it = np.asarray(inst_t_us, dtype=np.int64)
    ioff = np.asarray(inst_offsets, dtype=np.int64)
    moff = np.asarray(member_offsets, dtype=np.int64)
    members = np.asarray(members, dtype=np.int64)
    i_tx = np.repeat(np.arange(ioff.shape[0] - 1), np.diff(ioff))
    n_mem = np.diff(moff)[i_tx]
    p_inst = np.repeat(np.arange(it.shape[0]), n_mem)
    p_pos = np.repeat(moff[:-1][i_tx], n_mem) + (np.arange(p_inst.shape[0])
                                                  - np.repeat(np.cumsum(n_mem) - n_mem, n_mem))
    p_meter = members[p_pos]
    p_step = np.asarray(inst_step_us, dtype=np.int64)[i_tx[p_inst]]
    pw = np.asarray(inst_power, dtype=bool)[i_tx[p_inst]]
    kwh = np.full(p_inst.shape[0], np.nan)
    ok = np.zeros(p_inst.shape[0], dtype=bool)
    q_t = it[p_inst]
    # a power sample at t: the meter interval holding t, scaled to the transformer's step
    hit = _lookup(code, mt, p_meter, q_t - q_t % step[p_meter])
    ev = np.where(hit >= 0, me[np.maximum(hit, 0)], np.nan)
    kwh[pw] = (ev * p_step / step[p_meter])[pw]
    ok[pw] = np.isfinite(ev)[pw]
    # interval energy: the meter's intervals binned on the transformer's grid, summed
    for q in np.flatnonzero(~pw):
        g = i_tx[p_inst[q]]
        m = p_meter[q]
        t0, stp = it[ioff[g]], int(inst_step_us[g])
        rt = t0 + (mt[code == m] - t0) // stp * stp
        inside = me[code == m][rt == q_t[q]]
        if inside.size:
            kwh[q] = group_sum(inside, [0, inside.size])[0]
            ok[q] = np.isfinite(inside).sum() >= stp // step[m]
    return p_inst, p_pos, kwh, ok


def matched_sums(t, values, starts, ends, step_us, inst_t_us, inst_offsets, inst_step_us,
                 inst_power, members, member_offsets):
    p_inst, _, kwh, ok = _pairs(t, values, starts, ends, step_us, inst_t_us, inst_offsets,
                                inst_step_us, inst_power, members, member_offsets)
    n = len(inst_t_us)
    starts_p = np.searchsorted(p_inst, np.arange(n + 1))
    return group_sum(kwh, starts_p), np.bincount(p_inst, weights=ok, minlength=n).astype(
        np.int64)


def matched_day_sums(t, values, starts, ends, step_us, inst_t_us, inst_offsets, inst_step_us,
                     inst_power, members, member_offsets, day_slot, out_offsets):
    p_inst, p_pos, kwh, _ = _pairs(t, values, starts, ends, step_us, inst_t_us, inst_offsets,
                                   inst_step_us, inst_power, members, member_offsets)
    slot = np.asarray(day_slot)[p_inst]
    keep = slot >= 0
    out_idx = np.asarray(out_offsets)[p_pos[keep]] + slot[keep]
    n_out = int(np.asarray(out_offsets)[-1])
    order = np.argsort(out_idx, kind="stable")  # pairs of one slot stay in time order
    grp = np.searchsorted(out_idx[order], np.arange(n_out + 1))
    return group_sum(kwh[keep][order], grp)


def local_day_sums(t, values, starts, ends, zone, lattice_first_us, lattice_offsets,
                   lattice_utc_offset_us):
    code, mt, me = _copy_rows(t, values, starts, ends)
    z = np.asarray(zone, dtype=np.int64)[code]
    first = np.asarray(lattice_first_us, dtype=np.int64)[z]
    lat_off = np.asarray(lattice_offsets, dtype=np.int64)[z]
    day = (mt + np.asarray(lattice_utc_offset_us)[lat_off + (mt - first) // _LATTICE_US]) \
        // _US_PER_DAY
    brk = np.ones(code.shape[0], dtype=bool)
    brk[1:] = (code[1:] != code[:-1]) | (day[1:] != day[:-1])
    g0 = np.flatnonzero(brk)
    grp = np.append(g0, code.shape[0])
    off = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(code[g0], minlength=len(starts)), out=off[1:])
    n_valid = np.add.reduceat(np.isfinite(me).astype(np.int64), g0) if g0.size else \
        np.zeros(0, dtype=np.int64)
    return off, day[g0], group_sum(me, grp), n_valid
