"""Row checks: a chunk of source rows in, canonical readings and rejections out.

Every check is a vectorised polars expression over the chunk; Python runs only to word the
reason of a rejected row. The checks, in order (the first problem of a line is its reason):

line level (one rejection per line, counting all its readings)
    ``empty_asset_id``; ``unknown_asset`` (strict mode); ``bad_timestamp`` / ``bad_date``;
    ``timestamp_out_of_range`` (outside 1970..2099); ``nonexistent_local_time`` /
    ``ambiguous_local_time`` (DST; long and wide layouts)
reading level
    ``unknown_metric`` (long, or day-wide with a metric column); ``non_numeric_value``;
    ``non_finite_value`` (``inf``); ``out_of_range`` (outside the metric's physical bounds,
    after unit conversion); ``nonexistent_local_time`` / ``ambiguous_local_time`` (day layouts,
    per point); ``interval_unknown`` (end labels of a series with one reading);
    ``duplicate_conflict`` (same asset, metric and time with another value in the file)

Missing values - an empty cell, ``NaN``, ``NA``, ``N/A``, ``null``, ``None``, ``-``, ``--`` - are
neither loaded nor rejected: a meter that reported nothing for an interval is a gap, which the
detectors find from the expected intervals, not a row to fix. They are counted (``missing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from griddiag.ingest.layouts import Layout, resolve_metric
from griddiag.ingest.readers import LINE
from griddiag.ingest.times import (
    AMBIGUOUS,
    NONEXISTENT,
    TS_MAX,
    TS_MIN,
    check_zone,
    parse_datetimes,
    wall_to_utc,
)
from griddiag.schema import METRICS, TS_DTYPE
from griddiag.storage.base import split_batch_conflicts

__all__ = ["MISSING_TOKENS", "Context", "Outcome", "dedupe", "finish_pending", "parse_values",
           "process_chunk"]

MISSING_TOKENS = ("", "nan", "na", "n/a", "#n/a", "null", "none", "nil", "-", "--")

REJECTS_SCHEMA = {LINE: pl.Int64, "field": pl.String, "code": pl.String, "reason": pl.String,
                  "n": pl.Int64}
READINGS_OUT = {"asset_id": pl.String, "ts": TS_DTYPE, "metric": pl.String,
                "value": pl.Float64, "source_line": pl.Int64, "source_column": pl.Int32}

_WALL, _AWARE, _COL, _VALUE, _MRAW, _URAW, _FACTOR = (
    "__wall", "__aware", "__col", "__value", "__metric_raw", "__unit_raw", "__factor")


@dataclass
class Context:
    """What the checks need besides the rows: options and the asset registry."""

    tz: str | None = None
    ambiguous: str = "raise"
    interval_minutes: int | None = None
    strict: bool = False
    known_assets: pl.Series = field(default_factory=lambda: pl.Series([], dtype=pl.String))
    asset_zones: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"asset_id": pl.String, "tz": pl.String}))
    # per file: inferred intervals of end-labelled series (asset_id, metric, __interval)
    intervals: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"asset_id": pl.String, "metric": pl.String, "__interval": pl.Duration("us")}))


@dataclass
class Outcome:
    readings: pl.DataFrame
    rejects: pl.DataFrame
    read: int = 0
    missing: int = 0
    # end-labelled readings whose series interval is not known yet (carried to the next chunk)
    pending: pl.DataFrame | None = None


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTS_SCHEMA)


def _rejects(lines: pl.Series, field_: str | list[str | None] | None, code: str,
             reasons: list[str] | str, n: int | pl.Series = 1) -> pl.DataFrame:
    k = len(lines)
    return pl.DataFrame({
        LINE: lines.cast(pl.Int64),
        "field": field_ if isinstance(field_, list) else [field_] * k,
        "code": [code] * k,
        "reason": reasons if isinstance(reasons, list) else [reasons] * k,
        "n": n if isinstance(n, pl.Series) else [n] * k,
    }, schema=REJECTS_SCHEMA)


def _show(x: object) -> str:
    text = repr(x) if isinstance(x, str) else str(x)
    return text if len(text) <= 60 else text[:57] + "..."


# -- line level ----------------------------------------------------------------------------------


def _check_assets(f: pl.DataFrame, col: str, ctx: Context, k: int,
                  out: list[pl.DataFrame]) -> pl.DataFrame:
    s = f[col]
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    uniq = s.unique()
    if (uniq.str.strip_chars() != uniq).any():
        s = s.str.strip_chars()
    f = f.with_columns(s.alias("asset_id"))
    bad = f["asset_id"].is_null() | (f["asset_id"] == "")
    if bad.any():
        out.append(_rejects(f[LINE].filter(bad), col, "empty_asset_id", "empty asset id", k))
        f = f.filter(~bad)
    if ctx.strict and f.height:
        unknown = ~f["asset_id"].is_in(ctx.known_assets.implode())
        if unknown.any():
            sub = f.filter(unknown)
            out.append(_rejects(
                sub[LINE], col, "unknown_asset",
                [f"asset {_show(a)} is not in the asset registry (strict mode); add it to the "
                 "assets file" for a in sub["asset_id"].to_list()], k))
            f = f.filter(~unknown)
    return f


def _check_times(f: pl.DataFrame, col: str, k: int, out: list[pl.DataFrame],
                 *, code: str = "bad_timestamp", what: str = "timestamp") -> pl.DataFrame:
    wall, aware = parse_datetimes(f[col])
    f = f.with_columns(wall.alias(_WALL), aware.alias(_AWARE))
    bad = f[_WALL].is_null()
    if bad.any():
        sub = f.filter(bad)
        out.append(_rejects(sub[LINE], col, code,
                            [f"unparsable {what} {_show(v)}" for v in sub[col].to_list()], k))
        f = f.filter(~bad)
    return _check_range(f, k, out, default=col)


def _field_for(sub: pl.DataFrame, layout: Layout | None,
               default: str | None) -> str | list[str | None] | None:
    """Field name(s) of rejected rows: the value column of each reading, else ``default``."""
    if layout is not None and _COL in sub.columns and layout.values:
        return _field_names(layout, sub[_COL], default)
    return default


def _check_range(f: pl.DataFrame, k: int, out: list[pl.DataFrame], *,
                 layout: Layout | None = None, default: str | None = None) -> pl.DataFrame:
    w = f[_WALL]
    bad = (w < TS_MIN) | (w >= TS_MAX)
    if bad.any():
        sub = f.filter(bad)
        out.append(_rejects(
            sub[LINE], _field_for(sub, layout, default), "timestamp_out_of_range",
            [f"time {w} is outside {TS_MIN.year}..{TS_MAX.year - 1}"
             for w in sub[_WALL].to_list()], k))
        f = f.filter(~bad)
    return f


def _zones(f: pl.DataFrame, ctx: Context) -> pl.Series | str:
    """The zone of each naive wall time: ``tz=``, else the asset's tz, else UTC."""
    if ctx.tz:
        return ctx.tz
    if ctx.asset_zones.height == 0:
        return "UTC"
    z = f.select("asset_id").join(ctx.asset_zones, on="asset_id", how="left",
                                  maintain_order="left")["tz"].fill_null("UTC")
    return z[0] if z.n_unique() == 1 else z


