"""``ingest``: files or frames into a store, bad rows into quarantine, counts into a report.

Every source is opened and its layout recognised *before* anything is written, so a file that
cannot be read at all (missing, empty, binary, truncated Parquet, unknown layout) stops the run
with one ``InputError`` and loads nothing. Then each source is read in chunks; each chunk is
checked (``validate``), written with one ``Store.write`` (idempotent: a re-run, or a run after
one killed half-way, ends in the same store), and its rejected rows appended to the quarantine.
A batch is written in a background thread while the next one is read and checked.

Counts are in readings (one value of one metric at one time): for the long layout a line is a
reading, for the others a line holds several. For every run
``rows_read == rows_loaded + rows_replaced + rows_duplicate + rows_rejected + rows_missing``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from griddiag.exceptions import ConfigError, InputError
from griddiag.ingest.layouts import Layout, detect_layout, normalise_format
from griddiag.ingest.quarantine import Quarantine
from griddiag.ingest.readers import (
    DEFAULT_CHUNK_BYTES,
    LINE,
    Source,
    open_source,
    read_table_file,
)
from griddiag.ingest.times import check_zone
from griddiag.ingest.validate import Context, dedupe, finish_pending, process_chunk
from griddiag.schema import normalize_assets
from griddiag.storage.base import Store, WriteResult, check_on_conflict

__all__ = ["FileReport", "IngestReport", "ingest", "load_assets", "read_source"]

SourceLike = str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame
# Readings per Store.write: a few chunks (Parquet partitions are rewritten once per write)
DEFAULT_BATCH_ROWS = 4_000_000
_ASSET_ALIASES = ("asset", "meter", "meter_id", "cons_no", "户号", "表号", "资产编号")


@dataclass
class FileReport:
    """Counts for one source (readings; see the module docstring)."""

    source: str
    format: str = ""
    encoding: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    rows_missing: int = 0
    rows_replaced: int = 0
    lines_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    columns_ignored: tuple[str, ...] = ()


@dataclass
class IngestReport:
    """What ``ingest`` did.

    ``rows_read == rows_loaded + rows_replaced + rows_duplicate + rows_rejected + rows_missing``:
    loaded are new readings, replaced ones that corrected a stored value
    (``on_conflict="replace"``), duplicate ones already stored with the same value or repeated
    in the file, rejected ones quarantined (``reasons`` counts them by code), missing ones
    empty or ``NaN`` in the source (not stored). ``quarantine_path`` is the quarantine file
    written (the first, when sources sit in several folders; all in ``quarantine_paths``), or
    ``None`` when nothing was rejected.
    """

    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    rows_missing: int = 0
    rows_replaced: int = 0
    quarantine_path: Path | None = None
    quarantine_paths: list[Path] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    files: list[FileReport] = field(default_factory=list)
    assets_new: int = 0
    seconds: float = 0.0

    @property
    def points_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line for the CLI."""
        parts = [f"read {self.rows_read:,}", f"loaded {self.rows_loaded:,}",
                 f"duplicate {self.rows_duplicate:,}", f"rejected {self.rows_rejected:,}"]
        if self.rows_missing:
            parts.append(f"missing {self.rows_missing:,}")
        if self.rows_replaced:
            parts.append(f"replaced {self.rows_replaced:,}")
        text = ", ".join(parts) + f" readings in {self.seconds:.1f} s"
        if self.quarantine_path is not None:
            text += f"; quarantine: {self.quarantine_path}"
        return text

    def _add(self, f: FileReport) -> None:
        self.files.append(f)
        for name in ("rows_read", "rows_loaded", "rows_duplicate", "rows_rejected",
                     "rows_missing", "rows_replaced"):
            setattr(self, name, getattr(self, name) + getattr(f, name))
        for code, n in f.reasons.items():
            self.reasons[code] = self.reasons.get(code, 0) + n


# -- options -------------------------------------------------------------------------------------

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*(s|sec|secs?|m|min|mins?|h|hr|hours?|d|days?)\s*$", re.I)


