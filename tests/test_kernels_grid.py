"""Kernels behind the grid and the meter detectors' fast paths, against plain references.

- :func:`griddiag.kernels.runs.place_on_grid` (readings into their slots, collisions and
  off-grid readings counted) against a dict-per-slot loop;
- :func:`griddiag.kernels.register.series_median` against ``numpy.median``;
- ``rolling_robust_stats(..., where=...)`` (windows sorted afresh at the asked slots) against
  the sliding kernel: equal bit for bit where asked, NaN elsewhere;
- the step mode of :func:`griddiag.kernels.runs.interval_segments` when no step has a majority
  (the sort fallback of the majority vote);
- the spike detector's ``find`` (robust z only where the day's ratio passes) against
  ``findings_from(evaluate)`` (every slot scored);
- series read in place (row ranges with other rows between them: ``place_on_grid``'s
  ``row_end``, ``interval_segments``' ``ends``, ``rows_in_period``) against the contiguous
  copies, and ``to_grid`` of a batch's selection against ``to_grid`` of the filtered frame.
"""

from __future__ import annotations

import numba
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from griddiag import kernels as K
from griddiag.exceptions import ConfigError
from griddiag.kernels.register import series_median
from griddiag.kernels.runs import interval_segments, place_on_grid, step_modes
from tests import reference as R

JIT_OFF = bool(numba.config.DISABLE_JIT)
SEEDS = range(3) if JIT_OFF else range(12)
MAX_LEN = 25 if JIT_OFF else 80


def batch(seed, **kw):
    return R.random_batch(np.random.default_rng(seed), max_len=MAX_LEN, **kw)


