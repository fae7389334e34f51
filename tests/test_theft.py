"""Energy balance (line loss) and theft risk: small synthetic areas, schema, sample accuracy.

A synthetic area is one transformer reporting hourly (instantaneous active power, as a State
Grid terminal does) and a few meters with 15-minute interval energy. The transformer sees the
customers' true demand plus ~3 % technical loss; a thief's meter registers only part of it, a
vacant customer's true demand falls (and the transformer sees that too).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from griddiag.detectors import theft as th
from griddiag.exceptions import ConfigError
from griddiag.schema import FINDINGS_SCHEMA, normalize_assets

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples"
TZ = "Asia/Shanghai"
START = datetime(2023, 12, 31, 16, tzinfo=UTC)  # 2024-01-01 00:00 local


def day(d: int) -> datetime:
    """UTC instant of local midnight starting day ``d`` of the synthetic area."""
    return START + timedelta(days=d)


def make_area(days: int = 120, *, sizes=(0.10, 0.12, 0.08), thief: int | None = None,
              thief_from: int = 70, registered: float = 0.4, vacant: int | None = None,
              vacant_from: int = 70, tx_metric: str = "active_power_kw", loss: float = 0.03,
              seed: int = 1, tx: str = "TX1") -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    n = days * 96
    slot = np.arange(n)
    hour = (slot % 96) / 4.0
    shape = 0.6 + 0.4 * np.sin((hour - 9.0) / 24.0 * 2 * np.pi) ** 2
    weekly = np.where(((slot // 96) % 7) >= 5, 1.15, 1.0)
    true = np.vstack([s * shape * weekly * rng.lognormal(0.0, 0.25, n) for s in sizes])
    if vacant is not None:
        true[vacant, vacant_from * 96:] *= 0.15
    metered = true.copy()
    if thief is not None:
        metered[thief, thief_from * 96:] *= registered
    metered = np.round(metered, 2)
    meters = [f"{tx}-M{k + 1}" for k in range(len(sizes))]
    ts = [START + timedelta(minutes=15 * int(k)) for k in range(n)]
    ts_s = pl.Series(ts, dtype=pl.Datetime("us", "UTC"))
    frames = [pl.DataFrame({"asset_id": m, "ts": ts_s, "metric": "energy_kwh",
                            "value": metered[k]}) for k, m in enumerate(meters)]
    supplied = true.sum(axis=0) * (1.0 + loss * rng.lognormal(0.0, 0.1, n))
    if tx_metric == "energy_kwh":
        frames.append(pl.DataFrame({"asset_id": tx, "ts": ts_s, "metric": "energy_kwh",
                                    "value": np.round(supplied, 3)}))
    else:
        p_kw = supplied[::4] * 4.0  # the 15-min interval starting at each hour, as kW
        hourly = ts_s.gather_every(4)
        if tx_metric == "active_power_kw":
            frames.append(pl.DataFrame({"asset_id": tx, "ts": hourly,
                                        "metric": "active_power_kw", "value": p_kw}))
        else:
            pf = np.full(p_kw.shape, 0.9)
            frames += [pl.DataFrame({"asset_id": tx, "ts": hourly, "metric": "load_kva",
                                     "value": p_kw / pf}),
                       pl.DataFrame({"asset_id": tx, "ts": hourly, "metric": "power_factor",
                                     "value": pf})]
    readings = pl.concat(frames)
    assets = normalize_assets(pl.DataFrame({
        "asset_id": [tx, *meters], "kind": ["transformer"] + ["meter"] * len(meters),
        "parent_id": [None] + [tx] * len(meters), "rated_kva": [30.0] + [None] * len(meters),
        "nominal_voltage_v": [220.0] * (len(meters) + 1), "tz": [TZ] * (len(meters) + 1)}))
    return readings, assets


def check_schema(f: pl.DataFrame) -> None:
    assert f.schema == pl.Schema(FINDINGS_SCHEMA)
    assert f["run_id"].null_count() == f.height and f["status"].null_count() == f.height
    if f.height:
        assert (f["end"] > f["start"]).all()
        assert f.select(pl.col("reason", "standard", "rule", "action").null_count()).row(0) \
            == (0, 0, 0, 0)


# --------------------------------------------------------------------------------------------
# area balance


@pytest.mark.parametrize("tx_metric", ["active_power_kw", "energy_kwh", "load_kva_pf"])
def test_area_balance_rate_per_source(tx_metric):
    r, a = make_area(10, tx_metric=tx_metric)
    bal = th.area_balance(r, a, tz=TZ)
    area = bal["area"]
    assert area.height == 10
    assert (area["coverage"] == 1.0).all()
    # ~3 % technical loss, every day, whatever the transformer reports
    assert area["rate_pct"].is_between(1.5, 4.5).all(), area["rate_pct"].to_list()
    expect = {"active_power_kw": "active_power_kw", "energy_kwh": "energy_kwh",
              "load_kva_pf": "load_kva_pf"}[tx_metric]
    assert set(area["source"]) == {expect}
    # days are local days of the transformer's zone
    assert area["day"].min() == (datetime(2024, 1, 1) - datetime(1970, 1, 1)).days


def test_area_balance_missing_meter_interval_drops_only_that_instant():
    r, a = make_area(2)
    hole = START + timedelta(hours=5)
    r = r.with_columns(value=pl.when((pl.col("asset_id") == "TX1-M2") & (pl.col("ts") == hole))
                       .then(math.nan).otherwise(pl.col("value")))
    area = th.area_balance(r, a, tz=TZ)["area"]
    assert area["n_complete"].to_list() == [23, 24]
    assert area["rate_pct"].is_between(1.5, 4.5).all()
    # a meter without any reading is left out of the balance (and listed)
    r2 = r.filter(pl.col("asset_id") != "TX1-M3")
    members = th.area_balance(r2, a, tz=TZ)["members"]
    assert members.filter(~pl.col("has_data"))["meter_id"].to_list() == ["TX1-M3"]


def test_area_balance_coverage_rule():
    r, a = make_area(3)
    # a meter silent for most of day 1: that day has no rate
    r = r.filter(~((pl.col("asset_id") == "TX1-M1") & (pl.col("ts") >= day(1))
                   & (pl.col("ts") < day(1) + timedelta(hours=20))))
    area = th.area_balance(r, a, tz=TZ, min_day_coverage=0.75)["area"]
    assert area["rate_pct"].is_null().to_list() == [False, True, False]


def _mixed_areas() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Three areas (power, energy and kVA x pf supply) with holes, NaN, a silent meter, a
    meter off its grid's phase and a meter on a 30-minute interval, rows shuffled."""
    parts = [make_area(6, tx_metric="active_power_kw", tx="TXA", seed=2),
             make_area(6, tx_metric="energy_kwh", tx="TXB", seed=3, sizes=(0.2, 0.05)),
             make_area(6, tx_metric="load_kva_pf", tx="TXC", seed=4)]
    r = pl.concat([p[0] for p in parts])
    a = pl.concat([p[1] for p in parts])
    rng = np.random.default_rng(5)
    r = r.with_columns(value=pl.when(pl.Series(rng.random(r.height) < 0.02))
                       .then(math.nan).otherwise(pl.col("value")))
    r = r.filter(pl.Series(rng.random(r.height) > 0.01))  # missing rows
    r = r.filter(pl.col("asset_id") != "TXC-M3")  # a meter without readings
    # TXA-M2 five minutes off the quarter hours; TXB-M1 every 30 minutes
    r = r.with_columns(ts=pl.when(pl.col("asset_id") == "TXA-M2")
                       .then(pl.col("ts") + timedelta(minutes=5)).otherwise(pl.col("ts")))
    r = r.filter((pl.col("asset_id") != "TXB-M1") | (pl.col("ts").dt.minute() % 30 == 0))
    return r.sample(fraction=1.0, shuffle=True, seed=6), a


