"""The report's chart data (``griddiag.inspection.charts``) against plain polars references:
local time by offset lookup, monthly and daily-profile aggregates by ``bincount``, windows
from range-joined readings, the expected band from one sort."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from griddiag.inspection.charts import (
    MONTHLY_SCHEMA,
    PROFILE_SCHEMA,
    expected_band,
    finding_windows,
    local_wall_us,
    yoy_monthly,
    yoy_profile,
)
from griddiag.schema import METRICS

ZONES = {"a1": "Asia/Shanghai", "a2": "America/New_York", "a3": "UTC",
         "a4": "Australia/Lord_Howe", "a5": "Asia/Kolkata"}


def _ref_local(ts_us: np.ndarray, zone: str) -> np.ndarray:
    return (pl.Series(ts_us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
            .dt.convert_time_zone(zone).dt.replace_time_zone(None).dt.epoch("us").to_numpy())


def _ref_rows(readings, pairs, years, tz_of):
    rows = readings.join(pairs.select("asset_id", "metric").unique(),
                         on=["asset_id", "metric"], how="semi")
    parts = [rows.filter(pl.col("asset_id") == a).with_columns(
        local=pl.col("ts").dt.convert_time_zone(tz_of.get(a) or "UTC")
        .dt.replace_time_zone(None)) for a in rows["asset_id"].unique().to_list()]
    if not parts:
        return None
    return (pl.concat(parts).with_columns(year=pl.col("local").dt.year().cast(pl.Int32))
            .filter(pl.col("year").is_in(list(years))))


def _ref_monthly(readings, pairs, years, tz_of):
    rows = _ref_rows(readings, pairs, years, tz_of)
    if rows is None:
        return pl.DataFrame(schema=MONTHLY_SCHEMA)
    energy = [m for m, x in METRICS.items() if x.kind == "interval_energy"]
    return (rows.with_columns(month=pl.col("local").dt.month().cast(pl.Int8))
            .group_by("asset_id", "metric", "year", "month")
            .agg(pl.when(pl.col("metric").first().is_in(energy)).then(pl.col("value").sum())
                 .otherwise(pl.col("value").mean()).alias("value"))
            .select(list(MONTHLY_SCHEMA)).cast(MONTHLY_SCHEMA)
            .sort("asset_id", "metric", "year", "month"))


def _ref_profile(readings, pairs, years, tz_of):
    rows = _ref_rows(readings, pairs, years, tz_of)
    if rows is None:
        return pl.DataFrame(schema=PROFILE_SCHEMA)
    return (rows.with_columns(hour=pl.col("local").dt.hour().cast(pl.Float64)
                              + pl.col("local").dt.minute().cast(pl.Float64) / 60.0)
            .group_by("asset_id", "metric", "year", "hour").agg(pl.col("value").mean())
            .select(list(PROFILE_SCHEMA)).cast(PROFILE_SCHEMA)
            .sort("asset_id", "metric", "year", "hour"))


@pytest.fixture(scope="module")
def readings() -> pl.DataFrame:
    rng = np.random.default_rng(11)
    start = int(datetime(2022, 12, 25, tzinfo=UTC).timestamp()) * 1_000_000
    parts = []
    for a in ZONES:
        for m, step_s in (("energy_kwh", 900), ("voltage_v_a", 3600)):
            n = 40 if a == "a3" else 12_000
            ts = start + np.arange(n, dtype=np.int64) * step_s * 1_000_000
            v = rng.normal(5, 1, n)
            v[rng.random(n) < 0.01] = np.nan
            if a == "a4":
                v[7] = np.inf
            keep = rng.random(n) > 0.05
            parts.append(pl.DataFrame({"asset_id": a, "metric": m, "ts": ts[keep],
                                       "value": v[keep]}))
    return (pl.concat(parts)
            .with_columns(pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")))


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
                                  "Europe/London", "Asia/Shanghai", "UTC"])
def test_local_wall_time_matches_the_zone_database(zone):
    rng = np.random.default_rng(3)
    # readings across several DST changes, at odd microseconds; sparse and tiny inputs too
    dense = np.sort(rng.integers(1_600_000_000, 1_640_000_000, 50_000)) * 1_000_000 \
        + rng.integers(0, 1_000_000, 50_000)
    for ts in (dense, dense[::5000], dense[:1], dense[:0], dense[::-1]):
        np.testing.assert_array_equal(local_wall_us(ts, zone), _ref_local(ts, zone))


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
@pytest.mark.parametrize("years", [(2023, 2024), (2023,), (2030,)])
def test_monthly_and_profile_match_reference(readings, order, years):
    r = (readings.sort("asset_id", "metric", "ts") if order == "sorted"
         else readings.sample(fraction=1.0, shuffle=True, seed=5))
    tz_of = dict(ZONES)
    for pairs in (r.select("asset_id", "metric").unique(),
                  pl.DataFrame({"asset_id": ["a2", "zz"], "metric": ["energy_kwh"] * 2})):
        got_m = yoy_monthly(r, pairs, years, tz_of)
        got_p = yoy_profile(r, pairs, years, tz_of)
        assert_frame_equal(got_m, _ref_monthly(r, pairs, years, tz_of), check_exact=False,
                           rel_tol=1e-9)
        assert_frame_equal(got_p, _ref_profile(r, pairs, years, tz_of), check_exact=False,
                           rel_tol=1e-9)
    # an asset without a zone is read in UTC
    no_zone = {k: v for k, v in tz_of.items() if k != "a3"}
    assert_frame_equal(yoy_monthly(r, pairs, years, no_zone), yoy_monthly(r, pairs, years,
                                                                         tz_of))


def test_monthly_of_nothing(readings):
    pairs = readings.select("asset_id", "metric").unique()
    assert yoy_monthly(readings.head(0), pairs, (2023,), ZONES).schema == pl.Schema(
        MONTHLY_SCHEMA)
    assert yoy_profile(readings, pairs.head(0), (2023,), ZONES).height == 0
    one = readings.filter(pl.col("asset_id") == "a1").head(1)
    got = yoy_monthly(one, pairs, (2022, 2023), ZONES)
    assert got.height == 1 and got["value"][0] == one["value"][0]


def test_windows_do_not_depend_on_row_order(readings):
    f = pl.DataFrame({
        "asset_id": ["a1", "a2", "a4", "zz", "a1"], "metric": ["energy_kwh"] * 5,
        "start": [datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 12, 5, tzinfo=UTC),
                  datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 2, 1, tzinfo=UTC),
                  datetime(2030, 1, 1, tzinfo=UTC)],
    }).with_columns(end=pl.col("start") + timedelta(hours=3), peak_ts=pl.col("start"))
    f = f.with_columns(pl.col("start", "end", "peak_ts").dt.cast_time_unit("us"))
    keys = ["k0", "k1", "k2", "k3", "k4"]
    w = finding_windows(readings.sort("asset_id", "metric", "ts"), f, keys, ZONES)
    shuffled = finding_windows(readings.sample(fraction=1.0, shuffle=True, seed=2), f, keys,
                               ZONES)
    assert_frame_equal(w, shuffled)
    assert set(w["finding_key"].unique().to_list()) == {"k0", "k1", "k2"}  # no data: no rows
    assert w.filter(pl.col("finding_key") == "k0").height == 2 * 96 + 12


@pytest.mark.parametrize("case", ["inf", "ties", "nan"])
def test_expected_band_matches_nanmedian(case):
    rng = np.random.default_rng(4)
    days = rng.integers(0, 4, size=(20, 8)).astype(float)  # many equal values
    if case == "inf":
        days[3, 2] = np.inf
        days[5, 1] = -np.inf
    elif case == "nan":
        days[rng.random(days.shape) < 0.4] = np.nan
        days[:, 0] = np.nan
    which = np.arange(20)
    low, high = expected_band(days, which)
    for i, d in enumerate(which):
        ref = days[max(d - 7, 0):d + 8]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, as meant
            med = np.nanmedian(ref, axis=0)
            mad = np.nanmedian(np.abs(ref - med), axis=0)
        np.testing.assert_allclose(low[i], med - 3.0 * 1.482602218505602 * mad,
                                   equal_nan=True)
        np.testing.assert_allclose(high[i], med + 3.0 * 1.482602218505602 * mad,
                                   equal_nan=True)
