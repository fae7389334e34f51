"""Hourly aggregates and yearly summaries: what a year of one series is reduced to.

A year-over-year comparison never needs the raw readings again once a year is summarised: the
summary of an (asset, metric, local year) holds per-day arrays (value, readings present, peak
hour level and its hour, night minimum, mean temperature) and a month x weekday x hour profile.
That is a few kB per series, so summaries of past years are stored and reused by later years
(:mod:`griddiag.yoy.cache`) and a group (transformer, feeder, class) is the sum of its members'
summaries.

Levels: for interval energy an hour's level is its mean interval energy scaled to the hour
(kWh in the hour = mean kW); a day's value is the day's energy, its mean interval energy times
the intervals a day holds when at least half are present (a day with fewer is missing: an
estimate from a few intervals would be noise). For other metrics (voltage, temperature) levels
are means.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.schema import METRICS, TS_DTYPE, normalize_readings

__all__ = ["HOURLY_SCHEMA", "NIGHT_HOURS", "SUMMARY_VERSION", "hourly_aggregate",
           "summary_schema", "yearly_summary"]

SUMMARY_VERSION = "1"
#: Local hours whose minimum is the day's base load (night, when only standing load runs).
NIGHT_HOURS = (0, 6)
#: A day with fewer than this share of its intervals present is missing.
MIN_DAY_COVERAGE = 0.5
N_DAYS = 366
N_PROFILE = 12 * 7 * 24

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


def _whole_hour_zone(tz: str, lo: datetime, hi: datetime) -> bool:
    zone = ZoneInfo(tz)
    months = pl.datetime_range(lo, hi, interval="1mo", eager=True, time_zone="UTC")
    return all(int(m.astimezone(zone).utcoffset().total_seconds()) % 3600 == 0
               for m in months.to_list())


def hourly_aggregate(readings: pl.DataFrame, assets: pl.DataFrame | None = None, *,
                     default_tz: str = "UTC") -> pl.DataFrame:
    """Per asset, metric and *local* hour: sum, count, max and min of the readings.

    ``hour`` is the UTC instant at which the local hour starts (``time_bucket('1 hour', ts,
    tz)`` in TimescaleDB gives the same). Hours equal UTC hours in zones with whole-hour
    offsets, so those are bucketed on the UTC value (no conversion per reading).
    """
    readings = normalize_readings(readings).filter(pl.col("value").is_finite())
    if readings.height == 0:
        return pl.DataFrame(schema=HOURLY_SCHEMA)
    tz_of = _tz_frame(assets, default_tz)
    frame = readings.join(tz_of, on="asset_id", how="left").with_columns(
        pl.col("tz").fill_null(default_tz))
    parts = []
    for (zone,), part in frame.partition_by("tz", as_dict=True).items():
        lo, hi = part["ts"].min(), part["ts"].max()
        if _whole_hour_zone(zone, lo, hi):
            hour = pl.col("ts").dt.truncate("1h")
        else:
            hour = (pl.col("ts").dt.convert_time_zone(zone).dt.truncate("1h")
                    .dt.convert_time_zone("UTC"))
        parts.append(_reduce_hours(part.with_columns(hour.alias("hour"))))
    return pl.concat(parts).select([pl.col(c).cast(t) for c, t in HOURLY_SCHEMA.items()])


def _reduce_hours(frame: pl.DataFrame) -> pl.DataFrame:
    """Group rows by (asset, metric, hour) on one int64 key with ``np.*.reduceat``: rows from a
    store arrive sorted by asset, metric and time, so no hash table (and no string hashing)
    is needed; polars' string-keyed group-by is several times slower here."""
    from griddiag.storage.base import group_codes, sort_order

    assets = frame["asset_id"].unique().sort()
    metrics = frame["metric"].unique().sort()
    group = group_codes(frame, assets, metrics)
    hour = frame["hour"].dt.epoch("us").to_numpy() // 3_600_000_000
    order = sort_order(group, hour)
    values = frame["value"].to_numpy()
    if order is not None:
        group, hour, values = group[order], hour[order], values[order]
    new = np.ones(group.size, dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (hour[1:] != hour[:-1])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, group.size))
    g = group[starts]
    n_m = max(len(metrics), 1)
    return pl.DataFrame({
        "asset_id": assets.gather(g // n_m), "metric": metrics.gather(g % n_m),
        "hour": pl.Series(hour[starts] * 3_600_000_000).cast(TS_DTYPE),
        "sum": np.add.reduceat(values, starts), "count": counts,
        "max": np.maximum.reduceat(values, starts), "min": np.minimum.reduceat(values, starts),
    })


def _tz_frame(assets: pl.DataFrame | None, default_tz: str) -> pl.DataFrame:
    if assets is None or "tz" not in assets.columns:
        return pl.DataFrame(schema={"asset_id": pl.String, "tz": pl.String})
    return assets.select("asset_id", pl.col("tz").fill_null(default_tz))


def _is_energy(metric: str) -> bool:
    m = METRICS.get(metric)
    return m is not None and m.kind == "interval_energy"


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
    tz_of = _tz_frame(assets, default_tz)
    frame = hourly.join(tz_of, on="asset_id", how="left").with_columns(
        pl.col("tz").fill_null(default_tz))
    parts = []
    for (zone,), part in frame.partition_by("tz", as_dict=True).items():
        parts.append(_summarise_zone(part.drop("tz"), year, zone))
    days = pl.concat([p for p in parts if p.height]) if any(p.height for p in parts) else None
    if days is None:
        return pl.DataFrame(schema=summary_schema())
    return _pack(days, year, assets, temperature, metrics)


def _summarise_zone(hourly: pl.DataFrame, year: int, zone: str) -> pl.DataFrame:
    local = pl.col("hour").dt.convert_time_zone(zone)
    h = hourly.with_columns(local.dt.date().alias("date"), local.dt.hour().alias("h"),
                            pl.lit(zone).alias("tz")).filter(pl.col("date").dt.year() == year)
    return h


def _pack(h: pl.DataFrame, year: int, assets, temperature, metrics) -> pl.DataFrame:
    if h.height == 0:
        return pl.DataFrame(schema=summary_schema())
    # readings a day holds: the 90th percentile of the series' daily counts (a few missing
    # days do not lower it; DST days are off by an hour, a 4 % error on two days a year)
    daily = h.group_by("asset_id", "metric", "tz", "date").agg(
        pl.col("sum").sum(), pl.col("count").sum().alias("n"))
    per_day = daily.group_by("asset_id", "metric").agg(
        pl.col("n").quantile(0.9, "nearest").cast(pl.Float64).alias("per_day"))
    h = h.join(per_day, on=["asset_id", "metric"])
    energy_metrics = [m for m in METRICS if _is_energy(m)]
    h = h.with_columns(pl.col("metric").is_in(energy_metrics).alias("energy"))
    # an hour's level: mean reading, times readings per hour for energy (kWh in the hour)
    h = h.with_columns(
        pl.when(pl.col("energy"))
        .then(pl.col("sum") / pl.col("count") * pl.col("per_day") / 24.0)
        .otherwise(pl.col("sum") / pl.col("count")).alias("level"))
    hourly_ok = pl.col("per_day") >= 24
    day = h.group_by("asset_id", "metric", "tz", "date").agg(
        pl.col("sum").sum().alias("sum"), pl.col("count").sum().alias("n"),
        pl.col("per_day").first(), pl.col("energy").first(),
        pl.when(hourly_ok).then(pl.col("level")).max().alias("peak"),
        pl.col("h").sort_by("level").last().alias("peak_hour"),
        pl.col("level").filter((pl.col("h") >= NIGHT_HOURS[0]) & (pl.col("h") < NIGHT_HOURS[1]))
        .min().alias("base"),
    ).with_columns(
        pl.when(pl.col("n") < MIN_DAY_COVERAGE * pl.col("per_day")).then(None)
        .when(pl.col("energy")).then(pl.col("sum") / pl.col("n") * pl.col("per_day"))
        .otherwise(pl.col("sum") / pl.col("n")).alias("value"),
        pl.when(pl.col("per_day") >= 24).then(pl.col("peak_hour").cast(pl.Float64))
        .otherwise(None).alias("peak_hour"),
        pl.when(pl.col("per_day") >= 24).then(pl.col("base")).otherwise(None).alias("base"),
        (pl.col("date").dt.ordinal_day() - 1).alias("doy"),
    )
    prof = h.filter(hourly_ok).group_by(
        "asset_id", "metric",
        ((pl.col("date").dt.month().cast(pl.Int32) - 1) * 168
         + (pl.col("date").dt.weekday().cast(pl.Int32) - 1) * 24
         + pl.col("h").cast(pl.Int32)).alias("slot")).agg(
        pl.col("level").sum().alias("psum"), pl.len().alias("pcount"))

    temps = _temperature_days(day, assets, temperature)
    wanted = day.filter(pl.col("metric") != "ambient_temp_c")
    wanted = wanted.filter(~pl.col("metric").str.starts_with("register_kwh"))
    if metrics is not None:
        wanted = wanted.filter(pl.col("metric").is_in(metrics))
    keys = wanted.select("asset_id", "metric", "tz", "per_day").unique(
        ["asset_id", "metric"]).sort("asset_id", "metric")
    n = keys.height
    if n == 0:
        return pl.DataFrame(schema=summary_schema())
    idx = keys.with_row_index("row").select("asset_id", "metric", "row")
    d = wanted.join(idx, on=["asset_id", "metric"])
    r, c = d["row"].to_numpy(), d["doy"].to_numpy()

    def scatter(col: str, src: pl.DataFrame = d) -> np.ndarray:
        out = np.full((n, N_DAYS), np.nan)
        out[src["row"].to_numpy(), src["doy"].to_numpy()] = src[col].cast(
            pl.Float64).fill_null(np.nan).to_numpy()
        return out

    count = np.full((n, N_DAYS), np.nan)
    count[r, c] = d["n"].cast(pl.Float64).to_numpy()
    n_days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    count[:, :n_days] = np.nan_to_num(count[:, :n_days], nan=0.0)
    tmp = np.full((n, N_DAYS), np.nan)
    if temps is not None and temps.height:
        t = temps.join(idx, on=["asset_id", "metric"])
        tmp[t["row"].to_numpy(), t["doy"].to_numpy()] = t["temp"].to_numpy()
    psum = np.zeros((n, N_PROFILE))
    pcnt = np.zeros((n, N_PROFILE))
    p = prof.join(idx, on=["asset_id", "metric"])
    psum[p["row"].to_numpy(), p["slot"].to_numpy()] = p["psum"].to_numpy()
    pcnt[p["row"].to_numpy(), p["slot"].to_numpy()] = p["pcount"].cast(pl.Float64).to_numpy()
    return pl.DataFrame({
        "asset_id": keys["asset_id"], "metric": keys["metric"],
        "year": pl.Series([year] * n, dtype=pl.Int32), "tz": keys["tz"],
        "n_days": pl.Series([n_days] * n, dtype=pl.Int32), "per_day": keys["per_day"],
        "day_value": scatter("value"), "day_count": count, "day_peak": scatter("peak"),
        "day_peak_hour": scatter("peak_hour"), "day_base": scatter("base"), "day_temp": tmp,
        "profile_sum": psum, "profile_count": pcnt,
    }).cast(summary_schema())


def _temperature_days(day: pl.DataFrame, assets: pl.DataFrame | None,
                      temperature: pl.DataFrame | None) -> pl.DataFrame | None:
    """Daily mean temperature per (asset, metric): the asset's own ``ambient_temp_c``, else the
    nearest ancestor's (transformer, feeder, substation), else ``temperature``."""
    series = day.select("asset_id", "metric").unique()
    own = day.filter(pl.col("metric") == "ambient_temp_c").select(
        pl.col("asset_id").alias("src"), "doy", pl.col("value").alias("temp"))
    src = series.with_columns(pl.col("asset_id").alias("src"))
    if own.height and assets is not None:
        parent = dict(zip(assets["asset_id"].to_list(), assets["parent_id"].to_list(),
                          strict=True))
        have = set(own["src"].unique().to_list())
        chosen = []
        for a in src["asset_id"].to_list():
            x, depth = a, 0
            while x is not None and x not in have and depth < 4:
                x, depth = parent.get(x), depth + 1
            chosen.append(x if x in have else None)
        src = src.with_columns(pl.Series("src", chosen, dtype=pl.String))
    out = src.join(own, on="src", how="inner").select("asset_id", "metric", "doy", "temp")
    if temperature is not None:
        t = _temperature_frame(temperature)
        missing = series.join(out.select("asset_id", "metric").unique(),
                              on=["asset_id", "metric"], how="anti")
        if missing.height:
            if "asset_id" in t.columns:
                extra = missing.join(t, on="asset_id")
            else:
                extra = missing.join(t, how="cross")
            extra = extra.select("asset_id", "metric",
                                 (pl.col("date").dt.ordinal_day() - 1).alias("doy"),
                                 "temp", pl.col("date").dt.year().alias("_y"))
            years = day["date"].dt.year().unique().to_list()
            extra = extra.filter(pl.col("_y").is_in(years)).drop("_y")
            out = pl.concat([out, extra.select(out.columns).cast(out.schema)])
    return out


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
