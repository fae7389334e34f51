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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError

__all__ = [
    "OnConflict",
    "Store",
    "WriteResult",
    "check_on_conflict",
    "group_codes",
    "sort_order",
    "split_batch_conflicts",
]

OnConflict = Literal["reject", "replace"]


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