def _interval_minutes(interval: str | int | timedelta | None) -> int | None:
    if interval is None:
        return None
    if isinstance(interval, timedelta):
        minutes = interval.total_seconds() / 60
    elif isinstance(interval, int):
        minutes = interval
    else:
        m = _INTERVAL_RE.match(str(interval))
        if not m:
            raise ConfigError(f"interval {interval!r} is not understood; write e.g. '15m', '1h', "
                              "'1d' or pass a timedelta")
        n, unit = int(m.group(1)), m.group(2).lower()[0]
        minutes = n * {"s": 1 / 60, "m": 1, "h": 60, "d": 1440}[unit]
    if minutes <= 0 or minutes != int(minutes):
        raise ConfigError(f"interval must be a positive whole number of minutes, got {interval!r}")
    return int(minutes)


def _check_options(format: str, tz: str | None, interval_label: str | None,
                   ambiguous: str, columns: Mapping[str, str] | None) -> None:
    normalise_format(format)
    if tz is not None and not check_zone(tz):
        raise ConfigError(f"tz {tz!r} is not a time zone name; use an IANA name such as "
                          "'Asia/Shanghai' or 'Europe/Berlin'")
    if interval_label not in (None, "start", "end"):
        raise ConfigError(f"interval_label must be 'start' or 'end', got {interval_label!r}")
    if ambiguous not in ("raise", "earliest", "latest"):
        raise ConfigError(
            f"ambiguous must be 'raise' (quarantine repeated local times), 'earliest' or "
            f"'latest', got {ambiguous!r}")
    if columns is not None and not isinstance(columns, Mapping):
        raise ConfigError("columns must be a mapping of source column names to roles")


def load_assets(assets: str | os.PathLike[str] | pl.DataFrame) -> pl.DataFrame:
    """An assets registry file (CSV or Parquet) or frame, as ``ASSETS_SCHEMA``."""
    path = None if isinstance(assets, pl.DataFrame) else str(assets)
    frame = assets if isinstance(assets, pl.DataFrame) else read_table_file(assets)
    if "asset_id" not in frame.columns:
        for c in frame.columns:
            if c.strip().lower() in _ASSET_ALIASES:
                frame = frame.rename({c: "asset_id"})
                break
    try:
        return normalize_assets(frame)
    except ConfigError as exc:
        if path is None:
            raise
        raise InputError(f"assets file: {exc}", path=path) from exc


def _context(registry: pl.DataFrame, *, tz: str | None, ambiguous: str,
             interval_minutes: int | None, strict: bool) -> Context:
    zones = registry.select("asset_id", "tz").filter(pl.col("tz").is_not_null()) \
        if "tz" in registry.columns else None
    ctx = Context(tz=tz, ambiguous=ambiguous, interval_minutes=interval_minutes, strict=strict,
                  known_assets=registry["asset_id"].cast(pl.String))
    if zones is not None:
        ctx.asset_zones = zones.with_columns(pl.col("asset_id").cast(pl.String),
                                             pl.col("tz").cast(pl.String))
    return ctx


def _as_sources(source: SourceLike | Sequence[SourceLike]) -> list[SourceLike]:
    if isinstance(source, str | os.PathLike | pl.DataFrame | pl.LazyFrame):
        return [source]
    items = list(source)
    if not items:
        raise ConfigError("no source given")
    return items


# -- the run -------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    source: Source
    layout: Layout


def _prepare(source: SourceLike | Sequence[SourceLike], *, format: str,
             columns: Mapping[str, str] | None, metric: str | None, interval_label: str | None,
             encoding: str | None, chunk_bytes: int) -> list[_Prepared]:
    out = []
    for item in _as_sources(source):
        src = open_source(item, encoding=encoding, chunk_bytes=chunk_bytes)
        layout = detect_layout(src.columns, format=format, mapping=columns, metric=metric,
                               interval_label=interval_label, path=src.name)
        out.append(_Prepared(src, layout))
    return out