def random_segments(rng, n_seg):
    """Sorted readings of ``n_seg`` segments with off-grid times, repeats (collisions), NaN
    values, empty and one-reading segments; returns the kernel's arguments."""
    t, v, row_start, t0, step, n_slots = [], [], [], [], [], []
    for g in range(n_seg):
        st = int(rng.choice([900, 1800, 3600]))
        base = int(rng.integers(0, 10_000))
        n = int(rng.choice([0, 1, int(rng.integers(2, MAX_LEN))]))
        rel = np.sort(rng.integers(0, 40, n)) * st
        off = rng.random(n) < 0.1
        rel[off] += rng.integers(1, st, off.sum())  # off the grid, inside the slot
        rel = np.sort(rel)
        x = rng.normal(1.0, 0.5, n)
        x[rng.random(n) < 0.1] = np.nan
        row_start.append(len(t))
        t.extend(base + rel)
        v.extend(x)
        t0.append(base)
        step.append(st)
        n_slots.append(int(rel[-1] // st + 1 + rng.integers(0, 3)) if n else int(rng.integers(0, 3)))
    offsets = np.concatenate([[0], np.cumsum(n_slots)]).astype(np.int64)
    return (np.array(t, dtype=np.int64), np.array(v, dtype=float),
            np.array(row_start, dtype=np.int64), np.array(t0, dtype=np.int64),
            np.array(step, dtype=np.int64), offsets)


@pytest.mark.parametrize("seed", SEEDS)
def test_place_on_grid_matches_reference(seed):
    args = random_segments(np.random.default_rng(seed), 6)
    values, ts, counts = place_on_grid(*args)
    ref_values, ref_ts, ref_counts = R.place_on_grid(*args)
    np.testing.assert_array_equal(values, ref_values)  # NaN positions included
    np.testing.assert_array_equal(ts, ref_ts)
    np.testing.assert_array_equal(counts, ref_counts)


def test_place_on_grid_collision_and_off_grid_table():
    # slots of 10 from 0: readings at 0, 12 and 15 (one slot: collision), 30 (off grid: 0)
    t = np.array([0, 12, 15, 30], dtype=np.int64)
    v = np.array([1.0, 2.0, 3.0, 4.0])
    values, ts, counts = place_on_grid(t, v, [0], [0], [10], [0, 4])
    np.testing.assert_array_equal(values, [1.0, np.nan, np.nan, 4.0])
    np.testing.assert_array_equal(ts, [0, 10, 20, 30])
    np.testing.assert_array_equal(counts, [[2, 2, 2]])


def test_place_on_grid_empty_and_bad_step():
    none = np.zeros(0, dtype=np.int64)
    values, ts, counts = place_on_grid(none, np.zeros(0), none, none, none, [0])
    assert values.size == ts.size == 0 and counts.shape == (0, 3)
    with pytest.raises(ConfigError, match="step_us"):
        place_on_grid([0], [1.0], [0], [0], [0], [0, 1])


@pytest.mark.parametrize("seed", SEEDS)
def test_series_median_matches_numpy(seed):
    values, offsets = batch(seed)
    np.testing.assert_array_equal(series_median(values, offsets),
                                  R.series_median(values, offsets))


def test_series_median_edges():
    assert series_median(np.zeros(0), [0]).size == 0
    np.testing.assert_array_equal(series_median([np.nan, np.inf], [0, 1, 2]), [np.nan, np.nan])
    np.testing.assert_array_equal(series_median([2.5]), [2.5])
    np.testing.assert_array_equal(series_median([1.0, 3.0, 3.0, 1.0, np.nan]), [2.0])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("center", [False, True])
def test_robust_stats_where_equals_sliding(seed, center):
    values, offsets = batch(seed)
    rng = np.random.default_rng(100 + seed)
    where = rng.random(values.shape[0]) < 0.3
    for window in (1, 4, 13):
        full = K.rolling_robust_stats(values, offsets, window, center=center, min_scale=0.01)
        part = K.rolling_robust_stats(values, offsets, window, center=center, min_scale=0.01,
                                      where=where)
        for f, p in zip(full, part):
            np.testing.assert_array_equal(np.where(where, f, np.nan), p)
        # at chosen slots, in any order (repeats included): the same numbers, compactly
        at = rng.permutation(np.flatnonzero(where))
        at = np.concatenate([at, at[:3]])
        for f, c in zip(full, K.rolling_robust_stats_at(values, offsets, at, window,
                                                         center=center, min_scale=0.01)):
            np.testing.assert_array_equal(f[at], c)
        # without the MAD: the same median and z, no MAD array
        for w, ref in ((None, full), (where, part)):
            med, mad, z = K.rolling_robust_stats(values, offsets, window, center=center,
                                                 min_scale=0.01, where=w, mad=False)
            assert mad is None
            np.testing.assert_array_equal(med, ref[0])
            np.testing.assert_array_equal(z, ref[2])


def test_robust_stats_where_edges():
    empty = K.rolling_robust_stats(np.zeros(0), None, 5, where=np.zeros(0, dtype=bool))
    assert all(a.size == 0 for a in empty)
    assert all(a.size == 0 for a in K.rolling_robust_stats_at([1.0, 2.0], None,
                                                              np.zeros(0, dtype=int), 3))
    with pytest.raises(ConfigError, match="at"):
        K.rolling_robust_stats_at([1.0, 2.0], None, [2], 3)
    med, mad, z = K.rolling_robust_stats([3.0], None, 1, where=[True])
    assert (med[0], mad[0], z[0]) == (3.0, 0.0, 0.0)
    with pytest.raises(ConfigError, match="where"):
        K.rolling_robust_stats([1.0, 2.0], None, 1, where=[True])


def test_step_mode_without_a_majority():
    # steps 10 (x3), 20 (x3), 30 (x2): no majority; a tie goes to the shorter step
    t = np.cumsum([0, 10, 20, 30, 10, 20, 30, 10, 20]).astype(np.int64)
    _, _, step = interval_segments(t, None, min_run=96)
    assert step.tolist() == [10]
    t = np.cumsum([0, 20, 30, 20, 10, 30, 20]).astype(np.int64)  # 20 x3 wins
    assert interval_segments(t, None, min_run=96)[2].tolist() == [20]


@pytest.mark.parametrize("seed", range(3))
def test_step_modes_match_a_count_of_every_step(seed):
    # ranges read in place (other rows between them): regular with gaps, duplicated times,
    # two steps equally common in either order, irregular, one reading, none
    rng = np.random.default_rng(seed)
    parts, first, end = [], [], []
    for i in range(40):
        kind = i % 5
        if kind == 0:
            t = np.arange(300) * 900
            t = t[rng.random(t.size) > 0.1]
        elif kind == 1:
            t = np.sort(np.concatenate([np.arange(100) * 60, rng.integers(0, 100, 50) * 60]))
        elif kind == 2:
            a, b = (10, 20)[::1 if i % 2 else -1]
            t = np.concatenate([np.arange(21) * a, 20 * a + np.arange(1, 21) * b])
        elif kind == 3:
            t = np.sort(rng.integers(0, 50, int(rng.integers(0, 12))) * 7)
        else:
            t = np.zeros(int(rng.integers(0, 2)), dtype=np.int64)
        start = sum(p.size for p in parts) + 3
        parts += [np.full(3, -5), t]  # rows of no range before each
        first.append(start)
        end.append(start + t.size)
    want = []
    for t in parts[1::2]:
        d = np.diff(t)
        values, counts = np.unique(d[d > 0], return_counts=True)
        want.append(int(values[np.argmax(counts)]) if values.size else -1)
    got = step_modes(np.concatenate(parts).astype(np.int64), np.array(first), np.array(end))
    assert got.tolist() == want


@pytest.mark.parametrize("seed", range(2) if JIT_OFF else range(4))
def test_spike_find_equals_every_slot_evaluation(seed):
    from datetime import UTC, datetime, timedelta

    from griddiag.detectors import build_calendar, to_grid
    from griddiag.detectors.meter import SpikeDetector

    rng = np.random.default_rng(seed)
    n = 96 * (6 if JIT_OFF else 40)
    ts = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * i) for i in range(n)]
    frames = []
    for m in range(3):
        x = np.round(rng.lognormal(-1.5, 0.5, n), 2)
        x[rng.integers(0, n, 12)] = rng.uniform(3.0, 9.0, 12)  # spikes
        x[rng.random(n) < 0.05] = np.nan
        frames.append(pl.DataFrame({"asset_id": f"M{m}", "ts": ts, "metric": "energy_kwh",
                                    "value": x}))
    grid = build_calendar(to_grid(pl.concat(frames)), holiday_country=None)
    det = SpikeDetector(z_min=6.0, ratio_min=2.0, max_gap=2)
    fast = det.find(grid, label="spike")
    slow = det.findings_from(grid, det.evaluate(grid), label="spike")
    assert fast.height > 0
    assert_frame_equal(fast, slow)