def test_area_balance_equals_the_relational_reference():
    from tests.reference_theft import area_balance_reference

    r, a = _mixed_areas()
    for kw in ({"tz": TZ}, {"tz": "UTC", "transformer_energy": "load_kva_pf"}):
        mine, ref = th.area_balance(r, a, **kw), area_balance_reference(r, a, **kw)
        for key in ("area", "meter", "meter_full"):
            assert mine[key].schema == ref[key].schema, key
            assert mine[key].height == ref[key].height > 0, key
            for c in mine[key].columns:
                x, y = mine[key][c], ref[key][c]
                if x.dtype.is_float():  # same sums; division may round the last bit apart
                    close = (x - y).abs() <= 1e-12 * y.abs().fill_null(0) + 1e-12
                    assert close.fill_null(True).all(), (key, c)
                    assert (x.is_null() == y.is_null()).all(), (key, c)
                else:
                    assert x.equals(y), (key, c)
        assert mine["members"].sort("tx_id", "meter_id").equals(
            ref["members"].sort("tx_id", "meter_id"))


# --------------------------------------------------------------------------------------------
# energy balance


def test_energy_balance_thief():
    r, a = make_area(120, thief=1, thief_from=70)
    f = th.detect_energy_balance(r, a, {})
    check_schema(f)
    assert f.select("asset_id", "kind", "metric", "start", "end").rows() == [
        ("TX1", "line_loss", "active_power_kw", day(70), day(120))]
    row = f.row(0, named=True)
    assert row["severity"] == "critical"
    assert row["observed"] > 10.0
    assert 1.5 < row["expected"] < 4.5  # the area's normal level
    assert row["magnitude"] == pytest.approx(row["observed"] - row["expected"])
    assert "suspects: TX1-M2" in row["reason"]
    assert "TX1-M1" not in row["reason"] and "TX1-M3" not in row["reason"]


