"""Inputs for the report tests (no tests here): real findings of the sample, small yoy and
chart frames built from the sample's readings, and a large synthetic findings frame.

Findings come from ``griddiag.detect`` on a few transformer areas of ``data_samples/`` (the
theft, line-loss, overload and low-power-factor areas), so the report is tested on what the
detectors really write. The yoy frame is computed here with a plain year-on-year energy
comparison: the report only needs the frame's shape and a few significant rows, not issue 4's
statistics.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from griddiag.report import CHART_SCHEMAS, ReportCharts, finding_keys
from griddiag.schema import FINDINGS_SCHEMA, YOY_SCHEMA

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples"
AREAS = ("TX0001", "TX0003", "TX0004")
YEAR = 2025
TZ = "Asia/Shanghai"


@functools.lru_cache(maxsize=1)
def sample_inputs() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, ReportCharts]:
    """``(findings, yoy, assets, charts)`` for a few areas of the sample (cached per session)."""
    import griddiag

    assets = pl.read_parquet(SAMPLE / "assets.parquet")
    # Whole areas where meters matter (theft, line loss, gaps); the transformer alone where
    # only its own metrics do (low power factor): fewer readings, a faster test.
    keep = assets.filter(pl.col("asset_id").is_in(list(AREAS))
                         | pl.col("parent_id").is_in(list(AREAS[:2])))["asset_id"].to_list()
    readings = pl.read_parquet(SAMPLE / "readings.parquet").filter(
        pl.col("asset_id").is_in(keep))
    findings = griddiag.detect(readings, assets=assets, year=YEAR)
    # The job marks status against its previous run; here a fixed pattern covers all three.
    findings = findings.with_columns(
        pl.lit("run-test").alias("run_id"),
        pl.Series("status", [("new", "recurring", "resolved")[i % 3]
                             for i in range(findings.height)], dtype=pl.String))
    yoy, monthly, profile = _yoy(readings, assets)
    charts = ReportCharts(finding_windows=_windows(readings, findings), yoy_monthly=monthly,
                          yoy_profile=profile)
    return findings, yoy, assets, charts


def _windows(readings: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """Readings around each serious finding with a median +- 3 scaled MAD band per local hour
    (what the job computes); long windows are reduced to daily means to keep charts small."""
    serious = findings.filter(pl.col("severity").is_in(["critical", "warning"]))
    keys = finding_keys(serious).to_list()
    out = []
    for key, row in zip(keys, serious.iter_rows(named=True), strict=True):
        lo_t = row["start"] - timedelta(days=1)
        hi_t = row["end"] + timedelta(days=1)
        w = readings.filter((pl.col("asset_id") == row["asset_id"])
                            & (pl.col("metric") == row["metric"])
                            & pl.col("ts").is_between(lo_t, hi_t)).sort("ts")
        if w.height > 600:
            w = w.group_by_dynamic("ts", every="1d").agg(pl.col("value").mean())
        if not w.height:
            continue
        hour = w["ts"].dt.convert_time_zone(TZ).dt.hour().to_numpy()
        v = w["value"].to_numpy()
        low = np.full(v.shape, np.nan)
        high = np.full(v.shape, np.nan)
        for h in np.unique(hour):
            sel = (hour == h) & np.isfinite(v)
            if sel.sum() >= 3:
                med = np.median(v[sel])
                mad = 1.4826 * np.median(np.abs(v[sel] - med))
                low[hour == h] = med - 3 * mad
                high[hour == h] = med + 3 * mad
        out.append(pl.DataFrame({"finding_key": [key] * w.height, "ts": w["ts"],
                                 "value": v, "expected_low": low, "expected_high": high}))
    if not out:
        return pl.DataFrame(schema=CHART_SCHEMAS["finding_windows"])
    return pl.concat(out).cast(CHART_SCHEMAS["finding_windows"])  # type: ignore[arg-type]


def _yoy(readings: pl.DataFrame, assets: pl.DataFrame
         ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Energy per meter per year, monthly totals and mean daily profiles; a change of more
    than 10 % is 'significant' (growth/decline)."""
    e = (readings.filter(pl.col("metric") == "energy_kwh")
         .with_columns(pl.col("value").fill_nan(None))  # NaN = missing: sums skip it
         .with_columns(pl.col("ts").dt.convert_time_zone(TZ).alias("local"))
         .with_columns(pl.col("local").dt.year().cast(pl.Int32).alias("year"),
                       pl.col("local").dt.month().cast(pl.Int8).alias("month"),
                       (pl.col("local").dt.hour() + pl.col("local").dt.minute() / 60)
                       .cast(pl.Float64).alias("hour")))
    monthly = (e.group_by("asset_id", "metric", "year", "month")
               .agg(pl.col("value").sum()).sort("asset_id", "year", "month"))
    profile = (e.group_by("asset_id", "metric", "year", "hour")
               .agg(pl.col("value").mean()).sort("asset_id", "year", "hour"))
    yearly = e.group_by("asset_id", "year").agg(pl.col("value").sum().alias("energy"))
    this = yearly.filter(pl.col("year") == YEAR)
    base = (yearly.filter(pl.col("year") < YEAR).group_by("asset_id")
            .agg(pl.col("energy").mean().alias("base")))
    rows = this.join(base, on="asset_id").with_columns(
        ((pl.col("energy") / pl.col("base") - 1) * 100).alias("pct"))
    yoy = rows.select(
        pl.col("asset_id"), pl.lit("asset").alias("group_by"), pl.lit("energy_kwh").alias("metric"),
        pl.lit("kWh").alias("unit"), pl.lit(YEAR, pl.Int32).alias("year"),
        pl.lit("2023,2024").alias("baseline_years"),
        pl.lit(1, pl.Int32).alias("n_members"),
        pl.col("energy").alias("energy_kwh"), pl.col("base").alias("energy_baseline_kwh"),
        (pl.col("energy") - pl.col("base")).alias("energy_change_kwh"),
        pl.col("pct").alias("energy_change_pct"),
        pl.when(pl.col("pct") > 10).then(pl.lit("growth"))
        .when(pl.col("pct") < -10).then(pl.lit("decline")).otherwise(pl.lit("unchanged"))
        .alias("change_class"),
        (pl.col("pct").abs() > 10).alias("significant"),
        pl.lit(0.01).alias("q_value"),
        pl.format("energy {} kWh against {} kWh in 2023-2024",
                  pl.col("energy").round(0), pl.col("base").round(0)).alias("reason"),
    ).with_columns(pl.col("energy_change_pct").abs().rank("ordinal", descending=True)
                   .cast(pl.Int32).alias("rank"))
    for col, dtype in YOY_SCHEMA.items():
        if col not in yoy.columns:
            yoy = yoy.with_columns(pl.lit(None, dtype).alias(col))
    yoy = yoy.select(list(YOY_SCHEMA)).cast(YOY_SCHEMA)  # type: ignore[arg-type]
    sig = yoy.filter(pl.col("significant"))["asset_id"].to_list()
    monthly = monthly.filter(pl.col("asset_id").is_in(sig)).cast(
        CHART_SCHEMAS["yoy_monthly"])  # type: ignore[arg-type]
    profile = profile.filter(pl.col("asset_id").is_in(sig)).cast(
        CHART_SCHEMAS["yoy_profile"])  # type: ignore[arg-type]
    return yoy, monthly, profile


