"""Readings frames for tests: one series in the canonical long layout."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl


def one_series(values, *, metric: str, asset: str, minutes: float, t0: datetime
               ) -> pl.DataFrame:
    """``asset_id, ts, metric, value`` of one series: ``values`` every ``minutes`` from ``t0``
    (NaN = a missing value)."""
    n = len(values)
    return pl.DataFrame({
        "asset_id": [asset] * n,
        "ts": [t0 + timedelta(minutes=minutes * i) for i in range(n)],
        "metric": [metric] * n,
        "value": np.asarray(values, dtype=float),
    }, schema={"asset_id": pl.String, "ts": pl.Datetime("us", "UTC"), "metric": pl.String,
               "value": pl.Float64})
