"""The local calendar of a grid: :func:`griddiag.kernels.calendar.local_calendar` against a
slot-by-slot reference (tests/reference.py), and :func:`griddiag.detectors.grid.build_calendar`
against Python's own ``zoneinfo`` conversion of every slot (DST days, several zones, several
intervals, empty and one-slot series); plus the other fast paths of the energy step:
:func:`griddiag.kernels.runs.run_hours`, the sampled :func:`series_median` on long series,
int32 days in :func:`daily_peak_ratio`, :func:`daily_totals` without its slot index, and the
numbers of the event tables (:func:`griddiag.kernels.events.event_stats`) against a plain
per-event reference."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numba
import numpy as np
import polars as pl
import pytest

from griddiag import kernels as K
from griddiag.detectors.grid import (
    Grid,
    _day_types,
    build_calendar,
    daily_totals,
    empty_grid,
    to_grid,
)
from griddiag.exceptions import ConfigError
from griddiag.kernels.calendar import US_PER_DAY, local_calendar
from griddiag.kernels.register import SAMPLED_MEDIAN_MIN, series_median
from griddiag.kernels.runs import run_hours
from tests import reference as R

JIT_OFF = bool(numba.config.DISABLE_JIT)
SEEDS = range(2) if JIT_OFF else range(10)
HOUR = 3_600_000_000
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe", "UTC"]


# -- local_calendar against the reference ---------------------------------------------------

def random_calendar_args(rng):
    """Series in a few zones with random transitions, steps and lengths (empty and one-slot
    series included), as the kernel's keyword arguments."""
    n_zones = int(rng.integers(1, 4))
    times, offs, zone_offsets = [], [], [0]
    base = 1_700_000_000 * 1_000_000 - (1_700_000_000 * 1_000_000) % (15 * 60_000_000)
    for _ in range(n_zones):
        k = int(rng.integers(1, 5))
        t = base + np.sort(rng.choice(np.arange(1, 400), k - 1, replace=False)) * 900_000_000
        times.extend([base, *t.tolist()])
        offs.extend((rng.integers(-48, 56, k) * 900_000_000).tolist())  # -12 h .. +14 h
        zone_offsets.append(len(times))
    n_series = int(rng.integers(1, 7))
    ts, offsets, steps = [], [0], []
    for i in range(n_series):
        step = int(rng.choice([5, 15, 30, 60, 1440])) * 60_000_000
        n = int(rng.choice([0, 1, int(rng.integers(2, 20 if JIT_OFF else 300))]))
        t0 = base + int(rng.integers(0, 200)) * 300_000_000
        ts.extend((t0 + np.arange(n) * step).tolist())
        offsets.append(len(ts))
        steps.append(step)
    zone = rng.integers(0, n_zones, n_series)
    ts_arr = np.array(ts, dtype=np.int64)
    d0 = (base - 14 * HOUR) // US_PER_DAY - 1
    d1 = (int(ts_arr.max()) + 15 * HOUR) // US_PER_DAY + 1 if ts else d0
    return dict(ts_us=ts_arr, offsets=np.array(offsets), step_us=np.array(steps),
                transitions_us=np.array(times, dtype=np.int64),
                utc_offsets_us=np.array(offs, dtype=np.int64),
                day_types=rng.integers(0, 3, d1 - d0 + 1), first_day=int(d0),
                series_zone=zone, zone_offsets=np.array(zone_offsets))


@pytest.mark.parametrize("seed", SEEDS)
def test_local_calendar_matches_reference(seed):
    kw = random_calendar_args(np.random.default_rng(seed))
    day, slot, kind, per_day = local_calendar(**kw)
    r_day, r_slot, r_kind, r_per_day = R.local_calendar(**kw)
    assert (day.dtype, slot.dtype, kind.dtype) == (np.int32, np.int32, np.int8)
    np.testing.assert_array_equal(day, r_day)
    np.testing.assert_array_equal(slot, r_slot)
    np.testing.assert_array_equal(kind, r_kind)
    assert per_day == r_per_day


