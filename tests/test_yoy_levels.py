"""compare_years on metrics that are not energy: temperatures, voltages, signed power flows
(compared by difference in the metric's unit), and holiday subdivisions ("AU-VIC")."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import polars as pl
import pytest

from griddiag.exceptions import ConfigError
from griddiag.holiday_calendar import parse_holiday_country
from griddiag.yoy import align_days, compare_years
from griddiag.yoy.calendar import day_types
from griddiag.yoy.compare import Thresholds, level_thresholds, metric_noun

TZ = "Asia/Shanghai"


def _hourly(asset, metric, years, fn, *, rng, noise, tz=TZ):
    """Hourly series ``fn(year, local_hour, day_of_year) + noise`` over whole local years."""
    hours = pl.datetime_range(date(min(years), 1, 1), date(max(years) + 1, 1, 1), "1h",
                              closed="left", time_zone=tz, eager=True)
    h = hours.dt.hour().to_numpy()
    y = hours.dt.year().to_numpy()
    doy = hours.dt.ordinal_day().to_numpy()
    v = fn(y, h, doy) + rng.normal(0, noise, h.size)
    return pl.DataFrame({"asset_id": asset, "ts": hours.dt.convert_time_zone("UTC")
                         .dt.cast_time_unit("us"), "metric": metric, "value": v})


def _row(out, asset, metric):
    return out.filter((pl.col("asset_id") == asset) & (pl.col("metric") == metric)).row(
        0, named=True)


@pytest.fixture(scope="module")
def levels():
    rng = np.random.default_rng(11)
    season = lambda doy: 8 * np.sin(2 * np.pi * (doy - 100) / 365)  # noqa: E731
    parts = [
        # oil 5 K warmer all of 2025
        _hourly("T1", "oil_temp_c", [2024, 2025],
                lambda y, h, d: 45 + season(d) + 3 * np.sin(2 * np.pi * (h - 9) / 24)
                + np.where(y == 2025, 5.0, 0.0), rng=rng, noise=1.0),
        # oil unchanged
        _hourly("T2", "oil_temp_c", [2024, 2025],
                lambda y, h, d: 40 + season(d) + 3 * np.sin(2 * np.pi * (h - 9) / 24),
                rng=rng, noise=1.0),
        # voltage 6 V lower in 2025 (2.6 % of 230 V)
        _hourly("T1", "voltage_v_a", [2024, 2025],
                lambda y, h, d: 232 - np.where(y == 2025, 6.0, 0.0), rng=rng, noise=1.5),
        # signed active power: night import, midday reverse flow (PV), crossing zero every
        # day; daily means near zero, so ratios of them are meaningless
        _hourly("T1", "active_power_kw", [2024, 2025],
                lambda y, h, d: 0.3 + 4.0 * np.cos(2 * np.pi * h / 24)
                - np.where((y == 2025) & (h >= 10) & (h <= 14), 1.0, 0.0),
                rng=rng, noise=0.8),
    ]
    frame = pl.concat(parts)
    assets = pl.DataFrame({"asset_id": ["T1", "T2"], "kind": "transformer", "tz": TZ})
    return compare_years(frame, year=2025, assets=assets)


def test_temperature_compared_by_difference(levels):
    r = _row(levels, "T1", "oil_temp_c")
    assert r["unit"] == "degC"
    assert r["energy_change_kwh"] == pytest.approx(5.0, abs=0.2)
    assert r["energy_kwh"] - r["energy_baseline_kwh"] == pytest.approx(r["energy_change_kwh"])
    assert r["energy_change_pct"] is None  # a percentage of a Celsius level means nothing
    assert r["energy_change_weather_pct"] is None
    assert r["change_class"] == "growth" and r["significant"]
    assert r["effect_size"] == pytest.approx(5.0, abs=0.2)  # in K, not a log ratio
    m = re.search(r"mean oil temperature rose by ([0-9.]+) degC", r["reason"])
    assert m and float(m.group(1)) == pytest.approx(5.0, abs=0.2), r["reason"]
    assert "%" not in r["reason"] and "consumption" not in r["reason"]
    u = _row(levels, "T2", "oil_temp_c")
    assert u["change_class"] == "unchanged" and not u["significant"]
    assert abs(u["energy_change_kwh"]) < 0.5 and "consumption" not in u["reason"]


def test_voltage_worded_in_volts(levels):
    r = _row(levels, "T1", "voltage_v_a")
    assert r["energy_change_kwh"] == pytest.approx(-6.0, abs=0.2)
    assert r["change_class"] == "decline"
    m = re.search(r"mean phase A voltage fell by ([0-9.]+) V ", r["reason"])
    assert m and float(m.group(1)) == pytest.approx(6.0, abs=0.2), r["reason"]
    # voltage is on a ratio scale and always positive: its percentage is kept
    assert r["energy_change_pct"] == pytest.approx(-6.0 / 232 * 100, abs=0.2)


def test_signed_flow_has_no_absurd_percentage(levels):
    r = _row(levels, "T1", "active_power_kw")
    assert r["energy_change_pct"] is None
    # the midday hours lost 1 kW: 5 of 24 hours -> about -0.21 kW of daily mean
    assert r["energy_change_kwh"] == pytest.approx(-5 / 24, abs=0.08)
    assert r["effect_size"] is None or abs(r["effect_size"]) < 1.0
    assert "%" not in r["reason"] and "consumption" not in r["reason"]
    assert "mean active power" in r["reason"]
    assert r["change_class"] != "step_change"


def test_level_threshold_units():
    th = Thresholds()
    assert level_thresholds("oil_temp_c", "degC", 60.0, th) == (th.temp_change_k,
                                                                 th.temp_step_k)
    g, _ = level_thresholds("voltage_v_b", "V", 230.0, th)
    assert g == pytest.approx(4.6)
    assert level_thresholds("power_factor", "1", 0.9, th)[0] == th.power_factor_change
    assert level_thresholds("current_a_a", "A", 50.0, th)[0] == pytest.approx(5.0)
    assert metric_noun("energy_kwh") == "consumption"
    assert metric_noun("oil_temp_c") == "mean oil temperature"
    assert metric_noun("voltage_v_c") == "mean phase C voltage"
    assert metric_noun("reactive_power_kvar") == "mean reactive_power_kvar"


def test_signed_energy_is_a_level():
    """Net energy that goes negative (export exceeds import some days) is not compared by
    ratio: no log-ratio floor, no percentage."""
    rng = np.random.default_rng(3)
    f = _hourly("M1", "energy_kwh", [2024, 2025],
                lambda y, h, d: 0.05 * np.sin(2 * np.pi * d / 365) + 0.3 * np.cos(2 * np.pi * h / 24)
                + np.where(y == 2025, 0.1, 0.0), rng=rng, noise=0.05)
    r = compare_years(f, year=2025).row(0, named=True)
    assert r["energy_change_pct"] is None
    assert "consumption" in r["reason"] and "%" not in r["reason"]
    assert r["change_class"] in ("growth", "step_change")


def test_holiday_subdivision_au_vic():
    assert parse_holiday_country("AU-VIC") == ("AU", "VIC")
    assert parse_holiday_country("cn") == ("CN", None)
    for bad in ("AU-", "", "-VIC"):
        with pytest.raises(ConfigError):
            parse_holiday_country(bad)
    with pytest.raises(ConfigError, match="AU-XX"):
        day_types(2014, "AU-XX")
    cup = (date(2014, 11, 4) - date(2014, 1, 1)).days      # Melbourne Cup 2014
    cup_b = (date(2013, 11, 5) - date(2013, 1, 1)).days    # and 2013
    kind_vic, keys_vic = day_types(2014, "AU-VIC")
    kind_au, _ = day_types(2014, "AU")
    assert kind_vic[cup] == 2 and keys_vic[cup][0] == "Melbourne Cup Day"
    assert kind_au[cup] == 0  # a workday in the national calendar
    ci, bi = align_days(2014, 2013, "AU-VIC")
    pairs = dict(zip(ci.tolist(), bi.tolist(), strict=True))
    assert pairs[cup] == cup_b


def test_compare_years_takes_subdivision():
    rng = np.random.default_rng(5)
    f = _hourly("M1", "energy_kwh", [2013, 2014], lambda y, h, d: 1.0 + 0.5 * np.cos(2 * np.pi * (h - 18) / 24), rng=rng,
                noise=0.05, tz="Australia/Melbourne")
    a = pl.DataFrame({"asset_id": ["M1"], "kind": "meter", "tz": "Australia/Melbourne"})
    vic = compare_years(f, year=2014, assets=a, holiday_country="AU-VIC").row(0, named=True)
    au = compare_years(f, year=2014, assets=a, holiday_country="AU").row(0, named=True)
    assert vic["change_class"] == au["change_class"] == "unchanged"
    with pytest.raises(ConfigError):
        compare_years(f, year=2014, assets=a, holiday_country="AU-NOPE")


def test_detector_day_types_take_the_same_holiday_codes():
    """The detectors' calendar reads the same "CC-SUBDIV" codes as the yoy pairing."""
    from griddiag.detectors.grid import _day_types

    cup_2014 = np.array([(date(2014, 11, 4) - date(1970, 1, 1)).days], dtype=np.int64)
    assert _day_types(cup_2014, "AU-VIC")[0] == 2   # Melbourne Cup: a Victorian holiday
    assert _day_types(cup_2014, "AU")[0] == 0       # an ordinary Tuesday nationally
    with pytest.raises(ConfigError):
        _day_types(cup_2014, "XX-NOPE")
