"""Canonical frames, metric registry and asset kinds: the vocabulary every module shares.

Frames are polars DataFrames with fixed column names and dtypes (see ``READINGS_SCHEMA``,
``ASSETS_SCHEMA``). Metrics carry their unit in the name (``energy_kwh``, ``voltage_v_a``) and a
*kind* that tells detectors what a value means:

- ``interval_energy``: energy in one interval (may be zero, never rolls over);
- ``cumulative_register``: a meter register that only grows, except at a rollover at its digit
  limit or a meter exchange;
- ``instantaneous``: a sampled or averaged quantity (voltage, current, power, temperature).

``ts`` is always the *start* of the interval in UTC; ``NaN`` in ``value`` means missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from griddiag.exceptions import ConfigError

__all__ = [
    "ASSETS_SCHEMA",
    "FINDINGS_SCHEMA",
    "ASSET_ATTRIBUTES",
    "ASSET_KINDS",
    "METRICS",
    "METRIC_KINDS",
    "READINGS_SCHEMA",
    "SEVERITIES",
    "TS_DTYPE",
    "YOY_SCHEMA",
    "Metric",
    "canonical_metric",
    "empty_assets",
    "empty_findings",
    "empty_readings",
    "empty_yoy",
    "metrics_frame",
    "normalize_assets",
    "normalize_readings",
]

TS_DTYPE = pl.Datetime("us", "UTC")

READINGS_SCHEMA: dict[str, pl.DataType] = {
    "asset_id": pl.String(),
    "ts": TS_DTYPE,
    "metric": pl.String(),
    "value": pl.Float64(),
}

# Optional asset attributes and their dtypes; `asset_id`, `kind`, `parent_id` are always present.
ASSET_ATTRIBUTES: dict[str, pl.DataType] = {
    "name": pl.String(),
    "nominal_voltage_v": pl.Float64(),
    "rated_kva": pl.Float64(),
    "phases": pl.Int32(),
    "customer_class": pl.String(),
    "ct_ratio": pl.Float64(),
    "pt_ratio": pl.Float64(),
    "register_digits": pl.Int32(),
    "tz": pl.String(),
}

ASSETS_SCHEMA: dict[str, pl.DataType] = {
    "asset_id": pl.String(),
    "kind": pl.String(),
    "parent_id": pl.String(),
    **ASSET_ATTRIBUTES,
}

SEVERITIES = ("info", "warning", "critical")

# One row per anomaly event (INTERFACE.md "findings"). `observed`/`expected`/`magnitude` are in
# `unit`; `coverage` is the share of expected intervals present in the window (0-1); `status`
# (new|recurring|resolved) is set by the inspection job against its previous run.
FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "asset_id": pl.String(),
    "metric": pl.String(),
    "kind": pl.String(),
    "detector": pl.String(),
    "start": TS_DTYPE,
    "end": TS_DTYPE,
    "peak_ts": TS_DTYPE,
    "severity": pl.String(),
    "score": pl.Float64(),
    "observed": pl.Float64(),
    "expected": pl.Float64(),
    "unit": pl.String(),
    "magnitude": pl.Float64(),
    "coverage": pl.Float64(),
    "rule": pl.String(),
    "standard": pl.String(),
    "reason": pl.String(),
    "action": pl.String(),
    "run_id": pl.String(),
    "status": pl.String(),
}

# One row per asset (or group) and metric: this year against the same local dates of the
# baseline years (INTERFACE.md "yoy"). Measures carry their unit in the name; for a metric that
# is not interval energy the "level" measures are in the metric's own unit (see ``unit``).
# ``baseline_years`` is a comma-separated string ("2023,2024") so the frame also writes to CSV.
YOY_SCHEMA: dict[str, pl.DataType] = {
    "asset_id": pl.String(),
    "group_by": pl.String(),          # asset | transformer | feeder | customer_class
    "metric": pl.String(),
    "unit": pl.String(),
    "year": pl.Int32(),
    "baseline_years": pl.String(),
    "period_start": pl.Date(),        # local dates compared (a partial year: the same dates)
    "period_end": pl.Date(),          # exclusive
    "n_members": pl.Int32(),          # assets in the group (1 for an asset)
    "energy_kwh": pl.Float64(),       # energy: total over the paired days; any other metric
                                      # (a level): its mean daily level, in the metric's unit
    "energy_baseline_kwh": pl.Float64(),
    "energy_change_kwh": pl.Float64(),  # current - baseline (a level: change of mean level)
    "energy_change_pct": pl.Float64(),  # null where a % means nothing: a degC level, or a
                                        # paired day below 0 (signed flows)
    "energy_change_weather_pct": pl.Float64(),  # after degree-day normalisation; energy only,
                                                # null without temperature
    "peak_kw": pl.Float64(),
    "peak_baseline_kw": pl.Float64(),
    "peak_ts": pl.Datetime("us", "UTC"),
    "peak_hour": pl.Float64(),        # local hour of day of the typical daily peak
    "peak_hour_baseline": pl.Float64(),
    "load_factor": pl.Float64(),
    "load_factor_baseline": pl.Float64(),
    "base_load_kw": pl.Float64(),     # night minimum
    "base_load_baseline_kw": pl.Float64(),
    "daily_shape_change": pl.Float64(),   # 0 = same normalised daily profile, 1 = opposite
    "weekly_shape_change": pl.Float64(),
    "ks_stat": pl.Float64(),
    "ks_p_value": pl.Float64(),
    "wasserstein": pl.Float64(),
    "psi": pl.Float64(),
    "p5_delta": pl.Float64(),
    "p50_delta": pl.Float64(),
    "p95_delta": pl.Float64(),
    "volatility_ratio": pl.Float64(),
    "coverage": pl.Float64(),
    "coverage_baseline": pl.Float64(),
    "anomaly_count": pl.Int64(),
    "anomaly_count_baseline": pl.Int64(),
    "effect_size": pl.Float64(),      # size of the main change (class-specific): energy's
                                      # growth/step as a log ratio, a level's in its unit
    "change_class": pl.String(),      # growth | decline | step_change | peak_shift |
                                      # new_seasonal_pattern | volatility | data_quality |
                                      # near_zero | unchanged
    "change_date": pl.Date(),         # local date of a step change
    "p_value": pl.Float64(),
    "q_value": pl.Float64(),          # Benjamini-Hochberg over the population
    "significant": pl.Boolean(),
    "rank": pl.Int32(),               # 1 = changed most (within group_by)
    "reason": pl.String(),
}

# Topology runs meter -> transformer -> feeder -> substation; `unknown` is an asset first seen in
# readings whose attributes have not been loaded yet.
ASSET_KINDS = ("meter", "transformer", "feeder", "substation", "unknown")

METRIC_KINDS = ("interval_energy", "cumulative_register", "instantaneous")


@dataclass(frozen=True)
class Metric:
    """A canonical metric: its unit, kind and the physically possible range of its values.

    ``low``/``high`` bound what a sensor can report at all (a negative voltage magnitude is
    impossible; a negative interval energy on an import channel is possible and is a finding
    for the detectors, not a rejected row).
    """

    name: str
    unit: str
    kind: str
    description: str
    low: float = -math.inf
    high: float = math.inf


def _metrics() -> dict[str, Metric]:
    m: list[Metric] = [
        Metric("energy_kwh", "kWh", "interval_energy", "imported active energy in the interval",
               -1e7, 1e7),
        Metric("energy_export_kwh", "kWh", "interval_energy",
               "exported active energy in the interval", -1e7, 1e7),
        Metric("register_kwh", "kWh", "cumulative_register", "total import register reading",
               0.0, 1e12),
        Metric("active_power_kw", "kW", "instantaneous", "active power", -1e7, 1e7),
        Metric("power_factor", "1", "instantaneous", "power factor", -1.0, 1.0),
        Metric("load_kva", "kVA", "instantaneous", "apparent power (transformer load)", 0.0, 1e7),
        Metric("oil_temp_c", "degC", "instantaneous", "transformer top-oil temperature",
               -60.0, 250.0),
        Metric("ambient_temp_c", "degC", "instantaneous", "ambient air temperature", -90.0, 70.0),
    ]
    m += [
        Metric(f"register_kwh_t{i}", "kWh", "cumulative_register",
               f"time-of-use tier {i} import register reading", 0.0, 1e12)
        for i in range(1, 5)
    ]
    m += [
        Metric(f"voltage_v_{p}", "V", "instantaneous", f"phase {p.upper()} voltage magnitude",
               0.0, 1.2e6)
        for p in "abc"
    ]
    m += [
        Metric(f"current_a_{p}", "A", "instantaneous",
               f"{'neutral' if p == 'n' else 'phase ' + p.upper()} current magnitude", 0.0, 1e6)
        for p in "abcn"
    ]
    return {x.name: x for x in m}


METRICS: dict[str, Metric] = _metrics()

# Source units accepted in place of the canonical unit: (canonical token, source token, factor).
# `energy_wh` means the values are Wh and are multiplied by 1e-3 into `energy_kwh`.
_UNIT_ALIASES: tuple[tuple[str, str, float], ...] = (
    ("kwh", "wh", 1e-3),
    ("kwh", "mwh", 1e3),
    ("kw", "w", 1e-3),
    ("kw", "mw", 1e3),
    ("kva", "va", 1e-3),
    ("kva", "mva", 1e3),
    ("v", "kv", 1e3),
    ("a", "ka", 1e3),
)


def canonical_metric(name: str) -> tuple[str, float] | None:
    """Map a source metric name to ``(canonical name, factor)``, or ``None`` if unknown.

    The unit is part of the name, so ``energy_wh`` is ``energy_kwh`` with factor ``1e-3`` and
    ``voltage_kv_a`` is ``voltage_v_a`` with factor ``1e3``. Matching ignores case and
    surrounding blanks.
    """
    key = name.strip().lower()
    if key in METRICS:
        return key, 1.0
    tokens = key.split("_")
    for canon, source, factor in _UNIT_ALIASES:
        for i, tok in enumerate(tokens):
            if tok == source:
                candidate = "_".join([*tokens[:i], canon, *tokens[i + 1:]])
                if candidate in METRICS:
                    return candidate, factor
    return None


def metrics_frame() -> pl.DataFrame:
    """The metric registry as a frame (name, unit, kind, description, low, high)."""
    return pl.DataFrame(
        [
            {"metric": m.name, "unit": m.unit, "kind": m.kind, "description": m.description,
             "low": m.low, "high": m.high}
            for m in METRICS.values()
        ]
    )


# An empty frame is built once per schema and handed out as clones: polars builds each empty
# column from a Python sequence (0.55 ms for the 30 columns of FINDINGS_SCHEMA, and detection
# makes one for every detector that finds nothing), a clone costs 2 us. A clone shares no
# mutable state: in-place methods on it change only the clone.
_EMPTY: dict[str, pl.DataFrame] = {}


def _empty(name: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    frame = _EMPTY.get(name)
    if frame is None:
        frame = _EMPTY[name] = pl.DataFrame(schema=schema)
    return frame.clone()


def empty_readings() -> pl.DataFrame:
    return _empty("readings", READINGS_SCHEMA)


def empty_findings() -> pl.DataFrame:
    return _empty("findings", FINDINGS_SCHEMA)


def empty_yoy() -> pl.DataFrame:
    return _empty("yoy", YOY_SCHEMA)


def empty_assets() -> pl.DataFrame:
    return _empty("assets", ASSETS_SCHEMA)


def normalize_readings(df: pl.DataFrame, *, keep_extra: bool = False) -> pl.DataFrame:
    """Cast a readings frame to the canonical dtypes, checking that it is one.

    Naive timestamps are refused rather than guessed: a store only takes UTC instants; ingest is
    where local times get their zone. Extra columns are dropped unless ``keep_extra``.
    """
    missing = [c for c in READINGS_SCHEMA if c not in df.columns]
    if missing:
        raise ConfigError(
            f"readings frame lacks column(s) {missing}; expected {list(READINGS_SCHEMA)}"
        )
    ts = df.schema["ts"]
    if not isinstance(ts, pl.Datetime):
        raise ConfigError(f"readings column 'ts' must be a datetime, got {ts}")
    if ts.time_zone is None:
        raise ConfigError(
            "readings column 'ts' has no time zone; convert it with "
            "`.dt.replace_time_zone(<zone>)` (or ingest the file with --tz)"
        )
    out = df.with_columns(
        pl.col("asset_id").cast(pl.String),
        pl.col("ts").dt.convert_time_zone("UTC").cast(TS_DTYPE),
        pl.col("metric").cast(pl.String),
        pl.col("value").cast(pl.Float64),
    )
    nulls = out.select(pl.col("asset_id", "ts", "metric").null_count()).row(0)
    if any(nulls):
        raise ConfigError(
            f"readings frame has nulls in key columns (asset_id, ts, metric) = {nulls}"
        )
    cols = list(READINGS_SCHEMA) + (
        [c for c in out.columns if c not in READINGS_SCHEMA] if keep_extra else []
    )
    return out.select(cols)


def normalize_assets(df: pl.DataFrame) -> pl.DataFrame:
    """Cast an assets frame to ``ASSETS_SCHEMA``; absent optional attributes become null."""
    if "asset_id" not in df.columns:
        raise ConfigError("assets frame lacks column 'asset_id'")
    exprs = []
    for col, dtype in ASSETS_SCHEMA.items():
        if col in df.columns:
            exprs.append(pl.col(col).cast(dtype, strict=False).alias(col))
        elif col == "kind":
            exprs.append(pl.lit("unknown", pl.String).alias(col))
        else:
            exprs.append(pl.lit(None, dtype).alias(col))
    out = df.select(exprs).with_columns(
        pl.col("asset_id").str.strip_chars(),
        pl.col("kind").fill_null("unknown").str.strip_chars().str.to_lowercase(),
    )
    bad_kind = out.filter(~pl.col("kind").is_in(ASSET_KINDS))["kind"].unique().to_list()
    if bad_kind:
        raise ConfigError(f"unknown asset kind(s) {bad_kind}; expected one of {ASSET_KINDS}")
    if out["asset_id"].null_count() or (out["asset_id"] == "").any():
        raise ConfigError("assets frame has empty asset_id values")
    if out["asset_id"].is_duplicated().any():
        dups = out.filter(pl.col("asset_id").is_duplicated())["asset_id"].unique().to_list()[:5]
        raise ConfigError(f"assets frame lists asset_id(s) more than once, e.g. {dups}")
    return out