# -- series read in place: row ranges with other rows between them -----------------------------

def scatter_rows(rng, t, v, first, end):
    """The rows ``[first[i], end[i])`` of ``t, v`` moved into a larger array with junk rows
    before, between and after them, in shuffled order; returns the new arrays and ranges."""
    order = rng.permutation(first.size)
    nt, nv, nf, ne = [], [], np.empty_like(first), np.empty_like(end)
    for i in order:
        junk = int(rng.integers(0, 4))
        nt += rng.integers(-10**6, 10**6, junk).tolist()
        nv += [99.0] * junk
        nf[i] = len(nt)
        nt += t[first[i]:end[i]].tolist()
        nv += v[first[i]:end[i]].tolist()
        ne[i] = len(nt)
    nt += [7, 3]
    nv += [99.0, 99.0]
    return np.array(nt, dtype=np.int64), np.array(nv), nf, ne


@pytest.mark.parametrize("seed", SEEDS)
def test_place_on_grid_rows_in_place_match_contiguous(seed):
    rng = np.random.default_rng(seed)
    t, v, row_start, t0, step, offsets = random_segments(rng, 6)
    ends = np.append(row_start[1:], t.size)
    st, sv, sf, se = scatter_rows(rng, t, v, row_start, ends)
    got = place_on_grid(st, sv, sf, t0, step, offsets, se)
    want = place_on_grid(t, v, row_start, t0, step, offsets)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(ConfigError, match="before it starts"):
        place_on_grid([0, 10], [1.0, 2.0], [1], [0], [10], [0, 2], [0])