def summary(**extra: object) -> dict[str, object]:
    """A summary.json as the inspection job writes it."""
    out: dict[str, object] = {
        "run_id": "run-test", "year": YEAR, "baseline_years": [2023, 2024],
        "store": "postgresql://griddiag@/griddiag?host=/var/run/postgresql",
        "profile": "default", "profile_hash": "sha256:0123abcd", "griddiag_version": "0.1.0",
        "generated_at": "2026-01-05T02:00:00+00:00", "tz": TZ,
        "data_range": {"start": "2023-01-01", "end": "2025-12-31"},
        "assets": {"total": 50, "meters": 40, "transformers": 7, "with_findings": 12},
        "coverage": {"share": 0.987, "expected_intervals": 1_401_600,
                     "present_intervals": 1_383_379,
                     "by_metric": [{"metric": "energy_kwh", "share": 0.991, "assets": 40},
                                   {"metric": "load_kva", "share": 0.972, "assets": 7}]},
        "timings": {"read_s": 1.2, "detect_s": 14.9, "compare_s": 3.1, "total_s": 20.4},
    }
    out.update(extra)
    return out


def many_findings(n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` synthetic findings with realistic text lengths (for size and speed tests)."""
    rng = np.random.default_rng(seed)
    kinds = np.array(["gap", "spike", "zero_consumption", "theft_risk", "overload",
                      "voltage_deviation", "heavy_load", "low_usage"])
    sev = np.array(["info", "warning", "critical"])
    start0 = datetime(2025, 1, 1, tzinfo=UTC)
    starts = [start0 + timedelta(minutes=15 * int(m)) for m in rng.integers(0, 35000, n)]
    meter = rng.integers(0, 20000, n)
    k = rng.integers(0, len(kinds), n)
    obs = rng.gamma(2.0, 3.0, n)
    return pl.DataFrame({
        "asset_id": [f"M{m:07d}" for m in meter],
        "metric": "energy_kwh",
        "kind": kinds[k],
        "detector": "spike",
        "start": starts,
        "end": [s + timedelta(hours=2) for s in starts],
        "peak_ts": starts,
        "severity": sev[rng.integers(0, 3, n)],
        "score": rng.gamma(2.0, 2.0, n),
        "observed": obs,
        "expected": obs / 3,
        "unit": "kWh",
        "magnitude": obs * 2 / 3,
        "coverage": rng.uniform(0.8, 1.0, n),
        "rule": "meter-data VEE: spike check (robust z vs rolling median/MAD, Hampel identifier)",
        "standard": None,
        "reason": [f"{o:.2f} kWh reported at {s:%Y-%m-%d %H:%M} Asia/Shanghai, where the "
                   f"surrounding 24 h have a median of {o / 3:.2f} kWh (robust z {z:.1f}); the "
                   "day's other values do not come close."
                   for o, s, z in zip(obs, starts, rng.gamma(3, 3, n), strict=True)],
        "action": "Compare the interval with the register reading of that day; if the register "
                  "does not show the energy, mark the interval for estimation.",
        "run_id": "run-big",
        "status": np.array(["new", "recurring", "resolved"])[rng.integers(0, 3, n)],
    }, schema=FINDINGS_SCHEMA)


def synthetic_assets(findings: pl.DataFrame) -> pl.DataFrame:
    """Meters under 1 transformer per 10 meters, 1 feeder per 20 transformers."""
    ids = findings["asset_id"].unique().sort().to_list()
    meters = pl.DataFrame({"asset_id": ids, "kind": "meter",
                           "parent_id": [f"TX{int(i[1:]) // 10:05d}" for i in ids]})
    tx = meters["parent_id"].unique().sort().to_list()
    trans = pl.DataFrame({"asset_id": tx, "kind": "transformer",
                          "parent_id": [f"F{int(t[2:]) // 20:03d}" for t in tx]})
    return pl.concat([meters, trans])
