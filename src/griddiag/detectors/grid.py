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

A change of interval in the middle of a history is not resampled: the grid uses the dominant
interval, and the other stretch shows as gaps (or collisions) a user can see.

The layout is the kernels' batch layout (:mod:`griddiag.kernels`): ``values`` of all series
concatenated, ``offsets`` where each starts, plus the start time of every slot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.schema import normalize_readings

__all__ = [
    "Calendar",
    "Grid",
    "build_calendar",
    "daily_totals",
    "to_grid",
    "window_coverage",
]

_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400_000_000

#: Columns of :attr:`Grid.series`, one row per series in batch order.
SERIES_COLUMNS = ("asset_id", "metric", "interval_us", "n_slots", "n_present",
                  "n_off_grid", "n_collisions")


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


def _period_us(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ConfigError(f"period bound {value!r} has no time zone; pass an aware datetime "
                          "(e.g. datetime(2024, 1, 1, tzinfo=UTC))")
    return int(pl.Series([value]).dt.convert_time_zone("UTC").dt.epoch("us")[0])


def _series_table(frame: pl.DataFrame, interval_minutes: dict[str, float]) -> pl.DataFrame:
    """Per series: first/last reading, count, and the interval (declared, else the mode)."""
    declared = pl.DataFrame(
        {"metric": list(interval_minutes),
         "declared_us": [int(round(m * _US_PER_MINUTE)) for m in interval_minutes.values()]},
        schema={"metric": pl.String, "declared_us": pl.Int64},
    )
    table = (
        frame.group_by("asset_id", "metric", maintain_order=True)
        .agg(
            pl.col("t").first().alias("first_us"),
            pl.col("t").last().alias("last_us"),
            pl.len().alias("n_rows"),
            # most common step; ties go to the shorter interval (the finer grid keeps every
            # reading in its own slot)
            pl.col("t").diff().drop_nulls().filter(pl.col("t").diff().drop_nulls() > 0)
            .mode().min().alias("mode_us"),
        )
        .join(declared, on="metric", how="left")
        .with_columns(
            pl.coalesce("declared_us", "mode_us", pl.lit(_US_PER_DAY, pl.Int64))
            .alias("interval_us")
        )
    )
    return table.drop("declared_us", "mode_us")


def to_grid(readings: pl.DataFrame, *, interval_minutes: dict[str, float] | None = None,
            start: datetime | None = None, end: datetime | None = None,
            assets: pl.DataFrame | None = None) -> Grid:
    """Put a readings frame onto each series' regular interval grid.

    Parameters
    ----------
    readings : polars.DataFrame
        Canonical readings (``asset_id, ts, metric, value``), any order.
    interval_minutes : dict of str to float, optional
        Declared interval per metric (the profile's ``[intervals]``); other metrics infer it.
    start, end : datetime, optional
        The analysed period (``end`` exclusive). With them, missing slots at the ends of the
        period count as missing (a meter silent all December has a gap, not a short year);
        each series keeps its own phase (a register read at 00:00 local stays on it).
    assets : polars.DataFrame, optional
        Assets frame; adds ``asset_kind``, ``tz``, ``register_digits`` to :attr:`Grid.series`.

    Returns
    -------
    Grid
        Series in ``asset_id, metric`` order.
    """
    frame = normalize_readings(readings)
    frame = (frame.with_columns(pl.col("ts").dt.epoch("us").alias("t"))
             .sort("asset_id", "metric", "t"))
    lo, hi = _period_us(start), _period_us(end)
    if lo is not None:
        frame = frame.filter(pl.col("t") >= lo)
    if hi is not None:
        frame = frame.filter(pl.col("t") < hi)
    table = _series_table(frame, interval_minutes or {})
    step = table["interval_us"].to_numpy()
    first = table["first_us"].to_numpy()
    last = table["last_us"].to_numpy()
    # grid ends: the period's bounds on each series' phase, else its first and last reading
    t0 = first - ((first - lo) // step) * step if lo is not None else first
    t_last = last + ((hi - 1 - last) // step) * step if hi is not None else last
    n_slots = ((t_last - t0) // step + 1).astype(np.int64)
    offsets = np.zeros(n_slots.shape[0] + 1, dtype=np.int64)
    np.cumsum(n_slots, out=offsets[1:])

    rows = table["n_rows"].to_numpy()
    row_series = np.repeat(np.arange(rows.shape[0]), rows)
    t = frame["t"].to_numpy()
    rel = t - t0[row_series]
    pos = offsets[:-1][row_series] + rel // step[row_series]
    off_grid = rel % step[row_series] != 0
    hits = np.bincount(pos, minlength=int(offsets[-1]))
    values = np.full(int(offsets[-1]), np.nan)
    values[pos] = frame["value"].to_numpy()
    values[hits > 1] = np.nan  # two readings in one slot: neither is chosen (module docstring)

    seq = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1], n_slots)
    ts_us = np.repeat(t0, n_slots) + seq * np.repeat(step, n_slots)
    n_series = n_slots.shape[0]
    series = table.select("asset_id", "metric", "interval_us").with_columns(
        pl.Series("n_slots", n_slots),
        pl.Series("n_present", np.add.reduceat(np.isfinite(values), offsets[:-1])
                  if n_series else np.empty(0, dtype=np.int64)),
        pl.Series("n_off_grid", np.bincount(row_series, weights=off_grid,
                                            minlength=n_series).astype(np.int64)),
        pl.Series("n_collisions", np.bincount(row_series, weights=hits[pos] > 1,
                                              minlength=n_series).astype(np.int64)),
    )
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
                                  "n_collisions": pl.Int64, "asset_kind": pl.String,
                                  "tz": pl.String, "register_digits": pl.Int32})
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
    import holidays

    years = sorted({d.year for d in dates})
    try:
        cal = holidays.country_holidays(country, years=years)
    except NotImplementedError as exc:
        raise ConfigError(f"holiday country {country!r} is not known to the `holidays` "
                          "package; use an ISO 3166 code such as 'CN'") from exc
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
    local_us = np.empty(n, dtype=np.int64)
    zones = grid.series["tz"].fill_null(default_tz)
    lengths = np.diff(grid.offsets)
    for zone in zones.unique().to_list():  # a handful of zones, never one call per slot
        idx = np.flatnonzero(np.repeat((zones == zone).to_numpy(), lengths))
        ts = grid.ts_us[idx]
        first, offset = _utc_offsets_us(zone, int(ts.min()), int(ts.max()))
        local_us[idx] = ts + offset[(ts - first) // (15 * _US_PER_MINUTE)]
    day = local_us // _US_PER_DAY
    slot_of_day = (local_us - day * _US_PER_DAY) // grid.interval_of_slot()
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
