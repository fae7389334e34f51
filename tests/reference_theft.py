"""Relational reference of :func:`griddiag.detectors.theft.area_balance` (polars joins and
group-bys on the long frame, as it was first written): the NumPy implementation must give the
same frames (``tests/test_theft.py``). The transformer side (``_transformer_energy``, a few
thousand rows per area) and the local-day lookup are shared with the implementation.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from griddiag.detectors.electrical import as_assets, local_day_index
from griddiag.detectors.theft import (
    _US_PER_DAY,
    _US_PER_H,
    _areas,
    _empty_balance,
    _transformer_energy,
)

__all__ = ["area_balance_reference"]


def _with_day(df: pl.DataFrame, tz_map: dict, tz: str, key: str = "tx_id") -> pl.DataFrame:
    """Add ``day`` (local days since epoch of ``t``) in the zone of each row's ``key``."""
    if df.height == 0:
        return df.with_columns(day=pl.lit(0, pl.Int64))
    keys = df[key].unique().to_list()
    zone_of = {k: str(tz_map.get(k) or tz) for k in keys}
    zones = sorted(set(zone_of.values()))
    t = df["t"].to_numpy()
    if len(zones) == 1:
        return df.with_columns(day=pl.Series(local_day_index(t, zones[0])))
    zcol = df[key].replace_strict(zone_of, return_dtype=pl.String).to_numpy()
    day = np.empty(df.height, dtype=np.int64)
    for zone in zones:  # one pass per distinct zone
        sel = zcol == zone
        day[sel] = local_day_index(t[sel], zone)
    return df.with_columns(day=pl.Series(day))




