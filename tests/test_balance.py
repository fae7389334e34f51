"""Kernels of the area energy balance (griddiag.kernels.balance) against their NumPy/polars
references (baselines/balance.py): random areas with power and energy transformers, meters on
15/30/60-minute grids off phase, missing rows, NaN and +-inf, meters without rows, transformers
without instants; empty and one-point input; a tiny labelled area; bad arguments.

Sums are compared bit for bit: Kahan sums in row order, as polars sums a group.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from baselines import balance as R
from griddiag.exceptions import ConfigError
from griddiag.kernels import balance as K

JIT_OFF = bool(numba.config.DISABLE_JIT)
SEEDS = range(2) if JIT_OFF else range(10)
MIN = 60_000_000
H = 60 * MIN
DAY = 24 * H
T0 = 1_700_000_000_000_000 - 1_700_000_000_000_000 % DAY  # a UTC midnight in 2023


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype.kind == b.dtype.kind
    np.testing.assert_array_equal(a, b)  # bit for bit (NaN == NaN here)


def random_meters(rng, n_meters, days):
    """Meter rows sorted by (meter, t) inside a larger batch (a foreign row before each
    meter): t, values, starts, ends."""
    t_parts, v_parts, starts, ends = [], [], [], []
    pos = 0
    for _ in range(n_meters):
        step = int(rng.choice([15, 30, 60])) * MIN
        phase = int(rng.choice([0, 0, 5 * MIN]))
        kind = rng.random()
        n = 0 if kind < 0.1 else 1 if kind < 0.15 else int(days * DAY // step)
        t = T0 + phase + np.arange(n, dtype=np.int64) * step
        t = t[rng.random(n) > 0.05]  # missing rows
        if t.size > 3 and rng.random() < 0.2:
            t = np.sort(np.append(t, t[1]))  # a duplicate instant
        v = np.round(rng.lognormal(-2.0, 0.8, t.size), 3)
        v[rng.random(t.size) < 0.05] = np.nan
        v[rng.random(t.size) < 0.01] = rng.choice([np.inf, -np.inf])
        t_parts += [np.array([7], dtype=np.int64), t]
        v_parts += [np.array([99.0]), v]
        starts.append(pos + 1)
        ends.append(pos + 1 + t.size)
        pos += 1 + t.size
    return (np.concatenate(t_parts), np.concatenate(v_parts), np.array(starts, dtype=np.int64),
            np.array(ends, dtype=np.int64))


def random_areas(rng, days=3):
    n_tx = int(rng.integers(1, 5))
    n_meters = int(rng.integers(1, 9))
    t, v, s, e = random_meters(rng, n_meters, days)
    step, _ = R.series_step(t, v, s, e, default_us=H)
    members, mem_off = [], [0]
    inst, inst_off, inst_step, inst_power = [], [0], [], []
    for _ in range(n_tx):
        k = int(rng.integers(1, n_meters + 1))
        members += list(rng.choice(n_meters, size=k, replace=False))
        mem_off.append(len(members))
        power = bool(rng.random() < 0.6)
        tstep = int(rng.choice([15, 60] if power else [15, 30, 60])) * MIN
        n = 0 if rng.random() < 0.1 else int(days * DAY // tstep)
        ti = T0 + int(rng.choice([0, 0, 10 * MIN])) + np.arange(n, dtype=np.int64) * tstep
        ti = ti[rng.random(n) > 0.05]
        inst.append(ti)
        inst_off.append(inst_off[-1] + ti.size)
        inst_step.append(tstep)
        inst_power.append(power)
    return (t, v, s, e, step, np.concatenate(inst).astype(np.int64), np.array(inst_off),
            np.array(inst_step), np.array(inst_power), np.array(members, dtype=np.int64),
            np.array(mem_off))


@pytest.mark.parametrize("seed", SEEDS)
def test_group_sum_is_kahan_in_order(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.choice([0, 1, 2, 3, 7, 24, 96, 300], size=40)
    x = rng.lognormal(0.0, 3.0, int(sizes.sum())) * rng.choice([-1.0, 1.0], int(sizes.sum()))
    x[rng.random(x.size) < 0.05] = np.nan
    x[rng.random(x.size) < 0.01] = np.inf
    off = np.concatenate([[0], np.cumsum(sizes)])
    same(K.group_sum(x, off), R.group_sum(x, off))
    assert K.group_sum(np.empty(0), [0]).shape == (0,)
    same(K.group_sum([], [0, 0, 0]), [0.0, 0.0])
    same(K.group_sum([np.nan], [0, 1]), [0.0])


@pytest.mark.parametrize("seed", SEEDS)
def test_series_step_matches_reference(seed):
    rng = np.random.default_rng(seed)
    t, v, s, e = random_meters(rng, 12, 2)
    # steps whose median falls between two values: rounded half to even, as polars does
    t2 = np.array([0, 10, 25, 40, 41, 43, 44], dtype=np.int64)
    v2 = np.array([1.0, np.nan, 2.0, 3.0, 3.0, np.inf, 1.0])
    t, v = np.concatenate([t, t2]), np.concatenate([v, v2])
    n = t.size
    s = np.append(s, [n - 7, n - 4, n - 1])
    e = np.append(e, [n - 4, n - 1, n])
    got, ref = K.series_step(t, v, s, e, default_us=H), R.series_step(t, v, s, e, default_us=H)
    same(got[0], ref[0])
    same(got[1], ref[1])
    assert got[0][-3:].tolist() == [12, 2, H] and got[1][-3:].tolist() == [2, 2, 1]


@pytest.mark.parametrize("seed", SEEDS)
def test_matched_sums_match_reference(seed):
    args = random_areas(np.random.default_rng(100 + seed))
    got, ref = K.matched_sums(*args), R.matched_sums(*args)
    same(got[0], ref[0])
    same(got[1], ref[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_matched_day_sums_match_reference(seed):
    rng = np.random.default_rng(200 + seed)
    args = random_areas(rng)
    inst_off, mem_off = args[6], args[10]
    # each transformer's instants: a random day slot, non-decreasing, some left out
    slot = np.full(inst_off[-1], -1, dtype=np.int64)
    n_days = np.zeros(inst_off.shape[0] - 1, dtype=np.int64)
    for g in range(inst_off.shape[0] - 1):
        n = inst_off[g + 1] - inst_off[g]
        d = np.sort(rng.integers(0, 4, n))
        d[rng.random(n) < 0.2] = -1
        slot[inst_off[g]:inst_off[g + 1]] = d
        n_days[g] = d.max() + 1 if n else 0
    per_member = np.repeat(n_days, np.diff(mem_off))
    out_off = np.concatenate([[0], np.cumsum(per_member)])
    same(K.matched_day_sums(*args, slot, out_off), R.matched_day_sums(*args, slot, out_off))


def _lattices(zones, lo, hi):
    from griddiag.detectors.grid import _utc_offsets_us

    parts = [_utc_offsets_us(z, lo, hi) for z in zones]
    off = np.concatenate([[0], np.cumsum([p[1].size for p in parts])])
    return (np.array([p[0] for p in parts]), off,
            np.concatenate([p[1] for p in parts]).astype(np.int64))


@pytest.mark.parametrize("seed", SEEDS)
def test_local_day_sums_match_reference(seed):
    rng = np.random.default_rng(300 + seed)
    t, v, s, e = random_meters(rng, 8, 4)
    # across a DST change (Europe/Berlin, 2023-10-29) and a zone without one
    shift = 1_698_400_000_000_000 - T0
    t = t + shift
    zone = rng.integers(0, 2, s.size)
    lat = _lattices(["Asia/Shanghai", "Europe/Berlin"], int(t.min()), int(t.max()))
    got, ref = K.local_day_sums(t, v, s, e, zone, *lat), R.local_day_sums(t, v, s, e, zone, *lat)
    for g, r in zip(got, ref):
        same(g, r)
    assert (np.diff(got[0]) >= 0).all() and got[0][-1] == got[1].size


@pytest.mark.parametrize("seed", range(3))
def test_chunks_on_threads_match_reference(monkeypatch, seed):
    # the kernels run in chunks of meters (or of transformers) on threads when the batch is
    # large: forced here on small random batches, every chunk boundary must give the same bits
    from griddiag.kernels import _launch

    monkeypatch.setattr(_launch, "PARALLEL_MIN_VALUES", 0)
    monkeypatch.setattr(_launch, "_thread_count", lambda n: 2)
    rng = np.random.default_rng(400 + seed)
    args = random_areas(rng)
    for got, ref in zip(K.matched_sums(*args), R.matched_sums(*args)):
        same(got, ref)
    inst_off, mem_off = args[6], args[10]
    slot = np.concatenate([np.sort(rng.integers(-1, 3, inst_off[g + 1] - inst_off[g]))
                           for g in range(inst_off.shape[0] - 1)]).astype(np.int64)
    n_days = np.array([slot[inst_off[g]:inst_off[g + 1]].max(initial=-1) + 1
                       for g in range(inst_off.shape[0] - 1)], dtype=np.int64)
    out_off = np.concatenate([[0], np.cumsum(np.repeat(n_days, np.diff(mem_off)))])
    same(K.matched_day_sums(*args, slot, out_off), R.matched_day_sums(*args, slot, out_off))
    t, v, s, e = random_meters(rng, 12, 3)
    for got, ref in zip(K.series_step(t, v, s, e, default_us=H),
                        R.series_step(t, v, s, e, default_us=H)):
        same(got, ref)
    zone = rng.integers(0, 2, s.size)
    lat = _lattices(["Asia/Shanghai", "Europe/Berlin"], int(t.min()), int(t.max()))
    for got, ref in zip(K.local_day_sums(t, v, s, e, zone, *lat),
                        R.local_day_sums(t, v, s, e, zone, *lat)):
        same(got, ref)


def test_tiny_area_by_hand():
    # one meter every 15 minutes, a power transformer hourly at :00 and an energy one hourly
    t = T0 + np.arange(8, dtype=np.int64) * 15 * MIN
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan, 7.0, 8.0])
    s, e = np.array([0]), np.array([8])
    step = np.array([15 * MIN])
    inst = np.array([T0, T0 + H, T0, T0 + H], dtype=np.int64)
    args = (t, v, s, e, step, inst, [0, 2, 4], [H, H], [True, False], [0, 0], [0, 1, 2])
    total, n_ok = K.matched_sums(*args)
    # power: the sample at :00 against the interval 00:00-00:15, x4 to the hour
    # energy: the four intervals of the hour (one missing: 3 of 4 valid, not matched)
    assert total.tolist() == [4.0, 20.0, 10.0, 20.0]
    assert n_ok.tolist() == [1, 1, 1, 0]
    days = K.matched_day_sums(*args, [0, 0, 0, -1], [0, 1, 2])
    assert days.tolist() == [24.0, 10.0]


@pytest.mark.parametrize("fn", ["matched_sums", "series_step", "local_day_sums"])
def test_empty_and_one_point(fn):
    t1, v1 = np.array([T0], dtype=np.int64), np.array([2.5])
    z = np.zeros(0, dtype=np.int64)
    if fn == "series_step":
        assert [x.tolist() for x in K.series_step(z, [], z, z, default_us=H)] == [[], []]
        assert [x.tolist() for x in K.series_step(t1, v1, [0], [1], default_us=H)] == \
            [[H], [1]]
    elif fn == "matched_sums":
        assert [x.size for x in K.matched_sums(z, [], z, z, z, z, [0], z, z, z, [0])] \
            == [0, 0]
        got = K.matched_sums(t1, v1, [0], [1], [H], t1, [0, 1], [H], [True], [0], [0, 1])
        assert [x.tolist() for x in got] == [[2.5], [1]]
    else:
        lat = _lattices(["UTC"], T0, T0)
        off, day, total, n = K.local_day_sums(t1, v1, [0], [1], [0], *lat)
        assert (off.tolist(), day.tolist(), total.tolist(), n.tolist()) == \
            ([0, 1], [T0 // DAY], [2.5], [1])
        off, day, total, n = K.local_day_sums(t1, v1, [0], [0], [0], *lat)
        assert off.tolist() == [0, 0] and day.size == 0


def test_bad_arguments_say_what_is_wrong():
    t = np.array([T0, T0 + H], dtype=np.int64)
    v = np.ones(2)
    with pytest.raises(ConfigError, match="ends"):
        K.series_step(t, v, [1], [0], default_us=H)
    with pytest.raises(ConfigError, match="t_us must be"):
        K.series_step(t.astype(float), v, [0], [2], default_us=H)
    with pytest.raises(ConfigError, match="member_offsets"):
        K.matched_sums(t, v, [0], [2], [H], t, [0, 2], [H], [True], [0], [0, 1, 1])
    with pytest.raises(ConfigError, match="does not cover"):
        K.local_day_sums(t, v, [0], [2], [0], *_lattices(["UTC"], T0, T0))
    with pytest.raises(ConfigError, match="out_offsets"):
        K.matched_day_sums(t, v, [0], [2], [H], t, [0, 2], [H], [True], [0], [0, 1],
                           [0, 1], [0, 1])