def test_energy_balance_clean_vacancy_and_spike_are_quiet():
    r, a = make_area(120, vacant=0)
    spike_at = day(50) + timedelta(hours=3)
    r = r.with_columns(value=pl.when((pl.col("asset_id") == "TX1-M3")
                                     & (pl.col("ts") == spike_at))
                       .then(pl.col("value") * 60).otherwise(pl.col("value")))
    f = th.detect_energy_balance(r, a, {})
    check_schema(f)
    assert f.height == 0


def test_energy_balance_negative_loss():
    # a meter listed under TX1 that TX1 does not supply (wrong meter-to-transformer mapping)
    r, a = make_area(90)
    r2, a2 = make_area(90, sizes=(0.1,), tx="TX2", seed=5)
    r_extra = r2.filter(pl.col("asset_id") == "TX2-M1").with_columns(
        asset_id=pl.lit("TX1-M9"))
    a_extra = normalize_assets(pl.DataFrame({"asset_id": ["TX1-M9"], "kind": ["meter"],
                                             "parent_id": ["TX1"], "tz": [TZ]}))
    f = th.detect_energy_balance(pl.concat([r, r_extra]), pl.concat([a, a_extra]), {})
    check_schema(f)
    assert f.height == 1
    row = f.row(0, named=True)
    assert row["observed"] < 0 and row["severity"] == "critical"
    assert "负损" in row["reason"]
    assert "户变关系" in row["action"]


def test_energy_balance_limit_only_without_baseline():
    # 30 days are too few for a normal level: only the 10 % limit applies
    r, a = make_area(30, thief=0, thief_from=10, registered=0.1)
    f = th.detect_energy_balance(r, a, {})
    assert f.select("start", "end").rows() == [(day(10), day(30))]
    assert f["expected"][0] == 10.0


def test_energy_balance_hovering_at_the_limit_is_one_finding():
    # a thief since before the data: the rate sits around 10.3 % the whole time
    r, a = make_area(200, thief=1, thief_from=0, registered=0.81)
    strict = {"max_gap_days": 0, "hysteresis_pct_points": 0.0}
    assert th.detect_energy_balance(r, a, strict).height > 1
    f = th.detect_energy_balance(r, a, {"max_gap_days": 0})
    assert f.select("start", "end").rows() == [(day(0), day(200))]
    assert "suspects need readings from before the onset" in f["reason"][0]


def test_energy_balance_without_transformer_data():
    r, a = make_area(20)
    f = th.detect_energy_balance(r.filter(pl.col("asset_id") != "TX1"), a, {})
    check_schema(f)
    assert f.height == 0


@pytest.mark.parametrize("case", ["meter without transformer", "meter whose data is all NaN"])
def test_meter_only_batch_is_quiet(case):
    """A batch of meters and no area to balance: no line loss, no theft risk, no error (a
    parentless meter once reached an empty lookup that polars typed as text and raised
    "arithmetic on dtypes i64 and str")."""
    r, a = make_area(20)
    r = r.filter(pl.col("asset_id") == "TX1-M1")
    if case == "meter without transformer":
        a = a.with_columns(parent_id=pl.lit(None, pl.String))
    else:
        r = r.with_columns(value=pl.lit(float("nan")))
    for fn in th.DETECTORS.values():
        f = fn(r, a, {})
        check_schema(f)
        assert f.filter(pl.col("kind") == "line_loss").height == 0 and f.height == 0
    bal = th.area_balance(r, a, tz=TZ)
    assert bal["area"].height == 0 and bal["meter_full"].height == 0


