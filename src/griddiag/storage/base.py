"""The one small interface both stores implement, and the write rules they share.

A store holds readings (one value per asset, metric and interval start), the asset registry
and, later, findings and run records. Both backends follow the same write rules:

- a reading with a NaN value is a *missing* reading: it stores nothing and is counted, so a
  later real value for that interval fills the gap (filling a gap is not a conflict) and a
  store never returns NaN rows;
- a reading already stored with the same value is a *duplicate*: nothing changes, it is
  counted;
- a reading whose stored value differs is a *conflict*: with ``on_conflict="reject"`` (the
  default) the stored value stays and the incoming row is returned for quarantine; with
  ``"replace"`` the new value wins and the old one is kept in the store's audit trail;
- readings of assets the store does not know yet register those assets with kind ``unknown``.

Equality of values is exact (``==`` on float64): a re-ingest of the same file yields the same
floats, and a value that differs in the last bit is a real difference a user should see.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError

__all__ = [
    "RUNS_SCHEMA",
    "RUN_STATES",
    "OnConflict",
    "Store",
    "WriteResult",
    "asset_shifts",
    "check_finish_state",
    "check_on_conflict",
    "check_run",
    "findings_of_run",
    "group_codes",
    "hour_shift_us",
    "hourly_of_readings",
    "hourly_schema",
    "sort_order",
    "split_batch_conflicts",
]

OnConflict = Literal["reject", "replace"]

# An inspection run's life: "running" from ``begin_run``; "complete" (its findings are the
# current results of its scope and year), or "failed"; a complete run replaced by a later
# complete run of the same scope and year becomes "superseded" and its findings are deleted.
# A run killed outright stays "running" until a later run of its scope and year completes.
RUN_STATES = ("running", "complete", "failed", "superseded")

# Run records as ``Store.runs()`` returns them. ``parameters``, ``counts`` and ``timings`` are
# JSON objects in text, so the frame also writes to CSV.
RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "scope": pl.String(),
    "year": pl.Int32(),
    "state": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
    "profile": pl.String(),
    "profile_hash": pl.String(),
    "griddiag_version": pl.String(),
    "data_start": pl.Datetime("us", "UTC"),
    "data_end": pl.Datetime("us", "UTC"),
    "previous_run_id": pl.String(),
    "parameters": pl.String(),
    "counts": pl.String(),
    "timings": pl.String(),
    "error": pl.String(),
}

# Fields of a run record a caller passes to ``begin_run`` (the rest are set by the store).
_RUN_FIELDS = ("run_id", "scope", "year", "profile", "profile_hash", "griddiag_version",
               "previous_run_id", "parameters")


@dataclass
class WriteResult:
    """What one ``Store.write`` did.

    ``conflicts`` holds the rejected incoming rows (all columns the caller passed, extra ones
    such as a source line number included) with the value already stored in ``stored_value``.
    With ``on_conflict="replace"`` it holds the rows that replaced a stored value instead.
    """

    loaded: int = 0
    duplicate: int = 0
    missing: int = 0
    replaced: int = 0
    conflicts: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def rejected(self) -> int:
        return 0 if self.replaced else self.conflicts.height

    def __iadd__(self, other: WriteResult) -> WriteResult:
        self.loaded += other.loaded
        self.duplicate += other.duplicate
        self.missing += other.missing
        self.replaced += other.replaced
        if other.conflicts.height:
            self.conflicts = (
                other.conflicts if not self.conflicts.height
                else pl.concat([self.conflicts, other.conflicts], how="diagonal_relaxed")
            )
        return self


def check_on_conflict(on_conflict: str) -> OnConflict:
    if on_conflict not in ("reject", "replace"):
        raise ConfigError(f"on_conflict must be 'reject' or 'replace', got {on_conflict!r}")
    return on_conflict  # type: ignore[return-value]


def group_codes(frame: pl.DataFrame, assets: pl.Series, metrics: pl.Series) -> np.ndarray:
    """Integer code per row for its (asset_id, metric) pair, ordered like the strings.

    ``assets`` and ``metrics`` are the *sorted* vocabularies (every value of the frame must be
    in them); sorting by the code then equals sorting by ``asset_id, metric``. Comparing and
    sorting int64 is an order of magnitude faster than hashing or sorting strings per row.
    """
    n_metrics = max(len(metrics), 1)
    # An Enum cast maps each string to its position in the vocabulary in one vectorised pass.
    a_idx = frame["asset_id"].cast(pl.Enum(assets)).to_physical().to_numpy().astype(np.int64)
    m_idx = frame["metric"].cast(pl.Enum(metrics)).to_physical().to_numpy().astype(np.int64)
    return a_idx * n_metrics + m_idx


def sort_order(group: np.ndarray, ts_us: np.ndarray) -> np.ndarray | None:
    """Permutation sorting rows by ``(group, ts)``, or ``None`` when already sorted.

    Exports usually arrive sorted per asset and time, so the O(n) check saves the sort.
    """
    if group.size < 2:
        return None
    dg = np.diff(group)
    if (dg >= 0).all() and ((dg > 0) | (np.diff(ts_us) >= 0)).all():
        return None
    # One int64 key (group in the high bits, time offset in the low ones) sorts several times
    # faster than a two-key lexsort, and rows read from sorted files form sorted runs that the
    # stable sort (timsort) merges cheaply; fall back to lexsort when the key would overflow.
    t0 = int(ts_us.min())
    ts_bits = max(int(ts_us.max()) - t0, 1).bit_length()
    if int(group.max()) < 1 << (62 - ts_bits):
        return np.argsort((group << ts_bits) | (ts_us - t0), kind="stable")
    return np.lexsort((ts_us, group))


def split_batch_conflicts(readings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Resolve repeated keys *within* one incoming batch (without NaN values) before it meets
    the store.

    Returns ``(unique, conflicting, n_duplicate)``: ``unique`` has one row per key (the first
    occurrence), sorted by ``asset_id, metric, ts``; rows repeating a key with the *same* value
    are counted in ``n_duplicate``; rows repeating a key with a *different* value are all
    returned in ``conflicting`` (every occurrence, so the user sees each disagreeing line),
    none of them loaded. Extra columns are kept.
    """
    if readings.height == 0:
        return readings, readings.clear(), 0
    assets = readings["asset_id"].unique().sort()
    metrics = readings["metric"].unique().sort()
    group = group_codes(readings, assets, metrics)
    ts = readings["ts"].dt.epoch("us").to_numpy()
    order = sort_order(group, ts)
    if order is not None:
        readings, group, ts = readings[order], group[order], ts[order]
    repeat = np.zeros(readings.height, dtype=bool)
    repeat[1:] = (group[1:] == group[:-1]) & (ts[1:] == ts[:-1])
    if not repeat.any():
        return readings, readings.clear(), 0
    # Runs of equal keys: does every row of the run carry the run's first value?
    run = np.cumsum(~repeat) - 1
    first_row = np.flatnonzero(~repeat)
    values = readings["value"].to_numpy()
    first_value = values[first_row][run]
    agrees = values == first_value
    run_conflicts = np.zeros(first_row.size, dtype=bool)
    np.logical_or.at(run_conflicts, run, ~agrees)
    in_conflict = run_conflicts[run]
    keep = ~repeat & ~in_conflict
    n_duplicate = int((repeat & ~in_conflict).sum())
    return readings.filter(keep), readings.filter(in_conflict), n_duplicate


