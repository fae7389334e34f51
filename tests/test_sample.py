"""The sample-utility generator: determinism, schema, physics, injected truth, committed files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from griddiag.exceptions import ConfigError
from griddiag.sample import (
    KINDS,
    TRUTH_SCHEMA,
    generate_utility,
    iter_utility_batches,
    write_exports,
)
from griddiag.sample.files import file_sha256
from griddiag.sample.params import (
    CALIBRATED,
    VOLTAGE_HIGH_V,
    VOLTAGE_LOW_V,
    reference_mix_ratios,
)
from griddiag.schema import ASSETS_SCHEMA, METRICS, READINGS_SCHEMA, normalize_assets

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples"
LOCAL = dt.timezone(dt.timedelta(hours=8))
# The committed sample's arguments (data_samples/README.md, "How to regenerate").
COMMITTED = dict(meters=40, meters_per_transformer=8, transformer_interval_minutes=60)
SMALL = dict(meters=8, meters_per_transformer=4, years=(2024,), seed=7, interval_minutes=60)


@pytest.fixture(scope="module")
def sample():
    return generate_utility(**COMMITTED)


@pytest.fixture(scope="module")
def anomaly_truth(sample):
    return sample.truth.filter(pl.col("category") != "weather")


def _local_day(expr: pl.Expr) -> pl.Expr:
    return (expr.dt.replace_time_zone(None) + pl.duration(hours=8)).dt.date()


@pytest.fixture(scope="module")
def daily(sample):
    """Energy per meter and local day: sum and number of intervals present."""
    return (sample.readings.filter(pl.col("metric") == "energy_kwh")
            .group_by("asset_id", _local_day(pl.col("ts")).alias("d"))
            .agg(pl.col("value").sum().alias("e"), pl.len().alias("n")))


_BLOCKS: dict[int, dict[tuple[str, str], tuple[int, int]]] = {}


def _series(sample, asset: str, metric: str) -> pl.DataFrame:
    """One series, sliced from its contiguous block (filtering 6 million rows per call would
    dominate the suite's run time)."""
    r = sample.readings
    if id(r) not in _BLOCKS:
        new = ((pl.col("asset_id") != pl.col("asset_id").shift())
               | (pl.col("metric") != pl.col("metric").shift())).fill_null(True)
        starts = r.with_row_index("i").filter(new).select("i", "asset_id", "metric")
        ends = [*starts["i"].to_list()[1:], r.height]
        _BLOCKS[id(r)] = {(a, m): (i, e - i) for (i, a, m), e in
                          zip(starts.iter_rows(), ends, strict=True)}
    offset, length = _BLOCKS[id(r)].get((asset, metric), (0, 0))
    return r.slice(offset, length)


def _truth_of(sample, kind: str) -> pl.DataFrame:
    return sample.truth.filter(pl.col("kind") == kind)


def _in_window(df: pl.DataFrame, row: dict) -> pl.DataFrame:
    return df.filter(pl.col("ts") >= row["start"], pl.col("ts") < row["end"])


def _rated(sample, tx: str) -> float:
    return sample.assets.filter(pl.col("asset_id") == tx)["rated_kva"].item()


# --- determinism ---------------------------------------------------------------------------

def test_same_seed_gives_identical_frames():
    a, b = generate_utility(**SMALL), generate_utility(**SMALL)
    for name in ("assets", "readings", "truth", "weather"):
        assert getattr(a, name).equals(getattr(b, name)), name


def test_other_seed_gives_other_readings():
    a = generate_utility(**SMALL)
    b = generate_utility(**{**SMALL, "seed": 8})
    assert not a.readings.equals(b.readings)


def test_batches_concatenate_to_the_whole_utility():
    whole = generate_utility(**SMALL)
    batches = list(iter_utility_batches(**SMALL, areas_per_batch=1))
    assert len(batches) == whole.assets.filter(pl.col("kind") == "transformer").height
    assert pl.concat([b.readings for b in batches]).equals(whole.readings)
    assert pl.concat([b.assets for b in batches]).equals(whole.assets)
    truth = pl.concat([b.truth for b in batches]).sort(["asset_id", "start", "kind", "metric"])
    assert truth.equals(whole.truth)
    assert batches[0].weather is not None and batches[0].weather.equals(whole.weather)


@pytest.mark.parametrize("kwargs", [
    {"years": (2023, 2025)}, {"years": ()}, {"interval_minutes": 7}, {"meters": 0},
    {"register_interval_minutes": 50}, {"transformer_interval_minutes": 20},
    {"anomaly_rate": 0.5},
])
def test_bad_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        generate_utility(**{**SMALL, **kwargs})


# --- schema and topology -------------------------------------------------------------------

def test_frames_follow_the_canonical_schemas(sample):
    assert dict(sample.readings.schema) == READINGS_SCHEMA
    assert list(sample.assets.columns) == list(ASSETS_SCHEMA)
    assert normalize_assets(sample.assets).equals(sample.assets)
    assert dict(sample.truth.schema) == TRUTH_SCHEMA
    assert set(sample.readings["metric"].unique()) <= set(METRICS)
    assert set(sample.truth["kind"].unique()) <= set(KINDS)
    # (asset_id, metric, ts) unique: each series is one block of strictly increasing ts (an
    # O(n) check; hashing 6 million keys would dominate the suite's run time).
    r = sample.readings
    new = ((pl.col("asset_id") != pl.col("asset_id").shift())
           | (pl.col("metric") != pl.col("metric").shift())).fill_null(True)
    flags = r.select(new.alias("new"), (pl.col("ts").diff() > 0).fill_null(True).alias("inc"))
    assert (flags["new"] | flags["inc"]).all()
    blocks = r.filter(flags["new"]).select("asset_id", "metric")
    assert blocks.n_unique() == blocks.height
    assert set(sample.readings["asset_id"].unique()) <= set(sample.assets["asset_id"])


def test_topology_runs_meter_transformer_feeder_substation(sample):
    a = sample.assets
    kind = dict(zip(a["asset_id"], a["kind"], strict=True))
    parent_kind = {"meter": "transformer", "transformer": "feeder", "feeder": "substation"}
    for aid, parent in zip(a["asset_id"], a["parent_id"], strict=True):
        if kind[aid] == "substation":
            assert parent is None
        else:
            assert kind[parent] == parent_kind[kind[aid]]
    assert (a["tz"] == "Asia/Shanghai").all()
    meters = a.filter(pl.col("kind") == "meter")
    assert set(meters["customer_class"]) <= {"residential", "commercial", "industrial"}
    assert meters["register_digits"].null_count() == 0
    assert a.filter(pl.col("kind") == "transformer")["rated_kva"].null_count() == 0
    assert meters.height == COMMITTED["meters"]


def test_every_meter_has_complete_15_minute_energy_unless_a_gap_is_injected(sample):
    gaps = set(_truth_of(sample, "gap").filter(pl.col("notes").str.contains("absent"))
               ["asset_id"])
    counts = (sample.readings.filter(pl.col("metric") == "energy_kwh")
              .group_by("asset_id").len())
    for aid, n in counts.iter_rows():
        assert (n < 1096 * 96) == (aid in gaps), aid


# --- truth ---------------------------------------------------------------------------------

def test_truth_rows_lie_inside_the_data(sample):
    first = sample.readings["ts"].min()
    end = dt.datetime(2026, 1, 1, tzinfo=LOCAL).astimezone(dt.UTC)
    t = sample.truth
    assert (t["start"] < t["end"]).all()
    assert (t["start"] >= first).all() and (t["end"] <= end).all()
    assert set(t["asset_id"]) <= set(sample.assets["asset_id"])
    assert set(t["metric"]) <= set(METRICS)


def test_every_injected_kind_is_present(sample):
    expected = {k for k, info in KINDS.items() if info.category != "raw_data"}
    assert expected <= set(sample.truth["kind"])


def test_anomalies_are_spread_over_all_three_years(anomaly_truth):
    years = {s.astimezone(LOCAL).year for s in anomaly_truth["start"]}
    assert years == {2023, 2024, 2025}


# --- clean assets stay clean ---------------------------------------------------------------

def test_clean_meters_have_no_accidental_anomalies(sample):
    clean = sample.clean_meters
    assert len(clean) >= 15
    e = sample.readings.filter(pl.col("metric") == "energy_kwh",
                               pl.col("asset_id").is_in(clean)).sort("asset_id", "ts")
    assert e.height == len(clean) * 1096 * 96
    v = e["value"]
    assert not v.is_nan().any() and v.min() > 0
    stats = e.group_by("asset_id").agg(
        (pl.col("value").max() / pl.col("value").median()).alias("peak_ratio"),
        pl.col("value").rle().struct.field("len").max().alias("run"))
    assert stats["peak_ratio"].max() < 25  # spikes are 30-60x a meter's typical energy
    # 0.01 kWh resolution repeats values on quiet nights for a few hours; injected flatlines
    # last at least a day (96 intervals)
    assert stats["run"].max() <= 24
    reg = sample.readings.filter(pl.col("metric") == "register_kwh",
                                 pl.col("asset_id").is_in(clean)).sort("asset_id", "ts")
    steps = reg.with_columns(pl.col("value").diff().over("asset_id").alias("d"))["d"]
    assert steps.drop_nulls().min() > 0  # no rollback, rollover, exchange or stuck reading


def test_clean_transformers_stay_within_limits(sample):
    clean = sample.clean_transformers
    assert clean
    r = sample.readings.filter(pl.col("asset_id").is_in(clean))
    volts = r.filter(pl.col("metric").str.starts_with("voltage_v_"))["value"]
    assert volts.min() > VOLTAGE_LOW_V and volts.max() < VOLTAGE_HIGH_V
    assert r.filter(pl.col("metric") == "power_factor")["value"].min() >= 0.9
    wide = r.pivot(on="metric", index=["asset_id", "ts"], values="value")
    v = wide.select("voltage_v_a", "voltage_v_b", "voltage_v_c").to_numpy()
    lvur = np.abs(v - v.mean(axis=1, keepdims=True)).max(axis=1) / v.mean(axis=1) * 100
    assert lvur.max() < 2.0
    for tx in clean:
        assert _series(sample, tx, "load_kva")["value"].max() <= _rated(sample, tx)


# --- physics and consistency -----------------------------------------------------------------

def test_register_differences_equal_interval_energy(sample, daily):
    """Daily register difference == sum of that local day's interval energy, to the quantum."""
    day = _local_day(pl.col("ts"))
    e = daily
    reg = (sample.readings.filter(pl.col("metric") == "register_kwh").sort("asset_id", "ts")
           .with_columns(day.alias("d"),
                         (pl.col("value").shift(-1).over("asset_id") - pl.col("value"))
                         .alias("dr")))
    touched = _touched_days(sample, ["energy_kwh", "register_kwh"])
    j = (reg.join(e, on=["asset_id", "d"]).join(touched, on=["asset_id", "d"], how="anti")
         .filter(pl.col("n") == 96).drop_nulls("dr"))
    assert j.height > 0.9 * 40 * 1095
    assert (j["dr"] - j["e"]).abs().max() < 1e-6


def _touched_days(sample, metrics: list[str]) -> pl.DataFrame:
    """(asset_id, local day) pairs that any truth window of those metrics touches."""
    rows = []
    for r in sample.truth.filter(pl.col("metric").is_in(metrics)).iter_rows(named=True):
        d0 = r["start"].astimezone(LOCAL).date() - dt.timedelta(days=1)
        d1 = min(r["end"].astimezone(LOCAL).date(), dt.date(2025, 12, 31))
        rows += [(r["asset_id"], d0 + dt.timedelta(days=k)) for k in range((d1 - d0).days + 1)]
    return pl.DataFrame(rows, schema={"asset_id": pl.String, "d": pl.Date}, orient="row")


def test_rollover_wraps_exactly_once_at_the_truth_time(sample):
    row = _truth_of(sample, "rollover").row(0, named=True)
    reg = _series(sample, row["asset_id"], "register_kwh")
    drops = reg.filter(pl.col("value").diff() < 0)
    assert drops.height == 1
    before = reg.filter(pl.col("ts") < drops["ts"][0])["value"][-1]
    assert before > row["magnitude"] - 100 and drops["value"][0] < 100
    assert drops["ts"][0] - row["start"] < dt.timedelta(days=1)
    assert drops["ts"][0] > row["start"]


def test_register_drops_only_where_the_truth_says(sample):
    kinds = ["rollover", "rollback", "meter_exchange"]
    explained = _truth_of(sample, "rollover").vstack(_truth_of(sample, "rollback")) \
        .vstack(_truth_of(sample, "meter_exchange"))
    reg = (sample.readings.filter(pl.col("metric") == "register_kwh").sort("asset_id", "ts")
           .filter(pl.col("value").diff().over("asset_id") < 0))
    assert sorted(reg["asset_id"]) == sorted(explained["asset_id"])
    assert set(explained["kind"]) == set(kinds)
    for r in explained.iter_rows(named=True):
        ts = reg.filter(pl.col("asset_id") == r["asset_id"])["ts"][0]
        assert r["start"] <= ts < r["start"] + dt.timedelta(days=1, minutes=15)


def test_transformer_supply_matches_its_meters_plus_losses(sample, daily):
    meters = sample.assets.filter(pl.col("kind") == "meter").select("asset_id", "parent_id")
    day = _local_day(pl.col("ts")).alias("d")
    metered = (daily.join(meters, on="asset_id")
               .group_by("parent_id", "d").agg(pl.col("e").sum().alias("metered")))
    supply = (sample.readings.filter(pl.col("metric") == "active_power_kw")
              .group_by("asset_id", day).agg((pl.col("value").mean() * 24).alias("supply"),
                                             pl.len().alias("n")))
    touched = _touched_days(sample, list(METRICS))
    dirty_days = (touched.join(meters, on="asset_id").select(pl.col("parent_id").alias("asset_id"),
                                                             "d")
                  .vstack(touched).unique())
    j = (supply.filter(pl.col("n") == 24)
         .join(metered, left_on=["asset_id", "d"], right_on=["parent_id", "d"])
         .join(dirty_days, on=["asset_id", "d"], how="anti")
         .with_columns((1 - pl.col("metered") / pl.col("supply")).alias("loss")))
    per_tx = j.group_by("asset_id").agg(pl.col("loss").median())
    assert per_tx.height >= 3
    assert per_tx["loss"].min() > 0.01 and per_tx["loss"].max() < 0.08  # LV technical loss
    s = sample.readings.filter(pl.col("metric").is_in(["active_power_kw", "power_factor",
                                                       "load_kva"]))
    w = s.pivot(on="metric", index=["asset_id", "ts"], values="value")
    err = (w["load_kva"] * w["power_factor"] - w["active_power_kw"]).abs()
    assert (err <= 0.002 * w["load_kva"] + 0.02).all()


def test_spring_festival_dip(sample, daily):
    cls = sample.assets.select("asset_id", "customer_class")
    e = (daily.filter(pl.col("asset_id").is_in(sample.clean_meters)).join(cls, on="asset_id")
         .group_by("customer_class", "d").agg(pl.col("e").sum().alias("value")))
    for cny in (dt.date(2023, 1, 22), dt.date(2024, 2, 10), dt.date(2025, 1, 29)):
        for c, limit in (("industrial", 0.5), ("commercial", 0.85)):
            x = e.filter(pl.col("customer_class") == c)
            if x.is_empty():
                continue
            near = x.filter(pl.col("d").is_between(cny, cny + dt.timedelta(days=6)))
            before = x.filter(pl.col("d").is_between(cny - dt.timedelta(days=35),
                                                     cny - dt.timedelta(days=21)))
            assert near["value"].mean() < limit * before["value"].mean(), (c, cny)


def test_oil_temperature_stays_in_the_ett_envelope(sample):
    oil = sample.readings.filter(pl.col("metric") == "oil_temp_c",
                                 pl.col("asset_id").is_in(sample.clean_transformers))
    daily = oil.group_by("asset_id", _local_day(pl.col("ts")).alias("d")).agg(
        (pl.col("value").max() - pl.col("value").min()).alias("range"))
    med = daily.group_by("asset_id").agg(pl.col("range").median())["range"]
    assert CALIBRATED["oil_daily_range_median_k_low"] * 0.8 < med.min()
    assert med.max() < CALIBRATED["oil_daily_range_median_k_high"] * 1.2
    monthly = oil.group_by("asset_id", pl.col("ts").dt.month().alias("m")).agg(
        pl.col("value").mean()).group_by("asset_id").agg(
        (pl.col("value").max() - pl.col("value").min()).alias("seasonal"))["seasonal"]
    assert CALIBRATED["oil_seasonal_range_k_low"] * 0.8 < monthly.min()
    assert monthly.max() < CALIBRATED["oil_seasonal_range_k_high"] * 1.2


# --- injected faults are visible where the truth says ---------------------------------------

def test_voltage_faults_break_the_limits_inside_their_windows(sample):
    for r in sample.truth.filter(pl.col("kind").is_in(
            ["voltage_sag", "voltage_swell", "phase_loss"])).iter_rows(named=True):
        v = _in_window(_series(sample, r["asset_id"], r["metric"]), r)["value"]
        assert v.len() > 0
        if r["kind"] == "voltage_sag":
            assert v.max() < VOLTAGE_LOW_V
        elif r["kind"] == "voltage_swell":
            assert v.min() > VOLTAGE_HIGH_V
        else:
            assert v.max() < 20
    for r in _truth_of(sample, "voltage_unbalance").iter_rows(named=True):
        w = _in_window(sample.readings.filter(pl.col("asset_id") == r["asset_id"]), r).pivot(
            on="metric", index="ts", values="value")
        v = w.select("voltage_v_a", "voltage_v_b", "voltage_v_c").to_numpy()
        lvur = np.abs(v - v.mean(axis=1, keepdims=True)).max(axis=1) / v.mean(axis=1) * 100
        assert lvur.min() > 2.0 and v.min() > VOLTAGE_LOW_V and v.max() < VOLTAGE_HIGH_V


def test_overload_truth_is_exactly_where_load_exceeds_the_rating(sample):
    over = sample.truth.filter(pl.col("kind").str.starts_with("overload"))
    assert _truth_of(sample, "overload").height >= 1
    for tx in sample.assets.filter(pl.col("kind") == "transformer")["asset_id"]:
        load = _series(sample, tx, "load_kva")
        above = load.filter(pl.col("value") > _rated(sample, tx))["ts"]
        windows = over.filter(pl.col("asset_id") == tx)
        assert all(any(s <= t < e for s, e in zip(windows["start"], windows["end"], strict=True))
                   for t in above), tx
        for r in windows.iter_rows(named=True):
            assert _in_window(load, r)["value"].max() > _rated(sample, tx)


def test_theft_lowers_the_meter_and_raises_line_loss(sample):
    for r in _truth_of(sample, "theft").iter_rows(named=True):
        e = _series(sample, r["asset_id"], "energy_kwh")
        days = dt.timedelta(days=60)
        before = e.filter(pl.col("ts").is_between(r["start"] - days, r["start"],
                                                  closed="left"))["value"].mean()
        after = e.filter(pl.col("ts").is_between(r["start"], r["start"] + days,
                                                 closed="left"))["value"].mean()
        assert after < 0.8 * before
    assert (_truth_of(sample, "line_loss")["magnitude"] > 2.0).all()


def test_year_over_year_changes_are_visible(sample, daily):
    year = _local_day(pl.col("ts")).dt.year()

    def annual(asset: str) -> dict[int, float]:
        s = daily.filter(pl.col("asset_id") == asset).group_by(pl.col("d").dt.year()).agg(
            pl.col("e").sum())
        return dict(s.iter_rows())

    growth = _truth_of(sample, "growth").row(0, named=True)
    a = annual(growth["asset_id"])
    assert a[2025] / a[2024] > 1.1
    vacant = _truth_of(sample, "vacancy").row(0, named=True)
    assert annual(vacant["asset_id"])[2025] < 0.1 * annual(vacant["asset_id"])[2023]
    shift = _truth_of(sample, "peak_shift").row(0, named=True)
    e = _series(sample, shift["asset_id"], "energy_kwh").with_columns(
        ((pl.col("ts").dt.hour() + 8) % 24).alias("h"), year.alias("y"))
    peak = (e.group_by("y", "h").agg(pl.col("value").mean()).sort("value", descending=True)
            .group_by("y", maintain_order=True).first())
    hours = dict(zip(peak["y"], peak["h"], strict=True))
    assert abs(hours[2024] - 19) <= 1 and abs(hours[2025] - 13) <= 1


def test_data_errors_are_in_the_readings(sample):
    for r in _truth_of(sample, "spike").iter_rows(named=True):
        v = _in_window(_series(sample, r["asset_id"], "energy_kwh"), r)["value"]
        assert v.to_list() == [r["magnitude"]]
    for kind in ("negative_energy", "zero_run", "flatline"):
        for r in _truth_of(sample, kind).iter_rows(named=True):
            v = _in_window(_series(sample, r["asset_id"], "energy_kwh"), r)["value"]
            if kind == "negative_energy":
                assert v.max() < 0
            elif kind == "zero_run":
                assert (v == 0).all()
            else:
                assert v.n_unique() == 1 and v[0] > 0
    for r in _truth_of(sample, "gap").filter(pl.col("metric") == "energy_kwh").iter_rows(
            named=True):
        v = _in_window(_series(sample, r["asset_id"], "energy_kwh"), r)["value"]
        assert v.len() == 0 if "absent" in r["notes"] else v.is_nan().all()


# --- calibration ---------------------------------------------------------------------------

def test_calibrated_constants_match_calibration_json():
    cal = json.loads((SAMPLES / "calibration.json").read_text(encoding="utf-8"))
    resp, prof, weather = (cal["vic_temperature_response"], cal["vic_profile"],
                           cal["vic_weather"])
    pairs = {
        "heating_balance_c": resp["heating_balance_c"],
        "heating_slope_per_k": resp["heating_slope_per_k"],
        "cooling_balance_c": resp["cooling_balance_c"],
        "cooling_slope_per_k": resp["cooling_slope_per_k"],
        "holiday_ratio": resp["holiday_ratio"],
        "weekend_ratio": (resp["saturday_ratio"] + resp["sunday_ratio"]) / 2,
        "daily_log_resid_sd": resp["daily_log_resid_sd"],
        "daily_log_resid_ar1": resp["daily_log_resid_ar1"],
        "workday_load_factor": prof["workday_load_factor"],
        "workday_trough_to_peak": prof["workday_trough_to_peak"],
        "profile_amplitude": prof["profile_amplitude"],
        "temp_anomaly_sd_k": weather["temp_anomaly_sd_k"],
        "temp_anomaly_ar1": weather["temp_anomaly_ar1"],
        "diurnal_range_k": weather["diurnal_range_k"],
        "diurnal_peak_hour": weather["diurnal_peak_hour"],
        "oil_daily_range_median_k_low": cal["ett_ETTh1"]["daily_range_median_k"],
        "oil_daily_range_median_k_high": cal["ett_ETTh2"]["daily_range_median_k"],
        "oil_seasonal_range_k_low": cal["ett_ETTh1"]["seasonal_range_k"],
        "oil_seasonal_range_k_high": cal["ett_ETTh2"]["seasonal_range_k"],
    }
    for key, value in pairs.items():
        assert CALIBRATED[key] == pytest.approx(value, abs=0.006), key


def test_reference_mix_reproduces_the_calibrated_aggregate():
    got = reference_mix_ratios()
    assert got["weekend_ratio"] == pytest.approx(CALIBRATED["weekend_ratio"], abs=0.01)
    assert got["holiday_ratio"] == pytest.approx(CALIBRATED["holiday_ratio"], abs=0.01)
    assert got["workday_load_factor"] == pytest.approx(CALIBRATED["workday_load_factor"],
                                                       abs=0.03)
    assert got["workday_trough_to_peak"] == pytest.approx(
        CALIBRATED["workday_trough_to_peak"], abs=0.03)


# --- raw exports ---------------------------------------------------------------------------

def test_exports_render_the_readings_and_list_their_planted_problems(sample, tmp_path):
    issues = write_exports(sample, tmp_path, days=3)
    assert set(issues["kind"]) == {"duplicate_row", "conflicting_duplicate", "bad_timestamp",
                                   "bad_value"}
    assert (issues["category"] == "raw_data").all()
    for r in issues.iter_rows(named=True):
        path = tmp_path / r["source_file"]
        enc = "gb18030" if "gb18030" in r["source_file"] else "utf-8"
        lines = path.read_text(encoding=enc).splitlines()
        planted, previous = lines[r["source_line"] - 1], lines[r["source_line"] - 2]
        assert planted.split(",")[0] == r["asset_id"]
        if r["kind"] == "duplicate_row":
            assert planted == previous
        elif r["kind"] == "bad_timestamp":
            assert "-02-30 25" in planted
        elif r["kind"] == "bad_value":
            assert planted.endswith(",1O.5")
    curves = pl.read_csv(tmp_path / "day_curves_gb18030.csv", encoding="gb18030",
                         infer_schema_length=0)
    assert curves.columns[:3] == ["户号", "日期", "00:15"] and curves.columns[-1] == "24:00"
    assert len(curves.columns) == 2 + 96
    meter = sample.clean_meters[0]
    row = curves.filter(pl.col("户号") == meter, pl.col("日期") == "2025-01-02").row(0)
    day = _series(sample, meter, "energy_kwh").filter(
        _local_day(pl.col("ts")) == dt.date(2025, 1, 2))["value"]
    assert [float(x) for x in row[2:]] == day.to_list()  # 00:15 holds the 00:00-00:15 interval
    sgcc = pl.read_csv(tmp_path / "sgcc_daily.csv")
    assert sgcc.columns[:3] == ["CONS_NO", "FLAG", "2023/1/1"]
    thieves = set(_truth_of(sample, "theft")["asset_id"])
    assert set(sgcc.filter(pl.col("FLAG") == 1)["CONS_NO"]) == thieves
    assert (tmp_path / "transformers_wide.csv").read_bytes()[:3] == b"\xef\xbb\xbf"


# --- the committed sample -----------------------------------------------------------------

def test_committed_sample_matches_the_generator(sample):
    manifest = json.loads((SAMPLES / "MANIFEST.json").read_text(encoding="utf-8"))
    cfg = manifest["config"]
    assert {k: cfg[k] for k in COMMITTED} == COMMITTED
    assert cfg == sample.config.as_dict()
    for name, meta in manifest["files"].items():
        assert file_sha256(SAMPLES / name) == meta["sha256"], name
    assert pl.read_parquet(SAMPLES / "readings.parquet").equals(sample.readings)
    assert pl.read_parquet(SAMPLES / "assets.parquet").equals(sample.assets)
    assert pl.read_parquet(SAMPLES / "weather.parquet").equals(sample.weather)
    committed_truth = pl.read_parquet(SAMPLES / "truth.parquet")
    assert committed_truth.filter(pl.col("category") != "raw_data").equals(sample.truth)
    total = sum((SAMPLES / n).stat().st_size for n in manifest["files"])
    assert total <= 12e6
    assert manifest["clean_meters"] == sample.clean_meters


def test_readme_checksums_match_the_manifest():
    manifest = json.loads((SAMPLES / "MANIFEST.json").read_text(encoding="utf-8"))
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for name, meta in manifest["files"].items():
        assert f"| `{name}` | {meta['bytes']:,} | `{meta['sha256']}` |" in readme, name