def test_energy_balance_params():
    r, a = make_area(10)
    with pytest.raises(ConfigError, match="unknown key"):
        th.detect_energy_balance(r, a, {"limit": 5})
    with pytest.raises(ConfigError, match="transformer_energy"):
        th.detect_energy_balance(r, a, {"transformer_energy": "scada"})
    with pytest.raises(ConfigError, match="time zone"):
        th.detect_energy_balance(r, a.with_columns(tz=pl.lit("Mars/Olympus")), {})


# --------------------------------------------------------------------------------------------
# theft risk


@pytest.fixture(scope="module")
def thief_area():
    return make_area(150, sizes=(0.10, 0.12, 0.08, 0.11), thief=2, thief_from=80)


def test_theft_risk_names_the_thief(thief_area):
    r, a = thief_area
    f = th.detect_theft_risk(r, a, {})
    check_schema(f)
    assert f.select("asset_id", "kind", "metric", "start", "end").rows() == [
        ("TX1-M3", "theft_risk", "energy_kwh", day(80), day(150))]
    row = f.row(0, named=True)
    assert row["unit"] == "kWh/day"
    assert row["observed"] == pytest.approx(0.4 * row["expected"], rel=0.25)
    assert row["score"] > 0.5 and row["severity"] == "critical"
    reason = row["reason"]
    assert re.search(r"share of the area's supply fell (59|60|61) %", reason), reason
    assert "secondary score" in reason and "ECOD" in reason and "IForest" in reason
    assert "top features:" in reason


def test_theft_risk_is_deterministic(thief_area):
    r, a = thief_area
    assert th.detect_theft_risk(r, a, {}).equals(th.detect_theft_risk(r, a, {}))


def test_vacancy_is_not_theft():
    r, a = make_area(150, sizes=(0.10, 0.12, 0.08, 0.11), vacant=1, vacant_from=80)
    assert th.detect_theft_risk(r, a, {}).height == 0


def test_short_dip_is_not_theft():
    r, a = make_area(150, sizes=(0.10, 0.12, 0.08, 0.11))
    dip = (pl.col("asset_id") == "TX1-M2") & (pl.col("ts") >= day(60)) & (pl.col("ts") < day(66))
    # six days at zero, and the transformer does not see them: a stolen week
    r = r.with_columns(value=pl.when(dip).then(0.0).otherwise(pl.col("value")))
    assert th.detect_theft_risk(r, a, {}).height == 0


def test_theft_risk_without_balance():
    r, a = make_area(150, sizes=(0.10, 0.12, 0.08, 0.11), thief=2, thief_from=80,
                     registered=0.2)
    meters_only = r.filter(pl.col("asset_id") != "TX1")
    f = th.detect_theft_risk(meters_only, a, {})
    check_schema(f)
    assert f.select("asset_id", "severity").rows() == [("TX1-M3", "info")]
    assert "cannot be told from a vacancy" in f["reason"][0]
    # a 60 % fall is below the 0.6 needed without a balance
    r, a = make_area(150, sizes=(0.10, 0.12, 0.08, 0.11), thief=2, thief_from=80,
                     registered=0.5)
    assert th.detect_theft_risk(r.filter(pl.col("asset_id") != "TX1"), a, {}).height == 0


def test_pyod_models_are_only_read_after_fit(monkeypatch, thief_area):
    """Scoring reads ``decision_scores_`` of the fit: nothing is called on a fitted model."""
    from pyod.models.base import BaseDetector

    def refuse(self, *args, **kwargs):
        raise AssertionError("a fitted PyOD model was called after fit")

    for name in ("predict", "predict_proba", "predict_confidence"):
        monkeypatch.setattr(BaseDetector, name, refuse)
    r, a = thief_area
    assert th.detect_theft_risk(r, a, {}).height == 1


@pytest.mark.parametrize("name", list(th.DETECTORS))
def test_empty_and_params(name):
    fn = th.DETECTORS[name]
    empty = pl.DataFrame(schema={"asset_id": pl.String, "ts": pl.Datetime("us", "UTC"),
                                 "metric": pl.String, "value": pl.Float64})
    _, a = make_area(1)
    check_schema(fn(empty, a, {}))
    check_schema(fn(empty, a, {"enabled": True}))
    check_schema(fn(make_area(3)[0], None, {}))  # no topology: no areas
    with pytest.raises(ConfigError, match="unknown key"):
        fn(empty, a, {"bogus": 1})
    assert th.DEFAULTS[name]["standard"]


