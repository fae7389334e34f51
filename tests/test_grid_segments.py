"""A change of interval mid-history: kept as segments, never resampled (INTERFACE.md "Time").

The kernel :func:`griddiag.kernels.runs.interval_segments` is compared with a plain loop
(:func:`reference_segments`) on random step patterns; the grid and the detectors are checked
on a meter read every 30 minutes, then every 15.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

import griddiag
from griddiag.detectors.grid import to_grid
from griddiag.detectors.meter import GapDetector
from griddiag.exceptions import ConfigError
from griddiag.kernels.runs import interval_segments

T0 = datetime(2025, 3, 1, tzinfo=UTC)
MIN = 60_000_000


def _mode(steps: list[int]) -> int:
    pos = [d for d in steps if d > 0]
    if not pos:
        return -1
    values, counts = np.unique(pos, return_counts=True)
    return int(values[np.argmax(counts)])  # np.unique sorts: the first maximum is the shortest


def reference_segments(t, offsets, declared, min_run):
    """Plain loop: regimes are runs of >= min_run equal positive steps; split where the
    regime step changes, else one segment on the most common step."""
    out = []
    for s in range(len(offsets) - 1):
        a, b = int(offsets[s]), int(offsets[s + 1])
        ts = [int(x) for x in t[a:b]]
        steps = [ts[i + 1] - ts[i] for i in range(len(ts) - 1)]
        if not ts:
            continue
        if declared[s] > 0 or len(ts) < 2:
            out.append((s, a, int(declared[s]) if declared[s] > 0 else _mode(steps)))
            continue
        regimes = []  # (first row, step)
        last_cur = 0  # last reading (within the series) of the current regime's latest run
        i = 0
        while i < len(steps):
            j = i
            while j + 1 < len(steps) and steps[j + 1] == steps[i]:
                j += 1
            d = steps[i]
            if d > 0 and j - i + 1 >= min_run and (not regimes or regimes[-1][1] != d):
                if not regimes:
                    regimes.append((a + i, d))
                else:  # cut where the fewest steps are off their grid; ties: latest
                    old = regimes[-1][1]
                    costs = {k: sum(steps[x] % old != 0 for x in range(last_cur, k - 1))
                             + sum(steps[x] % d != 0 for x in range(k, i))
                             for k in range(min(last_cur + 1, i), i + 1)}
                    best = min(costs.values())
                    regimes.append((a + max(k for k, c in costs.items() if c == best), d))
            if regimes and d == regimes[-1][1] and j - i + 1 >= min_run:
                last_cur = j + 1
            i = j + 1
        if len(regimes) <= 1:
            out.append((s, a, _mode(steps)))
        else:
            out.append((s, a, regimes[0][1]))
            out += [(s, r, d) for r, d in regimes[1:]]
    return out


def _kernel_rows(t, offsets, declared, min_run):
    ser, start, step = interval_segments(np.asarray(t, dtype=np.int64), offsets, declared,
                                         min_run=min_run)
    return list(zip(ser.tolist(), start.tolist(), step.tolist()))


@pytest.mark.parametrize("seed", range(12))
def test_kernel_matches_reference_on_random_step_patterns(seed):
    rng = np.random.default_rng(seed)
    ts, lengths = [], []
    for _ in range(rng.integers(1, 6)):
        t, parts = 0, [0]
        for _ in range(rng.integers(0, 4)):  # a few regimes, with gaps and odd steps
            step = int(rng.choice([15, 30, 60, 5]))
            for _ in range(int(rng.integers(0, 30))):
                t += step if rng.random() > 0.1 else step * int(rng.integers(2, 5))
                parts.append(t)
        ts += parts
        lengths.append(len(parts))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    declared = np.where(rng.random(len(lengths)) < 0.2, 15, 0)
    for min_run in (1, 4, 10):
        assert _kernel_rows(ts, offsets, declared, min_run) == \
            reference_segments(ts, offsets, declared, min_run)


def test_kernel_tables():
    # one reading; two equal readings (no positive step); constant 15; 30 then 15
    cases = [
        ([0], -1, [(0, 0, -1)]),
        ([0, 0], -1, [(0, 0, -1)]),
        ([0, 15, 30, 60, 75], 3, [(0, 0, 15)]),
        ([0, 30, 60, 90, 105, 120, 135], 3, [(0, 0, 30), (0, 3, 15)]),
        # the shorter run of 30s is a stretch of gaps, not a regime: one segment on 15
        ([0, 15, 30, 45, 60, 90, 120, 135, 150, 165], 3, [(0, 0, 15)]),
    ]
    for t, min_run, expected in cases:
        assert _kernel_rows(t, None, None, max(min_run, 1)) == expected
    assert _kernel_rows([], None, None, 3) == []
    assert _kernel_rows([0, 15, 15, 30], [0, 2, 2, 4], None, 1) == [(0, 0, 15), (2, 2, 15)]


def test_kernel_refuses_bad_input():
    with pytest.raises(ConfigError, match="t_us"):
        interval_segments(np.array([0.5, 1.0]))
    with pytest.raises(ConfigError, match="min_run"):
        interval_segments(np.array([0, 1]), min_run=0)


def _changed_interval(days_30: int = 4, days_15: int = 4, drop: tuple[int, ...] = ()
                      ) -> pl.DataFrame:
    ts = [T0 + timedelta(minutes=30 * k) for k in range(days_30 * 48)]
    t1 = T0 + timedelta(days=days_30)
    ts += [t1 + timedelta(minutes=15 * k) for k in range(days_15 * 96)]
    ts = [t for i, t in enumerate(ts) if i not in drop]
    return pl.DataFrame({"asset_id": "M1", "ts": ts, "metric": "energy_kwh",
                         "value": np.linspace(0.2, 0.4, len(ts))},
                        schema={"asset_id": pl.String, "ts": pl.Datetime("us", "UTC"),
                                "metric": pl.String, "value": pl.Float64})


def test_grid_keeps_each_interval_as_a_segment():
    r = _changed_interval()
    g = to_grid(r.sample(fraction=1.0, shuffle=True, seed=1))  # any row order
    s = g.series
    assert s["segment"].to_list() == [0, 1]
    assert s["interval_us"].to_list() == [30 * MIN, 15 * MIN]
    assert s["n_slots"].to_list() == [4 * 48, 4 * 96]
    assert s["n_present"].to_list() == [4 * 48, 4 * 96]  # no reading lost, no gap invented
    assert np.isfinite(g.values).all()
    np.testing.assert_array_equal(g.values, r["value"].to_numpy())
    # the segment boundary: the 30-minute grid ends where the 15-minute one begins
    assert g.ts_us[g.offsets[1]] - g.ts_us[g.offsets[1] - 1] == 30 * MIN


def test_grid_with_period_pads_only_the_outer_ends():
    r = _changed_interval()
    g = to_grid(r, start=T0 - timedelta(hours=2), end=T0 + timedelta(days=8, hours=1))
    assert g.series["n_slots"].to_list() == [4 * 48 + 4, 4 * 96 + 4]
    assert g.series["n_present"].to_list() == [4 * 48, 4 * 96]


def test_declared_interval_is_not_split():
    g = to_grid(_changed_interval(), interval_minutes={"energy_kwh": 15})
    assert g.series.height == 1 and g.series["interval_us"][0] == 15 * MIN
    # on the declared 15-minute grid the 30-minute stretch is every other slot missing
    assert g.series["n_present"][0] == 4 * 48 + 4 * 96


def test_findings_are_per_segment():
    # one reading missing in each segment: two one-interval gaps of their own length
    r = _changed_interval(drop=(10, 4 * 48 + 20))
    g = to_grid(r)
    found = GapDetector().find(g)
    assert found.height == 2
    assert sorted((found["end"] - found["start"]).dt.total_minutes().to_list()) == [15, 30]
    # the whole engine: no gap findings beyond the two real ones
    f = griddiag.detect(r)
    gaps = f.filter(pl.col("kind") == "gap")
    assert gaps.height == 2
    assert sorted(gaps["magnitude"].to_list()) == [0.25, 0.5]  # hours


def test_grid_from_sorted_readings_equals_grid_from_frame():
    from griddiag.detectors.grid import sorted_readings

    other = _changed_interval().with_columns(asset_id=pl.lit("M0"), metric=pl.lit("voltage_v_a"))
    r = pl.concat([_changed_interval(drop=(5,)), other]).sample(fraction=1.0, shuffle=True,
                                                                seed=3)
    sr = sorted_readings(r)
    assert sorted_readings(r) is sr  # the same frame is sorted once
    for metrics in (["energy_kwh"], ["energy_kwh", "voltage_v_a"]):
        a = to_grid(r.filter(pl.col("metric").is_in(metrics)), start=T0, end=T0 + timedelta(9))
        b = to_grid(sr.subset(metrics), start=T0, end=T0 + timedelta(9))
        assert a.series.equals(b.series)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.ts_us, b.ts_us)
        np.testing.assert_array_equal(a.offsets, b.offsets)
