"""Readings on each series' regular interval grid, explicitly: the detectors' input.

A *series* is one asset's one metric. Its grid starts at ``t0`` (its first reading, or the
first slot of the requested period on the series' own phase) and steps by its interval, which
is declared in the profile or inferred as the most common step between consecutive readings
(a few missing intervals do not change the mode; a meter that reports hourly half the time
and every 15 minutes otherwise is irregular, and its coarser half shows as gaps).

Nothing is filled: a slot without a reading is ``NaN`` and stays so, and every finding reports
the share of its window that was present (``coverage``:
:func:`griddiag.detectors.base.event_table`). Readings off the grid
(``ts - t0`` not a multiple of the interval) are put into the slot that contains them, since
``ts`` labels the start of an interval; when two readings land in one slot neither is
chosen, the slot is ``NaN`` and the series frame counts them (``n_collisions``), so nothing is
silently dropped. Exact duplicates and conflicting values for one timestamp never get here:
ingest rejects them into the quarantine (``griddiag.ingest``).

A change of interval in the middle of a history is kept, not resampled: the series is split
into *segments* where its step changes (a run of ``min_segment_readings`` equal steps of a new
length, :func:`griddiag.kernels.runs.interval_segments`), and each segment is a series of the
grid with its own interval (``segment`` numbers them), so 30-minute readings followed by
15-minute ones are two series without gaps, and findings are reported per segment. A declared
interval (the profile's ``[intervals]``) is taken as given: no split.

The layout is the kernels' batch layout (:mod:`griddiag.kernels`): ``values`` of all series
concatenated, ``offsets`` where each starts, plus the start time of every slot.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import thread_map
from griddiag.kernels._validate import offsets_from_lengths
from griddiag.row_blocks import block_rows, chunk_arrays, contiguous, find_blocks, gather_blocks
from griddiag.schema import normalize_readings

__all__ = [
    "Calendar",
    "Grid",
    "SortedReadings",
    "build_calendar",
    "daily_totals",
    "sorted_readings",
    "to_grid",
]

_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400_000_000

#: Columns of :attr:`Grid.series`, one row per series in batch order.
SERIES_COLUMNS = ("asset_id", "metric", "interval_us", "n_slots", "n_present",
                  "n_off_grid", "n_collisions", "segment")


@dataclass(frozen=True)
class Calendar:
    """Local-calendar keys of every slot of a grid (the asset's time zone).

    ``day`` is the local date as days since 1970-01-01 (non-decreasing within a series, as the
    daily kernels require); ``slot_of_day`` the slot's position in its local day from the
    series' interval; ``day_type`` 0 workday, 1 weekend (or other rest day), 2 public holiday.
    :func:`build_calendar` gives ``day`` and ``slot_of_day`` as int32 and ``day_type`` as
    int8 (one of each per slot: as int64 they were the largest arrays of a run).
    """

    day: np.ndarray
    slot_of_day: np.ndarray
    day_type: np.ndarray
    n_slots_of_day: int


@dataclass(frozen=True)
class Grid:
    """Series of one batch on their regular grids (see the module docstring).

    Attributes
    ----------
    series : polars.DataFrame
        One row per series (:data:`SERIES_COLUMNS`, plus the asset attributes the detectors
        use: ``asset_kind``, ``tz``, ``register_digits``).
    values : numpy.ndarray of float64
        All slots, series after series; NaN = no reading.
    offsets : numpy.ndarray of int64, shape (n_series + 1,)
    ts_us : numpy.ndarray of int64
        Start of each slot, microseconds since the epoch, UTC.
    calendar : Calendar or None
        Local day keys, when :func:`build_calendar` has been applied.
    """

    series: pl.DataFrame
    values: np.ndarray
    offsets: np.ndarray
    ts_us: np.ndarray
    calendar: Calendar | None = None

    @property
    def n_series(self) -> int:
        return self.offsets.shape[0] - 1

    def series_of_slot(self) -> np.ndarray:
        """Index of the series each slot belongs to (int64, one per slot)."""
        return np.repeat(np.arange(self.n_series, dtype=np.int64), np.diff(self.offsets))

    def interval_of_slot(self) -> np.ndarray:
        """Interval length (microseconds) of each slot's series."""
        return np.repeat(self.series["interval_us"].to_numpy(), np.diff(self.offsets))

    def select(self, mask: np.ndarray) -> Grid:
        """The sub-grid of the series where ``mask`` is True (copies their slots)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.all():
            return self
        lengths = np.diff(self.offsets)
        keep = np.repeat(mask, lengths)
        offsets = offsets_from_lengths(lengths[mask])
        cal = self.calendar
        if cal is not None:
            cal = Calendar(cal.day[keep], cal.slot_of_day[keep], cal.day_type[keep],
                           cal.n_slots_of_day)
        return Grid(self.series.filter(pl.Series(mask)), self.values[keep], offsets,
                    self.ts_us[keep], cal)


@dataclass(frozen=True)
class SortedReadings:
    """A readings frame as arrays sorted by (asset, metric, time), for repeated selections.

    The electrical and theft checks each need a few metrics of some assets of the same
    batch; filtering the long frame by strings for each of them costs a pass over every
    reading. Sorted once (by integer codes: lexical ranks of the ids and metrics), each
    series is a contiguous row range and a selection costs only the rows it returns.
    """

    ids: pl.Series  # sorted distinct asset ids; an asset's code is its position
    metrics: pl.Series  # sorted distinct metrics
    series_asset: np.ndarray  # per series: asset code
    series_metric: np.ndarray  # per series: metric code
    row_offsets: np.ndarray  # rows of series i: [row_offsets[i], row_offsets[i + 1])
    t: np.ndarray  # int64 microseconds since the epoch, UTC
    value: np.ndarray  # float64, NaN = missing
    #: what checks derive from the batch and share (e.g. the electrical grids), by key: see
    #: :meth:`shared`
    memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                       repr=False, compare=False)

    def shared(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """What ``build()`` returns, built once per ``key`` and kept in :attr:`memo` for the
        batch's other checks until :func:`forget_shared`. A batch's two lanes may ask for the
        same key at once (``griddiag.detect.detect_batch`` shares its electrical checks
        between them): the second waits for the first's result instead of building its
        own copy (a grid of 0.1-0.3 GB on 1,000 meters). A build that fails is not kept."""
        with self._memo_lock:
            future = self.memo.get(key)
            mine = future is None
            if mine:
                future = self.memo[key] = Future()
        if mine:
            try:
                future.set_result(build())
            except BaseException as exc:
                with self._memo_lock:
                    if self.memo.get(key) is future:
                        del self.memo[key]
                future.set_exception(exc)
                raise
        return future.result()

    @classmethod
    def of(cls, readings: pl.DataFrame) -> SortedReadings:
        # A store's batch comes sorted by (asset, metric, ts), and other sources come in a few
        # blocks of rows per series: the work is done per *block* (a run of rows of one series,
        # found by comparing neighbouring rows once). Only the blocks' strings are coded; when
        # the blocks are in order nothing moves (the arrays are views of the frame's columns),
        # when they are not whole blocks are copied in order, and rows are sorted only when
        # some series is out of time order within its blocks (griddiag.row_blocks). The rows
        # are compared on the kernel threads (polars compares without the GIL): 0.8 -> 0.5 s
        # on 55 M readings and 2 cores.
        n = readings.height
        # both columns as chunks (views): made whole only where the rows stay or are sorted
        t = chunk_arrays(readings["ts"].dt.epoch("us"))
        v = chunk_arrays(readings["value"].cast(pl.Float64))
        blocks = find_blocks(readings["asset_id"], readings["metric"], t,
                             lambda fn, pieces: thread_map(fn, pieces, n))
        ids, metrics, order = blocks.ids, blocks.metrics, blocks.order
        start, length, key = blocks.start, blocks.length, blocks.key
        n_m = max(metrics.len(), 1)  # the codes' factor (block_keys)
        if order is None:  # some series out of time order: sort the rows
            t, v = contiguous(t), contiguous(v)
            k = np.repeat(key, length)
            rows = pl.DataFrame({"k": k, "t": t}).select(
                pl.arg_sort_by("k", "t", maintain_order=True))["k"].to_numpy()
            k, t, v = k[rows], t[rows], v[rows]
            start = np.flatnonzero(np.diff(k, prepend=-1)) if n else start
            length = np.diff(np.append(start, n))
            key = k[start]
        elif not blocks.in_order:  # whole blocks out of order: copied in order
            start, length, key = start[order], length[order], key[order]
            # the two columns at once on the kernel threads (NumPy copies without the GIL)
            t, v = thread_map(lambda a: gather_blocks(a, start, length), [t, v], n)
        else:
            t, v = contiguous(t), contiguous(v)
        # consecutive blocks of one series are one series
        new = np.flatnonzero(np.diff(key, prepend=-1))
        off = offsets_from_lengths(np.add.reduceat(length, new) if new.size else new)
        return cls(ids, metrics, key[new] // n_m, key[new] % n_m, off, t, v)

    def series(self, metrics: list[str], asset_ids: list[str] | None = None) -> np.ndarray:
        """Indices of the series of ``metrics`` (and of ``asset_ids``, when given)."""
        mcode = np.flatnonzero(self.metrics.is_in(
            pl.Series(list(metrics), dtype=pl.String).implode()).to_numpy())
        keep = np.isin(self.series_metric, mcode)
        if asset_ids is not None:
            acode = np.flatnonzero(self.ids.is_in(
                pl.Series(list(asset_ids), dtype=pl.String).implode()).to_numpy())
            keep &= np.isin(self.series_asset, acode)
        return np.flatnonzero(keep)

    def rows(self, series: np.ndarray) -> np.ndarray:
        """Row indices of ``series`` (in series order, each in time order)."""
        return block_rows(self.row_offsets[series],
                           self.row_offsets[series + 1] - self.row_offsets[series])

    def subset(self, metrics: list[str], asset_ids: list[str] | None = None
               ) -> SortedReadings:
        """The selected series only (their rows copied; codes and order kept)."""
        s = self.series(metrics, asset_ids)
        first, n = self.row_offsets[s], self.row_offsets[s + 1] - self.row_offsets[s]
        off = offsets_from_lengths(n)
        return SortedReadings(self.ids, self.metrics, self.series_asset[s],
                              self.series_metric[s], off, gather_blocks(self.t, first, n),
                              gather_blocks(self.value, first, n))

    def between(self, lo_us: int | None, hi_us: int | None) -> SortedReadings:
        """The readings with ``lo_us <= t < hi_us`` (microseconds; ``None``: unbounded).

        Equal to :meth:`of` of the frame filtered to that window (the same arrays and codes:
        series, assets and metrics left without readings are dropped), but made from these
        arrays: each series' rows in the window are one range (two binary searches), copied
        on the kernel threads; nothing is sorted or coded again. ``self`` when nothing lies
        outside the window. The rows keep their order: both are the rows sorted by (series,
        time), ties in the frame's order (:meth:`of`), and a window of that is that of the
        window."""
        from griddiag.kernels.runs import rows_in_period

        offsets = self.row_offsets
        first, end = rows_in_period(self.t, offsets[:-1], offsets[1:], lo_us, hi_us)
        if (first == offsets[:-1]).all() and (end == offsets[1:]).all():
            return self
        keep = np.flatnonzero(end > first)
        first, length = first[keep], end[keep] - first[keep]
        assets = np.unique(self.series_asset[keep])  # sorted: codes stay ranks
        metrics = np.unique(self.series_metric[keep])
        t, v = thread_map(lambda a: gather_blocks(a, first, length), [self.t, self.value],
                          int(length.sum()))
        return SortedReadings(self.ids.gather(assets), self.metrics.gather(metrics),
                              np.searchsorted(assets, self.series_asset[keep]),
                              np.searchsorted(metrics, self.series_metric[keep]),
                              offsets_from_lengths(length), t, v)

    @property
    def height(self) -> int:
        """Number of readings."""
        return int(self.t.shape[0])

    def frame(self, metrics: list[str], asset_ids: list[str] | None = None) -> pl.DataFrame:
        """``asset_id, t, metric, value`` of the selected series (``t`` in microseconds)."""
        s = self.series(metrics, asset_ids)
        n = self.row_offsets[s + 1] - self.row_offsets[s]
        rows = self.rows(s)
        return pl.DataFrame({
            "asset_id": self.ids.gather(np.repeat(self.series_asset[s], n)),
            "t": self.t[rows],
            "metric": self.metrics.gather(np.repeat(self.series_metric[s], n)),
            "value": self.value[rows],
        }, schema={"asset_id": pl.String, "t": pl.Int64, "metric": pl.String,
                   "value": pl.Float64})


_SORTED: list[tuple[weakref.ref, SortedReadings]] = []
#: Guards :data:`_SORTED`: a batch's two lanes (``griddiag.detect.detect_batch``) look it up
#: from two threads. Reentrant: a frame collected while it is held calls :func:`_forget`.
_SORTED_LOCK = threading.RLock()


def _forget(ref: weakref.ref) -> None:
    """Drop the sorted arrays of a frame that is gone (its weak reference's callback)."""
    with _SORTED_LOCK:
        _SORTED[:] = [(r, sr) for r, sr in _SORTED if r is not ref]


def _cached(readings: pl.DataFrame) -> SortedReadings | None:
    with _SORTED_LOCK:
        _SORTED[:] = [(ref, sr) for ref, sr in _SORTED if ref() is not None]  # frames gone
        return next((sr for ref, sr in _SORTED if ref() is readings), None)


def sorted_readings(readings: pl.DataFrame | SortedReadings) -> SortedReadings:
    """:meth:`SortedReadings.of`, reused for the very same frame (frames are immutable; a
    weak reference makes sure a new frame with a recycled ``id`` is never taken for an old
    one). A batch's checks get its sorted arrays themselves (``griddiag.detect``), which
    are returned as they are; a frame passed to several checks is sorted once. The arrays
    are let go with the frame (no batch's copy outlives it)."""
    if isinstance(readings, SortedReadings):
        return readings
    sr = _cached(readings)
    if sr is not None:
        return sr
    sr = SortedReadings.of(readings)
    try:
        ref = weakref.ref(readings, _forget)
    except TypeError:  # not weak-referenceable: no caching
        return sr
    with _SORTED_LOCK:
        _SORTED.insert(0, (ref, sr))
        del _SORTED[2:]
    return sr


def forget_shared(readings: pl.DataFrame | SortedReadings) -> None:
    """Let go of what checks derived from ``readings``' sorted arrays (or from the sorted
    arrays passed) and shared (:attr:`SortedReadings.memo`, e.g. the electrical grids) once
    those checks are done; the sorted arrays stay, and a frame never sorted is not sorted for
    this."""
    sr = readings if isinstance(readings, SortedReadings) else _cached(readings)
    if sr is not None:
        with sr._memo_lock:
            sr.memo.clear()


def period_us(value: datetime | None) -> int | None:
    """A period bound in microseconds since the epoch (the sorted arrays' ``t``); ``None``
    stays ``None`` (unbounded). A naive datetime is refused: its zone would be a guess."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ConfigError(f"period bound {value!r} has no time zone; pass an aware datetime "
                          "(e.g. datetime(2024, 1, 1, tzinfo=UTC))")
    return int(pl.Series([value]).dt.convert_time_zone("UTC").dt.epoch("us")[0])


def to_grid(readings: pl.DataFrame | SortedReadings, *,
            interval_minutes: dict[str, float] | None = None,
            start: datetime | None = None, end: datetime | None = None,
            assets: pl.DataFrame | None = None, min_segment_readings: int = 96,
            metrics: list[str] | None = None) -> Grid:
    """Put a readings frame onto each series' regular interval grid.

    Parameters
    ----------
    readings : polars.DataFrame or SortedReadings
        Canonical readings (``asset_id, ts, metric, value``), any order; or the batch's
        :class:`SortedReadings` (or a :meth:`~SortedReadings.subset` of it), which needs no
        sort and no string work here.
    interval_minutes : dict of str to float, optional
        Declared interval per metric (the profile's ``[intervals]``); other metrics infer it.
    start, end : datetime, optional
        The analysed period (``end`` exclusive). With them, missing slots at the ends of the
        period count as missing (a meter silent all December has a gap, not a short year);
        each series keeps its own phase (a register read at 00:00 local stays on it).
    assets : polars.DataFrame, optional
        Assets frame; adds ``asset_kind``, ``tz``, ``register_digits`` to :attr:`Grid.series`.
    min_segment_readings : int
        Equal steps in a row that establish an interval: a series whose inferred interval
        changes (two such runs with different steps) is split into segments there
        (:func:`griddiag.kernels.runs.interval_segments`), each on its own grid.
    metrics : list of str, optional
        Only these metrics' series. Selecting here rather than passing a
        :meth:`~SortedReadings.subset` copies none of the selected rows: they are read in
        place (a batch's interval energy is most of its readings).

    Returns
    -------
    Grid
        Series in ``asset_id, metric`` order, segments of one series in time order
        (``segment`` counts them from 0).
    """
    from griddiag.kernels.runs import interval_segments, place_on_grid, rows_in_period

    sr = readings if isinstance(readings, SortedReadings) else \
        SortedReadings.of(normalize_readings(readings))
    # the chosen series' rows (within the period) are read where they lie in the batch: no
    # copy of the selection, no pass over every reading to choose the period
    sel = sr.series(metrics) if metrics is not None else \
        np.arange(sr.series_metric.shape[0], dtype=np.int64)
    lo, hi = period_us(start), period_us(end)
    t, value = sr.t, sr.value
    row_first, row_end = sr.row_offsets[sel], sr.row_offsets[sel + 1]
    if lo is not None or hi is not None:
        row_first, row_end = rows_in_period(t, row_first, row_end, lo, hi)
    if not (row_end > row_first).any():
        return empty_grid()
    metric_names = sr.metrics.to_list()
    decl = {m: int(round(x * _US_PER_MINUTE)) for m, x in (interval_minutes or {}).items()}
    declared = np.array([decl.get(m, 0) for m in metric_names], dtype=np.int64)[
        sr.series_metric[sel]]
    seg_series, seg_row, step = interval_segments(t, row_first, declared, ends=row_end,
                                                  min_run=min_segment_readings)
    step = np.where(step > 0, step, _US_PER_DAY)
    n_seg = seg_series.shape[0]
    head = np.ones(n_seg, dtype=bool)
    head[1:] = seg_series[1:] != seg_series[:-1]
    tail = np.ones(n_seg, dtype=bool)
    tail[:-1] = seg_series[:-1] != seg_series[1:]
    # a segment runs to the next one of its series, the last one to its series' end
    seg_end_row = np.where(tail, row_end[seg_series], np.append(seg_row[1:], 0))
    first = t[seg_row]
    last = t[seg_end_row - 1]
    # grid ends: the period's bounds on each series' phase, else its first and last reading;
    # a segment followed by another of its series ends before that one's first reading
    t0 = first - ((first - lo) // step) * step if lo is not None else first.copy()
    t0 = np.where(head, t0, first)
    if hi is not None:
        t_last = last + ((hi - 1 - last) // step) * step
    else:
        t_last = last.copy()
    nxt = np.append(first[1:], 0)
    t_last = np.where(tail, t_last, t0 + ((nxt - 1 - t0) // step) * step)
    n_slots = ((t_last - t0) // step + 1).astype(np.int64)
    offsets = offsets_from_lengths(n_slots)

    # two readings in one slot: neither is chosen (module docstring)
    values, ts_us, counts = place_on_grid(t, value, seg_row, t0, step, offsets, seg_end_row)
    seg_index = np.arange(n_seg) - np.flatnonzero(head)[np.cumsum(head) - 1]
    series = pl.DataFrame({
        "asset_id": sr.ids.gather(sr.series_asset[sel[seg_series]]),
        "metric": sr.metrics.gather(sr.series_metric[sel[seg_series]]),
        "interval_us": step.astype(np.int64),
        "n_slots": n_slots,
        "n_present": counts[:, 0],
        "n_off_grid": counts[:, 1],
        "n_collisions": counts[:, 2],
        "segment": seg_index.astype(np.int32),
    })
    return Grid(_with_asset_attributes(series, assets), values, offsets, ts_us)


def _with_asset_attributes(series: pl.DataFrame, assets: pl.DataFrame | None) -> pl.DataFrame:
    attrs = {"asset_kind": pl.String, "tz": pl.String, "register_digits": pl.Int32}
    if assets is None or assets.height == 0:
        return series.with_columns(pl.lit(None, d).alias(c) for c, d in attrs.items())
    cols = [c for c in ("asset_id", "kind", "tz", "register_digits") if c in assets.columns]
    a = assets.select(cols).rename({"kind": "asset_kind"} if "kind" in cols else {})
    out = series.join(a, on="asset_id", how="left", maintain_order="left")
    return out.with_columns(pl.lit(None, d).alias(c) for c, d in attrs.items()
                            if c not in out.columns).with_columns(
        pl.col(c).cast(d) for c, d in attrs.items())


def empty_grid() -> Grid:
    series = pl.DataFrame(schema={"asset_id": pl.String, "metric": pl.String,
                                  "interval_us": pl.Int64, "n_slots": pl.Int64,
                                  "n_present": pl.Int64, "n_off_grid": pl.Int64,
                                  "n_collisions": pl.Int64, "segment": pl.Int32,
                                  "asset_kind": pl.String, "tz": pl.String,
                                  "register_digits": pl.Int32})
    z = np.empty(0, dtype=np.int64)
    return Grid(series, np.empty(0), np.zeros(1, dtype=np.int64), z)


# -- local calendar ----------------------------------------------------------------------------

def _day_types(days: np.ndarray, country: str | None) -> np.ndarray:
    """Day type of each distinct local day number: 0 workday, 1 rest day, 2 public holiday.

    Uses the ``holidays`` package's official calendar, which for China includes the make-up
    working weekends around long holidays (those are workdays here). Loops over distinct
    dates (a few thousand per batch), never over slots.
    """
    dates = (days.astype("datetime64[D]")).astype(object)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    out = np.where(weekday >= 5, 1, 0).astype(np.int64)
    if country is None or days.size == 0:
        return out
    from griddiag.holiday_calendar import country_holidays

    cal = country_holidays(country, {d.year for d in dates})  # "CN", "AU-VIC", ...
    for i, d in enumerate(dates):
        if d in cal:
            out[i] = 2
        elif hasattr(cal, "is_working_day"):
            out[i] = 0 if cal.is_working_day(d) else 1
    return out


def _utc_offsets_us(zone: str, lo_us: int, hi_us: int) -> tuple[int, np.ndarray]:
    """UTC offset of ``zone`` on a 15-minute lattice covering ``[lo_us, hi_us]``.

    Offsets change only at transitions, which fall on a quarter hour in every zone of the tz
    database, so looking up a slot's lattice point is exact and costs one index per slot
    instead of a time-zone conversion per slot.
    """
    step = 15 * _US_PER_MINUTE
    first = lo_us - lo_us % step
    lattice = pl.Series(np.arange(first, hi_us + step, step, dtype=np.int64)).cast(
        pl.Datetime("us", "UTC"))
    local = lattice.dt.convert_time_zone(zone).dt.replace_time_zone(None)
    offset = (local.dt.epoch("us") - lattice.dt.epoch("us")).to_numpy()
    return first, offset


def _year_start_us(year: int) -> int:
    return (np.datetime64(f"{year:04d}-01-01", "D").astype(np.int64)) * _US_PER_DAY


def _year_of_day(day: int) -> int:
    return int(np.datetime64(int(day), "D").astype("datetime64[Y]").astype(np.int64)) + 1970


@lru_cache(maxsize=64)
def _zone_transitions(zone: str, first_year: int, last_year: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """UTC offset of ``zone`` over the UTC years ``first_year .. last_year`` as a step
    function: the instants where it changes (the first: the start of ``first_year``) and the
    offset from each, read from the quarter-hour lattice of :func:`_utc_offsets_us`.

    Whole years, cached: every grid of a run (each metric's, each batch's) reuses one
    conversion per zone instead of converting a lattice of its own.
    """
    first, offset = _utc_offsets_us(zone, _year_start_us(first_year),
                                    _year_start_us(last_year + 1) - 1)
    change = np.flatnonzero(np.diff(offset, prepend=offset[0] - 1))
    times, offsets = first + change * (15 * _US_PER_MINUTE), offset[change]
    times.flags.writeable = offsets.flags.writeable = False  # shared by every caller
    return times, offsets


@lru_cache(maxsize=64)
def _day_types_of_years(country: str | None, first_year: int, last_year: int) -> np.ndarray:
    """:func:`_day_types` of every day of the years ``first_year .. last_year`` as int8
    (from the first day of ``first_year``), cached: one holiday lookup per day and run."""
    d0 = _year_start_us(first_year) // _US_PER_DAY
    d1 = _year_start_us(last_year + 1) // _US_PER_DAY
    out = _day_types(np.arange(d0, d1, dtype=np.int64), country).astype(np.int8)
    out.flags.writeable = False
    return out


def build_calendar(grid: Grid, *, holiday_country: str | None = "CN",
                   default_tz: str = "UTC") -> Grid:
    """The grid with its local :class:`Calendar` (each series in its asset's ``tz``).

    DST days get 23 or 25 hours of slots; ``slot_of_day`` counts slots from local midnight in
    the series' interval. Day types come from the ``holidays`` package (``holiday_country``;
    ``None``: weekends only). Time zones are converted once per zone, day types once per
    local day; :func:`griddiag.kernels.calendar.local_calendar` then keys every slot in one
    pass (int32/int8 keys: see :class:`Calendar`).
    """
    from griddiag.kernels.calendar import local_calendar

    n = grid.values.shape[0]
    if n == 0:
        z = np.empty(0, dtype=np.int32)
        return replace(grid, calendar=Calendar(z, z, np.empty(0, dtype=np.int8), 1))
    zones = grid.series["tz"].fill_null(default_tz)
    names = zones.unique(maintain_order=True).to_list()  # a handful, never one per slot
    series_zone = zones.cast(pl.Enum(names)).to_physical().cast(pl.Int64).to_numpy()
    has = np.diff(grid.offsets) > 0
    first_ts = grid.ts_us[grid.offsets[:-1][has]]  # slots step forward within a series
    last_ts = grid.ts_us[grid.offsets[1:][has] - 1]
    times, offsets, day_lo, day_hi = [], [], [], []
    for z, zone in enumerate(names):
        mine = series_zone[has] == z
        if not mine.any():  # only empty series in this zone: nothing to convert
            times.append(np.zeros(0, dtype=np.int64))
            offsets.append(np.zeros(0, dtype=np.int64))
            continue
        lo, hi = int(first_ts[mine].min()), int(last_ts[mine].max())
        t, o = _zone_transitions(zone, _year_of_day(lo // _US_PER_DAY),
                                 _year_of_day(hi // _US_PER_DAY))
        times.append(t)
        offsets.append(o)
        day_lo.append((lo + int(o.min())) // _US_PER_DAY)
        day_hi.append((hi + int(o.max())) // _US_PER_DAY)
    zone_offsets = offsets_from_lengths([t.shape[0] for t in times])
    y0 = _year_of_day(min(day_lo, default=0))
    day_types = _day_types_of_years(holiday_country, y0, _year_of_day(max(day_hi, default=0)))
    day, slot_of_day, day_type, per_day = local_calendar(
        grid.ts_us, grid.offsets, grid.series["interval_us"].to_numpy(),
        transitions_us=np.concatenate(times), utc_offsets_us=np.concatenate(offsets),
        day_types=day_types, first_day=_year_start_us(y0) // _US_PER_DAY,
        series_zone=series_zone, zone_offsets=zone_offsets)
    return replace(grid, calendar=Calendar(day, slot_of_day, day_type, per_day))


def daily_totals(grid: Grid, *, min_coverage: float = 0.9, index: bool = True
                 ) -> tuple[Grid, np.ndarray | None]:
    """Local-day sums of each series (interval energy -> energy per day), as a grid of days.

    A day whose present share of slots is below ``min_coverage`` is NaN (an incomplete day is
    not a low-usage day). The day's slot count is what the series' interval gives for a full
    local day (96 for 15 minutes; a DST day is measured against its own length).

    Returns the grid of days and, for every slot of ``grid``, the index of its day in it (to
    carry a daily score back to the slots; ``None`` with ``index=False``, which saves a pass
    over every slot when only the days are wanted).
    """
    if grid.calendar is None:
        raise ConfigError("daily_totals needs the grid's calendar: call build_calendar first")
    cal = grid.calendar
    n = grid.values.shape[0]
    lengths = np.diff(grid.offsets)
    # a new group wherever the local day changes or a series begins
    brk = np.empty(n, dtype=bool)
    if n:
        brk[0] = True
        np.not_equal(cal.day[1:], cal.day[:-1], out=brk[1:])
        brk[grid.offsets[:-1][lengths > 0]] = True
    starts = np.flatnonzero(brk)
    valid = np.isfinite(grid.values)
    total = np.add.reduceat(np.where(valid, grid.values, 0.0), starts) if starts.size else \
        np.empty(0)
    present = np.add.reduceat(valid, starts, dtype=np.int64) if starts.size else \
        np.empty(0, dtype=np.int64)
    del valid
    slots = np.diff(np.append(starts, n))
    day_series = np.searchsorted(grid.offsets, starts, side="right") - 1
    per_day = _US_PER_DAY // grid.series["interval_us"].to_numpy()[day_series]
    # a day cut by the grid's ends is judged against a full day
    share = present / np.maximum(per_day, slots)
    values = np.where(share >= min_coverage, total, np.nan)
    offsets = offsets_from_lengths(np.bincount(day_series, minlength=grid.n_series))
    series = grid.series.with_columns(pl.lit(_US_PER_DAY, pl.Int64).alias("interval_us"),
                                      pl.Series("n_slots", np.diff(offsets)))
    dcal = Calendar(cal.day[starts], np.zeros(starts.size, dtype=cal.slot_of_day.dtype),
                    cal.day_type[starts], 1)
    days = Grid(series, values, offsets, grid.ts_us[starts], dcal)
    return days, (np.cumsum(brk) - 1 if index else None)
