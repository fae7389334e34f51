"""Plain references of the batch layouts: the sorted readings, the groups' slot grids
(:func:`griddiag.kernels.slots.group_grids`) and the electrical checks' grid as it was first
written with polars (:func:`griddiag.detectors.electrical.build_grid`).
``tests/test_sorted_readings.py`` compares them with the implementations.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["electrical_grid_reference", "group_grids_reference", "sorted_reference"]


def sorted_reference(readings: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list, list]:
    """``t``, ``value`` sorted by (asset, metric, ts), rows of equal keys in their order, and
    the (asset_id, metric) of each series in that order."""
    s = readings.sort("asset_id", "metric", "ts", maintain_order=True)
    keys = s.select("asset_id", "metric").unique(maintain_order=True)
    return (s["ts"].dt.epoch("us").to_numpy(), s["value"].cast(pl.Float64).to_numpy(),
            keys["asset_id"].to_list(), keys["metric"].to_list())


def group_grids_reference(t, values, row_offsets, series, column, group_offsets, n_columns,
                          default_step_us):
    """One loop per group: union of the timestamps, sorted; median positive step (half to
    even); each reading into its slot; means where several land in one."""
    n_groups = len(group_offsets) - 1
    t0 = np.zeros(n_groups, dtype=np.int64)
    step = np.zeros(n_groups, dtype=np.int64)
    n_slots = []
    members = []
    for g in range(n_groups):
        rows = [r for j in range(group_offsets[g], group_offsets[g + 1])
                for r in range(row_offsets[series[j]], row_offsets[series[j] + 1])]
        ts = sorted(int(t[r]) for r in rows)
        d = [b - a for a, b in zip(ts, ts[1:]) if b - a > 0]
        step[g] = int(round(float(np.median(d)))) if d else default_step_us
        t0[g] = ts[0]
        n_slots.append((ts[-1] - ts[0]) // int(step[g]) + 1)
        members.append(rows)
    offsets = np.concatenate([[0], np.cumsum(n_slots)]).astype(np.int64)
    sums = [[[] for _ in range(int(offsets[-1]))] for _ in range(n_columns)]
    for g in range(n_groups):
        for j in range(group_offsets[g], group_offsets[g + 1]):
            s = series[j]
            for r in range(row_offsets[s], row_offsets[s + 1]):
                k = offsets[g] + (int(t[r]) - t0[g]) // step[g]
                sums[column[j]][k].append(float(values[r]))
    slots = np.full((n_columns, int(offsets[-1])), np.nan)
    for c in range(n_columns):
        for k, xs in enumerate(sums[c]):
            if xs:
                m = xs[0] if len(xs) == 1 else sum(xs) / len(xs)
                slots[c, k] = m if np.isfinite(m) else np.nan
    return t0, step, offsets, slots


def electrical_grid_reference(readings: pl.DataFrame, metrics: list[str],
                              asset_ids: list[str] | None = None) -> dict:
    """The electrical grid by polars group-bys on the long frame (the first formulation):
    ``asset_id, offsets, step_us, ts_us, series, values``."""
    df = readings.filter(pl.col("metric").is_in(metrics))
    if asset_ids is not None:
        df = df.filter(pl.col("asset_id").is_in(asset_ids))
    df = df.select("asset_id", t=pl.col("ts").dt.epoch("us"), metric="metric", value="value")
    if df.height == 0:
        e = np.empty(0, dtype=np.int64)
        return {"asset_id": np.empty(0, dtype=object), "offsets": np.zeros(1, dtype=np.int64),
                "step_us": e, "ts_us": e, "series": e,
                "values": {m: np.empty(0) for m in metrics}}
    d = pl.col("t").sort().diff()
    stats = (df.group_by("asset_id")
             .agg(t0=pl.col("t").min(), t1=pl.col("t").max(), step=d.filter(d > 0).median())
             .sort("asset_id")
             .with_columns(pl.col("step").fill_null(3_600_000_000).round().cast(pl.Int64)))
    stats = stats.with_columns(
        n=((pl.col("t1") - pl.col("t0")) // pl.col("step") + 1).cast(pl.Int64))
    n = stats["n"].to_numpy()
    offsets = np.concatenate([[0], np.cumsum(n)]).astype(np.int64)
    stats = stats.with_columns(off=pl.Series(offsets[:-1]))
    series = np.repeat(np.arange(len(n), dtype=np.int64), n)
    t0 = stats["t0"].to_numpy()
    step = stats["step"].to_numpy()
    ts_us = t0[series] + (np.arange(offsets[-1], dtype=np.int64) - offsets[series]) * \
        step[series]
    slots = (df.join(stats.select("asset_id", "t0", "step", "off"), on="asset_id")
             .with_columns(slot=pl.col("off") + (pl.col("t") - pl.col("t0")) // pl.col("step"))
             .group_by("metric", "slot").agg(pl.col("value").mean()))
    values = {}
    for m in metrics:
        arr = np.full(int(offsets[-1]), np.nan)
        part = slots.filter(pl.col("metric") == m)
        if part.height:
            arr[part["slot"].to_numpy()] = part["value"].to_numpy()
        arr[~np.isfinite(arr)] = np.nan
        values[m] = arr
    return {"asset_id": stats["asset_id"].to_numpy(), "offsets": offsets, "step_us": step,
            "ts_us": ts_us, "series": series, "values": values}
