"""Transformer-area energy balance: meter energy matched to the transformer's instants.

The kernels behind :func:`griddiag.detectors.theft.area_balance`. Meter readings are passed
as they lie in the batch's sorted arrays (``t_us``, ``values``; meter ``i``'s readings are
rows ``[starts[i], ends[i])``, sorted by time), so a selection of meters costs no copy of
their rows. A transformer's *instants* (``inst_t_us``, rows ``[inst_offsets[g],
inst_offsets[g + 1])`` for transformer ``g``, sorted by time) are compared with its *members*
(``members[member_offsets[g]:member_offsets[g + 1]]``, meter indices):

- a transformer reporting power (``inst_power``) sends a sample at ``t``: it is compared with
  the meter interval holding ``t`` (the reading at ``t - t % step``), scaled to the
  transformer's step (``energy * inst_step / step``); matched when that reading is valid;
- a transformer reporting interval energy covers ``[t, t + inst_step)`` on the grid of its
  first instant: it is compared with the sum of the meter's intervals starting in it, matched
  when at least ``inst_step // step`` of them are valid.

Every float sum here is a Kahan (compensated) sum in row order, where an invalid term (NaN,
+-inf) adds 0.0. That is how polars sums a group (``group_by(...).agg(pl.col(x).sum())``,
within one partition of its frame), the relational formulation these kernels replace
(``tests/reference_theft.py``): a loss rate is the same to the last bit as that of the
formulation findings were first made with, so a median of daily kWh at ``x.xx5`` prints the
same in a finding's reason, and unlike polars' result it never depends on how many threads
split the frame. ``baselines/balance.py`` holds the plain NumPy/loop reference of each
kernel.

The work is O(1) per reading (sorted merge walks, no lookups, a quickselect for each
meter's step), but not only memory traffic: the local day takes two integer divisions a
reading, the merge walks one. Each kernel loops over a range of meters (or of transformers
with their members) and runs under :func:`~griddiag.kernels._launch.launch_series`, weighed
by their rows (measured on 1,000 meters x 35,040 readings on 2 cores, the five kernels of
:func:`~griddiag.detectors.theft.area_balance` took 1.9 s on one thread, 1.0 s on two).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch, launch_series
from griddiag.kernels._order import median_step
from griddiag.kernels._validate import (
    as_bool_array,
    as_float_array,
    as_int_array,
    check_offsets,
    offsets_from_lengths,
)

__all__ = ["group_sum", "local_day_sums", "matched_day_sums", "matched_sums", "series_step"]

_US_PER_DAY = 86_400_000_000
#: Spacing of the UTC-offset lattice of :func:`local_day_sums`: every zone of the tz database
#: changes its offset on a quarter hour (see ``griddiag.detectors.grid._utc_offsets_us``).
LATTICE_US = 900_000_000


# -- checks -----------------------------------------------------------------------------------

def _rows(t_us, values, starts, ends) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = as_int_array(t_us, "t_us", length=None)
    v = as_float_array(values, "values", length=t.shape[0])
    n = np.asarray(starts).shape[0] if np.ndim(starts) == 1 else -1
    s = as_int_array(starts, "starts", length=max(n, 0), low=0, high=t.shape[0] + 1)
    e = as_int_array(ends, "ends", length=s.shape[0], low=0, high=t.shape[0] + 1)
    if (e < s).any():
        i = int(np.flatnonzero(e < s)[0])
        raise ConfigError(f"ends[{i}] = {int(e[i])} < starts[{i}] = {int(s[i])}: each meter's "
                          f"rows are [starts[i], ends[i])")
    return t, v, s, e


def _areas(n_meters, step_us, inst_t_us, inst_offsets, inst_step_us, inst_power, members,
           member_offsets):
    step = as_int_array(step_us, "step_us", length=n_meters, low=1)
    it = np.ascontiguousarray(np.asarray(inst_t_us), dtype=np.int64)
    ioff = check_offsets(inst_offsets, it.shape[0])
    n_tx = ioff.shape[0] - 1
    istep = as_int_array(inst_step_us, "inst_step_us", length=n_tx, low=1)
    power = as_bool_array(inst_power, "inst_power")
    if power.shape[0] != n_tx:
        raise ConfigError(f"inst_power has {power.shape[0]} elements, expected {n_tx} (one per "
                          f"transformer)")
    mem = np.asarray(members)
    mem = as_int_array(mem, "members", length=mem.shape[0], low=0, high=max(n_meters, 1))
    moff = check_offsets(member_offsets, mem.shape[0])
    if moff.shape[0] != n_tx + 1:
        raise ConfigError(f"member_offsets has {moff.shape[0]} elements, expected {n_tx + 1} "
                          f"(one per transformer, plus one)")
    return step, it, ioff, istep, power, mem, moff


def _meter_weights(starts, ends) -> np.ndarray:
    """Offsets-like cumulative rows of the meters, which weigh :func:`launch_series`' chunks
    (the meters' rows need not be contiguous)."""
    return offsets_from_lengths(ends - starts)


def _area_weights(starts, ends, members, member_offsets) -> np.ndarray:
    """Cumulative rows of each transformer's members: a transformer's work."""
    rows = offsets_from_lengths((ends - starts)[members])
    return rows[member_offsets]


# -- kernels ----------------------------------------------------------------------------------

@njit(**JIT)
def _kahan(s, c, x):
    """One step of Kahan summation (``x`` invalid: 0.0 is added, as polars does for a 0)."""
    if not np.isfinite(x):
        x = 0.0
    y = x - c
    t = s + y
    return t, (t - s) - y


@njit(**JIT)
def _series_step(first, end, t, values, starts, ends, default, step, n_valid):
    """Each meter's median step is a quickselect among a copy of its steps: O(1) per reading
    like the rest."""
    for i in range(first, end):
        a, b = starts[i], ends[i]
        # polars' median of integers (the mean of the middle two) rounded half to even
        m = median_step(t, a, b)
        step[i] = np.int64(np.rint(m)) if np.isfinite(m) else default
        n = 0
        for r in range(a, b):
            if np.isfinite(values[r]):
                n += 1
        n_valid[i] = n


@njit(**JIT)
def _match(t, values, a, b, step, inst_t, i0, i1, inst_step, power, out_kwh, out_ok):
    """Energy of one meter (rows ``[a, b)``) matched to each instant ``[i0, i1)`` of its
    transformer (module docstring); ``out_kwh`` NaN where nothing was found."""
    if i1 <= i0:
        return
    r = a
    if power:
        for k in range(i1 - i0):
            ti = inst_t[i0 + k]
            key = ti - ti % step  # start of the meter interval holding the sample
            while r < b and t[r] < key:
                r += 1
            if r < b and t[r] == key:
                out_kwh[k] = values[r] * inst_step / step
                out_ok[k] = np.isfinite(values[r])
            else:
                out_kwh[k] = np.nan
                out_ok[k] = False
        return
    t0 = inst_t[i0]  # the transformer's grid: its first instant
    need = inst_step // step
    for k in range(i1 - i0):
        ti = inst_t[i0 + k]
        while r < b and t0 + (t[r] - t0) // inst_step * inst_step < ti:
            r += 1
        s = 0.0
        c = 0.0
        n = 0
        found = False
        while r < b and t0 + (t[r] - t0) // inst_step * inst_step == ti:
            s, c = _kahan(s, c, values[r])
            n += np.isfinite(values[r])
            found = True
            r += 1
        out_kwh[k] = s if found else np.nan
        out_ok[k] = found and n >= need


@njit(**JIT)
def _matched_sums(first, end, t, values, starts, ends, step, inst_t, inst_off, inst_step,
                  inst_power, members, mem_off, total, n_ok):
    for g in range(first, end):
        i0, i1 = inst_off[g], inst_off[g + 1]
        n = i1 - i0
        comp = np.zeros(n)
        kwh = np.empty(n)
        ok = np.empty(n, dtype=np.bool_)
        for k in range(n):
            total[i0 + k] = 0.0
            n_ok[i0 + k] = 0
        for j in range(mem_off[g], mem_off[g + 1]):  # members in order: the order of the sum
            m = members[j]
            _match(t, values, starts[m], ends[m], step[m], inst_t, i0, i1, inst_step[g],
                   inst_power[g], kwh, ok)
            for k in range(n):
                total[i0 + k], comp[k] = _kahan(total[i0 + k], comp[k], kwh[k])
                n_ok[i0 + k] += ok[k]


@njit(**JIT)
def _matched_day_sums(first, end, t, values, starts, ends, step, inst_t, inst_off, inst_step,
                      inst_power, members, mem_off, day_slot, out_off, out):
    for g in range(first, end):
        i0, i1 = inst_off[g], inst_off[g + 1]
        lo, hi = out_off[mem_off[g]], out_off[mem_off[g + 1]]  # the members' output days
        comp = np.zeros(hi - lo)
        for o in range(lo, hi):
            out[o] = 0.0
        kwh = np.empty(i1 - i0)
        ok = np.empty(i1 - i0, dtype=np.bool_)
        for j in range(mem_off[g], mem_off[g + 1]):
            m = members[j]
            _match(t, values, starts[m], ends[m], step[m], inst_t, i0, i1, inst_step[g],
                   inst_power[g], kwh, ok)
            for k in range(i1 - i0):
                d = day_slot[i0 + k]
                if d >= 0:
                    o = out_off[j] + d
                    out[o], comp[o - lo] = _kahan(out[o], comp[o - lo], kwh[k])


@njit(**JIT)
def _local_day(t, z, lat_first, lat_off, lat_utc):
    return (t + lat_utc[lat_off[z] + (t - lat_first[z]) // LATTICE_US]) // _US_PER_DAY


@njit(**JIT)
def _local_day_runs(first, end, t, starts, ends, zone, lat_first, lat_off, lat_utc, n_runs):
    for i in range(first, end):
        n = 0
        prev = 0
        for r in range(starts[i], ends[i]):
            d = _local_day(t[r], zone[i], lat_first, lat_off, lat_utc)
            if r == starts[i] or d != prev:
                n += 1
            prev = d
        n_runs[i] = n


@njit(**JIT)
def _local_day_sums(first, end, t, values, starts, ends, zone, lat_first, lat_off, lat_utc,
                    run_off, day, total, n_valid):
    for i in range(first, end):
        o = run_off[i] - 1
        prev = 0
        s = 0.0
        c = 0.0
        for r in range(starts[i], ends[i]):
            d = _local_day(t[r], zone[i], lat_first, lat_off, lat_utc)
            if r == starts[i] or d != prev:
                o += 1
                day[o] = d
                total[o] = 0.0
                n_valid[o] = 0
                s = 0.0
                c = 0.0
            prev = d
            s, c = _kahan(s, c, values[r])
            total[o] = s
            n_valid[o] += np.isfinite(values[r])


@njit(**JIT)
def _group_sum(values, offsets, out):
    for g in range(offsets.shape[0] - 1):
        s = 0.0
        c = 0.0
        for k in range(offsets[g], offsets[g + 1]):
            s, c = _kahan(s, c, values[k])
        out[g] = s


# -- public functions -------------------------------------------------------------------------

def series_step(t_us, values, starts, ends, *, default_us: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Interval of each meter and its count of valid readings.

    Parameters
    ----------
    t_us, values : array_like, shape (n,)
        Reading times (int microseconds) and values (NaN = missing) of the batch.
    starts, ends : array_like of int, shape (n_meters,)
        Meter ``i``'s readings are rows ``[starts[i], ends[i])``, sorted by time.
    default_us : int
        Interval of a meter with fewer than two distinct times.

    Returns
    -------
    step_us : numpy.ndarray of int64
        Median of the positive steps between consecutive readings (the mean of the middle
        two for an even count, rounded half to even): a few gaps do not change it.
    n_valid : numpy.ndarray of int64
        Finite values.
    """
    t, v, s, e = _rows(t_us, values, starts, ends)
    step = np.empty(s.shape[0], dtype=np.int64)
    n_valid = np.empty(s.shape[0], dtype=np.int64)
    launch_series(_series_step, _meter_weights(s, e), t, v, s, e, int(default_us), step,
                  n_valid)
    return step, n_valid


def matched_sums(t_us, values, starts, ends, step_us, inst_t_us, inst_offsets, inst_step_us,
                 inst_power, members, member_offsets) -> tuple[np.ndarray, np.ndarray]:
    """Sum over each transformer instant of its members' matched energy (module docstring).

    Parameters
    ----------
    t_us, values, starts, ends
        Meter readings, as in :func:`series_step`.
    step_us : array_like of int, shape (n_meters,)
        Each meter's interval (:func:`series_step`).
    inst_t_us : array_like of int, shape (n_instants,)
        Transformer instants, transformer after transformer, each sorted by time.
    inst_offsets : array_like of int, shape (n_transformers + 1,)
    inst_step_us : array_like of int, shape (n_transformers,)
        Each transformer's interval.
    inst_power : array_like of bool, shape (n_transformers,)
        True: the transformer's values are power samples; False: interval energy.
    members : array_like of int
        Meter indices of each transformer's area, in the order they are summed.
    member_offsets : array_like of int, shape (n_transformers + 1,)

    Returns
    -------
    total : numpy.ndarray of float64, shape (n_instants,)
        Kahan sum of the members' matched energy (kWh over the transformer's interval; an
        unmatched or invalid one adds 0).
    n_ok : numpy.ndarray of int64, shape (n_instants,)
        Members matched with valid data: the instant is complete when this equals the count
        of members.
    """
    t, v, s, e = _rows(t_us, values, starts, ends)
    args = _areas(s.shape[0], step_us, inst_t_us, inst_offsets, inst_step_us, inst_power,
                  members, member_offsets)
    n = args[1].shape[0]
    total = np.empty(n, dtype=np.float64)
    n_ok = np.empty(n, dtype=np.int64)
    launch_series(_matched_sums, _area_weights(s, e, args[5], args[6]), t, v, s, e, *args,
                  total, n_ok)
    return total, n_ok


def matched_day_sums(t_us, values, starts, ends, step_us, inst_t_us, inst_offsets,
                     inst_step_us, inst_power, members, member_offsets, day_slot,
                     out_offsets) -> np.ndarray:
    """Each member's matched energy summed per day over chosen instants.

    Arguments as :func:`matched_sums`, plus ``day_slot`` (int, one per instant: the index of
    the instant's day among its transformer's output days, -1 = leave the instant out) and
    ``out_offsets`` (int, one per member plus one: member ``j``'s days are
    ``[out_offsets[j], out_offsets[j + 1])`` of the result).

    Returns
    -------
    numpy.ndarray of float64, shape (out_offsets[-1],)
        Kahan sum, in time order, of the member's matched energy over the instants of each
        day slot (0 for a slot without instants).
    """
    t, v, s, e = _rows(t_us, values, starts, ends)
    args = _areas(s.shape[0], step_us, inst_t_us, inst_offsets, inst_step_us, inst_power,
                  members, member_offsets)
    n_mem = args[5].shape[0]
    out_off = check_offsets(out_offsets, int(np.asarray(out_offsets)[-1])
                            if np.size(out_offsets) else 0)
    if out_off.shape[0] != n_mem + 1:
        raise ConfigError(f"out_offsets has {out_off.shape[0]} elements, expected {n_mem + 1} "
                          f"(one per member, plus one)")
    dmax = np.diff(out_off)
    dslot = as_int_array(day_slot, "day_slot", length=args[1].shape[0], low=-1)
    mem_tx = np.repeat(np.arange(args[6].shape[0] - 1), np.diff(args[6]))
    inst_tx = np.repeat(np.arange(args[2].shape[0] - 1), np.diff(args[2]))
    width = np.zeros(args[2].shape[0] - 1, dtype=np.int64)  # days of each transformer
    np.maximum.at(width, inst_tx, dslot + 1)
    if (dmax < width[mem_tx]).any():
        raise ConfigError("out_offsets gives a member fewer days than its transformer's "
                          "largest day_slot + 1")
    out = np.empty(int(out_off[-1]), dtype=np.float64)
    launch_series(_matched_day_sums, _area_weights(s, e, args[5], args[6]), t, v, s, e,
                  *args, dslot, out_off, out)
    return out


def local_day_sums(t_us, values, starts, ends, zone, lattice_first_us, lattice_offsets,
                   lattice_utc_offset_us) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """Sum and count of each meter's valid readings per local day.

    A local day is ``(t + utc_offset(t)) // day`` with the zone's UTC offset looked up on a
    15-minute lattice (:data:`LATTICE_US`): zone ``z``'s lattice starts at
    ``lattice_first_us[z]`` and is ``lattice_utc_offset_us[lattice_offsets[z]:
    lattice_offsets[z + 1]]``; it must cover the readings of every meter in that zone.

    Parameters
    ----------
    t_us, values, starts, ends
        Meter readings, as in :func:`series_step`.
    zone : array_like of int, shape (n_meters,)
        Each meter's zone (an index into the lattices).

    Returns
    -------
    offsets : numpy.ndarray of int64, shape (n_meters + 1,)
        Meter ``i``'s days are ``[offsets[i], offsets[i + 1])`` of the arrays below: one per
        run of consecutive readings on one local day, in time order.
    day : numpy.ndarray of int64
        Local day (days since 1970-01-01).
    total : numpy.ndarray of float64
        Kahan sum of the day's valid values.
    n_valid : numpy.ndarray of int64
    """
    t, v, s, e = _rows(t_us, values, starts, ends)
    z = as_int_array(zone, "zone", length=s.shape[0], low=0)
    lat_utc = np.ascontiguousarray(np.asarray(lattice_utc_offset_us), dtype=np.int64)
    lat_off = check_offsets(lattice_offsets, lat_utc.shape[0])
    lat_first = as_int_array(lattice_first_us, "lattice_first_us",
                             length=lat_off.shape[0] - 1)
    if z.size and z.max() >= lat_first.shape[0]:
        raise ConfigError(f"zone must index the {lat_first.shape[0]} lattices, got "
                          f"{int(z.max())}")
    for i in np.flatnonzero(e > s):  # per meter: its first and last reading in its lattice
        lo = (t[s[i]] - lat_first[z[i]]) // LATTICE_US
        hi = (t[e[i] - 1] - lat_first[z[i]]) // LATTICE_US
        if lo < 0 or hi >= lat_off[z[i] + 1] - lat_off[z[i]]:
            raise ConfigError(f"the UTC-offset lattice of zone {int(z[i])} does not cover "
                              f"meter {int(i)}'s readings")
    n_runs = np.empty(s.shape[0], dtype=np.int64)
    weights = _meter_weights(s, e)
    launch_series(_local_day_runs, weights, t, s, e, z, lat_first, lat_off, lat_utc, n_runs)
    off = offsets_from_lengths(n_runs)
    n = int(off[-1])
    day = np.empty(n, dtype=np.int64)
    total = np.empty(n, dtype=np.float64)
    n_valid = np.empty(n, dtype=np.int64)
    launch_series(_local_day_sums, weights, t, v, s, e, z, lat_first, lat_off, lat_utc, off,
                  day, total, n_valid)
    return off, day, total, n_valid


def group_sum(values, offsets) -> np.ndarray:
    """Kahan sum of each group ``values[offsets[g]:offsets[g + 1]]`` in order, an invalid
    value adding 0 (an empty group sums to 0): polars' group-by sum of a group it does not
    split, with the invalid values replaced by 0."""
    v = as_float_array(values, "values")
    off = check_offsets(offsets, v.shape[0])
    out = np.empty(off.shape[0] - 1, dtype=np.float64)
    launch(_group_sum, v, off, out)
    return out
