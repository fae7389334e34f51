"""``griddiag.compare_years``: this year against earlier years, per asset or group.

Flow (INTERFACE.md "Inspection semantics"): per batch of whole transformer areas, local-hour
aggregates -> one raw yearly summary per year (:func:`~griddiag.yoy.summary.summary_of_hours`,
one kernel call over the batch) -> temperature and metrics
(:func:`~griddiag.yoy.summary.finish_summary`) -> :func:`~griddiag.yoy.compare.compare_summaries`
(per asset), or summaries summed per group first -> :func:`~griddiag.yoy.compare.finalize` once
over all rows (q-values and ranks). Results do not depend on the batch size.

From a readings frame the hours come from the :func:`~griddiag.kernels.yoy.hourly_sums` kernel.
From a store they come from the store's ``hourly_aggregate`` (TimescaleDB computes them in SQL,
Parquet with a lazy scan), so the raw year never leaves the store; and a baseline year's raw
summaries come from the store's summary cache (``read_yoy_summaries``) while each asset's
readings of that local year keep the fingerprint (``data_fingerprints``) they were computed
from. Those computed afresh are written back for the next comparison.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.schema import normalize_assets, normalize_readings
from griddiag.storage.base import Store
from griddiag.yoy.calendar import CALENDAR_VERSION
from griddiag.yoy.compare import Thresholds, compare_summaries, finalize
from griddiag.yoy.summary import (
    SUMMARY_VERSION,
    finish_summary,
    hours_from_frame,
    hours_of_readings,
    summary_of_hours,
    summary_schema,
)

__all__ = ["GROUP_BY", "compare_years", "group_summaries"]

GROUP_BY = ("asset", "transformer", "feeder", "customer_class")


def compare_years(source: pl.DataFrame | Store, *, year: int,
                  baseline_years: Sequence[int] | None = None, by: str = "asset",
                  assets: pl.DataFrame | None = None, findings: pl.DataFrame | None = None,
                  temperature: pl.DataFrame | None = None, holiday_country: str | None = "CN",
                  metrics: Sequence[str] | None = None, period_end: date | None = None,
                  fdr: float = 0.05, batch_assets: int = 500, use_cache: bool = True,
                  default_tz: str = "UTC", thresholds: Thresholds | None = None
                  ) -> pl.DataFrame:
    """The yoy frame (``YOY_SCHEMA``): ``year`` against ``baseline_years``.

    Parameters
    ----------
    source : polars.DataFrame or Store
        Canonical readings, or a store (read in batches of whole transformer areas).
    year : int
        The local calendar year compared.
    baseline_years : sequence of int, optional
        Default: the most recent earlier year with data.
    by : str
        ``asset``, ``transformer`` (meters summed per transformer), ``feeder`` (meters summed
        per feeder) or ``customer_class``.
    assets : polars.DataFrame, optional
        Registry (time zones, topology, classes); default the store's, or none for a frame.
    findings : polars.DataFrame, optional
        Detector findings, counted per asset and year (``anomaly_count``).
    temperature : polars.DataFrame, optional
        Daily ``date, temp_mean_c`` (optionally per ``asset_id``) for series without an
        ``ambient_temp_c`` of their own or of an asset above them.
    metrics : sequence of str, optional
        Metrics compared (default every level metric; ``ambient_temp_c`` is a covariate).
    period_end : datetime.date, optional
        First local date not compared; default: the day after the last reading of ``year``
        (a partial year is compared with the same dates of the baseline years).
    fdr : float
        False-discovery rate of ``significant`` (Benjamini-Hochberg).
    use_cache : bool
        Reuse (and store) yearly summaries of baseline years in the store.
    """
    if by not in GROUP_BY:
        raise ConfigError(f"by must be one of {GROUP_BY}, got {by!r}")
    if not 0 < fdr < 1:
        raise ConfigError(f"fdr must lie in (0, 1), got {fdr!r}")
    if isinstance(source, Store):
        reg = normalize_assets(assets if assets is not None else source.assets())
    elif isinstance(source, pl.DataFrame):
        source = normalize_readings(source)
        reg = normalize_assets(assets) if assets is not None else normalize_assets(
            pl.DataFrame({"asset_id": source["asset_id"].unique().sort()}))
    else:
        raise ConfigError(f"compare_years() takes a readings DataFrame or a Store, got "
                          f"{type(source).__name__}")
    reg = reg.with_columns(pl.col("tz").fill_null(default_tz))
    years_with_data = _years_with_data(source, reg)
    if baseline_years is None:
        earlier = [y for y in years_with_data if y < year]
        if not earlier:
            raise ConfigError(f"no data before {year} to compare with; pass baseline_years")
        baseline_years = [max(earlier)]
    baseline_years = sorted({int(y) for y in baseline_years})
    if year in baseline_years:
        raise ConfigError(f"year {year} cannot be its own baseline")
    if period_end is None:
        period_end = _period_end(source, reg, year)
    read_metrics = None if metrics is None else sorted({*metrics, "ambient_temp_c"})
    summaries_c, summaries_b = [], []
    want = None if metrics is None else list(metrics)
    if isinstance(source, Store):
        key = cache_key(holiday_country, read_metrics)
        for ids in _area_batches(reg, batch_assets):
            raws = _store_raw_summaries(source, ids, reg, year, baseline_years, read_metrics,
                                        use_cache, key)
            for y, raw in raws.items():
                s = finish_summary(raw, assets=reg, temperature=temperature, metrics=want)
                (summaries_c if y == year else summaries_b).append(s)
    else:
        for batch in _batches(source, reg, [*baseline_years, year], read_metrics,
                              batch_assets):
            hours = hours_of_readings(batch, reg, default_tz=default_tz)
            for y in [*baseline_years, year]:
                s = finish_summary(summary_of_hours(hours, y), assets=reg,
                                   temperature=temperature, metrics=want)
                (summaries_c if y == year else summaries_b).append(s)
    cur = _concat(summaries_c)
    base = _concat(summaries_b)
    members = None
    if by != "asset":
        cur, members = group_summaries(cur, reg, by)
        base, _ = group_summaries(base, reg, by)
    kw = dict(year=year, baseline_years=baseline_years, period_end=period_end, group_by=by,
              holiday_country=holiday_country, findings=findings, n_members=members,
              thresholds=thresholds)
    if by == "asset":
        # per batch of series (the population step runs once, in finalize)
        parts = [compare_summaries(cur.slice(i, batch_assets),
                                   base.join(cur.slice(i, batch_assets).select("asset_id"),
                                             on="asset_id", how="semi"), **kw)
                 for i in range(0, max(cur.height, 1), batch_assets)]
    else:
        parts = [compare_summaries(cur, base, **kw)]
    return finalize(parts, fdr=fdr)


def _year_range(years: Sequence[int]) -> tuple[datetime, datetime]:
    """UTC instants that hold every local hour of ``years`` in any zone (UTC-14 .. UTC+14)."""
    return (datetime(min(years), 1, 1, tzinfo=UTC) - timedelta(days=1),
            datetime(max(years) + 1, 1, 1, tzinfo=UTC) + timedelta(days=1))


def _store_raw_summaries(store: Store, ids: list[str], reg: pl.DataFrame, year: int,
                         baseline_years: list[int], metrics, use_cache: bool, key: str
                         ) -> dict[int, pl.DataFrame]:
    """Raw summaries (``summary_of_hours``) of one batch of assets, per year, from the store's
    own hourly aggregates; a baseline year's come from the store's summary cache where the
    asset's readings still have the fingerprint the cached summary was computed from (and its
    zone is the same), and the others are computed and stored for the next comparison."""
    tz_of = dict(reg.filter(pl.col("asset_id").is_in(ids)).select("asset_id", "tz").iter_rows())
    out: dict[int, pl.DataFrame] = {}
    todo: dict[int, list[str]] = {year: ids}
    prints: dict[int, pl.DataFrame] = {}
    for y in baseline_years:
        todo[y] = ids
        if not use_cache:
            continue
        fp = _fingerprints(store, ids, tz_of, y)
        if fp is None:
            continue
        prints[y] = fp
        cached = store.read_yoy_summaries(ids, y, key)
        if cached is None or cached.height == 0:
            continue
        now = fp.join(pl.DataFrame({"asset_id": list(tz_of), "tz": list(tz_of.values())},
                                   schema={"asset_id": pl.String, "tz": pl.String}),
                      on="asset_id")
        # an asset is reused only if every cached row of it is current
        stale = cached.join(now, on="asset_id", how="left", suffix="_now").filter(
            (pl.col("fingerprint") != pl.col("fingerprint_now")).fill_null(True)
            | (pl.col("tz") != pl.col("tz_now")).fill_null(True))["asset_id"].unique()
        good = cached.filter(~pl.col("asset_id").is_in(stale.implode()))
        hit = set(good["asset_id"].unique().to_list())
        # an asset cached without rows (no readings that year) is also a hit: its marker row
        out[y] = good.filter(pl.col("metric").is_not_null()).select(
            [pl.col(c).cast(t) for c, t in summary_schema().items()])
        todo[y] = [a for a in ids if a not in hit]
    # the years still to summarise, read in one range per set of assets
    for y in sorted(todo):
        need = todo[y]
        if not need:
            continue
        lo, hi = _year_range([y])
        hourly = store.hourly_aggregate(need, metrics, lo, hi, tz=tz_of)
        hours = hours_from_frame(hourly, reg)
        raw = summary_of_hours(hours, y)
        if y in prints:
            fp = prints[y].filter(pl.col("asset_id").is_in(need))
            rows = raw.join(fp, on="asset_id", how="left")
            # assets without rows that year get a marker row (metric null), so an empty
            # year is not read again either
            empty = fp.filter(~pl.col("asset_id").is_in(raw["asset_id"].implode()))
            marker = pl.DataFrame({"asset_id": empty["asset_id"],
                                   "tz": empty["asset_id"].replace_strict(tz_of),
                                   "fingerprint": empty["fingerprint"]})
            store.write_yoy_summaries(pl.concat([rows, marker], how="diagonal_relaxed"),
                                      y, key)
        out[y] = raw if y not in out else pl.concat([out[y], raw]).sort("asset_id", "metric")
    return out


def _fingerprints(store: Store, ids: list[str], tz_of: dict[str, str], year: int
                  ) -> pl.DataFrame | None:
    """The store's data fingerprints of each asset over exactly its local ``year`` (zone by
    zone): the readings its summary of that year depends on, and no others, so appending
    the next year's readings leaves the cached summary valid."""
    parts = []
    for zone in sorted(set(tz_of.values())):
        members = [a for a in ids if tz_of.get(a) == zone]
        z = ZoneInfo(zone)
        lo = datetime(year, 1, 1, tzinfo=z).astimezone(UTC)
        hi = datetime(year + 1, 1, 1, tzinfo=z).astimezone(UTC)
        fp = store.data_fingerprints(members, lo, hi)
        if fp is None:
            return None
        parts.append(fp)
    return pl.concat(parts) if parts else None


