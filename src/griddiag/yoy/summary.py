"""Hourly aggregates and yearly summaries: what a year of one series is reduced to.

A year-over-year comparison never needs the raw readings again once a year is summarised: the
summary of an (asset, metric, local year) holds per-day arrays (value, readings present, peak
hour level and its hour, night minimum, mean temperature) and a month x weekday x hour profile.
That is a few kB per series, so summaries of past years are stored and reused by later
years (the store's ``read_yoy_summaries``, see :mod:`griddiag.yoy.api`) and a group
(transformer, feeder, class) is the sum of its members' summaries.

Levels: for interval energy an hour's level is its mean interval energy scaled to the hour
(kWh in the hour = mean kW); a day's value is the day's energy, its mean interval energy times
the intervals a day holds when at least half are present (a day with fewer is missing: an
estimate from a few intervals would be noise). For other metrics (voltage, temperature) levels
are means.

How: readings -> :class:`Hours` (per series, its local hours with sum, count, max and min; the
:func:`griddiag.kernels.yoy.hourly_sums` kernel, or a store's own ``hourly_aggregate``) ->
:func:`summary_of_hours` (the :func:`griddiag.kernels.yoy.day_summary` kernel over every series
of a batch at once, with one table per time zone mapping an hour to its local day, hour and
profile slot). No step runs once per asset in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.schema import METRICS, TS_DTYPE, normalize_readings

__all__ = ["HOURLY_SCHEMA", "NIGHT_HOURS", "SUMMARY_VERSION", "Hours", "hourly_aggregate",
           "hours_from_frame", "hours_of_readings", "summary_of_hours", "summary_schema",
           "yearly_summary"]

SUMMARY_VERSION = "1"
#: Local hours whose minimum is the day's base load (night, when only standing load runs).
NIGHT_HOURS = (0, 6)
#: A day with fewer than this share of its intervals present is missing.
MIN_DAY_COVERAGE = 0.5
N_DAYS = 366
N_PROFILE = 12 * 7 * 24
HOUR_US = 3_600_000_000

HOURLY_SCHEMA: dict[str, pl.DataType] = {
    "asset_id": pl.String(), "metric": pl.String(), "hour": TS_DTYPE,
    "sum": pl.Float64(), "count": pl.Int64(), "max": pl.Float64(), "min": pl.Float64(),
}


def summary_schema() -> dict[str, pl.DataType]:
    return {
        "asset_id": pl.String(), "metric": pl.String(), "year": pl.Int32(), "tz": pl.String(),
        "n_days": pl.Int32(), "per_day": pl.Float64(),
        "day_value": pl.Array(pl.Float64, N_DAYS), "day_count": pl.Array(pl.Float64, N_DAYS),
        "day_peak": pl.Array(pl.Float64, N_DAYS), "day_peak_hour": pl.Array(pl.Float64, N_DAYS),
        "day_base": pl.Array(pl.Float64, N_DAYS), "day_temp": pl.Array(pl.Float64, N_DAYS),
        "profile_sum": pl.Array(pl.Float64, N_PROFILE),
        "profile_count": pl.Array(pl.Float64, N_PROFILE),
    }


# -- time zones ---------------------------------------------------------------------------------

def zone_shift_us(tz: str, lo_year: int, hi_year: int) -> int:
    """The zone's UTC offset modulo one hour (microseconds); see
    :func:`griddiag.storage.base.hour_shift_us`."""
    from griddiag.storage.base import hour_shift_us

    return hour_shift_us(tz, lo_year, hi_year)


@lru_cache(maxsize=256)
def _zone_table(tz: str, year: int, shift_us: int):
    """Hour keys around local ``year`` -> (local day of the year or -1, local hour, profile
    slot base ``month * 168 + weekday * 24``)."""
    lo = datetime(year - 1, 12, 30, tzinfo=UTC)
    hi = datetime(year + 1, 1, 3, tzinfo=UTC)
    k0 = (int(lo.timestamp()) * 1_000_000 + shift_us) // HOUR_US
    k1 = (int(hi.timestamp()) * 1_000_000 + shift_us) // HOUR_US
    keys = np.arange(k0, k1, dtype=np.int64)
    local = pl.Series(keys * HOUR_US - shift_us).cast(TS_DTYPE).dt.convert_time_zone(tz)
    d = local.dt.date()
    doy = np.where(d.dt.year().to_numpy() == year, d.dt.ordinal_day().to_numpy() - 1, -1)
    slot = ((d.dt.month().to_numpy().astype(np.int64) - 1) * 168
            + (d.dt.weekday().to_numpy().astype(np.int64) - 1) * 24)
    return k0, doy.astype(np.int64), local.dt.hour().to_numpy().astype(np.int64), slot


# -- hours of a batch -----------------------------------------------------------------------------

@dataclass
class Hours:
    """The hourly aggregates of a batch, series by series (the long frame's compact form).

    Series ``i`` is ``(asset_id[i], metric[i])`` in local zone ``tz[i]``; its hours are
    ``key[offsets[i]:offsets[i + 1]]`` in time order, an hour starting at UTC
    ``key * HOUR_US - shift_us[i]``.
    """

    asset_id: pl.Series
    metric: pl.Series
    tz: pl.Series
    shift_us: np.ndarray
    offsets: np.ndarray
    key: np.ndarray
    sum: np.ndarray
    count: np.ndarray
    max: np.ndarray
    min: np.ndarray

    @property
    def n_series(self) -> int:
        return self.offsets.shape[0] - 1


def _empty_hours() -> Hours:
    e = np.empty(0)
    return Hours(pl.Series("asset_id", [], pl.String), pl.Series("metric", [], pl.String),
                 pl.Series("tz", [], pl.String), np.empty(0, np.int64), np.zeros(1, np.int64),
                 np.empty(0, np.int64), e, np.empty(0, np.int64), e, e)


def _series_order(frame: pl.DataFrame, time_col: str
                  ) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """``frame`` sorted by ``asset_id, metric, time_col`` (sorted already, from a store or an
    export, it is not touched), the int64 times and the start row of each series (with the
    end appended).

    Sorted or not is told by the frame's blocks (:mod:`griddiag.row_blocks`: runs of rows of
    one series, found by comparing neighbouring rows once): one block per series, in order,
    its times never going back. On a store's batch of 22 M readings: 0.17 s, against 1.5 s
    for checking the ids' order, then the metrics' within each asset, with polars."""
    from griddiag.row_blocks import find_blocks

    n = frame.height
    t = frame[time_col]
    ts = (t.to_physical() if t.dtype == TS_DTYPE else t.dt.epoch("us")).to_numpy()
    id_col, metric_col = frame["asset_id"], frame["metric"]
    if not (id_col.has_nulls() or metric_col.has_nulls()):
        blocks = find_blocks(id_col, metric_col, [ts])
        if blocks.in_order:
            return frame, ts, np.append(blocks.start, n).astype(np.int64)
    from griddiag.storage.base import group_codes, sort_order

    assets = frame["asset_id"].unique().sort()
    metrics = frame["metric"].unique().sort()
    group = group_codes(frame, assets, metrics)
    order = sort_order(group, ts)
    if order is not None:
        frame, group, ts = frame[order], group[order], ts[order]
    starts = np.flatnonzero(np.diff(group, prepend=-1) != 0)
    return frame, ts, np.append(starts, n).astype(np.int64)


def _series_zones(asset_ids: pl.Series, assets: pl.DataFrame | None, default_tz: str,
                  lo_us: int, hi_us: int) -> tuple[pl.Series, np.ndarray]:
    tz_of = _tz_frame(assets, default_tz)
    tz = pl.DataFrame({"asset_id": asset_ids}).join(
        tz_of, on="asset_id", how="left", maintain_order="left")["tz"].fill_null(default_tz)
    lo_y = datetime.fromtimestamp(lo_us / 1e6, UTC).year
    hi_y = datetime.fromtimestamp(hi_us / 1e6, UTC).year
    zones = tz.unique().to_list()
    shift = {z: zone_shift_us(z, lo_y, hi_y) for z in zones}
    return tz, tz.replace_strict(shift, return_dtype=pl.Int64).to_numpy()


def hours_of_readings(readings: pl.DataFrame, assets: pl.DataFrame | None = None, *,
                      default_tz: str = "UTC") -> Hours:
    """Readings -> :class:`Hours` (local hours of each asset's zone)."""
    from griddiag.kernels._validate import offsets_from_lengths
    from griddiag.kernels.yoy import hourly_sums

    readings = normalize_readings(readings)
    if readings.height == 0:
        return _empty_hours()
    frame, ts, starts = _series_order(readings, "ts")
    first = frame["asset_id"].gather(starts[:-1])
    tz, shift = _series_zones(first, assets, default_tz, int(ts.min()), int(ts.max()))
    off, key, hs, hc, hx, hn = hourly_sums(frame["value"].to_numpy(), starts, ts, shift)
    keep = np.diff(off) > 0  # series with no valid value
    if not keep.all():
        idx = np.flatnonzero(keep)
        first, tz, shift = first.gather(idx), tz.gather(idx), shift[idx]
        off = offsets_from_lengths(np.diff(off)[idx])
    return Hours(first.rename("asset_id"), frame["metric"].gather(starts[:-1][keep])
                 .rename("metric"), tz.rename("tz"), shift, off, key, hs, hc, hx, hn)


def hours_from_frame(hourly: pl.DataFrame, assets: pl.DataFrame | None = None, *,
                     default_tz: str = "UTC") -> Hours:
    """A long hourly frame (``HOURLY_SCHEMA``, e.g. a store's ``hourly_aggregate``) ->
    :class:`Hours`."""
    missing = [c for c in HOURLY_SCHEMA if c not in hourly.columns]
    if missing:
        raise ConfigError(f"hourly frame lacks column(s) {missing}; expected "
                          f"{list(HOURLY_SCHEMA)} (see hourly_aggregate)")
    hourly = hourly.select([pl.col(c).cast(t) for c, t in HOURLY_SCHEMA.items()]).filter(
        pl.col("count") > 0)
    if hourly.height == 0:
        return _empty_hours()
    frame, ts, starts = _series_order(hourly, "hour")
    first = frame["asset_id"].gather(starts[:-1])
    tz, shift = _series_zones(first, assets, default_tz, int(ts.min()), int(ts.max()))
    per_row = np.repeat(shift, np.diff(starts))
    key = (ts + per_row) // HOUR_US
    return Hours(first.rename("asset_id"), frame["metric"].gather(starts[:-1]).rename("metric"),
                 tz.rename("tz"), shift, starts, key, frame["sum"].to_numpy(),
                 frame["count"].to_numpy(), frame["max"].to_numpy(), frame["min"].to_numpy())


def hours_to_frame(h: Hours) -> pl.DataFrame:
    if h.key.size == 0:
        return pl.DataFrame(schema=HOURLY_SCHEMA)
    idx = np.repeat(np.arange(h.n_series), np.diff(h.offsets))
    hour = h.key * HOUR_US - h.shift_us[idx]
    return pl.DataFrame({
        "asset_id": h.asset_id.gather(idx), "metric": h.metric.gather(idx),
        "hour": pl.Series(hour).cast(TS_DTYPE), "sum": h.sum, "count": h.count,
        "max": h.max, "min": h.min,
    }).select([pl.col(c).cast(t) for c, t in HOURLY_SCHEMA.items()])


def hourly_aggregate(readings: pl.DataFrame, assets: pl.DataFrame | None = None, *,
                     default_tz: str = "UTC") -> pl.DataFrame:
    """Per asset, metric and *local* hour: sum, count, max and min of the readings.

    ``hour`` is the UTC instant at which the local hour starts (``time_bucket('1 hour', ts,
    tz)`` in TimescaleDB gives the same); rows are sorted by asset, metric and hour. Invalid
    values (NaN, +-inf) are dropped.
    """
    return hours_to_frame(hours_of_readings(readings, assets, default_tz=default_tz))


def _tz_frame(assets: pl.DataFrame | None, default_tz: str) -> pl.DataFrame:
    if assets is None or "tz" not in assets.columns:
        return pl.DataFrame(schema={"asset_id": pl.String, "tz": pl.String})
    return assets.select("asset_id", pl.col("tz").fill_null(default_tz))


def _is_energy(metric: str) -> bool:
    m = METRICS.get(metric)
    return m is not None and m.kind == "interval_energy"


# -- yearly summaries -------------------------------------------------------------------------

def yearly_summary(hourly: pl.DataFrame, year: int, *, assets: pl.DataFrame | None = None,
                   temperature: pl.DataFrame | None = None, default_tz: str = "UTC",
                   metrics: list[str] | None = None) -> pl.DataFrame:
    """One row per (asset, metric) with readings in local ``year``: the yearly summary.

    Parameters
    ----------
    hourly : polars.DataFrame
        :func:`hourly_aggregate` of a batch (its ``ambient_temp_c`` rows, if any, give the
        temperature of the asset and of the meters below it).
    year : int
        Local calendar year (asset ``tz``, else ``default_tz``).
    assets : polars.DataFrame, optional
        Registry: time zones and the topology used to find a meter's temperature at its
        transformer, feeder or substation.
    temperature : polars.DataFrame, optional
        ``date`` (local) and ``temp_mean_c`` (optionally per ``asset_id``): used for series
        with no ``ambient_temp_c`` of their own or above them.
    metrics : list of str, optional
        Metrics to summarise (default: every metric but ``ambient_temp_c``, which is only
        used as a covariate, and cumulative registers, whose level is meaningless).

    Returns
    -------
    polars.DataFrame
        :func:`summary_schema`. Day arrays have 366 slots (index = day of the local year - 1;
        the last is NaN in a common year); profile arrays hold month x weekday x hour.
    """
    if hourly.height == 0:
        return pl.DataFrame(schema=summary_schema())
    h = hours_from_frame(hourly, assets, default_tz=default_tz)
    return finish_summary(summary_of_hours(h, year), assets=assets, temperature=temperature,
                          metrics=metrics)


def summary_of_hours(h: Hours, year: int) -> pl.DataFrame:
    """The *raw* yearly summary of every series of ``h`` with readings in local ``year``,
    ``ambient_temp_c`` and registers included and ``day_temp`` empty (what the summary cache
    stores: temperature and the choice of metrics are applied by :func:`finish_summary`)."""
    from griddiag.kernels.yoy import day_summary

    if h.n_series == 0:
        return pl.DataFrame(schema=summary_schema())
    zones = h.tz.unique(maintain_order=True).to_list()
    tabs = [_zone_table(z, year, int(h.shift_us[i]))
            for z, i in ((z, int((h.tz == z).arg_true()[0])) for z in zones)]
    width = max(t[1].shape[0] for t in tabs)

    def stack(k, fill):
        return np.stack([np.pad(t[k], (0, width - t[k].shape[0]), constant_values=fill)
                         for t in tabs])

    start = np.array([t[0] for t in tabs], dtype=np.int64)
    zone = h.tz.replace_strict({z: i for i, z in enumerate(zones)},
                               return_dtype=pl.Int64).to_numpy()
    is_energy = np.array([_is_energy(m) for m in h.metric.to_list()], dtype=bool)
    n_days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    out = day_summary(h.offsets, h.key, h.sum, h.count, zone, is_energy,
                      (start, stack(1, -1), stack(2, 0), stack(3, 0)), n_days=n_days,
                      min_coverage=MIN_DAY_COVERAGE, night_hours=NIGHT_HOURS)
    keep = np.flatnonzero(out["has_year"])
    if keep.size == 0:
        return pl.DataFrame(schema=summary_schema())
    n = keep.size
    frame = pl.DataFrame({
        "asset_id": h.asset_id.gather(keep), "metric": h.metric.gather(keep),
        "year": pl.Series([year] * n, dtype=pl.Int32), "tz": h.tz.gather(keep),
        "n_days": pl.Series([n_days] * n, dtype=pl.Int32), "per_day": out["per_day"][keep],
        "day_value": out["day_value"][keep], "day_count": out["day_count"][keep],
        "day_peak": out["day_peak"][keep], "day_peak_hour": out["day_peak_hour"][keep],
        "day_base": out["day_base"][keep], "day_temp": np.full((n, N_DAYS), np.nan),
        "profile_sum": out["profile_sum"][keep], "profile_count": out["profile_count"][keep],
    })
    return frame.cast(summary_schema()).sort("asset_id", "metric")


def finish_summary(raw: pl.DataFrame, *, assets: pl.DataFrame | None = None,
                   temperature: pl.DataFrame | None = None,
                   metrics: list[str] | None = None) -> pl.DataFrame:
    """Raw summaries (:func:`summary_of_hours`) -> yearly summaries: each series' daily
    temperature (its own ``ambient_temp_c``, else the nearest ancestor's, else
    ``temperature``) and only the metrics compared."""
    if raw.height == 0:
        return pl.DataFrame(schema=summary_schema())
    raw = raw.sort("asset_id", "metric")
    wanted = ~raw["metric"].is_in(["ambient_temp_c"]) & ~raw["metric"].str.starts_with(
        "register_kwh")
    if metrics is not None:
        wanted &= raw["metric"].is_in(list(metrics))
    keys = raw.filter(wanted).select("asset_id", "metric")
    if keys.height == 0:
        return pl.DataFrame(schema=summary_schema())
    tmp = _temperature_rows(raw, keys, assets, temperature)
    return raw.filter(wanted).with_columns(
        pl.Series("day_temp", tmp, dtype=pl.Array(pl.Float64, N_DAYS)))


def _temperature_rows(raw: pl.DataFrame, keys: pl.DataFrame, assets: pl.DataFrame | None,
                      temperature: pl.DataFrame | None) -> np.ndarray:
    """Daily mean temperature per wanted series: the asset's own ``ambient_temp_c``, else the
    nearest ancestor's (transformer, feeder, substation, up to four levels), else
    ``temperature``."""
    n = keys.height
    tmp = np.full((n, N_DAYS), np.nan)
    own = raw.filter(pl.col("metric") == "ambient_temp_c")
    found = np.zeros(n, dtype=bool)
    if own.height:
        have = {a: i for i, a in enumerate(own["asset_id"].to_list())}
        src = keys["asset_id"].to_list()
        if assets is not None:
            parent = dict(zip(assets["asset_id"].to_list(), assets["parent_id"].to_list(),
                              strict=True))
            chosen = []
            for a in dict.fromkeys(src):
                x, depth = a, 0
                while x is not None and x not in have and depth < 4:
                    x, depth = parent.get(x), depth + 1
                chosen.append((a, x if x in have else None))
            up = dict(chosen)
            src = [up[a] for a in src]
        rows = np.array([have.get(a, -1) if a is not None else -1 for a in src])
        found = rows >= 0
        if found.any():
            vals = own["day_value"].to_numpy()
            tmp[found] = vals[rows[found]]
    if temperature is not None and not found.all():
        t = _temperature_frame(temperature)
        year = int(raw["year"][0])
        t = t.filter(pl.col("date").dt.year() == year).with_columns(
            (pl.col("date").dt.ordinal_day().cast(pl.Int64) - 1).alias("doy"))
        missing = keys.with_row_index("row").filter(pl.Series(~found))
        if "asset_id" in t.columns:
            extra = missing.join(t, on="asset_id")
        else:
            extra = missing.join(t, how="cross")
        if extra.height:
            tmp[extra["row"].to_numpy(), extra["doy"].to_numpy()] = extra["temp"].cast(
                pl.Float64).fill_null(np.nan).to_numpy()
    return tmp


def _temperature_frame(temperature: pl.DataFrame) -> pl.DataFrame:
    cols = temperature.columns
    tcol = next((c for c in ("temp_mean_c", "temperature_c", "ambient_temp_c", "temp")
                 if c in cols), None)
    if "date" not in cols or tcol is None:
        raise ConfigError(f"temperature frame needs a 'date' column and 'temp_mean_c' (daily "
                          f"mean, degC); got columns {cols}")
    keep = ["date", pl.col(tcol).cast(pl.Float64).alias("temp")]
    if "asset_id" in cols:
        keep.insert(0, "asset_id")
    return temperature.select(keep).with_columns(pl.col("date").cast(pl.Date))