@pytest.mark.parametrize("seed", SEEDS)
def test_interval_segments_rows_in_place_match_contiguous(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, MAX_LEN * 3, 5)
    t = np.concatenate([np.cumsum(rng.choice([15, 15, 15, 30, 45], n)) for n in lengths]
                       ).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    declared = np.where(rng.random(5) < 0.2, 15, 0)
    st, _, sf, se = scatter_rows(rng, t, np.zeros(t.size), offsets[:-1], offsets[1:])
    for min_run in (1, 4, 20):
        ser, start, step = interval_segments(t, offsets, declared, min_run=min_run)
        s_ser, s_start, s_step = interval_segments(st, sf, declared, ends=se, min_run=min_run)
        np.testing.assert_array_equal(s_ser, ser)
        np.testing.assert_array_equal(s_step, step)
        np.testing.assert_array_equal(s_start - sf[s_ser], start - offsets[:-1][ser])
    with pytest.raises(ConfigError, match="rows"):
        interval_segments(np.arange(3), [2], ends=[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_rows_in_period_matches_a_mask(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, MAX_LEN, 6)
    t = np.concatenate([np.sort(rng.integers(0, 100, n)) for n in lengths]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for lo, hi in [(None, None), (30, None), (None, 60), (30, 60), (60, 30), (0, 0)]:
        f, e = K.runs.rows_in_period(t, offsets[:-1], offsets[1:], lo, hi)
        for i in range(lengths.size):
            rows = np.arange(offsets[i], offsets[i + 1])
            keep = rows[((lo is None) | (t[rows] >= (lo or 0)))
                        & ((hi is None) | (t[rows] < (hi if hi is not None else 0)))]
            if keep.size:
                assert (f[i], e[i]) == (keep[0], keep[-1] + 1)
            else:
                assert e[i] == f[i]


@pytest.mark.parametrize("seed", range(2) if JIT_OFF else range(4))
def test_to_grid_of_a_batch_selection_equals_the_filtered_frame(seed):
    from datetime import UTC, datetime, timedelta

    from griddiag.detectors import to_grid
    from griddiag.detectors.grid import sorted_readings

    rng = np.random.default_rng(seed)
    frames = []
    for a in range(4):
        for metric, minutes in (("energy_kwh", 15), ("voltage_v_a", 60), ("register_kwh", 1440)):
            n = int(rng.integers(1, 40 if JIT_OFF else 400))
            ts = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes * int(k))
                  for k in np.sort(rng.choice(n * 2, n, replace=False))]
            frames.append(pl.DataFrame({"asset_id": f"M{a}", "ts": ts, "metric": metric,
                                        "value": rng.random(n)}))
    frame = pl.concat(frames).sample(fraction=1.0, shuffle=True, seed=seed)
    lo, hi = datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 9, 7, tzinfo=UTC)
    batch = sorted_readings(frame)
    for metrics in (["energy_kwh"], ["voltage_v_a", "register_kwh"]):
        for start, end in ((None, None), (lo, hi), (lo, None)):
            got = to_grid(batch, metrics=metrics, start=start, end=end)
            part = frame.filter(pl.col("metric").is_in(metrics))
            want = to_grid(part, start=start, end=end)
            assert_frame_equal(got.series, want.series)
            np.testing.assert_array_equal(got.values, want.values)
            np.testing.assert_array_equal(got.ts_us, want.ts_us)
            np.testing.assert_array_equal(got.offsets, want.offsets)
