"""The embedded store: a directory of Parquet files, no server needed.

Layout::

    <root>/
      griddiag-store.json                 format marker, schema version, bucket count
      assets.parquet                      the asset registry
      readings/year=<YYYY>/bucket=<NN>/c<gen>.parquet   compacted base of the partition
      readings/year=<YYYY>/bucket=<NN>/g<gen>.parquet   rows added by a later write
      audit/replaced-<utc time>-<n>.parquet  values overwritten by on_conflict="replace"
      inspections/runs/<run_id>.json      one record per inspection run (state, counts, ...)
      inspections/findings/<run_id>/part-<n>.parquet   findings staged by that run

Readings are partitioned by UTC year, so a year's read opens only that year's files, and by a
stable hash bucket of ``asset_id``, so a write for a few assets rewrites only their buckets and a
read of a batch of assets opens only their buckets. Inside a file rows are sorted by
``asset_id, metric, ts`` and split into row groups, so polars' predicate push-down skips row
groups of other assets and times.

A partition is append-only: a write reads the stored rows of *its* assets only (row-group
statistics skip the rest), and adds its new readings as one more part file ``g<gen>``. When a
partition holds many parts, they are compacted into one base file ``c<gen>`` that covers every
generation up to ``<gen>``; a replacement of stored values (``on_conflict="replace"``) is written
the same way. So a partition's cost is proportional to what a write brings, not to what the
partition already holds.

Every file is written to a temporary name, fsynced and renamed into place (``os.replace`` is
atomic on POSIX), and the live files of a partition are defined by their names alone: the
newest base plus the parts of later generations. A crash therefore leaves each partition either
as it was or as it will be, never half-written: a base that appeared makes the files it covers
stale at once, and stale files are deleted by the next write. A write touching several
partitions may be interrupted between two of them; running it again completes it, because
writes are idempotent (a repeated reading is a duplicate). One process writes at a time (an
exclusive lock file guards writers); readers never block.

Inspection runs follow the same rule: a run stages its findings under its own id, and its
record file, rewritten atomically with state ``complete``, is the one step that makes them
the current results of its scope and year; the run it supersedes is cleaned up after that
step, and a reader that comes in between takes the later of the two complete runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError, SchemaError, StoreError
from griddiag.row_blocks import sort_by_blocks
from griddiag.schema import (
    ASSETS_SCHEMA,
    FINDINGS_SCHEMA,
    READINGS_SCHEMA,
    empty_assets,
    empty_findings,
    empty_readings,
    normalize_assets,
    normalize_readings,
)
from griddiag.storage.base import (
    RUNS_SCHEMA,
    OnConflict,
    Store,
    WriteResult,
    check_finish_state,
    check_on_conflict,
    check_run,
    asset_shifts,
    findings_of_run,
    group_codes,
    hourly_schema,
    sort_order,
    split_batch_conflicts,
)

__all__ = ["ParquetStore"]

FORMAT_NAME = "griddiag-parquet"
# v1: one file per partition (year=Y/bucket=NN.parquet); v2: a folder of generations per
# partition. Opening a v1 store moves each v1 file into place as its partition's base.
SCHEMA_VERSION = 2
DEFAULT_BUCKETS = 32
_ROW_GROUP_ROWS = 256 * 1024
# Parts per partition that trigger a compaction: reads open at most this many files per
# partition, and a partition is rewritten about once every this many writes.
_MAX_PARTS = 8
_KEY = ["asset_id", "metric", "ts"]
_HOUR_US = 3_600_000_000
_TS_BITS = 45
_GROUP_BITS = 63 - _TS_BITS


def _bucket_of(asset_ids: pl.Series, n_buckets: int) -> pl.Series:
    """Stable bucket number per asset id (crc32, identical across processes and versions)."""
    uniq = asset_ids.unique()
    mapping = pl.DataFrame(
        {"asset_id": uniq, "bucket": [zlib.crc32(a.encode()) % n_buckets for a in uniq]},
        schema={"asset_id": pl.String, "bucket": pl.Int32},
    )
    return asset_ids.to_frame("asset_id").join(mapping, on="asset_id", how="left")["bucket"]


def _atomic_write_parquet(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        df.write_parquet(tmp, compression="zstd", statistics=True, row_group_size=_ROW_GROUP_ROWS)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_write_json(obj: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, ensure_ascii=False, default=_json_value)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)


def _json_value(o: object) -> str:
    if isinstance(o, datetime):
        return o.astimezone(UTC).isoformat()
    return str(o)


# Run ids become file and folder names.
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise ConfigError(f"run id {run_id!r} must be 1-128 letters, digits, '_', '.' or '-'")
    return run_id


def _year_start_us(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000


def _packed_key(
    frame: pl.DataFrame, assets: pl.Series, metrics: pl.Series, year_start_us: int,
    *, check_path: Path,
) -> np.ndarray:
    """One sortable int64 per row: (asset, metric) code in the high bits, microseconds since
    the partition's year start in the low 45 bits (a year is < 2**45 us)."""
    if len(assets) * len(metrics) >= 1 << _GROUP_BITS:
        raise StoreError(
            f"{check_path}: more than {1 << _GROUP_BITS} asset x metric series in one "
            "partition; the embedded store is for up to a few hundred thousand meters - use "
            "TimescaleDB"
        )
    group = group_codes(frame, assets, metrics)
    offset_us = frame["ts"].dt.epoch("us").to_numpy() - year_start_us
    return (group << _TS_BITS) | offset_us