# --------------------------------------------------------------------------------------------
# the sample utility


@pytest.fixture(scope="module")
def sample():
    r = pl.read_parquet(SAMPLE / "readings.parquet")
    a = pl.read_parquet(SAMPLE / "assets.parquet")
    truth = pl.read_parquet(SAMPLE / "truth.parquet")
    found = pl.concat([fn(r, a, {}) for fn in th.DETECTORS.values()])
    return found, truth


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["line_loss", "theft_risk"])
def test_sample_accuracy(sample, kind):
    found, truth = sample
    check_schema(found)
    t = truth.filter((pl.col("finding_kind") == kind) & (pl.col("category") == "anomaly"))
    f = found.filter(pl.col("kind") == kind)
    pairs = t.join(f, on="asset_id", suffix="_f").filter(
        (pl.col("start") < pl.col("end_f")) & (pl.col("start_f") < pl.col("end")))
    recall = pairs["asset_id"].n_unique() / t.height
    precision = pairs.select("asset_id", "start_f").unique().height / f.height
    # measured: 1.0 and 1.0 (one truth event each; targets 0.95 / 0.90)
    assert recall == 1.0 and precision == 1.0, (kind, recall, precision, f)
    # and the windows are the injected ones, to the day
    assert f.select("asset_id", "start", "end").rows() == t.select("asset_id", "start",
                                                                   "end").rows()


@pytest.mark.slow
def test_sample_line_loss_names_the_thief(sample):
    found, truth = sample
    thief = truth.filter(pl.col("kind") == "theft")["asset_id"][0]
    reason = found.filter(pl.col("kind") == "line_loss")["reason"][0]
    assert f"suspects: {thief} " in reason


@pytest.mark.slow
def test_detect_year_reads_history_before_it():
    """detect(year=2025) still finds the sample's thief, whose theft began in June 2024: the
    theft and electrical checks read the profile's ``history_days`` before the year and keep
    the findings that overlap it (with their true start)."""
    import dataclasses

    import griddiag
    from griddiag.detectors import load_profile

    r = pl.read_parquet(SAMPLE / "readings.parquet")
    a = pl.read_parquet(SAMPLE / "assets.parquet")
    truth = pl.read_parquet(SAMPLE / "truth.parquet")
    thief = truth.filter(pl.col("kind") == "theft").row(0, named=True)
    prof = load_profile("default")
    assert prof.history_days == 365
    prof = dataclasses.replace(prof, detectors=(), external=tuple(
        e for e in prof.external if e.family == "theft"))
    f = griddiag.detect(r, assets=a, profile=prof, year=2025)
    risk = f.filter(pl.col("kind") == "theft_risk")
    assert risk["asset_id"].to_list() == [thief["asset_id"]]
    assert risk["start"][0] == thief["start"] < datetime(2024, 12, 31, 16, tzinfo=UTC)
    loss = f.filter(pl.col("kind") == "line_loss")
    assert f"suspects: {thief['asset_id']} " in loss["reason"][0]
    # everything reported overlaps the year
    assert (f["end"] > datetime(2024, 12, 31, 16, tzinfo=UTC)).all()
    # without the history the thief is missed, and the loss has no suspect
    bare = griddiag.detect(r, assets=a, profile=dataclasses.replace(prof, history_days=0.0),
                           year=2025)
    assert bare.filter(pl.col("kind") == "theft_risk").height == 0
    assert "suspects:" not in bare.filter(pl.col("kind") == "line_loss")["reason"][0]


@pytest.mark.parametrize("seed", range(5))
def test_group_nanmedian_equals_numpy_median_per_group(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.choice([0, 1, 2, 3, 8, 31], size=30)
    x = np.round(rng.normal(size=int(sizes.sum())), 1)  # ties
    x[rng.random(x.size) < 0.15] = np.nan
    x[rng.random(x.size) < 0.05] = rng.choice([np.inf, -np.inf])
    group = np.repeat(np.arange(sizes.size), sizes)
    got = th._group_nanmedian(x, group, sizes.size + 2)  # two groups without values
    want = [th._nanmedian(x[group == g]) for g in range(sizes.size + 2)]
    np.testing.assert_array_equal(got, want)
