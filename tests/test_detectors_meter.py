"""The sum check, reverse energy, same-period-last-year usage and CUSUM detectors: tiny
labelled tables (a meter's day of intervals against its midnight register, a tier that stops,
an export on an import-only meter, a register counting down, a year-ago comparison) and the
pipeline's joint and history paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

import griddiag
from griddiag.detectors import build_calendar, load_profile, to_grid
from griddiag.detectors.meter import (
    RegisterDetector,
    ReverseEnergyDetector,
    SumCheckDetector,
    UsageLastYearDetector,
)
from griddiag.detectors.statistical import CusumDetector
from griddiag.exceptions import ConfigError
from tests.frames import one_series

nan = np.nan
T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday, 00:00 UTC


def frame(values, *, metric, minutes, asset="M1", t0=T0):
    return one_series(values, metric=metric, asset=asset, minutes=minutes, t0=t0)


ASSETS = pl.DataFrame({"asset_id": ["M1"], "kind": ["meter"], "register_digits": [6],
                       "tz": ["UTC"]})


def grid(*frames):
    return build_calendar(to_grid(pl.concat(frames), assets=ASSETS), holiday_country=None)


def days_of_energy(per_day, days=4):
    """15-minute energy, ``per_day[d]`` kWh spread evenly over day d (NaN: one missing)."""
    out = []
    for d in range(days):
        v = np.full(96, round(per_day[d] / 96, 6)) if np.isfinite(per_day[d]) else \
            np.full(96, 0.1)
        if not np.isfinite(per_day[d]):
            v[40] = nan
        out.append(v)
    return np.concatenate(out)


# -- sum check ------------------------------------------------------------------------------

SUM_TABLE = [
    # id, daily energy, midnight register readings (day 0 ... day 4), events (first, last day)
    ("accounts agree", [9.6, 9.6, 9.6, 9.6], [100.0, 109.6, 119.2, 128.8, 138.4], []),
    ("interval channel lost energy on day 1", [9.6, 4.8, 9.6, 9.6],
     [100.0, 109.6, 119.2, 128.8, 138.4], [(1, 1)]),
    ("within max(1 %, 2 x 0.01 kWh)", [9.6, 9.65, 9.6, 9.6],
     [100.0, 109.6, 119.2, 128.8, 138.4], []),
    ("stuck register on day 2, catching up on day 3", [9.6, 9.6, 9.6, 9.6],
     [100.0, 109.6, 119.2, 119.2, 138.4], [(2, 3)]),
    ("a missing interval is not judged", [9.6, nan, 9.6, 9.6],
     [100.0, 109.6, 159.6, 169.2, 178.8], []),
    ("a missing register reading merges two days", [9.6, 9.6, 9.6, 9.6],
     [100.0, 109.6, nan, 128.8, 138.4], []),
    ("a meter exchange day is not judged", [9.6, 9.6, 9.6, 9.6],
     [100.0, 109.6, 0.5, 10.1, 19.7], []),
]


@pytest.mark.parametrize("case", SUM_TABLE, ids=[c[0] for c in SUM_TABLE])
def test_sum_check_interval_vs_register(case):
    _, energy, register, flagged = case
    g = grid(frame(days_of_energy(energy), metric="energy_kwh", minutes=15),
             frame(register, metric="register_kwh", minutes=1440))
    f = SumCheckDetector().find(g)
    got = [((s - T0).days, (e - T0).days - 1) for s, e in zip(f["start"], f["end"])]
    assert got == flagged
    assert (f["metric"] == "energy_kwh").all() and (f["kind"] == "sum_check").all()
    if f.height:
        assert "register advanced" in f["reason"][0]


def test_sum_check_rollover_day_is_not_judged():
    # a 3-digit register (wraps at 1000 kWh) rolls over on day 2
    energy = days_of_energy([9.6, 9.6, 9.6, 9.6])
    reg = [980.0, 989.6, 999.2, 8.8, 18.4]
    a = ASSETS.with_columns(pl.lit(3).alias("register_digits"))
    g = build_calendar(to_grid(pl.concat([frame(energy, metric="energy_kwh", minutes=15),
                                          frame(reg, metric="register_kwh", minutes=1440)]),
                               assets=a), holiday_country=None)
    assert SumCheckDetector().find(g).height == 0
    # with the interval channel wrong on the rollover day: still not judged (rollover step)
    energy[2 * 96:3 * 96] *= 2
    g2 = build_calendar(to_grid(pl.concat([frame(energy, metric="energy_kwh", minutes=15),
                                           frame(reg, metric="register_kwh", minutes=1440)]),
                                assets=a), holiday_country=None)
    assert SumCheckDetector().find(g2).height == 0


def test_sum_check_tiers_against_total():
    total = [100.0, 110.0, 120.0, 130.0]
    t1 = [40.0, 46.0, 52.0, 58.0]
    t2 = [60.0, 64.0, 68.0, 68.0]  # tier 2 stops on the last day
    g = grid(frame(total, metric="register_kwh", minutes=1440),
             frame(t1, metric="register_kwh_t1", minutes=1440),
             frame(t2, metric="register_kwh_t2", minutes=1440))
    f = SumCheckDetector().find(g)
    assert f.height == 1
    row = f.row(0, named=True)
    assert row["metric"] == "register_kwh" and row["start"] == T0 + timedelta(days=2)
    assert row["observed"] == pytest.approx(6.0) and row["expected"] == pytest.approx(10.0)
    assert "tier registers" in row["reason"]
    score = SumCheckDetector().score(g)
    assert score.shape == g.values.shape and np.nanmax(score) == pytest.approx(40.0)


def test_sum_check_energy_grid_shorter_than_register_is_not_judged():
    # energy starts on day 1: the register's day-0 span has no intervals to compare
    energy = days_of_energy([9.6, 9.6, 9.6], days=3)
    g = grid(frame(energy, metric="energy_kwh", minutes=15, t0=T0 + timedelta(days=1)),
             frame([100.0, 109.6, 119.2, 128.8, 138.4], metric="register_kwh",
                   minutes=1440))
    assert SumCheckDetector().find(g).height == 0


def test_sum_check_parameters_are_checked():
    with pytest.raises(ConfigError, match="tolerance_fraction"):
        SumCheckDetector(tolerance_fraction=-0.1)


# -- reverse energy -------------------------------------------------------------------------

def test_reverse_energy_on_import_only_meter_only():
    export = [0.0, 0.0, 0.3, 0.2, 0.0, 0.0, nan, 0.0]
    g = grid(frame(export, metric="energy_export_kwh", minutes=15))
    f = ReverseEnergyDetector().find(g)
    assert f.height == 1 and f["kind"][0] == "reverse_energy"
    assert f["magnitude"][0] == pytest.approx(0.5)
    assert f["start"][0] == T0 + timedelta(minutes=30)
    assert ReverseEnergyDetector(generating_assets=["M1"]).find(g).height == 0
    assert ReverseEnergyDetector(tolerance=0.25).find(g).height == 1
    assert ReverseEnergyDetector().applies_to("energy_export_kwh")
    assert not ReverseEnergyDetector().applies_to("energy_kwh")
    with pytest.raises(ConfigError, match="generating_assets"):
        ReverseEnergyDetector(generating_assets="M1")


REG_TABLE = [
    # id, daily register readings, (rollback days, reverse-run (start, end) days)
    ("one drop is a rollback", [100, 110, 90, 100, 110], ([2], [])),  # peak: day 2
    ("three decreases in a row run backwards", [100, 110, 105, 99, 95, 96, 97],
     ([], [(1, 5)])),
    ("a missing reading does not break the run", [100, 110, 105, nan, 95, 90, 91],
     ([], [(1, 6)])),
    ("two decreases are two rollbacks", [100, 110, 105, 99, 100, 101], ([2], [])),
]


@pytest.mark.parametrize("case", REG_TABLE, ids=[c[0] for c in REG_TABLE])
def test_register_reverse_run(case):
    _, reg, (rollback_days, reverse) = case
    g = grid(frame(reg, metric="register_kwh", minutes=1440))
    f = RegisterDetector().find(g)
    rb = f.filter(pl.col("kind") == "rollback")
    rv = f.filter(pl.col("kind") == "reverse_energy")
    if case[0] == "two decreases are two rollbacks":
        assert rb.height == 1 and rv.height == 0  # one event of two consecutive drops
    else:
        assert sorted((s - T0).days for s in rb["peak_ts"].to_list()) == rollback_days
    assert [((s - T0).days, (e - T0).days) for s, e in
            zip(rv["start"].to_list(), rv["end"].to_list())] == reverse
    if rv.height:
        assert rv["magnitude"][0] == pytest.approx(rv["expected"][0] - rv["observed"][0])
        assert "backwards" in rv["reason"][0]
    # off: every decrease is a rollback
    off = RegisterDetector(reverse_min_steps=0).find(g)
    assert not (off["kind"] == "reverse_energy").any()


def test_register_reverse_min_steps_checked():
    with pytest.raises(ConfigError, match="reverse_min_steps"):
        RegisterDetector(reverse_min_steps=1)


# -- same period last year ------------------------------------------------------------------

def _two_years(drop_from: int | None = None, factor: float = 0.1):
    start = datetime(2023, 1, 2, tzinfo=UTC)  # a Monday
    n_days = 2 * 364 + 30
    days = np.arange(n_days)
    weekday = days % 7
    daily = np.where(weekday >= 5, 8.0, 10.0) * (1 + 0.3 * np.sin(days * 2 * np.pi / 364))
    if drop_from is not None:
        daily[drop_from:] *= factor
    return frame(np.repeat(daily, 24) / 24, metric="energy_kwh", minutes=60, t0=start), start


def test_usage_last_year_flags_a_drop_against_last_year():
    fr, start = _two_years(drop_from=364 + 100)
    g = grid(fr)
    f = UsageLastYearDetector().find(g)
    assert set(f["kind"]) == {"low_usage"}
    first = min(f["start"].to_list())
    assert first == start + timedelta(days=364 + 100)
    assert "last year" in f["reason"][0]
    # the clean twin has nothing: the season repeats
    assert UsageLastYearDetector().find(grid(_two_years()[0])).height == 0
    assert UsageLastYearDetector().history_days == 372.0


def test_detect_reads_last_year_for_the_detector_that_needs_it(tmp_path):
    fr, start = _two_years(drop_from=364 + 100)
    prof = tmp_path / "p.toml"
    prof.write_text('[profile]\nname = "t"\nholiday_country = "CN"\n'
                    '[meter.usage_last_year]\nhigh_ratio = 4.0\nlow_ratio = 0.15\n'
                    '[meter.usage]\nhigh_ratio = 4.0\nlow_ratio = 0.15\n')
    loaded = load_profile(prof)
    assert loaded.detector_history_days == 372.0
    # year 2024 alone: last year's days are outside the period but still read
    f = griddiag.detect(fr, assets=ASSETS, profile=prof, year=2024)
    ly = f.filter(pl.col("detector").str.contains("usage_last_year"))
    assert ly.height >= 1
    assert (f["end"] > datetime(2024, 1, 1, tzinfo=UTC)).all()
    # through a store: the detector's history is read even without external checks
    store_dir = tmp_path / "store"
    with griddiag.open_store(str(store_dir)) as store:
        store.write(fr)
        fs = griddiag.detect(store, assets=ASSETS, profile=prof, year=2024)
    assert fs.filter(pl.col("detector").str.contains("usage_last_year")).height == ly.height


def test_detect_gives_the_sum_check_energy_and_register_together(tmp_path):
    energy = days_of_energy([9.6, 4.8, 9.6, 9.6])
    reg = [100.0, 109.6, 119.2, 128.8, 138.4]
    readings = pl.concat([frame(energy, metric="energy_kwh", minutes=15),
                          frame(reg, metric="register_kwh", minutes=1440)])
    prof = tmp_path / "p.toml"
    prof.write_text('[profile]\nname = "t"\n[meter.sum_check]\n')
    f = griddiag.detect(readings, assets=ASSETS, profile=prof)
    assert f.height == 1 and f["kind"][0] == "sum_check"
    assert f["start"][0] == T0 + timedelta(days=1)


# -- CUSUM ----------------------------------------------------------------------------------

def test_cusum_detector_dates_a_drop_and_merges_with_level_shift():
    rng = np.random.default_rng(3)
    daily = np.concatenate([rng.normal(10, 0.8, 70), rng.normal(4, 0.4, 60)])
    fr = frame(np.repeat(daily, 24) / 24, metric="energy_kwh", minutes=60)
    g = grid(fr)
    f = CusumDetector().find(g)
    assert f.height == 1 and f["kind"][0] == "level_shift"
    # Page's date: where the falling sum last stood at zero, within days of the step
    assert abs(f["start"][0] - (T0 + timedelta(days=70))) <= timedelta(days=3)
    assert f["observed"][0] < 0.5 * f["expected"][0]
    assert "CUSUM" in f["reason"][0]
    from griddiag.detectors import LevelShiftDetector, merge_findings
    both = merge_findings(pl.concat([f, LevelShiftDetector().find(g)]))
    assert both.height == 1 and set(both["detector"][0].split("+")) == {"cusum",
                                                                        "level_shift"}


def test_cusum_detector_ignores_a_short_excursion():
    daily = np.full(120, 10.0) + np.tile([0.0, 0.3, -0.2, 0.1], 30)
    daily[50:54] = 25.0  # four busy days: an alarm, but the level does not last
    g = grid(frame(np.repeat(daily, 24) / 24, metric="energy_kwh", minutes=60))
    assert CusumDetector().find(g).height == 0