def _place(f: pl.DataFrame, ctx: Context, k: int, out: list[pl.DataFrame], *,
           layout: Layout | None = None, default: str | None = None) -> pl.DataFrame:
    """Wall times to UTC ``ts``; rejects local times in DST gaps/overlaps."""
    if f.height == 0:
        return f.with_columns(pl.lit(None, TS_DTYPE).alias("ts"))
    aware = f[_AWARE]
    zones = _zones(f, ctx)
    if isinstance(zones, str) and (zones == "UTC" or aware.all()):
        return f.with_columns(pl.col(_WALL).dt.replace_time_zone("UTC").alias("ts"))
    f = f.with_row_index("__i")
    zone_col = (pl.lit(zones) if isinstance(zones, str) else pl.Series(zones)).alias("__zone")
    f = f.with_columns(pl.when(pl.col(_AWARE)).then(pl.lit("UTC")).otherwise(zone_col)
                       .alias("__zone"))
    parts = []
    for (zone,), part in f.partition_by("__zone", as_dict=True).items():
        assert isinstance(zone, str)
        if not check_zone(zone):
            out.append(_rejects(part[LINE], _field_for(part, layout, default), "bad_zone",
                                f"the asset's tz {zone!r} is not a time zone name", k))
            continue
        ts, status = wall_to_utc(part[_WALL], zone, ctx.ambiguous)
        part = part.with_columns(ts.alias("ts"), status.alias("__status"))
        for code, st, text in (
            ("nonexistent_local_time", NONEXISTENT, "does not exist in {z} (DST gap)"),
            ("ambiguous_local_time", AMBIGUOUS,
             "occurs twice in {z} (DST overlap); pass ambiguous='earliest' or 'latest'"),
        ):
            bad = part.filter(pl.col("__status") == st)
            if bad.height:
                out.append(_rejects(
                    bad[LINE], _field_for(bad, layout, default), code,
                    [f"local time {w} " + text.format(z=zone) for w in bad[_WALL].to_list()],
                    k))
        parts.append(part.filter(pl.col("__status") == 0).drop("__status"))
    if not parts:
        return f.clear().with_columns(pl.lit(None, TS_DTYPE).alias("ts")).drop("__i", "__zone")
    return pl.concat(parts).sort("__i").drop("__i", "__zone")


