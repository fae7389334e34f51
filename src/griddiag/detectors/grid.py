"""Readings on each series' regular interval grid, explicitly: the detectors' input.

A *series* is one asset's one metric. Its grid starts at ``t0`` (its first reading, or the
first slot of the requested period on the series' own phase) and steps by its interval, which
is declared in the profile or inferred as the most common step between consecutive readings
(a few missing intervals do not change the mode; a meter that reports hourly half the time
and every 15 minutes otherwise is irregular, and its coarser half shows as gaps).

Nothing is filled: a slot without a reading is ``NaN`` and stays so, and every finding reports
the share of its window that was present (:func:`window_coverage`). Readings off the grid
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

import weakref
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.schema import normalize_readings

__all__ = [
    "Calendar",
    "Grid",
    "SortedReadings",
    "build_calendar",
    "daily_totals",
    "sorted_readings",
    "to_grid",
    "window_coverage",
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
        offsets = np.zeros(int(mask.sum()) + 1, dtype=np.int64)
        np.cumsum(lengths[mask], out=offsets[1:])
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
    #: what checks derive from the batch and share (e.g. the electrical grids), by key
    memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, readings: pl.DataFrame) -> SortedReadings:
        # A store's batch comes sorted by (asset, metric, ts), and other sources come in a few
        # blocks of rows per series: the work is done per *block* (a run of rows of one series,
        # found by comparing neighbouring rows once). Only the blocks' strings are coded; when
        # the blocks are in order nothing moves (the arrays are views of the frame's columns),
        # when they are not whole blocks are copied in order, and rows are sorted only when
        # some series is out of time order within its blocks.
        n = readings.height
        start = readings.select(pl.int_range(pl.len(), dtype=pl.Int64).filter(
            pl.col("asset_id").ne_missing(pl.col("asset_id").shift(1))
            | pl.col("metric").ne_missing(pl.col("metric").shift(1))))[:, 0].to_numpy()
        length = np.diff(np.append(start, n))
        block_ids = readings["asset_id"].gather(start)
        block_metrics = readings["metric"].gather(start)
        ids = block_ids.unique().sort()
        metrics = block_metrics.unique().sort()
        n_m = max(metrics.len(), 1)
        key = (block_ids.cast(pl.Enum(ids)).to_physical().cast(pl.Int64).to_numpy() * n_m
               + block_metrics.cast(pl.Enum(metrics)).to_physical().cast(pl.Int64).to_numpy())
        t = readings["ts"].dt.epoch("us").to_numpy()
        v = readings["value"].cast(pl.Float64).to_numpy()
        order = _block_order(t, start, length, key)
        if order is None:  # some series out of time order: sort the rows
            k = np.repeat(key, length)
            rows = pl.DataFrame({"k": k, "t": t}).select(
                pl.arg_sort_by("k", "t", maintain_order=True))["k"].to_numpy()
            k, t, v = k[rows], t[rows], v[rows]
            start = np.flatnonzero(np.diff(k, prepend=-1)) if n else start
            length = np.diff(np.append(start, n))
            key = k[start]
        elif (np.diff(order) != 1).any():  # whole blocks out of order: copied in order
            start, length, key = start[order], length[order], key[order]
            rows = _block_rows(start, length)
            t, v = t[rows], v[rows]
        # consecutive blocks of one series are one series
        new = np.flatnonzero(np.diff(key, prepend=-1))
        off = np.zeros(new.size + 1, dtype=np.int64)
        if new.size:
            np.cumsum(np.add.reduceat(length, new), out=off[1:])
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
        return _block_rows(self.row_offsets[series],
                           self.row_offsets[series + 1] - self.row_offsets[series])

    def subset(self, metrics: list[str], asset_ids: list[str] | None = None
               ) -> SortedReadings:
        """The selected series only (their rows copied; codes and order kept)."""
        s = self.series(metrics, asset_ids)
        n = self.row_offsets[s + 1] - self.row_offsets[s]
        rows = self.rows(s)
        off = np.zeros(s.size + 1, dtype=np.int64)
        np.cumsum(n, out=off[1:])
        return SortedReadings(self.ids, self.metrics, self.series_asset[s],
                              self.series_metric[s], off, self.t[rows], self.value[rows])

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


def _block_rows(start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Row indices of the blocks ``[start[i], start[i] + length[i])``, block after block."""
    first = np.repeat(start - (np.cumsum(length) - length), length)
    return first + np.arange(int(length.sum()), dtype=np.int64)