@dataclass
class _Batch:
    """Checked readings of one or more chunks, ready for one ``Store.write``."""

    readings: pl.DataFrame  # key-unique within the batch
    rejects: pl.DataFrame  # validation and in-file duplicate rejections (with ``n``)
    raw: Callable[[Sequence[int]], list[str]]
    read: int = 0
    missing: int = 0
    duplicate: int = 0
    nbytes: int = 0


def _router(ranges: list[tuple[int, int, Callable[[Sequence[int]], list[str]]]],
            carried: dict[int, str]) -> Callable[[Sequence[int]], list[str]]:
    """Raw text of line numbers spread over several chunks (and carried-over lines)."""

    def raw(lines: Sequence[int]) -> list[str]:
        found: dict[int, str] = {}
        todo = [ln for ln in lines if ln not in carried]
        for first, last, fn in ranges:
            sel = [ln for ln in todo if first <= ln <= last]
            if sel:
                found.update(zip(sel, fn(sel), strict=True))
        return [carried.get(ln, found.get(ln, "")) for ln in lines]

    return raw


def _batches(prep: _Prepared, ctx: Context, batch_rows: int,
             on_chunk: Callable[[int], None] | None = None) -> Iterable[_Batch]:
    """Check a source chunk by chunk; yield batches of about ``batch_rows`` readings.

    Writing several chunks at once costs a store less than writing each (a Parquet partition
    is rewritten once per write); repeated keys are resolved over the whole batch.
    """
    ctx = replace(ctx, intervals=ctx.intervals.clear())
    layout = prep.layout
    numeric = [v.name for v in layout.values] or ([layout.value] if layout.value else [])
    pending: pl.DataFrame | None = None
    carried: dict[int, str] = {}
    readings: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    ranges: list[tuple[int, int, Callable[[Sequence[int]], list[str]]]] = []
    counts = {"read": 0, "missing": 0, "nbytes": 0, "rows": 0}

    def flush() -> _Batch:
        nonlocal readings, rejects, ranges, carried
        batch_readings = pl.concat(readings) if readings else pl.DataFrame()
        unique, dup_rejects, n_dup = dedupe(batch_readings, layout)
        batch = _Batch(unique, pl.concat([*rejects, dup_rejects]),
                       _router(ranges, dict(carried)), read=counts["read"],
                       missing=counts["missing"], duplicate=n_dup, nbytes=counts["nbytes"])
        readings, rejects, ranges = [], [], []
        waiting = set(pending["source_line"].to_list()) if pending is not None else set()
        carried = {ln: t for ln, t in carried.items() if ln in waiting}
        counts.update(read=0, missing=0, nbytes=0, rows=0)
        return batch

    for chunk in prep.source.chunks(layout.source_columns(), numeric=numeric):
        outcome = process_chunk(chunk.frame, chunk.rejects, layout, ctx, pending=pending)
        ranges.append((chunk.first_line, chunk.last_line, chunk.raw))
        if outcome.readings.height:
            readings.append(outcome.readings)
        if outcome.rejects.height:
            rejects.append(outcome.rejects)
        counts["read"] += outcome.read
        counts["missing"] += outcome.missing
        counts["nbytes"] += chunk.nbytes
        counts["rows"] += outcome.readings.height
        if on_chunk is not None and chunk.nbytes:
            on_chunk(chunk.nbytes)
        pending = outcome.pending
        if pending is not None and pending.height:
            lines = [ln for ln in pending["source_line"].unique().to_list() if ln not in carried]
            carried.update(zip(lines, _router(ranges, carried)(lines), strict=True))
        if counts["rows"] >= batch_rows:
            yield flush()
    final = finish_pending(pending, layout)
    if final.height:
        rejects.append(final)
    pending = None
    if readings or rejects or counts["read"] or counts["nbytes"]:
        yield flush()


def _progress_bar(progress: bool | None, total: int) -> Any:  # tqdm, imported only if shown
    show = progress if progress is not None else (sys.stderr.isatty() and total > 0)
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="ingest",
                file=sys.stderr, leave=False)