def _area_batches(reg: pl.DataFrame, batch_assets: int) -> Iterator[list[str]]:
    """Asset ids in batches of whole transformer areas, so a meter's temperature (its
    transformer's ``ambient_temp_c``) is in the same batch."""
    areas = reg.with_columns(
        pl.when(pl.col("kind") == "meter").then(pl.col("parent_id")).otherwise(None)
        .fill_null(pl.col("asset_id")).alias("area"))
    sizes = areas.group_by("area").len().sort("area")
    first = sizes["len"].cum_sum() - sizes["len"]
    chunk = sizes.with_columns((first // max(batch_assets, 1)).alias("chunk"))
    areas = areas.join(chunk.select("area", "chunk"), on="area")
    for _, group in areas.sort("chunk", "area").group_by("chunk", maintain_order=True):
        yield sorted(group["asset_id"].to_list())


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    parts = [p for p in parts if p.height]
    return pl.concat(parts) if parts else pl.DataFrame(schema=summary_schema())


def _years_with_data(source, reg) -> list[int]:
    if isinstance(source, pl.DataFrame):
        # distinct UTC days first (integer work), then their years: a per-reading calendar
        # conversion costs a second on a few million readings
        if source.height == 0:
            return []
        days = source["ts"].dt.epoch("us").to_numpy() // 86_400_000_000
        lo = int(days.min())
        present = np.flatnonzero(np.bincount(days - lo)) + lo
        return sorted(pl.Series(present).cast(pl.Date).dt.year().unique().to_list())
    status = source.status()
    lo, hi = status.get("first_ts"), status.get("last_ts")
    if lo is None or hi is None:
        return []
    return list(range(lo.year, hi.year + 1))


def _period_end(source, reg, year: int) -> date:
    """The day after the last local date with readings in ``year`` (capped at year end)."""
    tz = reg["tz"].drop_nulls().mode().sort().to_list()
    zone = ZoneInfo(tz[0] if tz else "UTC")
    if isinstance(source, pl.DataFrame):
        last = source["ts"].max()
    else:
        last = source.status().get("last_ts")
    year_end = date(year + 1, 1, 1)
    if last is None:
        return year_end
    last_local = last.astimezone(zone).date()
    if last_local.year > year:
        return year_end
    return min(year_end, last_local + timedelta(days=1))


def _batches(source, reg, years: list[int], metrics, batch_assets) -> Iterator[pl.DataFrame]:
    lo = datetime(min(years), 1, 1, tzinfo=UTC) - timedelta(days=1)
    hi = datetime(max(years) + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)
    if isinstance(source, pl.DataFrame):
        frame = source
        if source.height and (source["ts"].min() < lo or source["ts"].max() >= hi):
            frame = source.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi))
        if metrics is not None:
            frame = frame.filter(pl.col("metric").is_in(list(metrics)))
        yield frame
        return
    for ids in _area_batches(reg, batch_assets):
        yield from source.read_batches(ids, metrics, lo, hi, batch_assets=len(ids) + 1)