def _block_order(t: np.ndarray, start: np.ndarray, length: np.ndarray, key: np.ndarray
                 ) -> np.ndarray | None:
    """Order of the blocks that sorts the rows by (``key``, ``t``), or ``None`` when moving
    whole blocks cannot: time goes back inside a block, or two blocks of one series overlap
    in time (equal times in two blocks would need the rows' original order: left to the row
    sort, which keeps it)."""
    back = np.flatnonzero(t[1:] < t[:-1]) + 1
    if not np.isin(back, start).all():
        return None
    order = np.lexsort((t[start], key))
    k, a, z = key[order], start[order], start[order] + length[order]
    same = k[1:] == k[:-1]
    if (t[z[:-1][same] - 1] >= t[a[1:][same]]).any():
        return None
    return order


_SORTED: list[tuple[weakref.ref, SortedReadings]] = []


def _forget(ref: weakref.ref) -> None:
    """Drop the sorted arrays of a frame that is gone (its weak reference's callback)."""
    _SORTED[:] = [(r, sr) for r, sr in _SORTED if r is not ref]


def sorted_readings(readings: pl.DataFrame) -> SortedReadings:
    """:meth:`SortedReadings.of`, reused for the very same frame (frames are immutable; a
    weak reference makes sure a new frame with a recycled ``id`` is never taken for an old
    one). The checks of one batch receive the same frame, so it is sorted once per batch;
    the arrays are let go with the frame (no batch's copy outlives it)."""
    _SORTED[:] = [(ref, sr) for ref, sr in _SORTED if ref() is not None]  # frames gone
    for ref, sr in _SORTED:
        if ref() is readings:
            return sr
    sr = SortedReadings.of(readings)
    try:
        _SORTED.insert(0, (weakref.ref(readings, _forget), sr))
    except TypeError:  # not weak-referenceable: no caching
        return sr
    del _SORTED[2:]
    return sr