class _Partition:
    """One year x bucket folder of part files; which files are live follows from their names.

    ``c<gen>.parquet`` is a base holding every reading of generations <= gen; ``g<gen>.parquet``
    holds the readings one write added. Live: the newest base and the parts newer than it.
    Each file is sorted by (asset_id, metric, ts); keys are unique across the live files.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _generations(self) -> tuple[tuple[int, Path] | None, list[tuple[int, Path]], list[Path]]:
        bases, parts = [], []
        if self.path.is_dir():
            for f in self.path.iterdir():
                name = f.name
                if name.endswith(".parquet") and name[0] in "cg" and name[1:-8].isdigit():
                    (bases if name[0] == "c" else parts).append((int(name[1:-8]), f))
        bases.sort()
        base = bases[-1] if bases else None
        floor = base[0] if base else -1
        live_parts = sorted(p for p in parts if p[0] > floor)
        stale = [f for _, f in bases[:-1]] + [f for g, f in parts if g <= floor]
        return base, live_parts, stale

    def live_files(self) -> list[Path]:
        base, parts, _ = self._generations()
        return ([base[1]] if base else []) + [f for _, f in parts]

    def next_generation(self) -> int:
        base, parts, _ = self._generations()
        return max([base[0] if base else 0] + [g for g, _ in parts]) + 1

    def add_part(self, rows: pl.DataFrame) -> None:
        _atomic_write_parquet(rows, self.path / f"g{self.next_generation():08d}.parquet")

    def write_base(self, rows: pl.DataFrame) -> None:
        """Replace every live file by ``rows`` (sorted, unique), then drop what it covers."""
        base, parts, _ = self._generations()
        gen = max([base[0] if base else 0] + [g for g, _ in parts])
        _atomic_write_parquet(rows, self.path / f"c{gen + 1:08d}.parquet")
        self.remove_stale()

    def remove_stale(self) -> None:
        for f in self._generations()[2]:
            f.unlink(missing_ok=True)

    def n_parts(self) -> int:
        return len(self._generations()[1])


class ParquetStore(Store):
    """Readings, assets and audit trail in a local directory of Parquet files."""

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        marker = self.root / "griddiag-store.json"
        if marker.exists():
            self._meta = self._read_marker(marker)
            if int(self._meta["schema_version"]) < SCHEMA_VERSION:
                with self._write_lock():
                    self.init()
        elif create:
            if self.root.exists() and any(self.root.iterdir()):
                raise StoreError(
                    f"{self.root} exists and is not a griddiag store (no griddiag-store.json); "
                    "choose an empty or new directory"
                )
            self._meta = {"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION,
                          "buckets": DEFAULT_BUCKETS}
            self.init()
        else:
            raise SchemaError(f"{self.root} is not a griddiag store (no griddiag-store.json)")
        self.n_buckets = int(self._meta["buckets"])

    # -- lifecycle ---------------------------------------------------------------------------
    @staticmethod
    def _read_marker(marker: Path) -> dict[str, object]:
        try:
            meta = json.loads(marker.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"{marker}: unreadable store marker: {exc}") from exc
        if meta.get("format") != FORMAT_NAME:
            raise SchemaError(f"{marker}: not a griddiag Parquet store marker")
        if int(meta.get("schema_version", 0)) > SCHEMA_VERSION:
            raise SchemaError(
                f"{marker}: store schema version {meta['schema_version']} is newer than this "
                f"griddiag supports ({SCHEMA_VERSION}); upgrade griddiag"
            )
        return meta

    def init(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / "readings").mkdir(exist_ok=True)
            marker = self.root / "griddiag-store.json"
            if int(self._meta.get("schema_version", SCHEMA_VERSION)) < 2:
                self._migrate_v1_partitions()
            self._meta["schema_version"] = SCHEMA_VERSION
            tmp = marker.with_name(".griddiag-store.json.tmp")
            tmp.write_text(json.dumps(self._meta, indent=2) + "\n")
            os.replace(tmp, marker)
        except OSError as exc:
            raise StoreError(f"cannot create store at {self.root}: {exc}") from exc

    def _migrate_v1_partitions(self) -> None:
        """v1 -> v2: each ``bucket=NN.parquet`` becomes ``bucket=NN/c00000000.parquet``.

        One rename per file, so a crash half-way leaves every partition readable in one of the
        two layouts, and running it again finishes the rest."""
        for old in (self.root / "readings").glob("year=*/bucket=*.parquet"):
            folder = old.with_suffix("")
            folder.mkdir(exist_ok=True)
            os.replace(old, folder / "c00000000.parquet")

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        try:
            fh = open(self.root / ".write.lock", "a")
        except OSError as exc:
            raise StoreError(f"cannot write to store {self.root}: {exc}") from exc
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _partition(self, year: int, bucket: int) -> _Partition:
        return _Partition(self.root / "readings" / f"year={year}" / f"bucket={bucket:02d}")

    def _partition_files(
        self, years: Sequence[int] | None, buckets: Sequence[int] | None
    ) -> list[Path]:
        base = self.root / "readings"
        if not base.exists():
            return []
        year_dirs = sorted(base.glob("year=*"))
        if years is not None:
            wanted_years = {f"year={y}" for y in years}
            year_dirs = [d for d in year_dirs if d.name in wanted_years]
        files: list[Path] = []
        for d in year_dirs:
            folders = (sorted(d.glob("bucket=*")) if buckets is None
                       else [d / f"bucket={b:02d}" for b in sorted(set(buckets))])
            for folder in folders:
                files += _Partition(folder).live_files()
        return files

    def status(self) -> dict[str, object]:
        files = self._partition_files(None, None)
        points = 0
        first = last = None
        for f in files:
            # the footers' row counts and ts statistics: no readings are read (a scan only
            # for a file written without statistics)
            n, lo_us, hi_us = _file_footer(f)
            if n and lo_us is None:
                n, lo, hi = pl.scan_parquet(f).select(
                    pl.len(), pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi")
                ).collect().row(0)
            else:
                lo = hi = None
                if lo_us is not None and hi_us is not None:
                    lo, hi = _utc_of_us(lo_us), _utc_of_us(hi_us)
            points += n
            first = lo if first is None or (lo is not None and lo < first) else first
            last = hi if last is None or (hi is not None and hi > last) else last
        return {
            "store": "parquet",
            "url": self.url,
            "schema_version": self._meta["schema_version"],
            "assets": self.assets().height,
            "readings": points,
            "first_ts": first,
            "last_ts": last,
            "files": len(files),
            "bytes_on_disk": sum(f.stat().st_size for f in files),
        }

    # -- readings ----------------------------------------------------------------------------
    def write(self, readings: pl.DataFrame, *, on_conflict: OnConflict = "reject") -> WriteResult:
        on_conflict = check_on_conflict(on_conflict)
        incoming = normalize_readings(readings, keep_extra=True)
        is_missing = incoming["value"].is_nan()
        n_missing = int(is_missing.sum())
        unique, in_batch_conflicts, n_dup = split_batch_conflicts(
            incoming.filter(~is_missing) if n_missing else incoming
        )
        result = WriteResult(duplicate=n_dup, missing=n_missing)
        if in_batch_conflicts.height:
            result.conflicts = in_batch_conflicts.with_columns(
                stored_value=pl.lit(None, pl.Float64)
            )
        if unique.height == 0:
            return result
        unique = unique.with_columns(
            __year=pl.col("ts").dt.year(),
            __bucket=_bucket_of(unique["asset_id"], self.n_buckets),
        )
        with self._write_lock():
            self._register_unknown_assets(unique["asset_id"].unique())
            for (year, bucket), part in unique.group_by(
                ["__year", "__bucket"], maintain_order=True
            ):
                result += self._merge_partition(
                    int(year), int(bucket), part.drop("__year", "__bucket"), on_conflict
                )
        return result

    def _merge_partition(
        self, year: int, bucket: int, part: pl.DataFrame, on_conflict: OnConflict
    ) -> WriteResult:
        """Merge sorted, key-unique incoming rows into one year x bucket partition."""
        partition = self._partition(year, bucket)
        partition.remove_stale()  # left by a crash after a compaction
        extra = [c for c in part.columns if c not in READINGS_SCHEMA]
        live = partition.live_files()
        stored = self._read_files(live, pl.col("asset_id").is_in(part["asset_id"].unique()
                                                                   .implode()))
        if stored.height == 0:
            partition.add_part(part.select(list(READINGS_SCHEMA)))
            self._compact_if_needed(partition, year)
            return WriteResult(loaded=part.height)

        year_start_us = _year_start_us(year)
        assets = pl.concat([stored["asset_id"].unique(), part["asset_id"].unique()]).unique().sort()
        metrics = pl.concat([stored["metric"].unique(), part["metric"].unique()]).unique().sort()
        # Rows of several part files: order them by the packed key to binary-search them.
        key_stored = _packed_key(stored, assets, metrics, year_start_us, check_path=partition.path)
        order = np.argsort(key_stored, kind="stable")
        key_stored, stored_values = key_stored[order], stored["value"].to_numpy()[order]
        key_in = _packed_key(part, assets, metrics, year_start_us, check_path=partition.path)
        pos = np.searchsorted(key_stored, key_in)
        present = pos < key_stored.size
        present[present] = key_stored[pos[present]] == key_in[present]

        values_in = part["value"].to_numpy()
        stored_at = np.full(part.height, np.nan)
        stored_at[present] = stored_values[pos[present]]
        differs = present & (values_in != stored_at)
        new = ~present
        conflicts = part.filter(differs).with_columns(stored_value=pl.Series(stored_at[differs]))
        result = WriteResult(
            duplicate=int((present & ~differs).sum()), loaded=int(new.sum()),
            conflicts=conflicts.select([*READINGS_SCHEMA, *extra, "stored_value"]),
        )
        added = part.filter(pl.Series(new)).select(list(READINGS_SCHEMA))
        if on_conflict == "replace" and conflicts.height:
            self._write_audit(conflicts)
            result.replaced = conflicts.height
            replacements = conflicts.select(list(READINGS_SCHEMA))
            self._compact(partition, year, extra_rows=pl.concat([added, replacements]))
        elif added.height:
            partition.add_part(added)
            self._compact_if_needed(partition, year)
        return result

    def _compact_if_needed(self, partition: _Partition, year: int) -> None:
        if partition.n_parts() > _MAX_PARTS:
            self._compact(partition, year)

    def _compact(self, partition: _Partition, year: int,
                 extra_rows: pl.DataFrame | None = None) -> None:
        """Rewrite a partition as one sorted base; ``extra_rows`` win over stored ones."""
        frames = [self._read_files(partition.live_files(), None)]
        if extra_rows is not None:
            frames.append(extra_rows)
        rows = pl.concat(frames)
        assets, metrics = rows["asset_id"].unique().sort(), rows["metric"].unique().sort()
        key = _packed_key(rows, assets, metrics, _year_start_us(year), check_path=partition.path)
        order = np.argsort(key, kind="stable")
        key = key[order]
        # Equal keys: the later row (from extra_rows) is the one to keep.
        keep = np.ones(key.size, dtype=bool)
        keep[:-1] = key[1:] != key[:-1]
        partition.write_base(rows[order[keep]])

    @staticmethod
    def _read_files(files: list[Path], predicate: pl.Expr | None) -> pl.DataFrame:
        if not files:
            return empty_readings()
        try:
            scan = pl.scan_parquet(files, schema=READINGS_SCHEMA)
            return (scan.filter(predicate) if predicate is not None else scan).collect()
        except Exception as exc:  # polars raises several types for a damaged file
            raise StoreError(f"{files[0].parent}: cannot read store partition: {exc}") from exc

    def _write_audit(self, replaced: pl.DataFrame) -> None:
        now = datetime.now(UTC)
        audit = replaced.select(
            "asset_id", "metric", "ts",
            pl.col("stored_value").alias("old_value"),
            pl.col("value").alias("new_value"),
            pl.lit(now).dt.cast_time_unit("us").alias("replaced_at"),
        )
        name = f"replaced-{now:%Y%m%dT%H%M%S%f}-{os.getpid()}.parquet"
        _atomic_write_parquet(audit, self.root / "audit" / name)

    def audit(self) -> pl.DataFrame:
        """Values overwritten by ``on_conflict="replace"``, oldest first."""
        files = sorted((self.root / "audit").glob("replaced-*.parquet"))
        if not files:
            return pl.DataFrame(schema={"asset_id": pl.String, "metric": pl.String,
                                        "ts": READINGS_SCHEMA["ts"], "old_value": pl.Float64,
                                        "new_value": pl.Float64,
                                        "replaced_at": READINGS_SCHEMA["ts"]})
        return pl.concat([pl.read_parquet(f) for f in files])

    def read_batches(
        self,
        assets: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        batch_assets: int = 500,
    ) -> Iterator[pl.DataFrame]:
        if batch_assets < 1:
            raise ConfigError(f"batch_assets must be >= 1, got {batch_assets}")
        years = self._years_between(start, end)
        if assets is None:
            asset_list = self._assets_with_readings(years)
        else:
            asset_list = sorted(set(assets))
        # Group assets by bucket so each batch opens as few files as possible.
        ids = pl.Series("asset_id", asset_list, dtype=pl.String)
        order = pl.DataFrame({"asset_id": ids, "bucket": _bucket_of(ids, self.n_buckets)}).sort(
            ["bucket", "asset_id"]
        )
        for i in range(0, order.height, batch_assets):
            chunk = order.slice(i, batch_assets)
            frame = self._scan(
                chunk["asset_id"].to_list(), chunk["bucket"].unique().to_list(),
                metrics, start, end, years,
            )
            if frame.height:
                yield frame
            del frame  # not held while the next batch is read

    def _scan(
        self,
        assets: list[str],
        buckets: list[int],
        metrics: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        years: list[int] | None,
    ) -> pl.DataFrame:
        files = self._partition_files(years, buckets)
        if not files:
            return empty_readings()
        pred = pl.col("asset_id").is_in(assets)
        if metrics is not None:
            pred &= pl.col("metric").is_in(list(metrics))
        if start is not None:
            pred &= pl.col("ts") >= _as_utc(start)
        if end is not None:
            pred &= pl.col("ts") < _as_utc(end)
        try:
            rows = pl.scan_parquet(files, schema=READINGS_SCHEMA).filter(pred).collect()
        except Exception as exc:
            raise StoreError(f"cannot read readings from {self.root}: {exc}") from exc
        # Each file is sorted by (asset, metric, ts), so a batch is a few blocks per series
        # (one per file: a year's) and moving whole blocks sorts it; rows are sorted (on
        # integer codes, not strings: several times faster) only when blocks of one series
        # overlap in time.
        by_blocks = sort_by_blocks(rows)
        if by_blocks is not None:
            return by_blocks
        group = group_codes(rows, rows["asset_id"].unique().sort(), rows["metric"].unique().sort())
        order = sort_order(group, rows["ts"].dt.epoch("us").to_numpy())
        return rows if order is None else rows[order]

    @staticmethod
    def _years_between(start: datetime | None, end: datetime | None) -> list[int] | None:
        if start is None or end is None:
            return None  # open-ended: let the partition listing decide
        lo, hi = _as_utc(start), _as_utc(end)
        return list(range(lo.year, hi.year + 1))

    def _assets_with_readings(self, years: list[int] | None) -> list[str]:
        files = self._partition_files(years, None)
        if not files:
            return []
        return (
            pl.scan_parquet(files, schema=READINGS_SCHEMA)
            .select(pl.col("asset_id").unique())
            .collect()["asset_id"]
            .sort()
            .to_list()
        )

    # -- aggregates and the year-over-year summary cache ------------------------------------
    def hourly_aggregate(
        self,
        assets: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        tz: str | Mapping[str, str] = "UTC",
    ) -> pl.DataFrame:
        """Local-hour aggregates (see ``Store.hourly_aggregate``) from one lazy polars scan
        of the partitions concerned: the readings are reduced as they are read, never held."""
        years = self._years_between(start, end)
        if assets is None:
            asset_list = self._assets_with_readings(years)
        else:
            asset_list = sorted(set(assets))
        ids = pl.Series("asset_id", asset_list, dtype=pl.String)
        files = self._partition_files(years, _bucket_of(ids, self.n_buckets).unique().to_list())
        if not files or not asset_list:
            return pl.DataFrame(schema=hourly_schema())
        lo_y = years[0] if years else 1970
        hi_y = years[-1] if years else datetime.now(UTC).year + 1
        shift = pl.DataFrame({"asset_id": ids,
                              "_shift": asset_shifts(ids, tz, lo_y, hi_y)})
        pred = pl.col("asset_id").is_in(asset_list) & pl.col("value").is_finite()
        if metrics is not None:
            pred &= pl.col("metric").is_in(list(metrics))
        if start is not None:
            pred &= pl.col("ts") >= _as_utc(start)
        if end is not None:
            pred &= pl.col("ts") < _as_utc(end)
        # hour = (ts + shift) // 1 h, shift = the zone's offset modulo an hour (0 in most)
        hour = ((pl.col("ts").dt.epoch("us") + pl.col("_shift")) // _HOUR_US * _HOUR_US
                - pl.col("_shift"))
        try:
            out = (pl.scan_parquet(files, schema=READINGS_SCHEMA).filter(pred)
                   .join(shift.lazy(), on="asset_id")
                   .group_by("asset_id", "metric", hour.alias("hour"))
                   .agg(pl.col("value").sum().alias("sum"), pl.len().cast(pl.Int64).alias("count"),
                        pl.col("value").max().alias("max"), pl.col("value").min().alias("min"))
                   .with_columns(pl.col("hour").cast(pl.Datetime("us", "UTC")))
                   .sort("asset_id", "metric", "hour").collect())
        except Exception as exc:
            raise StoreError(f"cannot aggregate readings of {self.root}: {exc}") from exc
        return out.select([pl.col(c).cast(t) for c, t in hourly_schema().items()])

    def data_fingerprints(self, assets: Sequence[str], start: datetime,
                          end: datetime) -> pl.DataFrame:
        """Per asset, the names of the live files of its partitions that hold readings in
        ``[start, end)`` (by the time range in each file's footer). Files are immutable and
        every write adds one of a new generation (compaction a new base), so any change to
        the asset's readings there changes the names, and writes to later times do not.
        Assets of the same hash bucket share the fingerprint (a write to one invalidates
        their cache too: safe, and a bucket holds a small share of the assets)."""
        ids = pl.Series("asset_id", sorted(set(assets)), dtype=pl.String)
        buckets = _bucket_of(ids, self.n_buckets)
        lo_us = int(_as_utc(start).timestamp() * 1_000_000)
        hi_us = int(_as_utc(end).timestamp() * 1_000_000)
        years = self._years_between(start, end) or []
        prints = {}
        for b in buckets.unique().to_list():
            names = []
            for y in years:
                for f in self._partition(y, b).live_files():
                    t_lo, t_hi = _file_time_range(f)
                    if t_lo is None or (t_lo < hi_us and t_hi >= lo_us):
                        names.append(f"{y}/{f.name}")
            prints[b] = f"{zlib.crc32(';'.join(names).encode()):08x}:{len(names)}"
        return pl.DataFrame({"asset_id": ids,
                             "fingerprint": buckets.replace_strict(prints,
                                                                  return_dtype=pl.String)})

    def _summary_dir(self, year: int, cache_key: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", cache_key)
        return self.root / "yoy_summaries" / f"key={safe}" / f"year={int(year)}"

    def read_yoy_summaries(self, assets: Sequence[str], year: int,
                           cache_key: str) -> pl.DataFrame | None:
        folder = self._summary_dir(year, cache_key)
        files = sorted(folder.glob("s*.parquet")) if folder.is_dir() else []
        if not files:
            return None
        try:
            rows = (pl.scan_parquet(files, include_file_paths="_file")
                    .filter(pl.col("asset_id").is_in(list(assets))).collect())
        except Exception as exc:
            raise StoreError(f"cannot read cached summaries in {folder}: {exc}") from exc
        # the newest file's row wins (file names carry a growing generation)
        return (rows.sort("_file").unique(["asset_id", "metric"], keep="last")
                .drop("_file").sort("asset_id", "metric"))

    def write_yoy_summaries(self, summaries: pl.DataFrame, year: int, cache_key: str) -> None:
        if summaries.height == 0:
            return
        folder = self._summary_dir(year, cache_key)
        with self._write_lock():
            folder.mkdir(parents=True, exist_ok=True)
            files = sorted(folder.glob("s*.parquet"))
            gen = max([int(f.name[1:-8]) for f in files if f.name[1:-8].isdigit()] + [0]) + 1
            if len(files) >= _MAX_PARTS:
                # compact: one file with the newest row of every series, then drop the rest
                old = (pl.read_parquet(files, include_file_paths="_file").sort("_file")
                       .drop("_file"))
                merged = pl.concat([old, summaries.select(old.columns)], how="vertical_relaxed")
                summaries = merged.unique(["asset_id", "metric"], keep="last")
            _atomic_write_parquet(summaries.sort("asset_id", "metric"),
                                  folder / f"s{gen:08d}.parquet")
            if len(files) >= _MAX_PARTS:
                for f in files:
                    f.unlink(missing_ok=True)

    # -- inspection runs ---------------------------------------------------------------------
    def _run_path(self, run_id: str) -> Path:
        return self.root / "inspections" / "runs" / f"{_check_run_id(run_id)}.json"

    def _findings_dir(self, run_id: str) -> Path:
        return self.root / "inspections" / "findings" / _check_run_id(run_id)

    def _run_record(self, run_id: str) -> dict[str, Any]:
        path = self._run_path(run_id)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"{self.root}: no inspection run {run_id!r}") from None
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: unreadable run record: {exc}") from exc

    def begin_run(self, run: Mapping[str, Any]) -> None:
        rec = check_run(run)
        path = self._run_path(rec["run_id"])
        if path.exists():
            raise StoreError(f"{self.root}: inspection run {rec['run_id']!r} exists already")
        rec.update(state="running", started_at=datetime.now(UTC), finished_at=None,
                   data_start=None, data_end=None, counts={}, timings={}, error=None)
        try:
            _atomic_write_json(rec, path)
        except OSError as exc:
            raise StoreError(f"cannot record run in {self.root}: {exc}") from exc

    def add_findings(self, run_id: str, findings: pl.DataFrame) -> None:
        rec = self._run_record(run_id)
        if rec["state"] != "running":
            raise StoreError(f"inspection run {run_id!r} is {rec['state']}, not running")
        folder = self._findings_dir(run_id)
        frame = findings_of_run(findings, run_id)
        # one writer per run: the next part number follows from the parts present
        n = len(list(folder.glob("part-*.parquet"))) if folder.exists() else 0
        try:
            _atomic_write_parquet(frame, folder / f"part-{n + 1:06d}.parquet")
        except OSError as exc:
            raise StoreError(f"cannot write findings to {folder}: {exc}") from exc

    def finish_run(self, run_id: str, *, state: str, counts: Mapping[str, Any] | None = None,
                   timings: Mapping[str, Any] | None = None,
                   data_start: datetime | None = None, data_end: datetime | None = None,
                   error: str | None = None) -> None:
        state = check_finish_state(state)
        with self._write_lock():
            rec = self._run_record(run_id)
            if rec["state"] != "running":
                raise StoreError(f"inspection run {run_id!r} is {rec['state']}, not running")
            rec.update(state=state, finished_at=datetime.now(UTC), counts=dict(counts or {}),
                       timings=dict(timings or {}), data_start=data_start, data_end=data_end,
                       error=error)
            try:
                _atomic_write_json(rec, self._run_path(run_id))  # the commit point
                if state == "failed":
                    shutil.rmtree(self._findings_dir(run_id), ignore_errors=True)
                    return
                self._supersede(rec)
            except OSError as exc:
                raise StoreError(f"cannot finish run {run_id!r} in {self.root}: {exc}") from exc

    def _supersede(self, done: dict[str, Any]) -> None:
        """After ``done`` completed: earlier runs of its scope and year step aside."""
        for other in self._run_records():
            if (other["run_id"] == done["run_id"] or other["scope"] != done["scope"]
                    or int(other["year"]) != int(done["year"])):
                continue
            if other["state"] == "complete":
                other["state"] = "superseded"
            elif other["state"] == "running" and other["started_at"] < done["started_at"]:
                # killed before it finished (a live run would have started after ``done``)
                other["state"] = "failed"
                other["error"] = f"interrupted; superseded by run {done['run_id']}"
            elif other["state"] != "failed":
                continue
            _atomic_write_json(other, self._run_path(other["run_id"]))
            shutil.rmtree(self._findings_dir(other["run_id"]), ignore_errors=True)

    def _run_records(self) -> list[dict[str, Any]]:
        folder = self.root / "inspections" / "runs"
        if not folder.exists():
            return []
        return [self._run_record(p.stem) for p in sorted(folder.glob("*.json"))]

    def runs(self) -> pl.DataFrame:
        rows = []
        for rec in self._run_records():
            row = {k: rec.get(k) for k in RUNS_SCHEMA}
            for key in ("parameters", "counts", "timings"):
                row[key] = json.dumps(rec.get(key) or {}, sort_keys=True)
            for key in ("started_at", "finished_at", "data_start", "data_end"):
                row[key] = datetime.fromisoformat(rec[key]) if rec.get(key) else None
            rows.append(row)
        if not rows:
            return pl.DataFrame(schema=RUNS_SCHEMA)
        return pl.DataFrame(rows, schema=RUNS_SCHEMA).sort("started_at", "run_id")

    def read_findings(self, run_id: str) -> pl.DataFrame:
        folder = self._findings_dir(run_id)
        files = sorted(folder.glob("part-*.parquet")) if folder.exists() else []
        if not files:
            return empty_findings()
        try:
            return pl.read_parquet(files).select(list(FINDINGS_SCHEMA))
        except Exception as exc:
            raise StoreError(f"{folder}: cannot read findings: {exc}") from exc

    # -- assets ------------------------------------------------------------------------------
    def assets(self) -> pl.DataFrame:
        path = self.root / "assets.parquet"
        if not path.exists():
            return empty_assets()
        try:
            return pl.read_parquet(path).select(list(ASSETS_SCHEMA)).sort("asset_id")
        except Exception as exc:
            raise StoreError(f"{path}: cannot read the asset registry: {exc}") from exc

    def upsert_assets(self, assets: pl.DataFrame) -> int:
        with self._write_lock():
            return self._upsert_assets(normalize_assets(assets))

    def _register_unknown_assets(self, asset_ids: pl.Series) -> None:
        new = asset_ids.to_frame("asset_id").join(
            self.assets().select("asset_id"), on="asset_id", how="anti"
        )
        if new.height:
            self._upsert_assets(normalize_assets(new))

    def _upsert_assets(self, incoming: pl.DataFrame) -> int:
        stored = self.assets()
        attrs = [c for c in ASSETS_SCHEMA if c != "asset_id"]
        joined = incoming.join(stored, on="asset_id", how="left", suffix="__old")
        # A null incoming attribute keeps the stored one; `kind` unknown never downgrades a
        # known kind (readings register assets before their attributes arrive).
        merged = joined.select(
            "asset_id",
            *[
                (
                    pl.when(pl.col("kind") == "unknown")
                    .then(pl.col("kind__old").fill_null("unknown"))
                    .otherwise(pl.col("kind"))
                    if c == "kind"
                    else pl.coalesce(pl.col(c), pl.col(f"{c}__old"))
                ).alias(c)
                for c in attrs
            ],
        )
        old = stored.join(merged.select("asset_id"), on="asset_id", how="anti")
        changed = merged.join(stored, on=list(ASSETS_SCHEMA), how="anti", nulls_equal=True)
        if changed.height == 0:
            return 0
        _atomic_write_parquet(
            pl.concat([old, merged]).sort("asset_id"), self.root / "assets.parquet"
        )
        return changed.height


_FOOTERS: dict[tuple[str, int], tuple[int, int | None, int | None]] = {}


def _file_footer(path: Path) -> tuple[int, int | None, int | None]:
    """Rows and smallest and largest ``ts`` (µs) of a readings file, from its footer (the
    readings are not read); the times are ``None`` when the footer has no statistics.
    Remembered per path and size: a store file is never rewritten in place."""
    try:
        size = path.stat().st_size
    except OSError:
        return 0, None, None
    key = (str(path), size)
    if key not in _FOOTERS:
        import pyarrow.parquet as pq

        lo = hi = None
        try:
            meta = pq.ParquetFile(path).metadata
            col = meta.schema.names.index("ts")
            for i in range(meta.num_row_groups):
                st = meta.row_group(i).column(col).statistics
                if st is None or not st.has_min_max:
                    lo = hi = None
                    break
                a, b = _us_of(st.min), _us_of(st.max)
                lo = a if lo is None else min(lo, a)
                hi = b if hi is None else max(hi, b)
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the footer of {path}: {exc}") from exc
        _FOOTERS[key] = (meta.num_rows, lo, hi)
    return _FOOTERS[key]


def _file_time_range(path: Path) -> tuple[int | None, int | None]:
    """Smallest and largest ``ts`` (µs) of a readings file (:func:`_file_footer`)."""
    return _file_footer(path)[1:]


def _utc_of_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _us_of(t: object) -> int:
    if isinstance(t, datetime):
        return int(_as_utc(t).timestamp()) * 1_000_000 + _as_utc(t).microsecond
    return int(t)  # type: ignore[call-overload]


def _as_utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ConfigError(f"time bound {t!r} has no time zone; pass an aware datetime (UTC)")
    return t.astimezone(UTC)