# -- cells ---------------------------------------------------------------------------------------


def _cells(f: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """One row per reading: asset_id, __line, __col, __value, and the time (``ts`` for long and
    wide, ``__wall``/``__aware`` for day layouts) and metric (``metric``+``__factor`` or raw)."""
    if layout.format == "long":
        cols = [pl.col("asset_id"), pl.col(LINE), pl.col("ts"), pl.lit(-1, pl.Int32).alias(_COL),
                pl.col(layout.value).alias(_VALUE),  # type: ignore[arg-type]
                pl.col(layout.metric).alias(_MRAW)]  # type: ignore[arg-type]
        if layout.unit:
            cols.append(pl.col(layout.unit).alias(_URAW))
        return f.select(cols)
    names = [v.name for v in layout.values]
    schema = f.schema
    vtype = pl.Float64 if all(schema[n].is_numeric() for n in names) else pl.String
    index = ["asset_id", LINE]
    index += {"wide": ["ts"], "day-wide": ["__day"]}.get(layout.format, [])
    extra = [c for c in (layout.metric, layout.unit) if c and layout.format != "long"]
    index += [c for c in extra if c not in index]
    cells = f.select(*index, *[pl.col(n).cast(vtype) for n in names]).unpivot(
        on=names, index=index, variable_name="__name", value_name=_VALUE)
    col = cells["__name"].cast(pl.Enum(names)).to_physical().cast(pl.Int32)
    cells = cells.drop("__name").with_columns(col.alias(_COL))
    if layout.format == "wide":
        cells = cells.with_columns(
            pl.Series([v.metric for v in layout.values], dtype=pl.String).gather(col)
            .alias("metric"),
            pl.Series([v.factor for v in layout.values], dtype=pl.Float64).gather(col)
            .alias(_FACTOR))
        return cells
    if layout.format == "day-wide":
        offsets = pl.Series([timedelta(minutes=v.minutes or 0) for v in layout.values],
                            dtype=pl.Duration("us")).gather(col)
        cells = cells.with_columns((pl.col("__day") + offsets).alias(_WALL)).drop("__day")
    else:
        cells = cells.with_columns(
            pl.Series([v.day for v in layout.values], dtype=pl.Datetime("us")).gather(col)
            .alias(_WALL))
    cells = cells.with_columns(pl.lit(False).alias(_AWARE))
    if layout.metric:
        renames = {layout.metric: _MRAW}
        if layout.unit:
            renames[layout.unit] = _URAW
        return cells.rename(renames)
    return cells.with_columns(pl.lit(layout.fixed_metric, pl.String).alias("metric"),
                              pl.lit(layout.fixed_factor, pl.Float64).alias(_FACTOR))


def _field_names(layout: Layout, cols: pl.Series, default: str | None) -> list[str | None]:
    names = [v.name for v in layout.values]
    return [names[c] if c >= 0 else default for c in cols.to_list()]


def _resolve_metrics(c: pl.DataFrame, layout: Layout, out: list[pl.DataFrame]) -> pl.DataFrame:
    if _MRAW not in c.columns:
        return c
    keys = [_MRAW] + ([_URAW] if _URAW in c.columns else [])
    c = c.with_columns(pl.col(k).cast(pl.String) for k in keys)
    first = c.row(0, named=True) if c.height else None
    if first is not None and all((c[k] == first[k]).all() for k in keys):
        pairs = pl.DataFrame({k: [first[k]] for k in keys}, schema={k: pl.String for k in keys})
    else:
        pairs = c.select(keys).unique()
    resolved = [resolve_metric(m or "", u) if m else None
                for m, u in zip(pairs[_MRAW].to_list(),
                                pairs[_URAW].to_list() if _URAW in keys else [None] * pairs.height,
                                strict=True)]
    pairs = pairs.with_columns(
        pl.Series("metric", [r[0] if r else None for r in resolved], dtype=pl.String),
        pl.Series(_FACTOR, [r[1] if r else None for r in resolved], dtype=pl.Float64),
    )
    if pairs.height == 1:
        c = c.with_columns(pl.lit(pairs["metric"][0], pl.String).alias("metric"),
                           pl.lit(pairs[_FACTOR][0], pl.Float64).alias(_FACTOR))
    elif keys == [_MRAW] and pairs[_MRAW].null_count() == 0:
        # few distinct names: an Enum cast gives each row its name's position in one pass
        names = pairs[_MRAW]
        code = c[_MRAW].cast(pl.Enum(names.to_list())).to_physical()
        c = c.with_columns(pairs["metric"].gather(code).alias("metric"),
                           pairs[_FACTOR].gather(code).alias(_FACTOR))
    else:
        c = c.join(pairs, on=keys, how="left", nulls_equal=True, maintain_order="left")
    bad = c["metric"].is_null()
    if bad.any():
        sub = c.filter(bad)
        units = sub[_URAW].to_list() if _URAW in keys else [None] * sub.height
        out.append(_rejects(
            sub[LINE], layout.metric, "unknown_metric",
            [f"unknown metric {_show(m)}" + (f" in unit {_show(u)}" if u else "")
             for m, u in zip(sub[_MRAW].to_list(), units, strict=True)]))
        c = c.filter(~bad)
    return c.drop(keys)


_OK, _MISSING, _NON_NUMERIC, _NON_FINITE = 0, 1, 2, 3


def parse_values(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``(value, status)``: float64 values and per value OK / missing / non-numeric /
    non-finite. Only values that do not parse as they stand go through the slower checks."""
    n = len(raw)
    if raw.dtype.is_numeric():
        v = raw.cast(pl.Float64)
        if v.null_count() == 0 and v.is_finite().all():
            return v, pl.repeat(_OK, n, eager=True, dtype=pl.Int8)
        status = pl.select(
            pl.when(v.is_null() | v.is_nan()).then(_MISSING)
            .when(v.is_infinite()).then(_NON_FINITE).otherwise(_OK).cast(pl.Int8)
        ).to_series()
        return v, status
    s = raw if raw.dtype == pl.String else raw.cast(pl.String)
    v = s.cast(pl.Float64, strict=False)
    status = pl.repeat(_OK, n, eager=True, dtype=pl.Int8)
    failed = v.is_null()
    if failed.any():
        idx = failed.arg_true()
        text = s.gather(idx).str.strip_chars()
        retry = text.cast(pl.Float64, strict=False)
        missing = text.is_null() | text.str.to_lowercase().is_in(pl.Series(MISSING_TOKENS)
                                                                 .implode())
        st = pl.select(pl.when(missing).then(_MISSING).when(retry.is_null()).then(_NON_NUMERIC)
                       .otherwise(_OK).cast(pl.Int8)).to_series()
        v = v.scatter(idx, retry)
        status = status.scatter(idx, st)
    special = ~v.is_finite()
    if special.fill_null(False).any():
        status = pl.select(
            pl.when(v.is_nan()).then(_MISSING)
            .when(v.is_infinite()).then(_NON_FINITE)
            .otherwise(pl.lit(status)).cast(pl.Int8)
        ).to_series()
    return v, status


def scale_decimal(value: pl.Expr, factor: pl.Expr) -> pl.Expr:
    """``value * factor`` for a power-of-ten ``factor``, computed in decimal.

    A source value is a decimal (``0.23051`` kV); its float is the double nearest it. Scaling
    that float in binary misses the double nearest the scaled decimal (``230.51`` V) for about
    one value in four. Shifting the exponent of the float's shortest round-trip text (which is
    the source's decimal) and parsing again lands on it exactly.
    """
    exp10 = factor.log10().round()
    is_pow10 = (pl.lit(10.0).pow(exp10) == factor)
    text = value.cast(pl.String)
    mantissa = text.str.replace(r"e.*$", "")
    exponent = text.str.extract(r"e([-+]?\d+)$").cast(pl.Int64).fill_null(0) \
        + exp10.cast(pl.Int64)
    shifted = pl.concat_str([mantissa, pl.lit("e"), exponent.cast(pl.String)]) \
        .cast(pl.Float64, strict=False)
    return pl.when(factor == 1.0).then(value) \
        .when(is_pow10 & value.is_finite()).then(shifted) \
        .otherwise(value * factor)


def _check_values(c: pl.DataFrame, layout: Layout, default_field: str | None,
                  out: list[pl.DataFrame]) -> tuple[pl.DataFrame, int]:
    v, status = parse_values(c[_VALUE])
    if (status == _OK).all():
        c = c.with_columns(v.alias("value")).drop(_VALUE)
        missing = 0
    else:
        c = c.with_columns(v.alias("value"), status.alias("__status"))
        missing = int((status == _MISSING).sum())
        for code, st, word in (("non_numeric_value", _NON_NUMERIC, "non-numeric"),
                               ("non_finite_value", _NON_FINITE, "non-finite")):
            bad = c.filter(pl.col("__status") == st)
            if bad.height:
                out.append(_rejects(
                    bad[LINE], _field_names(layout, bad[_COL], default_field), code,
                    [f"{word} value {_show(x)}" for x in bad[_VALUE].to_list()]))
        c = c.filter(pl.col("__status") == _OK).drop("__status", _VALUE)
    factors = c[_FACTOR]
    if c.height and not (factors == 1.0).all():
        c = c.with_columns(scale_decimal(pl.col("value"), pl.col(_FACTOR)).alias("value"))
    if c.height == 0:
        return c.drop(_FACTOR), missing
    # physical bounds of each metric, in canonical units
    metrics = c["metric"].unique().to_list()
    if len(metrics) == 1:
        m = METRICS[metrics[0]]
        bad = (c["value"] < m.low) | (c["value"] > m.high)
    else:
        code = c["metric"].cast(pl.Enum(metrics)).to_physical()
        lo = pl.Series([METRICS[k].low for k in metrics], dtype=pl.Float64).gather(code)
        hi = pl.Series([METRICS[k].high for k in metrics], dtype=pl.Float64).gather(code)
        bad = (c["value"] < lo) | (c["value"] > hi)
    if bad.any():
        sub = c.filter(bad)
        reasons = []
        for metric, x in zip(sub["metric"].to_list(), sub["value"].to_list(), strict=True):
            m = METRICS[metric]
            reasons.append(f"value {x:g} {m.unit} is outside the physical range "
                           f"[{m.low:g}, {m.high:g}] of {metric}")
        out.append(_rejects(sub[LINE], _field_names(layout, sub[_COL], default_field),
                            "out_of_range", reasons))
        c = c.filter(~bad)
    return c.drop(_FACTOR), missing


# -- end labels ----------------------------------------------------------------------------------


def _infer_intervals(r: pl.DataFrame, known: pl.DataFrame) -> pl.DataFrame:
    """Most common step between consecutive distinct times of each (asset, metric) series in
    ``r``, falling back on ``known`` (earlier chunks) for series with one time here."""
    g = r.select("asset_id", "metric", "ts").unique().sort("asset_id", "metric", "ts")
    d = g.with_columns(pl.col("ts").diff().over("asset_id", "metric").alias("__d")) \
        .filter(pl.col("__d") > timedelta(0))
    modes = (d.group_by("asset_id", "metric", "__d").len()
             .sort(["len", "__d"], descending=[True, False])
             .group_by("asset_id", "metric", maintain_order=True).first()
             .select("asset_id", "metric", pl.col("__d").alias("__interval")))
    return pl.concat([known, modes]).unique(subset=["asset_id", "metric"], keep="last",
                                            maintain_order=True)


def _shift_end_labels(c: pl.DataFrame, ctx: Context) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Interval starts of end-labelled readings; returns ``(shifted, waiting)`` where
    ``waiting`` are readings of series whose interval is not known yet."""
    if ctx.interval_minutes:
        return c.with_columns(pl.col("ts") - timedelta(minutes=ctx.interval_minutes)), c.clear()
    ctx.intervals = _infer_intervals(c, ctx.intervals)
    c = c.join(ctx.intervals, on=["asset_id", "metric"], how="left", maintain_order="left")
    waiting = c.filter(pl.col("__interval").is_null()).drop("__interval")
    c = c.filter(pl.col("__interval").is_not_null()) \
        .with_columns(pl.col("ts") - pl.col("__interval")).drop("__interval")
    return c, waiting


# -- duplicates ----------------------------------------------------------------------------------


def _unique_by_blocks(r: pl.DataFrame) -> bool:
    """Whether no key repeats, proven cheaply for the usual export orders.

    Rows of one (asset, metric) series usually come as a block in time order (whatever order
    the blocks are in). If time strictly increases inside every block and no series has two
    blocks, no key can repeat. Only neighbouring rows and the few block starts are compared;
    a file in time-major order (short blocks) gets ``False`` and the hash check instead."""
    if r.height < 2:
        return True
    a, m, t = r["asset_id"], r["metric"], r["ts"]
    same = ((a == a.shift(1)) & (m == m.shift(1))).fill_null(False)
    if not (~same | (t > t.shift(1)).fill_null(False)).all():
        return False  # a series goes back in time (or repeats one)
    starts = r.filter(~same).select("asset_id", "metric")
    if starts.height > max(r.height // 8, 1000):
        return False  # short blocks: hashing every key is cheaper than this
    return not starts.is_duplicated().any()


def dedupe(r: pl.DataFrame, layout: Layout) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Resolve readings repeating a key within a batch: ``(unique, rejects, n_duplicate)``.

    Same value -> a duplicate (counted, loaded once); a different value -> every occurrence
    rejected (``duplicate_conflict``), naming the other lines. A batch in series blocks (the
    usual export order) is checked in one pass; otherwise a 64-bit hash of the key finds
    whether any key repeats before the exact (slower) resolution runs.
    """
    out: list[pl.DataFrame] = []
    if r.height == 0 or _unique_by_blocks(r):
        return r, empty_rejects(), 0
    h = r.select((pl.col("asset_id").hash(1) ^ pl.col("metric").hash(2)
                  ^ pl.col("ts").hash(3)).alias("h"))["h"]
    if h.n_unique() == r.height:
        return r, empty_rejects(), 0
    unique, conflicting, n_dup = split_batch_conflicts(r)
    if conflicting.height:
        groups: dict[tuple[object, ...], list[tuple[int, float]]] = {}
        rows = conflicting.select("asset_id", "metric", "ts", "source_line", "value").rows()
        for a, m, t, line, val in rows:
            groups.setdefault((a, m, t), []).append((line, val))
        reasons = []
        for a, m, t, line, _ in rows:
            others = [f"line {ln} has {v:g}" for ln, v in groups[(a, m, t)] if ln != line][:5]
            reasons.append(f"same asset, metric and time ({t:%Y-%m-%d %H:%M} UTC) as another "
                           f"row with a different value: {'; '.join(others)}")
        out.append(_rejects(conflicting["source_line"],
                            _field_names(layout, conflicting["source_column"], layout.value),
                            "duplicate_conflict", reasons))
    return unique, pl.concat(out) if out else empty_rejects(), n_dup


# -- the chunk -----------------------------------------------------------------------------------


def process_chunk(frame: pl.DataFrame, read_rejects: pl.DataFrame, layout: Layout,
                  ctx: Context, *, pending: pl.DataFrame | None = None) -> Outcome:
    """Check one chunk of source rows (``frame`` with ``__line``) against ``layout``.

    ``read_rejects`` are the lines the reader could not split; ``pending`` are end-labelled
    readings carried over from the previous chunk.
    """
    k = layout.readings_per_line
    out: list[pl.DataFrame] = []
    if read_rejects.height:
        out.append(read_rejects.with_columns(pl.lit(k, pl.Int64).alias("n"))
                   .select(REJECTS_SCHEMA.keys()))
    read = (frame.height + read_rejects.height) * k
    f = _check_assets(frame, layout.asset_id, ctx, k, out)
    if layout.format in ("long", "wide"):
        f = _check_times(f, layout.ts, k, out)  # type: ignore[arg-type]
        f = _place(f, ctx, k, out, default=layout.ts)
    elif layout.format == "day-wide":
        f = _check_times(f, layout.date, k, out, code="bad_date",  # type: ignore[arg-type]
                         what="date")
        midnight = f[_WALL].dt.truncate("1d") == f[_WALL]
        if not midnight.all():
            sub = f.filter(~midnight)
            out.append(_rejects(sub[LINE], layout.date, "bad_date",
                                [f"date {_show(x)} has a time of day"
                                 for x in sub[layout.date].to_list()], k))  # type: ignore[index]
            f = f.filter(midnight)
        f = f.with_columns(pl.col(_WALL).alias("__day"))
    cells = _cells(f, layout) if f.height else pl.DataFrame()
    missing = 0
    readings = pl.DataFrame(schema=READINGS_OUT)
    if cells.height:
        cells = _resolve_metrics(cells, layout, out)
        cells, missing = _check_values(cells, layout, layout.value, out)
        if layout.format in ("day-wide", "day-columns"):
            cells = _check_range(cells, 1, out, layout=layout)
            cells = _place(cells, ctx, 1, out, layout=layout)
        readings = cells.select(
            "asset_id", "ts", "metric", "value", pl.col(LINE).alias("source_line"),
            pl.col(_COL).alias("source_column"))
    waiting = None
    if layout.end_labels and layout.format in ("long", "wide"):
        if pending is not None and pending.height:
            readings = pl.concat([pending.select(READINGS_OUT.keys()), readings])
        readings, waiting = _shift_end_labels(readings, ctx)
    elif pending is not None and pending.height:
        readings = pl.concat([pending.select(READINGS_OUT.keys()), readings])
    rejects = pl.concat(out) if out else empty_rejects()
    return Outcome(readings, rejects, read=read, missing=missing, pending=waiting)


def finish_pending(pending: pl.DataFrame | None, layout: Layout) -> pl.DataFrame:
    """Rejections for end-labelled readings still waiting for an interval at end of file."""
    if pending is None or pending.height == 0:
        return empty_rejects()
    return _rejects(
        pending["source_line"], _field_names(layout, pending["source_column"], layout.value),
        "interval_unknown",
        "cannot convert this end label: its series has a single reading in the file, so its "
        "interval is unknown; pass interval= (e.g. '15m')")