class Store(abc.ABC):
    """A readings store. Use as a context manager; ``close()`` releases what it opened."""

    url: str

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing open
        """Release connections or files the store opened itself."""

    @abc.abstractmethod
    def init(self) -> None:
        """Create the store's schema, or migrate an older one forward. Idempotent."""

    @abc.abstractmethod
    def status(self) -> dict[str, object]:
        """Schema version, counts and time range, for ``griddiag db status``."""

    # -- readings ----------------------------------------------------------------------------
    @abc.abstractmethod
    def write(self, readings: pl.DataFrame, *, on_conflict: OnConflict = "reject") -> WriteResult:
        """Store canonical readings following the module's write rules.

        ``readings`` must have the canonical columns; extra columns are ignored except that
        they come back with any conflicting rows in ``WriteResult.conflicts``.
        """

    @abc.abstractmethod
    def read_batches(
        self,
        assets: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        batch_assets: int = 500,
    ) -> Iterator[pl.DataFrame]:
        """Yield readings frames, each holding *all* requested readings of at most
        ``batch_assets`` assets, sorted by ``asset_id, metric, ts``; ``start`` inclusive, ``end``
        exclusive. Memory is bounded by the batch, not by the store."""

    def read(
        self,
        assets: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pl.DataFrame:
        """All requested readings as one frame (see ``read_batches`` for large reads)."""
        from griddiag.schema import empty_readings

        parts = list(self.read_batches(assets, metrics, start, end, batch_assets=10_000))
        return pl.concat(parts) if parts else empty_readings()

    # -- assets ------------------------------------------------------------------------------
    @abc.abstractmethod
    def assets(self) -> pl.DataFrame:
        """The asset registry (``ASSETS_SCHEMA``), sorted by ``asset_id``."""

    @abc.abstractmethod
    def upsert_assets(self, assets: pl.DataFrame) -> int:
        """Add or update assets; null attributes in ``assets`` leave stored ones unchanged.
        Returns the number of assets added or changed."""

    # -- aggregates and the year-over-year summary cache ----------------------------------------
    def hourly_aggregate(
        self,
        assets: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        tz: str | Mapping[str, str] = "UTC",
    ) -> pl.DataFrame:
        """Per asset, metric and *local* hour: ``sum, count, max, min`` of the readings in
        ``[start, end)``, as ``griddiag.yoy.summary.HOURLY_SCHEMA`` (``hour`` = the UTC instant
        the local hour starts), sorted by asset, metric and hour.

        ``tz`` is one zone for every asset or a mapping asset -> zone (assets not in it: UTC).
        This default reads the readings batch by batch and reduces them with a kernel; the
        stores override it to aggregate where the data lives (TimescaleDB in SQL, Parquet with
        a lazy polars scan), so a year-over-year comparison never moves the raw year.
        """
        parts = [hourly_of_readings(batch, tz)
                 for batch in self.read_batches(assets, metrics, start, end)]
        parts = [p for p in parts if p.height]
        return pl.concat(parts) if parts else pl.DataFrame(schema=hourly_schema())

    def data_fingerprints(self, assets: Sequence[str], start: datetime,
                          end: datetime) -> pl.DataFrame | None:
        """``asset_id, fingerprint`` (text): per asset, a value that changes whenever any of
        its readings in ``[start, end)`` is written, replaced or removed; None when the store
        cannot tell (then nothing derived from readings is cached)."""
        return None

    def read_yoy_summaries(self, assets: Sequence[str], year: int,
                           cache_key: str) -> pl.DataFrame | None:
        """Cached yearly summaries of ``assets`` for local ``year`` under ``cache_key``, with
        the ``fingerprint`` they were computed from; None when the store keeps none."""
        return None

    def write_yoy_summaries(self, summaries: pl.DataFrame, year: int, cache_key: str) -> None:
        """Keep yearly summaries (with their ``fingerprint`` column) for later comparisons;
        a row replaces the stored one of the same asset and metric. Default: keep nothing."""

    # -- inspection runs and their findings ----------------------------------------------------
    # Findings are staged under their run's id while the run goes on and become the current
    # results of the run's scope and year only when ``finish_run(state="complete")`` switches
    # them in one atomic step; until then readers see the previous complete run unchanged.
    # Not abstract: a store that keeps only readings (a wrapper in a test, a read-only
    # adapter) still works for ingest and detect, and says clearly why it cannot inspect.

    def begin_run(self, run: Mapping[str, Any]) -> None:
        """Record a new run in state ``running``.

        ``run`` holds ``run_id``, ``scope``, ``year`` and optionally ``profile``,
        ``profile_hash``, ``griddiag_version``, ``previous_run_id`` and ``parameters`` (a
        JSON-serialisable dict); ``started_at`` is now.
        """
        raise self._no_runs()

    def add_findings(self, run_id: str, findings: pl.DataFrame) -> None:
        """Stage findings (``FINDINGS_SCHEMA``) of a running run; ``run_id`` is set on them."""
        raise self._no_runs()

    def finish_run(self, run_id: str, *, state: str, counts: Mapping[str, Any] | None = None,
                   timings: Mapping[str, Any] | None = None,
                   data_start: datetime | None = None, data_end: datetime | None = None,
                   error: str | None = None) -> None:
        """End a run.

        ``state="complete"`` atomically makes the run the current result of its scope and
        year: the previous complete run of that scope and year becomes ``superseded``, and its
        findings, and those of older runs of the scope and year that never completed, are
        deleted (re-running a year replaces its results, never duplicates them).
        ``state="failed"`` records ``error`` and deletes the run's staged findings.
        """
        raise self._no_runs()

    def runs(self) -> pl.DataFrame:
        """Every run record (``RUNS_SCHEMA``), oldest first."""
        raise self._no_runs()

    def read_findings(self, run_id: str) -> pl.DataFrame:
        """The findings stored under ``run_id`` (``FINDINGS_SCHEMA``)."""
        raise self._no_runs()

    def _no_runs(self) -> Exception:
        from griddiag.exceptions import StoreError

        return StoreError(f"{type(self).__name__} ({self.url}) does not keep inspection runs")

    def current_run(self, scope: str, year: int) -> dict[str, Any] | None:
        """The complete run holding the current results of ``scope`` and ``year``, or None."""
        return _latest_complete(self.runs().filter((pl.col("scope") == scope)
                                                   & (pl.col("year") == year)))

    def previous_run(self, scope: str, year: int) -> dict[str, Any] | None:
        """The current complete run of ``scope`` for the latest year before ``year``: what an
        inspection of ``year`` is compared with (new, recurring, resolved)."""
        earlier = self.runs().filter((pl.col("scope") == scope) & (pl.col("year") < year)
                                     & (pl.col("state") == "complete"))
        if earlier.height == 0:
            return None
        return _latest_complete(earlier.filter(pl.col("year") == earlier["year"].max()))


def _latest_complete(runs: pl.DataFrame) -> dict[str, Any] | None:
    """The latest complete run of a frame of run records (by finish time, then run id).

    Normally there is at most one; a crash between a run's commit and the clean-up of the run
    it supersedes can leave two for a moment, and the later one is the current one."""
    done = runs.filter(pl.col("state") == "complete")
    if done.height == 0:
        return None
    row = done.sort("finished_at", "run_id", nulls_last=False).row(-1, named=True)
    for key in ("parameters", "counts", "timings"):
        row[key] = json.loads(row[key]) if row[key] else {}
    return row


def check_run(run: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a new run record, checked (``begin_run``'s argument)."""
    unknown = sorted(set(run) - set(_RUN_FIELDS))
    if unknown:
        raise ConfigError(f"run record has unknown field(s) {unknown}; known: {_RUN_FIELDS}")
    for key in ("run_id", "scope", "year"):
        if run.get(key) in (None, ""):
            raise ConfigError(f"run record lacks {key!r}")
    out = {k: run.get(k) for k in _RUN_FIELDS}
    out["year"] = int(out["year"])
    out["parameters"] = dict(out["parameters"] or {})
    return out


def check_finish_state(state: str) -> str:
    if state not in ("complete", "failed"):
        raise ConfigError(f"a run finishes as 'complete' or 'failed', not {state!r}")
    return state


def findings_of_run(findings: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Findings cast to ``FINDINGS_SCHEMA`` with ``run_id`` set, or a clear error."""
    from griddiag.schema import FINDINGS_SCHEMA

    missing = [c for c in FINDINGS_SCHEMA if c not in findings.columns and c != "run_id"]
    if missing:
        raise ConfigError(f"findings frame lacks column(s) {missing}")
    return findings.with_columns(run_id=pl.lit(run_id, pl.String)).select(
        [pl.col(c).cast(d) for c, d in FINDINGS_SCHEMA.items()])


# -- hourly aggregates (shared by the stores' ``hourly_aggregate``) -----------------------------
_HOUR_US = 3_600_000_000


def hourly_schema() -> dict[str, pl.DataType]:
    return {"asset_id": pl.String(), "metric": pl.String(),
            "hour": pl.Datetime("us", "UTC"), "sum": pl.Float64(), "count": pl.Int64(),
            "max": pl.Float64(), "min": pl.Float64()}


@lru_cache(maxsize=256)
def hour_shift_us(tz: str, lo_year: int, hi_year: int) -> int:
    """The zone's UTC offset modulo one hour, in microseconds, which must not change between
    ``lo_year`` and ``hi_year``: local hours then start at the same minute of every UTC hour
    (on the hour in all but a few zones; at half past in India's +05:30), and a local hour is
    ``(ts + shift) // 1 h`` without converting any time stamp."""
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {tz!r}; use an IANA name such as "
                          "'Asia/Shanghai' or 'UTC'") from exc
    shifts = set()
    day = datetime(lo_year, 1, 1, tzinfo=UTC)
    end = datetime(hi_year + 1, 1, 1, tzinfo=UTC)
    while day < end:  # weekly samples see every DST period (they last months)
        off = day.astimezone(zone).utcoffset()
        shifts.add(int(off.total_seconds()) % 3600 if off is not None else 0)
        day += timedelta(days=7)
    if len(shifts) > 1:
        raise ConfigError(f"time zone {tz!r} moves its clocks by a fraction of an hour between "
                          f"{lo_year} and {hi_year}; local hours are not defined there")
    return shifts.pop() * 1_000_000


def asset_shifts(asset_ids: pl.Series, tz: str | Mapping[str, str], lo_year: int,
                 hi_year: int) -> np.ndarray:
    """Per asset of ``asset_ids``, :func:`hour_shift_us` of its zone."""
    if isinstance(tz, str):
        return np.full(asset_ids.len(), hour_shift_us(tz, lo_year, hi_year), dtype=np.int64)
    zones = asset_ids.replace_strict(dict(tz), default="UTC", return_dtype=pl.String)
    shifts = {z: hour_shift_us(z, lo_year, hi_year) for z in zones.unique().to_list()}
    return zones.replace_strict(shifts, return_dtype=pl.Int64).to_numpy()


def hourly_of_readings(readings: pl.DataFrame, tz: str | Mapping[str, str]) -> pl.DataFrame:
    """Readings sorted by asset, metric and time (a ``read_batches`` frame) -> local-hour
    aggregates, with the :func:`griddiag.kernels.yoy.hourly_sums` kernel."""
    from griddiag.kernels.yoy import hourly_sums

    if readings.height == 0:
        return pl.DataFrame(schema=hourly_schema())
    assets = readings["asset_id"].unique().sort()
    metrics = readings["metric"].unique().sort()
    group = group_codes(readings, assets, metrics)
    ts = readings["ts"].dt.epoch("us").to_numpy()
    order = sort_order(group, ts)
    values = readings["value"].to_numpy()
    if order is not None:
        group, ts, values = group[order], ts[order], values[order]
    starts = np.flatnonzero(np.diff(group, prepend=-1) != 0)
    g = group[starts]
    n_m = max(len(metrics), 1)
    ids = assets.gather(g // n_m)
    lo = datetime.fromtimestamp(int(ts.min()) / 1e6, tz=UTC).year
    hi = datetime.fromtimestamp(int(ts.max()) / 1e6, tz=UTC).year
    shift = asset_shifts(ids, tz, lo, hi)
    off, key, hs, hc, hx, hn = hourly_sums(values, np.append(starts, group.size), ts, shift)
    idx = np.repeat(np.arange(starts.size), np.diff(off))
    return pl.DataFrame({
        "asset_id": ids.gather(idx), "metric": metrics.gather((g % n_m)[idx]),
        "hour": pl.Series(key * _HOUR_US - shift[idx]).cast(pl.Datetime("us", "UTC")),
        "sum": hs, "count": hc, "max": hx, "min": hn,
    })