def group_summaries(summaries: pl.DataFrame, assets: pl.DataFrame, by: str
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sum member summaries into one per (group, metric, year).

    Meters are the members: ``transformer`` = a meter's parent, ``feeder`` = its parent's
    parent, ``customer_class`` = its class. Day values and profiles add up (a day missing for
    one member lowers the group's coverage instead of its level); peaks are not additive, so a
    group's daily peak and peak hour come from its summed profile. Temperature is the
    members' mean.
    """
    parent = assets.select("asset_id", "parent_id", "customer_class", "kind")
    if by == "transformer":
        g = parent.select("asset_id", pl.col("parent_id").alias("group"))
    elif by == "feeder":
        up = parent.select(pl.col("asset_id").alias("parent_id"),
                           pl.col("parent_id").alias("group"))
        g = parent.join(up, on="parent_id", how="left").select("asset_id", "group")
    else:
        g = parent.select("asset_id", pl.col("customer_class").alias("group"))
    meters = parent.filter(pl.col("kind") == "meter").select("asset_id")
    s = summaries.join(meters, on="asset_id", how="semi").join(g, on="asset_id")
    s = s.filter(pl.col("group").is_not_null())
    if s.height == 0:
        return pl.DataFrame(schema=summary_schema()), pl.DataFrame(
            schema={"asset_id": pl.String, "n_members": pl.Int32})
    rows = []
    for (grp, metric, year), part in s.group_by("group", "metric", "year", maintain_order=True):
        def stack(col):
            return np.stack(part[col].to_numpy())
        val = stack("day_value")
        cnt = stack("day_count")
        per_day = float(part["per_day"].sum())
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            # a day without any member's value or temperature is NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            vsum = np.where(np.isfinite(val).any(axis=0), np.nansum(val, axis=0), np.nan)
            tmp = np.nanmean(stack("day_temp"), axis=0)
        psum, pcnt = stack("profile_sum"), stack("profile_count")
        # the group's profile: sum of member mean profiles
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_prof = np.where(pcnt > 0, psum / pcnt, 0.0).sum(axis=0)
        cnt_prof = (pcnt > 0).any(axis=0).astype(float)
        rows.append({
            "asset_id": grp, "metric": metric, "year": year, "tz": part["tz"][0],
            "n_days": part["n_days"][0], "per_day": per_day,
            "day_value": vsum, "day_count": np.nansum(cnt, axis=0),
            "day_peak": np.full(val.shape[1], np.nan),
            "day_peak_hour": np.full(val.shape[1], np.nan),
            "day_base": np.full(val.shape[1], np.nan), "day_temp": tmp,
            "profile_sum": mean_prof * cnt_prof, "profile_count": cnt_prof,
            "_n": part.height,
        })
    frame = pl.DataFrame(rows)
    members = frame.group_by("asset_id").agg(pl.col("_n").max().cast(pl.Int32)
                                             .alias("n_members"))
    return frame.drop("_n").cast(summary_schema()), members


def cache_key(holiday_country: str | None, metrics: Sequence[str] | None = None) -> str:
    """What a cached yearly summary depends on besides asset, year, zone (checked per row:
    the summary holds its ``tz``) and the readings (their fingerprint): the summary and
    calendar rules, the holiday country and, when not all, the metrics read."""
    m = "all" if metrics is None else "+".join(sorted(metrics))
    return f"summary{SUMMARY_VERSION}-calendar{CALENDAR_VERSION}-{holiday_country}-{m}"
