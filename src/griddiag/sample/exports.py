"""Raw export files of a sample utility, in the layouts utilities' systems produce.

For ingestion tests and demos. Each writer renders canonical readings into one source layout;
a few deliberate raw-data problems are planted in the files and returned as ``raw_data`` truth
rows with the file name and 1-based line number (line 1 is the header). Planted lines are
*extra* lines, so every reading of the period is still present once with its true value: an
ingest that quarantines exactly the planted lines round-trips the canonical data.

Files (local time is Asia/Shanghai):

- ``readings_long.csv``: UTF-8, ``asset,timestamp,metric,value``; local interval start.
- ``day_curves_gb18030.csv``: GB18030, State Grid style day curve of interval energy (kWh): one
  row per meter and day, ``户号,日期`` then 96 columns labelled by interval END ``00:15`` ...
  ``24:00``.
- ``sgcc_daily.csv``: UTF-8, as the SGCC theft data set: ``CONS_NO,FLAG`` then one column per
  local date (``2023/1/1``) of daily kWh; FLAG 1 marks the injected thieves.
- ``transformers_wide.csv``: UTF-8 with BOM, one column per metric, local interval start.
- ``assets.csv``: UTF-8, the assets frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.sample.electrical import TRANSFORMER_METRICS
from griddiag.sample.params import UTC_OFFSET_HOURS
from griddiag.sample.truth import truth_frame, truth_row

if TYPE_CHECKING:
    from griddiag.sample.generator import SampleUtility

__all__ = ["EXPORT_FILES", "write_exports"]

EXPORT_FILES = ("readings_long.csv", "day_curves_gb18030.csv", "sgcc_daily.csv",
                "transformers_wide.csv", "assets.csv")
_TS_FORMAT = "%Y-%m-%d %H:%M:%S"


def _period(utility: SampleUtility, start: dt.date | None, days: int) -> tuple[dt.date, dt.date]:
    years = utility.config.years
    first = start or dt.date(years[-1], 1, 1)
    end = first + dt.timedelta(days=days)
    if first < dt.date(years[0], 1, 1) or end > dt.date(years[-1] + 1, 1, 1) or days < 1:
        raise ConfigError(f"export period {first} + {days} days lies outside the sample's "
                          f"years {years}")
    return first, end


def _local_time() -> pl.Expr:
    # The sample's zone has a fixed +08:00 offset (no DST), so plain arithmetic is exact and far
    # faster than a zone conversion over millions of rows.
    return (pl.col("ts").dt.replace_time_zone(None)
            + pl.duration(hours=UTC_OFFSET_HOURS)).alias("lt")


def _local(readings: pl.DataFrame, first: dt.date, end: dt.date) -> pl.DataFrame:
    """Readings of the local-date period with a naive local-time column ``lt``."""
    offset = dt.timezone(dt.timedelta(hours=UTC_OFFSET_HOURS))
    lo = dt.datetime.combine(first, dt.time(), offset)
    hi = dt.datetime.combine(end, dt.time(), offset)
    return (readings.filter(pl.col("ts") >= lo, pl.col("ts") < hi)
            .with_columns(_local_time()))


def _value_text(expr: pl.Expr) -> pl.Expr:
    # Missing values (NaN) are written as empty fields, as utility exports do.
    return pl.when(expr.is_nan()).then(None).otherwise(expr).cast(pl.String)


def _insert_lines(df: pl.DataFrame, inserts: list[tuple[int, dict]]) -> tuple[pl.DataFrame,
                                                                             list[int]]:
    """Insert rows after given row positions; return the frame and their 1-based line numbers."""
    parts, lines, prev = [], [], 0
    for k, (pos, row) in enumerate(sorted(inserts, key=lambda x: x[0])):
        parts.append(df.slice(prev, pos + 1 - prev))
        parts.append(pl.DataFrame([row], schema=df.schema))
        prev = pos + 1
        lines.append(pos + 1 + k + 2)  # rows before + inserted before + header + 1-based
    parts.append(df.slice(prev))
    return pl.concat(parts), lines


def _write_long(utility: SampleUtility, out: Path, first: dt.date, end: dt.date,
                assets: Sequence[str]) -> list[dict]:
    name = "readings_long.csv"
    df = (_local(utility.readings.filter(pl.col("asset_id").is_in(list(assets))), first, end)
          .sort(["asset_id", "metric", "ts"])
          .select(pl.col("asset_id").alias("asset"),
                  pl.col("lt").dt.strftime(_TS_FORMAT).alias("timestamp"),
                  "metric", _value_text(pl.col("value")).alias("value")))
    if df.height < 8:
        df.write_csv(out / name)
        return []
    n = df.height
    picks = {"duplicate_row": n // 5, "conflicting_duplicate": 2 * n // 5,
             "bad_timestamp": 3 * n // 5, "bad_value": 4 * n // 5}
    inserts, meta = [], []
    for kind, pos in picks.items():
        row = df.row(pos, named=True)
        planted = dict(row)
        if kind == "conflicting_duplicate":
            planted["value"] = f"{float(row['value'] or 0) + 1.23:.2f}"
        elif kind == "bad_timestamp":
            planted["timestamp"] = row["timestamp"][:5] + "02-30 25" + row["timestamp"][13:]
        elif kind == "bad_value":
            # letter O for a zero, a classic keying error (unlike "N/A", not a missing marker)
            planted["value"] = "1O.5"
        inserts.append((pos, planted))
        meta.append((kind, row))
    df, lines = _insert_lines(df, inserts)
    df.write_csv(out / name)
    rows = []
    for (kind, row), line in zip(meta, lines, strict=True):
        ts = dt.datetime.strptime(row["timestamp"], _TS_FORMAT).replace(
            tzinfo=dt.timezone(dt.timedelta(hours=UTC_OFFSET_HOURS))).astimezone(dt.UTC)
        rows.append(truth_row(kind, row["asset"], ts, ts, metric=row["metric"],
                              source_file=name, source_line=line,
                              notes=f"extra line after line {line - 1}; the earlier line "
                                    "holds the true value"))
    return rows


def _curve_frame(utility: SampleUtility, first: dt.date, end: dt.date) -> pl.DataFrame:
    """Meter x local date x 96 interval-end columns of energy (empty where missing)."""
    e = _local(utility.readings.filter(pl.col("metric") == "energy_kwh"), first, end)
    # The interval ending at 24:00 belongs to the day it ends, not the next day.
    end_lt = pl.col("lt") + pl.duration(minutes=utility.config.interval_minutes)
    hhmm = pl.when(end_lt.dt.date() > pl.col("lt").dt.date()).then(pl.lit("24:00")) \
        .otherwise(end_lt.dt.strftime("%H:%M"))
    e = e.with_columns(pl.col("lt").dt.date().alias("date"), hhmm.alias("slot"))
    wide = e.pivot(on="slot", index=["asset_id", "date"], values="value",
                   aggregate_function="first")
    step = utility.config.interval_minutes
    slots = [f"{(m // 60):02d}:{m % 60:02d}" for m in range(step, 1441, step)]
    for s in slots:
        if s not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(s))
    return (wide.sort(["asset_id", "date"])
            .select(pl.col("asset_id").alias("户号"),
                    pl.col("date").dt.strftime("%Y-%m-%d").alias("日期"),
                    *[_value_text(pl.col(s)).alias(s) for s in slots]))


def _write_curves(utility: SampleUtility, out: Path, first: dt.date, end: dt.date) -> list[dict]:
    name = "day_curves_gb18030.csv"
    df = _curve_frame(utility, first, end)
    rows: list[dict] = []
    if df.height >= 4:
        pos_dup, pos_conf = df.height // 3, 2 * df.height // 3
        dup = df.row(pos_dup, named=True)
        conf = dict(df.row(pos_conf, named=True))
        col = "12:00" if "12:00" in conf else df.columns[-1]
        conf[col] = f"{float(conf[col] or 0) + 0.5:.2f}"
        df, lines = _insert_lines(df, [(pos_dup, dup), (pos_conf, conf)])
        for kind, row, line in (("duplicate_row", dup, lines[0]),
                                ("conflicting_duplicate", conf, lines[1])):
            day = dt.date.fromisoformat(row["日期"])
            start = dt.datetime.combine(day, dt.time(),
                                        dt.timezone(dt.timedelta(hours=UTC_OFFSET_HOURS)))
            rows.append(truth_row(kind, row["户号"], start.astimezone(dt.UTC),
                                  (start + dt.timedelta(days=1)).astimezone(dt.UTC),
                                  metric="energy_kwh", source_file=name, source_line=line,
                                  notes=f"extra day row after line {line - 1}"
                                        + (f"; column {col} differs by +0.50 kWh"
                                           if kind == "conflicting_duplicate" else "")))
    (out / name).write_bytes(df.write_csv().encode("gb18030"))
    return rows


def _write_sgcc(utility: SampleUtility, out: Path) -> None:
    """Daily kWh per meter over the whole span; a day with any missing interval is empty."""
    spd = 1440 // utility.config.interval_minutes
    # Local day as an integer (days since the epoch): much cheaper to group on than a date.
    day_us = 86_400_000_000
    local_day = ((pl.col("ts").dt.epoch("us") + UTC_OFFSET_HOURS * 3_600_000_000) // day_us)
    e = (utility.readings.filter(pl.col("metric") == "energy_kwh")
         .group_by(["asset_id", local_day.cast(pl.Int32).alias("day")])
         .agg(pl.when((pl.len() == spd) & pl.col("value").is_not_nan().all())
              .then(pl.col("value").sum().round(2)).alias("kwh"))
         .with_columns(pl.col("day").cast(pl.Date).alias("date")))
    meters = utility.assets.filter(pl.col("kind") == "meter")["asset_id"]
    thieves = set(utility.truth.filter(pl.col("kind") == "theft")["asset_id"].to_list())
    dates = [dt.date(utility.config.years[0], 1, 1) + dt.timedelta(days=int(i))
             for i in range(len(utility.weather))]
    labels = [f"{d.year}/{d.month}/{d.day}" for d in dates]
    grid = (pl.DataFrame({"asset_id": meters}).join(pl.DataFrame({"date": dates}), how="cross")
            .join(e, on=["asset_id", "date"], how="left")
            .with_columns(pl.format("{}/{}/{}", pl.col("date").dt.year(),
                                    pl.col("date").dt.month(),
                                    pl.col("date").dt.day()).alias("label")))
    wide = grid.pivot(on="label", index="asset_id", values="kwh").sort("asset_id")
    wide = wide.select(
        pl.col("asset_id").alias("CONS_NO"),
        pl.col("asset_id").is_in(list(thieves)).cast(pl.Int8).alias("FLAG"),
        *[pl.col(lbl) for lbl in labels])
    wide.write_csv(out / "sgcc_daily.csv")


def _write_transformers(utility: SampleUtility, out: Path, first: dt.date, end: dt.date) -> None:
    t = _local(utility.readings.filter(pl.col("metric").is_in(list(TRANSFORMER_METRICS))),
               first, end)
    wide = (t.pivot(on="metric", index=["asset_id", "lt"], values="value",
                    aggregate_function="first")
            .sort(["asset_id", "lt"]))
    wide = wide.select("asset_id", pl.col("lt").dt.strftime(_TS_FORMAT).alias("timestamp"),
                       *[_value_text(pl.col(m)).alias(m) for m in TRANSFORMER_METRICS
                         if m in wide.columns])
    (out / "transformers_wide.csv").write_bytes(b"\xef\xbb\xbf" + wide.write_csv().encode())


def write_exports(utility: SampleUtility, out_dir: str | Path, *, start: dt.date | None = None,
                  days: int = 31, long_assets: Sequence[str] | None = None) -> pl.DataFrame:
    """Write the raw export files of ``utility`` into ``out_dir``.

    Parameters
    ----------
    utility : SampleUtility
    out_dir : str or Path
        Created if missing; existing export files are overwritten.
    start : datetime.date, optional
        First local date of the period of the interval files (default: 1 January of the last
        year, which contains the Spring Festival). ``sgcc_daily.csv`` always spans all years.
    days : int
        Length of the period in days.
    long_assets : sequence of str, optional
        Assets written to ``readings_long.csv`` (default: the first transformer and its
        meters).

    Returns
    -------
    polars.DataFrame
        ``raw_data`` truth rows (``TRUTH_SCHEMA``) for the problems planted in the files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    first, end = _period(utility, start, days)
    if long_assets is None:
        a = utility.assets
        tx = a.filter(pl.col("kind") == "transformer")["asset_id"].head(1).to_list()
        long_assets = tx + a.filter(pl.col("parent_id").is_in(tx))["asset_id"].to_list()
    rows = _write_long(utility, out, first, end, long_assets)
    rows += _write_curves(utility, out, first, end)
    _write_sgcc(utility, out)
    _write_transformers(utility, out, first, end)
    utility.assets.write_csv(out / "assets.csv")
    return truth_frame(rows)