def _quarantine_dir(src: Source, quarantine_dir: str | os.PathLike[str] | None) -> Path:
    if quarantine_dir is not None:
        return Path(quarantine_dir)
    if src.path is not None:
        return src.path.with_name(src.path.name + ".quarantine")
    return Path.cwd() / "griddiag-quarantine"


def ingest(
    store: Store | str | os.PathLike[str],
    source: SourceLike | Sequence[SourceLike],
    *,
    format: str = "auto",
    tz: str | None = None,
    interval_label: str | None = None,
    interval: str | int | timedelta | None = None,
    ambiguous: str = "raise",
    on_conflict: str = "reject",
    strict: bool = False,
    assets: str | os.PathLike[str] | pl.DataFrame | None = None,
    columns: Mapping[str, str] | None = None,
    metric: str | None = None,
    encoding: str | None = None,
    quarantine_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> IngestReport:
    """Load readings from files or frames into a store; quarantine the rows that cannot be.

    Parameters
    ----------
    store
        A ``Store``, or a store URL for ``open_store`` (opened and closed here).
    source
        A path (CSV or Parquet, told apart by content), a polars frame, or a list of them.
    format
        ``"auto"`` (from the header), ``"long"``, ``"wide"``, ``"day-wide"`` or
        ``"day-columns"``; see ``griddiag.ingest.layouts``.
    tz
        Zone of naive local times (IANA name). Default: each asset's ``tz`` attribute, else UTC.
        Times with an offset (``+08:00``, ``Z``) and epoch numbers are absolute and ignore it.
    interval_label
        ``"end"`` when timestamps label the end of their interval (they are moved to the start);
        default ``"start"``, except day curves whose columns run to ``24:00``, which are ends.
    interval
        Interval of end-labelled series (``"15m"``, ``"1h"``); default: inferred per asset and
        metric from the data (the most common step), declared by day layouts.
    ambiguous
        Local times repeated when DST ends: ``"raise"`` quarantines them, ``"earliest"`` /
        ``"latest"`` pick one instant. Local times in the DST gap are always quarantined: no
        instant carries them.
    on_conflict
        ``"reject"`` quarantines readings whose stored value differs; ``"replace"`` stores the
        new value (the store keeps the old one in its audit trail).
    strict
        Quarantine readings of assets not in the registry instead of registering them.
    assets
        Assets registry (CSV/Parquet path or frame, ``ASSETS_SCHEMA`` columns) upserted first.
    columns
        Source column name -> role (``asset_id, ts, metric, value, unit, date``).
    metric
        Metric of layouts without a metric column (day-wide, day-columns); default
        ``energy_kwh``. Unit variants convert (``energy_wh``).
    encoding
        ``"utf-8"`` or ``"gb18030"`` to override detection.
    quarantine_dir
        Where ``quarantine.csv`` goes; default ``<input>.quarantine/`` beside each input
        (``./griddiag-quarantine/`` for frames).
    progress
        Progress bar on stderr: default only when stderr is a terminal.
    chunk_bytes
        CSV bytes per chunk (memory bound; 64 MiB hold ~1.4 M long-format lines).
    batch_rows
        Readings per ``Store.write`` (several chunks; bounds memory with ``chunk_bytes``).

    Raises
    ------
    InputError
        A source cannot be read at all; nothing has been loaded.
    ConfigError
        An option is invalid.
    StoreError
        The store failed; chunks written before stay (a re-run completes the load).
    """
    t0 = time.perf_counter()
    _check_options(format, tz, interval_label, ambiguous, columns)
    on_conflict = check_on_conflict(on_conflict)
    interval_minutes = _interval_minutes(interval)
    prepared = _prepare(source, format=format, columns=columns, metric=metric,
                        interval_label=interval_label, encoding=encoding,
                        chunk_bytes=chunk_bytes)
    asset_frame = load_assets(assets) if assets is not None else None
    owned = not isinstance(store, Store)
    if owned:
        from griddiag.storage import open_store

        st = open_store(store)  # type: ignore[arg-type]
    else:
        st = store  # type: ignore[assignment]
    report = IngestReport()
    run_at = datetime.now(UTC).isoformat(timespec="seconds")
    quarantines: dict[Path, Quarantine] = {}
    try:
        if asset_frame is not None and asset_frame.height:
            st.upsert_assets(asset_frame)
        registry = st.assets()
        ctx = _context(registry, tz=tz, ambiguous=ambiguous,
                       interval_minutes=interval_minutes, strict=strict)
        known = registry["asset_id"].cast(pl.String)
        new_assets: list[pl.Series] = []
        bar = _progress_bar(progress, sum(p.source.size for p in prepared))
        try:
            for prep in prepared:
                qdir = _quarantine_dir(prep.source, quarantine_dir).resolve()
                q = quarantines.setdefault(qdir, Quarantine(qdir, run_at))
                report._add(_ingest_source(st, prep, ctx, q, on_conflict, bar, known, new_assets,
                                           batch_rows))
        finally:
            if bar is not None:
                bar.close()
        if new_assets:
            report.assets_new = pl.concat(new_assets).n_unique()
    finally:
        if owned:
            st.close()
    report.quarantine_paths = [q.path for q in quarantines.values() if q.rows]
    report.quarantine_path = report.quarantine_paths[0] if report.quarantine_paths else None
    report.seconds = time.perf_counter() - t0
    return report


def _ingest_source(st: Store, prep: _Prepared, ctx: Context, q: Quarantine, on_conflict: str,
                   bar: object, known: pl.Series, new_assets: list[pl.Series],
                   batch_rows: int) -> FileReport:
    """Check and write one source batch by batch.

    Batch N is written by one background thread while this thread reads and checks batch
    N+1 (polars, Arrow and psycopg release the GIL, and the database server is a process of
    its own, so both cores work). The order of everything else stays that of a sequential
    run: writes one at a time and in order; batch N's store conflicts go to the quarantine
    before batch N+1's rejected rows, which go there before batch N+1 is written; an error
    of a write stops the run at the next batch, and an error while reading waits for the
    write in flight (its conflicts recorded) before it propagates, so nothing runs on after
    ``ingest`` returns or raises.
    """
    src, layout = prep.source, prep.layout
    rep = FileReport(src.name, layout.format, src.encoding, columns_ignored=layout.ignored)
    reasons: Counter[str] = Counter()
    update = bar.update if bar is not None else None  # type: ignore[attr-defined]

    def finish(batch: _Batch, readings: pl.DataFrame, written: Future[WriteResult] | None,
               ) -> None:
        """Account one batch once its write is done (raises the write's error)."""
        parts = [batch.rejects]
        if written is not None:
            res = written.result()
            rep.rows_loaded += res.loaded
            rep.rows_duplicate += res.duplicate
            rep.rows_replaced += res.replaced
            rep.rows_missing += res.missing
            if on_conflict == "reject" and res.conflicts.height:
                conflicts = _conflict_rejects(res.conflicts, layout)
                q.write(src.name, conflicts, batch.raw)
                parts.append(conflicts)
            fresh = readings["asset_id"].unique()
            fresh = fresh.filter(~fresh.is_in(known.implode()))
            if fresh.len():
                new_assets.append(fresh)
        rep.rows_read += batch.read
        rep.rows_missing += batch.missing
        rep.rows_duplicate += batch.duplicate
        rejects = pl.concat(parts)
        if rejects.height:
            rep.rows_rejected += int(rejects["n"].sum())
            rep.lines_rejected += rejects[LINE].n_unique()
            for code, n in rejects.group_by("code").agg(pl.col("n").sum()).iter_rows():
                reasons[code] += int(n)

    in_flight: tuple[_Batch, pl.DataFrame, Future[WriteResult] | None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="griddiag-ingest-write") as pool:
        try:
            for batch in _batches(prep, ctx, batch_rows, update):
                if in_flight is not None:
                    done, in_flight = in_flight, None
                    finish(*done)
                # rejected rows go to the quarantine before their batch is written: a quarantine
                # that cannot be written stops the run before rows whose siblings would go
                # unrecorded load
                q.write(src.name, batch.rejects, batch.raw)
                readings = batch.readings
                written = None
                if readings.height:
                    if layout.format == "long":
                        readings = readings.drop("source_column")
                    written = pool.submit(st.write, readings,
                                          on_conflict=on_conflict)  # type: ignore[arg-type]
                in_flight = (batch, readings, written)
            if in_flight is not None:
                done, in_flight = in_flight, None
                finish(*done)
        except BaseException:
            if in_flight is not None:
                # Reading failed while a write ran: let the write end and record its
                # conflicts; the reading error is the one reported.
                with contextlib.suppress(BaseException):
                    finish(*in_flight)
            raise
    rep.reasons = dict(reasons)
    return rep


def _conflict_rejects(conflicts: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    names = [v.name for v in layout.values]
    cols = (conflicts["source_column"].to_list() if "source_column" in conflicts.columns
            else [-1] * conflicts.height)
    reasons = [
        f"value {v:g} differs from the value {s:g} already stored for this asset, metric and "
        f"time ({t:%Y-%m-%d %H:%M} UTC); pass on_conflict='replace' to correct it"
        for v, s, t in zip(conflicts["value"].to_list(), conflicts["stored_value"].to_list(),
                           conflicts["ts"].to_list(), strict=True)]
    return pl.DataFrame({
        LINE: conflicts["source_line"].cast(pl.Int64),
        "field": [names[c] if c is not None and c >= 0 else layout.value for c in cols],
        "code": "store_conflict",
        "reason": reasons,
        "n": 1,
    }, schema={LINE: pl.Int64, "field": pl.String, "code": pl.String, "reason": pl.String,
               "n": pl.Int64})


def read_source(
    source: SourceLike | Sequence[SourceLike],
    *,
    format: str = "auto",
    tz: str | None = None,
    interval_label: str | None = None,
    interval: str | int | timedelta | None = None,
    ambiguous: str = "raise",
    assets: str | os.PathLike[str] | pl.DataFrame | None = None,
    strict: bool = False,
    columns: Mapping[str, str] | None = None,
    metric: str | None = None,
    encoding: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read and check sources without a store: ``(readings, rejects)``.

    ``readings`` is the canonical readings frame (plus ``source_line``) that ``ingest`` would
    write, repeated keys within a file already resolved; ``rejects`` has the quarantine's
    columns (``file, line, field, code, reason, raw``). Options as for ``ingest``; ``assets``
    gives zones (``tz``) and, with ``strict``, the known assets. Holds everything in memory.
    """
    _check_options(format, tz, interval_label, ambiguous, columns)
    prepared = _prepare(source, format=format, columns=columns, metric=metric,
                        interval_label=interval_label, encoding=encoding,
                        chunk_bytes=chunk_bytes)
    registry = load_assets(assets) if assets is not None else normalize_assets(
        pl.DataFrame(schema={"asset_id": pl.String}))
    ctx = _context(registry, tz=tz, ambiguous=ambiguous,
                   interval_minutes=_interval_minutes(interval), strict=strict)
    readings: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    for prep in prepared:
        for batch in _batches(prep, ctx, batch_rows):
            if batch.readings.height:
                readings.append(batch.readings.drop("source_column"))
            r, raw = batch.rejects, batch.raw
            if r.height:
                lines = r[LINE].to_list()
                rejects.append(r.select(
                    pl.lit(prep.source.name).alias("file"), pl.col(LINE).alias("line"),
                    "field", "code", "reason", pl.Series("raw", raw(lines), dtype=pl.String)))
    from griddiag.schema import READINGS_SCHEMA

    out_schema = {**READINGS_SCHEMA, "source_line": pl.Int64}
    rej_schema = {"file": pl.String, "line": pl.Int64, "field": pl.String, "code": pl.String,
                  "reason": pl.String, "raw": pl.String}
    return (pl.concat(readings) if readings else pl.DataFrame(schema=out_schema),
            pl.concat(rejects) if rejects else pl.DataFrame(schema=rej_schema))