def area_balance_reference(readings: pl.DataFrame, assets: pl.DataFrame, *,
                 transformer_energy: str = "auto", tz: str = "UTC",
                 min_day_coverage: float = 0.75) -> dict[str, pl.DataFrame]:
    """Daily energy balance of every transformer area in the batch.

    Returns a dict of frames:

    ``area``
        ``tx_id, day`` (days since epoch, local), ``tx_kwh, meters_kwh`` (over the day's
        complete instants), ``n_complete, expected, coverage, rate_pct`` (NaN when coverage
        is below ``min_day_coverage`` or the supply is not positive), ``source``.
    ``meter``
        ``tx_id, meter_id, day, meter_kwh`` on the same complete instants (matched sampling).
    ``meter_full``
        ``tx_id, meter_id, day, full_kwh`` every interval of the day summed, ``coverage``
        (share of the day's intervals present).
    ``members``
        ``tx_id, meter_id, has_data``.
    """
    assets = as_assets(assets)
    links = _areas(assets)
    tz_map = {}
    if assets is not None and "tz" in assets.columns:
        tz_map = dict(zip(assets["asset_id"].to_list(), assets["tz"].to_list()))
    m = (readings.filter((pl.col("metric") == "energy_kwh")
                         & pl.col("asset_id").is_in(links["meter_id"].implode()))
         .select(pl.col("asset_id").alias("meter_id"), pl.col("ts").dt.epoch("us").alias("t"),
                 pl.col("value").fill_nan(None).alias("e")))
    if m.height == 0:
        return _empty_balance(links)
    d = pl.col("t").sort().diff()
    stats = (m.group_by("meter_id")
             .agg(n=pl.col("e").count(), m_step=d.filter(d > 0).median())
             .with_columns(pl.col("m_step").fill_null(_US_PER_H).round().cast(pl.Int64)))
    members = links.join(stats, on="meter_id", how="left").with_columns(
        has_data=pl.col("n").fill_null(0) > 0).select("tx_id", "meter_id", "has_data")
    live = members.filter(pl.col("has_data"))
    if live.height == 0:
        # no meter of an area has a value (all NaN): nothing to balance. Returning here also
        # keeps the lookups below off empty mappings, whose ``replace_strict`` result polars
        # types as String whatever ``return_dtype`` says
        return _empty_balance(links, members)
    tx_of = dict(zip(live["meter_id"].to_list(), live["tx_id"].to_list()))
    m_step = stats.filter(pl.col("n") > 0).select("meter_id", "m_step")
    step_of = dict(zip(m_step["meter_id"].to_list(), m_step["m_step"].to_list()))
    # small lookups by dictionary: a join would hash millions of strings
    m = m.filter(pl.col("meter_id").is_in(list(tx_of))).with_columns(
        tx_id=pl.col("meter_id").replace_strict(tx_of, return_dtype=pl.String),
        m_step=pl.col("meter_id").replace_strict(step_of, return_dtype=pl.Int64))
    tx_ids = live["tx_id"].unique().sort().to_list()
    tx = _transformer_energy(readings, tx_ids, transformer_energy)
    n_live = live.group_by("tx_id").agg(n_meters=pl.len())
    tx = tx.join(n_live, on="tx_id")
    # meter energy matched to each transformer instant
    pairs = tx.select("tx_id", "t", "step", "mode").join(
        live.select("tx_id", "meter_id").join(m_step, on="meter_id"), on="tx_id")
    power = pairs.filter(pl.col("mode") == "power").with_columns(
        key=pl.col("t") - pl.col("t") % pl.col("m_step"))
    # only the meter intervals holding a transformer instant take part
    m_key = m.filter(pl.col("t").is_in(power["key"].unique().implode())).select(
        "meter_id", pl.col("t").alias("key"), "e")
    power = power.join(m_key, on=["meter_id", "key"], how="left").with_columns(
        meter_kwh=pl.col("e") * pl.col("step") / pl.col("m_step"),
        ok=pl.col("e").is_not_null())
    energy_tx = tx.filter(pl.col("mode") == "energy")
    parts = [power.select("tx_id", "t", "meter_id", "meter_kwh", "ok")]
    if energy_tx.height:
        t0 = energy_tx.group_by("tx_id").agg(t0=pl.col("t").min(), step=pl.col("step").first())
        me = (m.join(t0, on="tx_id")
              .with_columns(t=pl.col("t0") + (pl.col("t") - pl.col("t0")) // pl.col("step")
                            * pl.col("step"))
              .group_by("tx_id", "meter_id", "t")
              .agg(meter_kwh=pl.col("e").sum(), n=pl.col("e").count(),
                   need=(pl.col("step").first() // pl.col("m_step").first())))
        me = (energy_tx.select("tx_id", "t")
              .join(live.select("tx_id", "meter_id"), on="tx_id")
              .join(me, on=["tx_id", "meter_id", "t"], how="left")
              .with_columns(ok=pl.col("n").fill_null(0) >= pl.col("need").fill_null(1)))
        parts.append(me.select("tx_id", "t", "meter_id", "meter_kwh", "ok"))
    # Joins hand rows back in no fixed order, and float sums depend on the order of their
    # terms: sort before summing so the same data always gives the same loss rates.
    mm = pl.concat(parts).sort("tx_id", "t", "meter_id")
    inst = (mm.group_by("tx_id", "t")
            .agg(meters_kwh=pl.col("meter_kwh").sum(), n_ok=pl.col("ok").sum())
            .join(tx, on=["tx_id", "t"])
            .with_columns(complete=(pl.col("n_ok") == pl.col("n_meters"))
                          & pl.col("tx_kwh").is_not_null()))
    inst = _with_day(inst, tz_map, tz).sort("tx_id", "t")
    area = (inst.group_by("tx_id", "day").agg(
        tx_kwh=pl.col("tx_kwh").filter(pl.col("complete")).sum(),
        meters_kwh=pl.col("meters_kwh").filter(pl.col("complete")).sum(),
        n_complete=pl.col("complete").sum(), step=pl.col("step").first(),
        source=pl.col("source").first())
        .with_columns(expected=_US_PER_DAY / pl.col("step"))
        .with_columns(coverage=pl.col("n_complete") / pl.col("expected"))
        .with_columns(rate_pct=pl.when((pl.col("coverage") >= min_day_coverage)
                                       & (pl.col("tx_kwh") > 0))
                      .then((pl.col("tx_kwh") - pl.col("meters_kwh")) / pl.col("tx_kwh") * 100)
                      .otherwise(None))
        .sort("tx_id", "day"))
    good = inst.filter(pl.col("complete")).select("tx_id", "t", "day")
    meter = (mm.join(good, on=["tx_id", "t"], maintain_order="left")
             .group_by("tx_id", "meter_id", "day")
             .agg(meter_kwh=pl.col("meter_kwh").sum()).sort("tx_id", "meter_id", "day"))
    full = _with_day(m.select("meter_id", "tx_id", "t", "e"), tz_map, tz, key="tx_id")
    full = (full.group_by("meter_id", "day")
            .agg(full_kwh=pl.col("e").sum(), n=pl.col("e").count())
            .with_columns(
                tx_id=pl.col("meter_id").replace_strict(tx_of, return_dtype=pl.String),
                coverage=pl.col("n") * pl.col("meter_id").replace_strict(
                    step_of, return_dtype=pl.Int64) / _US_PER_DAY)
            .select("tx_id", "meter_id", "day", "full_kwh", "coverage")
            .sort("tx_id", "meter_id", "day"))
    return {"area": area, "meter": meter, "meter_full": full, "members": members}