def test_local_calendar_edges():
    # no slots at all, one slot, a DST change between two slots of one day
    empty = local_calendar(np.zeros(0, dtype=np.int64), [0], np.zeros(0, dtype=np.int64),
                           transitions_us=[0], utc_offsets_us=[0],
                           day_types=np.zeros(0, dtype=np.int8), first_day=0)
    assert [a.size for a in empty[:3]] == [0, 0, 0] and empty[3] == 1
    one = local_calendar([HOUR * 25], [0, 1], [HOUR], transitions_us=[0],
                         utc_offsets_us=[2 * HOUR], day_types=[0, 1, 2], first_day=0)
    assert [int(a[0]) for a in one[:3]] == [1, 3, 1] and one[3] == 4
    # clocks go back one hour at 03:00 local (02:00 after): 01:00 02:00 | 02:00 03:00
    ts = np.arange(4) * HOUR
    day, slot, _, per_day = local_calendar(ts, [0, 4], [HOUR], transitions_us=[0, 2 * HOUR],
                                           utc_offsets_us=[HOUR, 0], day_types=[0],
                                           first_day=0)
    assert slot.tolist() == [1, 2, 2, 3] and day.tolist() == [0] * 4 and per_day == 4


def test_local_calendar_refuses_what_it_cannot_key():
    with pytest.raises(ConfigError, match="first transition"):
        local_calendar([0, HOUR], [0, 2], [HOUR], transitions_us=[HOUR], utc_offsets_us=[0],
                       day_types=[0], first_day=0)
    with pytest.raises(ConfigError, match="day_types covers"):
        local_calendar([0, HOUR], [0, 2], [HOUR], transitions_us=[0], utc_offsets_us=[0],
                       day_types=[0], first_day=1)
    with pytest.raises(ConfigError, match="increase"):
        local_calendar([0, HOUR], [0, 2], [HOUR], transitions_us=[0, 0],
                       utc_offsets_us=[0, 0], day_types=[0], first_day=0)
    with pytest.raises(ConfigError, match="zone"):
        local_calendar([0, HOUR], [0, 2], [HOUR], transitions_us=[0], utc_offsets_us=[0],
                       day_types=[0], first_day=0, series_zone=[1])
    with pytest.raises(ConfigError, match="step_us"):
        local_calendar([0, HOUR], [0, 2], [0], transitions_us=[0], utc_offsets_us=[0],
                       day_types=[0], first_day=0)


# -- build_calendar against zoneinfo ----------------------------------------------------------