def _period_us(value: datetime | None) -> int | None:
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
        :meth:`~SortedReadings.subset` frees the selected rows' copy once the grid is built
        (a batch's interval energy is most of its readings).

    Returns
    -------
    Grid
        Series in ``asset_id, metric`` order, segments of one series in time order
        (``segment`` counts them from 0).
    """
    from griddiag.kernels.runs import interval_segments, place_on_grid

    sr = readings if isinstance(readings, SortedReadings) else \
        SortedReadings.of(normalize_readings(readings))
    if metrics is not None:
        sr = sr.subset(metrics)
    lo, hi = _period_us(start), _period_us(end)
    n_in = np.diff(sr.row_offsets)
    t, value = sr.t, sr.value
    # rows of series i: [row_off[i], row_off[i + 1]) (a series emptied by the period has none)
    row_off = sr.row_offsets
    if lo is not None or hi is not None:
        keep = np.ones(t.shape[0], dtype=bool)
        if lo is not None:
            keep &= t >= lo
        if hi is not None:
            keep &= t < hi
        if not keep.all():
            t, value = t[keep], value[keep]
            kept = np.zeros(keep.shape[0] + 1, dtype=np.int64)
            np.cumsum(keep, out=kept[1:])
            row_off = kept[sr.row_offsets]
    if t.shape[0] == 0:
        return empty_grid()
    metric_names = sr.metrics.to_list()
    decl = {m: int(round(x * _US_PER_MINUTE)) for m, x in (interval_minutes or {}).items()}
    declared = np.array([decl.get(m, 0) for m in metric_names], dtype=np.int64)[
        sr.series_metric] if metric_names else np.zeros(n_in.shape[0], dtype=np.int64)
    seg_series, seg_row, step = interval_segments(t, row_off, declared,
                                                  min_run=min_segment_readings)
    step = np.where(step > 0, step, _US_PER_DAY)
    n_seg = seg_series.shape[0]
    seg_end_row = np.append(seg_row[1:], t.shape[0])
    first = t[seg_row]
    last = t[seg_end_row - 1]
    head = np.ones(n_seg, dtype=bool)
    head[1:] = seg_series[1:] != seg_series[:-1]
    tail = np.ones(n_seg, dtype=bool)
    tail[:-1] = seg_series[:-1] != seg_series[1:]
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
    offsets = np.zeros(n_seg + 1, dtype=np.int64)
    np.cumsum(n_slots, out=offsets[1:])

    # two readings in one slot: neither is chosen (module docstring)
    values, ts_us, counts = place_on_grid(t, value, seg_row, t0, step, offsets)
    seg_index = np.arange(n_seg) - np.flatnonzero(head)[np.cumsum(head) - 1]
    series = pl.DataFrame({
        "asset_id": sr.ids.gather(sr.series_asset[seg_series]),
        "metric": sr.metrics.gather(sr.series_metric[seg_series]),
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


def build_calendar(grid: Grid, *, holiday_country: str | None = "CN",
                   default_tz: str = "UTC") -> Grid:
    """The grid with its local :class:`Calendar` (each series in its asset's ``tz``).

    DST days get 23 or 25 hours of slots; ``slot_of_day`` counts slots from local midnight in
    the series' interval. Day types come from the ``holidays`` package (``holiday_country``;
    ``None``: weekends only).
    """
    n = grid.values.shape[0]
    if n == 0:
        z = np.empty(0, dtype=np.int64)
        return replace(grid, calendar=Calendar(z, z, z, 1))
    zones = grid.series["tz"].fill_null(default_tz)
    lengths = np.diff(grid.offsets)
    if zones.n_unique() == 1:  # the usual batch: no index arrays over the slots
        ts = grid.ts_us
        first, offset = _utc_offsets_us(zones[0], int(ts.min()), int(ts.max()))
        local_us = ts + offset[(ts - first) // (15 * _US_PER_MINUTE)]
    else:
        local_us = np.empty(n, dtype=np.int64)
        for zone in zones.unique().to_list():  # a handful of zones, never one call per slot
            idx = np.flatnonzero(np.repeat((zones == zone).to_numpy(), lengths))
            ts = grid.ts_us[idx]
            first, offset = _utc_offsets_us(zone, int(ts.min()), int(ts.max()))
            local_us[idx] = ts + offset[(ts - first) // (15 * _US_PER_MINUTE)]
    day = local_us // _US_PER_DAY
    steps = grid.series["interval_us"].to_numpy()
    step = steps[0] if (steps == steps[0]).all() else grid.interval_of_slot()
    local_us -= day * _US_PER_DAY  # now the time since local midnight
    slot_of_day = local_us // step
    d0 = int(day.min())
    day_type = _day_types(np.arange(d0, int(day.max()) + 1), holiday_country)[day - d0]
    return replace(grid, calendar=Calendar(day, slot_of_day, day_type,
                                           int(slot_of_day.max()) + 1))


def daily_totals(grid: Grid, *, min_coverage: float = 0.9) -> tuple[Grid, np.ndarray]:
    """Local-day sums of each series (interval energy -> energy per day), as a grid of days.

    A day whose present share of slots is below ``min_coverage`` is NaN (an incomplete day is
    not a low-usage day). The day's slot count is what the series' interval gives for a full
    local day (96 for 15 minutes; a DST day is measured against its own length).

    Returns the grid of days and, for every slot of ``grid``, the index of its day in it (to
    carry a daily score back to the slots).
    """
    if grid.calendar is None:
        raise ConfigError("daily_totals needs the grid's calendar: call build_calendar first")
    cal = grid.calendar
    sid = grid.series_of_slot()
    # a new group wherever the series or the local day changes
    brk = np.ones(grid.values.shape[0], dtype=bool)
    brk[1:] = (sid[1:] != sid[:-1]) | (cal.day[1:] != cal.day[:-1])
    starts = np.flatnonzero(brk)
    valid = np.isfinite(grid.values)
    total = np.add.reduceat(np.where(valid, grid.values, 0.0), starts) if starts.size else \
        np.empty(0)
    present = np.add.reduceat(valid.astype(np.int64), starts) if starts.size else \
        np.empty(0, dtype=np.int64)
    slots = np.diff(np.append(starts, grid.values.shape[0]))
    per_day = _US_PER_DAY // grid.interval_of_slot()[starts]
    # a day cut by the grid's ends is judged against a full day
    share = present / np.maximum(per_day, slots)
    values = np.where(share >= min_coverage, total, np.nan)
    day_series = sid[starts]
    offsets = np.zeros(grid.n_series + 1, dtype=np.int64)
    np.cumsum(np.bincount(day_series, minlength=grid.n_series), out=offsets[1:])
    series = grid.series.with_columns(pl.lit(_US_PER_DAY, pl.Int64).alias("interval_us"),
                                      pl.Series("n_slots", np.diff(offsets)))
    dcal = Calendar(cal.day[starts], np.zeros(starts.size, dtype=np.int64),
                    cal.day_type[starts], 1)
    return Grid(series, values, offsets, grid.ts_us[starts], dcal), np.cumsum(brk) - 1


def window_coverage(valid: np.ndarray, offsets: np.ndarray, series: np.ndarray,
                    start: np.ndarray, end: np.ndarray, context: int = 0,
                    csum: np.ndarray | None = None) -> np.ndarray:
    """Share of present slots in ``[start - context, end + context)`` of each event.

    ``start``/``end`` index the concatenated slots; the window is cut at its series' ends.
    One prefix sum (``csum``: the caller's int64 prefix sum of ``valid``, with a leading 0,
    when it has one), then O(1) per event.
    """
    if start.size == 0:
        return np.empty(0, dtype=np.float64)
    if csum is None:
        csum = np.zeros(valid.shape[0] + 1, dtype=np.int64)
        np.cumsum(valid, out=csum[1:])
    a = np.maximum(start - context, offsets[series])
    b = np.minimum(end + context, offsets[series + 1])
    return (csum[b] - csum[a]) / np.maximum(b - a, 1)
