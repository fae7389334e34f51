"""compare_years on hand-made series whose answer is known, on the sample utility's injected
changes, and through both stores."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import griddiag
from griddiag.exceptions import ConfigError
from griddiag.schema import YOY_SCHEMA
from griddiag.yoy import align_days, compare_years, finalize
from griddiag.yoy.calendar import day_types

TZ = "Asia/Shanghai"
SAMPLE = Path(__file__).resolve().parents[1] / "data_samples"


def _hourly_meter(asset, years, *, rng, level=1.0, peak_hour=19, factor=None, start=None,
                  tz=TZ):
    """Hourly energy of a household: a daily profile peaking at ``peak_hour`` local, weekly
    pattern, noise; ``factor(local_date) -> float`` scales days (growth, step)."""
    lo = date(min(years), 1, 1)
    hi = date(max(years) + 1, 1, 1)
    hours = pl.datetime_range(lo, hi, "1h", closed="left", time_zone=tz, eager=True)
    local_h = hours.dt.hour().to_numpy()
    days = hours.dt.date()
    weekday = hours.dt.weekday().to_numpy()
    shape = 0.4 + np.exp(-0.5 * ((local_h - peak_hour) / 2.0) ** 2)
    v = level * shape * np.where(weekday >= 6, 0.9, 1.0)
    v = v * np.exp(rng.normal(0, 0.15, v.size))
    if factor is not None:
        f = np.array([factor(d) for d in days.unique().sort().to_list()])
        idx = (days.cast(pl.Int32) - days.min().toordinal() + date(1970, 1, 1).toordinal())
        v = v * f[idx.to_numpy()]
    return pl.DataFrame({"asset_id": asset, "ts": hours.dt.convert_time_zone("UTC"),
                         "metric": "energy_kwh", "value": v})


def _assets(ids):
    return pl.DataFrame({"asset_id": ids, "kind": "meter", "tz": TZ})


def _frame(parts):
    return pl.concat(parts).with_columns(pl.col("ts").dt.cast_time_unit("us"))


@pytest.fixture(scope="module")
def handmade():
    rng = np.random.default_rng(7)
    ids = [f"M{i:03d}" for i in range(12)]
    parts = [_hourly_meter(a, [2024, 2025], rng=rng) for a in ids[4:]]
    parts.append(_hourly_meter(ids[0], [2024, 2025], rng=rng,
                               factor=lambda d: 1.2 if d.year == 2025 else 1.0))
    parts.append(_hourly_meter(ids[1], [2024, 2025], rng=rng,
                               factor=lambda d: 1.6 if d >= date(2025, 6, 10) else 1.0))
    h24 = _hourly_meter(ids[2], [2024], rng=rng, peak_hour=19)
    h25 = _hourly_meter(ids[2], [2025], rng=rng, peak_hour=13)
    parts += [h24, h25]
    parts.append(_hourly_meter(ids[3], [2024, 2025], rng=rng,
                               factor=lambda d: 0.03 if d >= date(2025, 3, 1) else 1.0))
    frame = _frame(parts)
    out = compare_years(frame, year=2025, assets=_assets(ids))
    return frame, ids, out.sort("asset_id")


def test_frame_matches_schema(handmade):
    _, ids, out = handmade
    assert dict(out.schema) == YOY_SCHEMA
    assert out["asset_id"].to_list() == sorted(ids)
    assert set(out["baseline_years"]) == {"2024"}


def test_uniform_growth_of_20_percent(handmade):
    _, _, out = handmade
    row = out.filter(pl.col("asset_id") == "M000").row(0, named=True)
    assert row["change_class"] == "growth" and row["significant"]
    assert row["energy_change_pct"] == pytest.approx(20.0, abs=2.5)
    assert row["change_date"] is None


def test_step_at_a_known_date(handmade):
    _, _, out = handmade
    row = out.filter(pl.col("asset_id") == "M001").row(0, named=True)
    assert row["change_class"] == "step_change" and row["significant"]
    assert abs((row["change_date"] - date(2025, 6, 10)).days) <= 3
    assert "2025-06" in row["reason"]


def test_peak_moved_from_19_to_13(handmade):
    _, _, out = handmade
    row = out.filter(pl.col("asset_id") == "M002").row(0, named=True)
    assert row["change_class"] == "peak_shift" and row["significant"]
    assert row["peak_hour"] == 13 and row["peak_hour_baseline"] == 19
    assert row["daily_shape_change"] > 0.2


def test_near_zero_after_vacancy(handmade):
    _, _, out = handmade
    row = out.filter(pl.col("asset_id") == "M003").row(0, named=True)
    assert row["change_class"] == "near_zero" and row["significant"]
    assert abs((row["change_date"] - date(2025, 3, 1)).days) <= 3


def test_unchanged_meters_are_not_significant(handmade):
    _, _, out = handmade
    rest = out.filter(pl.col("asset_id") >= "M004")
    assert not rest["significant"].any()
    assert (rest["change_class"] == "unchanged").all()
    assert rest["ks_p_value"].is_not_null().all()


def test_spring_festival_on_different_dates_gives_no_finding():
    """An industrial customer at 25 % for the festival fortnight: 2024-02-10 and 2025-01-29."""
    import holidays

    rng = np.random.default_rng(11)
    cal = holidays.country_holidays("CN", years=[2024, 2025])
    sf = {y: min(d for d, n in cal.items() if d.year == y and "Spring Festival" in n
                 or d.year == y and "Chinese New Year" in n) for y in (2024, 2025)}

    def factor(d):
        return 0.25 if 0 <= (d - sf[d.year]).days < 14 else 1.0

    ids = [f"F{i}" for i in range(6)]
    frame = _frame([_hourly_meter(a, [2024, 2025], rng=rng, factor=factor) for a in ids])
    out = compare_years(frame, year=2025, assets=_assets(ids))
    assert not out["significant"].any(), out.select("asset_id", "change_class", "reason")
    # the festival days are paired with each other, not with ordinary weeks
    cur, base = align_days(2025, 2024, "CN")
    i = (sf[2025] - date(2025, 1, 1)).days
    assert base[list(cur).index(i)] == (sf[2024] - date(2024, 1, 1)).days


def test_partial_year_compares_like_with_like():
    rng = np.random.default_rng(3)
    ids = ["P1", "P2"]
    # winter-heavy load: a partial year (Jan-Apr) against a full year would look like growth
    season = lambda d: 2.0 if d.month in (1, 2, 12) else 1.0  # noqa: E731
    frame = _frame([_hourly_meter(a, [2024, 2025], rng=rng, factor=season) for a in ids])
    frame = frame.filter(pl.col("ts") < pl.datetime(2025, 4, 30, 16, time_zone="UTC"))
    out = compare_years(frame, year=2025, assets=_assets(ids))
    assert set(out["period_end"]) == {date(2025, 5, 1)}
    assert not out["significant"].any()
    assert out["energy_change_pct"].abs().max() < 5.0


def test_leap_day_and_alignment_rules():
    cur, base = align_days(2024, 2023, "CN")
    assert len(cur) == len(set(cur)) and len(base) == len(set(base))
    kc, _ = day_types(2024, "CN")
    kb, _ = day_types(2023, "CN")
    assert (kc[cur] == kb[base]).all()  # same day type
    ordinary = kc[cur] < 2
    wd = [(date(2024, 1, 1) + timedelta(int(i))).weekday() for i in cur[ordinary]]
    wb = [(date(2023, 1, 1) + timedelta(int(j))).weekday() for j in base[ordinary]]
    assert wd == wb  # same weekday
    # 29 February (outside any holiday season without a country) meets the nearest
    # same weekday around 1 March of the common year
    cur, base = align_days(2024, 2023, None)
    feb29 = (date(2024, 2, 29) - date(2024, 1, 1)).days
    j = int(base[list(cur).index(feb29)])
    assert date(2023, 1, 1) + timedelta(j) == date(2023, 3, 2)  # both Thursdays


def test_bad_arguments():
    from datetime import UTC, datetime

    frame = pl.DataFrame({"asset_id": ["a"], "ts": [datetime(2024, 1, 1, tzinfo=UTC)],
                          "metric": ["energy_kwh"], "value": [1.0]})
    with pytest.raises(ConfigError, match="by must be"):
        compare_years(frame, year=2025, by="street")
    with pytest.raises(ConfigError, match="no data before"):
        compare_years(frame, year=2024)
    with pytest.raises(ConfigError, match="own baseline"):
        compare_years(frame, year=2024, baseline_years=[2024])
    with pytest.raises(ConfigError, match="DataFrame or a Store"):
        compare_years([1, 2], year=2024)
    assert finalize([]).height == 0


def test_result_does_not_depend_on_batch_size(handmade):
    frame, ids, out = handmade
    other = compare_years(frame, year=2025, assets=_assets(ids), batch_assets=3)
    assert other.sort("asset_id").equals(out)


# -- the sample utility ---------------------------------------------------------------------

TRUTH_CLASS = {"growth": "growth", "step_change": "step_change", "peak_shift": "peak_shift",
               "new_cooling_load": "new_seasonal_pattern", "vacancy": "near_zero"}


@pytest.fixture(scope="module")
def sample_results():
    readings = pl.read_parquet(SAMPLE / "readings.parquet").filter(
        pl.col("metric").is_in(["energy_kwh", "ambient_temp_c"]))
    assets = pl.read_parquet(SAMPLE / "assets.parquet")
    return {y: compare_years(readings, year=y, assets=assets, metrics=["energy_kwh"])
            for y in (2024, 2025)}


def test_sample_changes_classified_with_dates(sample_results):
    truth = pl.read_parquet(SAMPLE / "truth.parquet").filter(pl.col("category") == "change")
    right = 0
    for t in truth.iter_rows(named=True):
        start_local = t["start"].astimezone(__import__("zoneinfo").ZoneInfo(TZ)).date()
        out = sample_results[start_local.year]
        row = out.filter(pl.col("asset_id") == t["asset_id"]).row(0, named=True)
        ok = row["change_class"] == TRUTH_CLASS[t["kind"]] and row["significant"]
        if t["kind"] in ("step_change", "vacancy"):
            ok = ok and abs((row["change_date"] - start_local).days) <= 3
        right += ok
    assert right / truth.height >= 0.9


def test_sample_unchanged_assets_within_fdr(sample_results):
    clean = json.loads((SAMPLE / "MANIFEST.json").read_text())["clean_meters"]
    for out in sample_results.values():
        rows = out.filter(pl.col("asset_id").is_in(clean))
        assert rows.height == len(clean)
        assert rows["significant"].sum() <= 0.05 * len(clean)


def test_group_by_transformer_and_class(sample_results):
    readings = pl.read_parquet(SAMPLE / "readings.parquet").filter(
        pl.col("metric").is_in(["energy_kwh", "ambient_temp_c"]))
    assets = pl.read_parquet(SAMPLE / "assets.parquet")
    tx = compare_years(readings, year=2025, assets=assets, metrics=["energy_kwh"],
                       by="transformer")
    assert set(tx["group_by"]) == {"transformer"}
    assert set(tx["asset_id"]) <= set(assets.filter(pl.col("kind") == "transformer")["asset_id"])
    assert tx.filter(pl.col("asset_id") == "TX0001")["n_members"].item() == 8
    cls = compare_years(readings, year=2025, assets=assets, metrics=["energy_kwh"],
                        by="customer_class")
    assert set(cls["asset_id"]) == {"residential", "commercial", "industrial"}


# -- stores ---------------------------------------------------------------------------------

def test_store_path_matches_frame_path(store, handmade):
    frame, ids, out = handmade
    store.upsert_assets(_assets(ids))
    store.write(frame)
    got = griddiag.compare_years(store, year=2025, batch_assets=4)
    cols = ["asset_id", "change_class", "significant", "change_date"]
    assert got.sort("asset_id").select(cols).equals(out.select(cols))
    np.testing.assert_allclose(got.sort("asset_id")["energy_kwh"].to_numpy(),
                               out["energy_kwh"].to_numpy(), rtol=1e-9)


def test_hours_do_not_depend_on_the_rows_order():
    """The readings' hours (the step every comparison starts from) are those of the sorted
    frame whatever its order: rows shuffled, a year's block of each series after the next
    year's, metrics out of order within an asset, duplicate times; a sorted frame is read in
    place (no copy)."""
    from griddiag.schema import normalize_readings
    from griddiag.yoy.summary import _series_order, hours_of_readings, hours_to_frame

    r = pl.read_parquet(Path(__file__).resolve().parents[1] / "data_samples"
                        / "readings.parquet")
    r = normalize_readings(r.filter(
        pl.col("asset_id").is_in(["M000001", "M000002", "TX0001"])
        & (pl.col("ts").dt.month() == 1)))
    tidy = r.sort("asset_id", "metric", "ts")
    want = hours_to_frame(hours_of_readings(tidy))
    assert want.height > 0 and want["metric"].n_unique() > 1
    by_year = [r.filter(pl.col("ts").dt.year() == y)
               for y in r["ts"].dt.year().unique().sort().to_list()]
    for frame in [r.sample(fraction=1.0, shuffle=True, seed=3),
                  pl.concat(by_year[::-1]),
                  tidy.sort("asset_id", "metric", "ts", descending=[False, True, False]),
                  pl.concat([tidy, tidy.head(50)])]:
        got = hours_to_frame(hours_of_readings(frame))
        if frame.height > tidy.height:  # the repeated rows count twice in their hours
            assert got.select("asset_id", "metric", "hour").equals(
                want.select("asset_id", "metric", "hour"))
        else:
            assert got.equals(want)
    assert _series_order(tidy, "ts")[0] is tidy