def zoned_grid(rng) -> Grid:
    """A grid over the DST changes of autumn 2024 and spring 2025 (Berlin, New York, Lord
    Howe's half hour), series in several zones (one without: UTC) and intervals, one series
    of a single slot, built by to_grid."""
    frames, assets = [], []
    for i in range(len(ZONES) + 2):
        minutes = int(rng.choice([15, 30, 60, 1440]))
        start = datetime(2025, 3, 28, tzinfo=UTC) if i % 2 else datetime(2024, 10, 24,
                                                                           tzinfo=UTC)
        n = 1 if i == len(ZONES) else (8 if JIT_OFF else 24 * 60 // minutes * 14)
        ts = pl.datetime_range(start, start + pl.duration(minutes=minutes * (n - 1)),
                               f"{minutes}m", eager=True, time_zone="UTC")
        frames.append(pl.DataFrame({"asset_id": f"M{i}", "ts": ts, "metric": "energy_kwh",
                                    "value": rng.random(ts.len())}))
        assets.append({"asset_id": f"M{i}", "kind": "meter",
                       "tz": ZONES[i % len(ZONES)] if i < len(ZONES) + 1 else None})
    return to_grid(pl.concat(frames), assets=pl.DataFrame(assets))


def zoneinfo_keys(grid: Grid, country):
    """Every slot converted by Python's zoneinfo on its own."""
    day, slot = [], []
    for s in range(grid.n_series):
        zone = ZoneInfo(grid.series["tz"][s] or "UTC")
        step = int(grid.series["interval_us"][s])
        for t in grid.ts_us[grid.offsets[s]:grid.offsets[s + 1]]:
            local = datetime.fromtimestamp(int(t) / 1e6, UTC).astimezone(zone)
            naive_us = int(local.replace(tzinfo=UTC).timestamp()) * 1_000_000
            d = naive_us // US_PER_DAY
            day.append(d)
            slot.append((naive_us - d * US_PER_DAY) // step)
    day = np.array(day, dtype=np.int64)
    kinds = _day_types(np.arange(day.min(), day.max() + 1), country)[day - day.min()]
    return day, np.array(slot), kinds


@pytest.mark.parametrize("seed", range(1) if JIT_OFF else range(3))
@pytest.mark.parametrize("country", [None, "CN"])
def test_build_calendar_matches_zoneinfo(seed, country):
    grid = zoned_grid(np.random.default_rng(seed))
    cal = build_calendar(grid, holiday_country=country).calendar
    day, slot, kinds = zoneinfo_keys(grid, country)
    np.testing.assert_array_equal(cal.day, day)
    np.testing.assert_array_equal(cal.slot_of_day, slot)
    np.testing.assert_array_equal(cal.day_type, kinds)
    assert cal.n_slots_of_day == int(slot.max()) + 1
    assert (cal.day.dtype, cal.slot_of_day.dtype, cal.day_type.dtype) == (
        np.int32, np.int32, np.int8)
    assert build_calendar(empty_grid()).calendar.n_slots_of_day == 1


# -- run durations -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_run_hours_matches_reference(seed):
    rng = np.random.default_rng(seed)
    values, offsets = R.random_batch(rng, max_len=25 if JIT_OFF else 80)
    run = K.nan_runs(values, offsets)
    steps = rng.choice([60_000_000, 300_000_000, 900_000_000, 86_400_000_000],
                       offsets.size - 1)
    hours = run_hours(run, offsets, steps)
    np.testing.assert_array_equal(hours, R.run_hours(run, offsets, steps))
    np.testing.assert_array_equal(hours, run * np.repeat(steps, np.diff(offsets)) / 3.6e9)
    np.testing.assert_array_equal(run_hours(run, offsets, 900_000_000),
                                  R.run_hours(run, offsets, 900_000_000))
    np.testing.assert_array_equal(run_hours(run, offsets, steps, empty=np.nan),
                                  R.run_hours(run, offsets, steps, np.nan))


def test_run_hours_edges():
    assert run_hours(np.zeros(0, dtype=np.int32), [0], 900_000_000).size == 0
    assert run_hours(np.array([3], dtype=np.int32), [0, 1], [HOUR]).tolist() == [3.0]
    with pytest.raises(ConfigError, match="interval_us"):
        run_hours(np.array([3], dtype=np.int32), [0, 1], [0])


# -- the sampled median on long series ------------------------------------------------------

@pytest.mark.parametrize("seed", range(2) if JIT_OFF else range(8))
def test_series_median_long_series_match_numpy(seed):
    rng = np.random.default_rng(seed)
    parts = []
    for kind in range(6):
        n = int(rng.integers(SAMPLED_MEDIAN_MIN, 3 * SAMPLED_MEDIAN_MIN))
        x = {0: lambda: np.round(rng.lognormal(-2.0, 1.0, n), 2),   # quantised energy
             1: lambda: rng.normal(0.0, 1.0, n),
             # periodic with the sample's stride: the sample brackets the wrong values, the
             # series is selected whole
             2: lambda: np.tile(np.arange(1024.0), n // 1024 + 1)[:n],
             3: lambda: np.where(np.arange(n) % 2 == 0, 0.0, 5.0),  # two values, even split
             4: lambda: np.full(n, 0.25),
             5: lambda: rng.integers(0, 40, n) / 100.0}[kind]()
        x[rng.random(n) < rng.choice([0.0, 0.2, 0.7])] = np.nan  # 0.7: too few to sample
        x[rng.random(n) < 0.01] = np.where(rng.random() < 0.5, np.inf, -np.inf)
        parts.append(x)
    parts.insert(2, np.full(SAMPLED_MEDIAN_MIN + 1, np.nan))  # long and empty
    values = np.concatenate(parts)
    offsets = np.concatenate([[0], np.cumsum([p.size for p in parts])])
    np.testing.assert_array_equal(series_median(values, offsets),
                                  R.series_median(values, offsets))


def test_series_median_odd_and_even_counts_around_the_bracket():
    n = SAMPLED_MEDIAN_MIN * 2
    for m in (n, n + 1):
        x = np.arange(m, dtype=float)[::-1].copy()
        assert series_median(x)[0] == np.median(x)


# -- int32 days and the daily grid without its slot index ------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_daily_peak_ratio_takes_int32_days(seed):
    rng = np.random.default_rng(seed)
    values, offsets = R.random_batch(rng, max_len=25 if JIT_OFF else 80)
    day = np.concatenate([np.sort(rng.integers(0, 5, b - a))
                          for a, b in zip(offsets[:-1], offsets[1:])]).astype(np.int64)
    np.testing.assert_array_equal(K.daily_peak_ratio(values, offsets, day.astype(np.int32)),
                                  K.daily_peak_ratio(values, offsets, day))


def test_daily_totals_without_index_is_the_same_grid():
    grid = build_calendar(zoned_grid(np.random.default_rng(0)), holiday_country=None)
    days, index = daily_totals(grid)
    days2, none = daily_totals(grid, index=False)
    assert none is None and index.shape == grid.values.shape
    np.testing.assert_array_equal(days.values, days2.values)
    np.testing.assert_array_equal(days.offsets, days2.offsets)
    np.testing.assert_array_equal(days.calendar.day, days2.calendar.day)
    # the index carries every slot to its day: the same local day and series
    np.testing.assert_array_equal(days.calendar.day[index], grid.calendar.day)
    np.testing.assert_array_equal(days.series_of_slot()[index], grid.series_of_slot())


# -- the numbers of an event table ----------------------------------------------------------

def _random_events(rng, n: int, k: int):
    """``k`` events (overlapping, unordered, some empty) with windows around them in
    ``[0, n)``."""
    a = rng.integers(0, n + 1, k)
    b = np.minimum(a + rng.integers(0, 12, k), n)
    wa = np.maximum(a - rng.integers(0, 6, k), 0)
    wb = np.minimum(b + rng.integers(0, 6, k), n)
    return a, b, wa, wb


@pytest.mark.parametrize("seed", SEEDS)
def test_event_stats_equal_the_reference(seed):
    from griddiag.kernels.events import event_stats

    rng = np.random.default_rng(seed)
    values, _ = R.random_batch(rng, max_len=25 if JIT_OFF else 200)
    values = values * rng.lognormal(0.0, 3.0, values.size)  # magnitudes that round
    if values.size > 2:
        values[:2] = [-0.0, 0.0]  # the first of equal values, as NumPy's fmin/fmax
    events = _random_events(rng, values.size, int(rng.integers(0, 40)))
    got, want = event_stats(values, *events), R.event_stats(values, *events)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)  # NaN where NaN; sums in the same order
        assert np.array_equal(np.signbit(g), np.signbit(w))
    # the window defaults to the event itself
    a, b = events[0], events[1]
    np.testing.assert_array_equal(event_stats(values, a, b)[4], want[1])


def test_event_stats_edges_and_bad_events():
    from griddiag.kernels.events import event_stats

    for values in (np.zeros(0), np.array([np.nan]), np.array([2.5]),
                   np.array([np.inf, 1.0, -np.inf, np.nan])):
        n = values.size
        events = (np.array([0, 0]), np.array([n, 0]), np.array([0, 0]), np.array([n, n]))
        for g, w in zip(event_stats(values, *events), R.event_stats(values, *events)):
            np.testing.assert_array_equal(g, w)
    total, n_valid, vmin, vmax, window = event_stats(
        np.array([np.inf, 1.0, -np.inf, np.nan]), [0], [4], [0], [4])
    assert (total[0], n_valid[0], vmin[0], vmax[0], window[0]) == (1.0, 1, -np.inf, np.inf, 1)
    assert all(a.size == 0 for a in event_stats(np.ones(3), [], []))
    with pytest.raises(ConfigError, match="window_start <= start"):
        event_stats(np.ones(3), [1], [2], [2], [3])  # window after the event's start
    with pytest.raises(ConfigError, match="len\\(values\\)"):
        event_stats(np.ones(3), [1], [2], [0], [4])
    with pytest.raises(ConfigError, match="one element per event"):
        event_stats(np.ones(3), [1, 2], [2])
