"""ADTK-style rule detectors (ThresholdAD, PersistAD, LevelShiftAD), pandas-free.

ADTK (arundo/adtk 0.6.2) needs pandas, statsmodels and matplotlib, which griddiag's
environment does not carry, so the benchmark compares against these equivalents of its
semantics, built the way ADTK builds them (``adtk/detector/_detector_1d.py``): a rolling
aggregate of the series, then an inter-quartile-range rule on the result. Rolling medians come
from polars (its native ``rolling_median``, faster than the pandas rolling ADTK calls), so
each ratio against them understates griddiag's advantage over ADTK itself.

- ``threshold_ad``: ``x > high or x < low`` (ThresholdAD);
- ``persist_ad``: ``x_t - median(x[t-window:t])`` flagged outside
  ``[Q1 - c IQR, Q3 + c IQR]`` of that difference over the series (PersistAD, side="both");
- ``level_shift_ad``: ``median(x[t:t+window]) - median(x[t-window:t])`` with the same IQR rule
  (LevelShiftAD).

NaN propagates as in pandas' rolling with ``min_periods = window``; one series at a time, as
ADTK runs (a Python loop over series).
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["level_shift_ad", "persist_ad", "threshold_ad"]


def threshold_ad(values: np.ndarray, offsets: np.ndarray, *, low: float = -np.inf,
                 high: float = np.inf) -> np.ndarray:
    out = np.zeros(values.shape[0], dtype=bool)
    for s in range(offsets.shape[0] - 1):  # ADTK: one series per call
        x = pl.Series(values[offsets[s]:offsets[s + 1]])
        out[offsets[s]:offsets[s + 1]] = ((x > high) | (x < low)).fill_null(False).to_numpy()
    return out


def _iqr_flags(d: np.ndarray, c: float) -> np.ndarray:
    ok = np.isfinite(d)
    if not ok.any():
        return np.zeros(d.shape[0], dtype=bool)
    q1, q3 = np.quantile(d[ok], [0.25, 0.75])
    iqr = q3 - q1
    with np.errstate(invalid="ignore"):
        return (d > q3 + c * iqr) | (d < q1 - c * iqr)


def persist_ad(values: np.ndarray, offsets: np.ndarray, *, window: int = 1,
               c: float = 3.0) -> np.ndarray:
    out = np.zeros(values.shape[0], dtype=bool)
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        x = pl.Series(values[a:b]).fill_nan(None)
        before = x.rolling_median(window).shift(1)
        d = (x - before).fill_null(np.nan).to_numpy()
        out[a:b] = _iqr_flags(d, c)
    return out


def level_shift_ad(values: np.ndarray, offsets: np.ndarray, *, window: int = 5,
                   c: float = 6.0) -> np.ndarray:
    out = np.zeros(values.shape[0], dtype=bool)
    for s in range(offsets.shape[0] - 1):
        a, b = offsets[s], offsets[s + 1]
        x = pl.Series(values[a:b]).fill_nan(None)
        before = x.rolling_median(window).shift(1)
        after = x.reverse().rolling_median(window).reverse()
        d = (after - before).fill_null(np.nan).to_numpy()
        out[a:b] = _iqr_flags(d, c)
    return out
