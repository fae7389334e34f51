"""Daily peak check: each interval value against the k-th largest value of its day.

The interval-data spike check of utility meter-data VEE flags a day whose largest interval
value exceeds ``factor`` times the day's third-largest one: a real peak has neighbours of
similar size (the kettle runs, the air conditioner cycles), a corrupt reading stands alone.
Comparing with the third rather than the second largest lets a spike spanning two intervals
still stand out. The factor is the profile's threshold, not the kernel's.

This kernel returns, for every slot, ``x / kth_largest(day)``; the day is flagged when its
maximum's ratio exceeds the factor, and every slot above the factor is named. Days are given
by the caller as an integer day number per slot (local calendar; DST days simply have 92 or
100 slots).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch_series
from griddiag.kernels._validate import as_batch, as_int_array, check_positive_int

__all__ = ["daily_peak_ratio"]


@njit(**JIT)
def _daily_peak_ratio(first, end, values, offsets, day, rank, min_valid, out):
    """One pass per day: keep the day's ``rank`` largest values, then divide (in parallel
    over the series: a division and a few data-dependent compares per slot)."""
    for s in range(first, end):
        a = offsets[s]
        b = offsets[s + 1]
        top = np.empty(rank, dtype=np.float64)  # the day's largest values, descending
        i = a
        while i < b:
            d = day[i]
            j = i
            m = 0  # valid values seen
            while j < b and day[j] == d:
                v = values[j]
                if np.isfinite(v):
                    # insert v into the descending top list (length min(m, rank))
                    c = m if m < rank else rank
                    if c < rank or v > top[rank - 1]:
                        q = c if c < rank else rank - 1
                        while q > 0 and top[q - 1] < v:
                            top[q] = top[q - 1]
                            q -= 1
                        top[q] = v
                    m += 1
                j += 1
            ref = top[rank - 1] if m >= rank and m >= min_valid else np.nan
            for k in range(i, j):
                v = values[k]
                if np.isfinite(v) and ref > 0.0:
                    out[k] = v / ref
                else:
                    out[k] = np.nan
            i = j


def daily_peak_ratio(values, offsets=None, day=None, *, rank: int = 3, min_valid: int = 3
                     ) -> np.ndarray:
    """Ratio of each interval value to the ``rank``-th largest valid value of its day.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Interval values (e.g. ``energy_kwh``), series concatenated; NaN = missing.
    offsets : array_like of int, shape (n_series + 1,), optional
    day : array_like of int, shape (n,)
        Day number of each slot (any integers, non-decreasing within each series; the slots of
        one day are contiguous).
    rank : int
        Which largest value is the reference (3: the VEE rule's third-largest).
    min_valid : int
        Fewest valid values a day needs for a ratio (at least ``rank``).

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        ``x / kth_largest``; NaN at invalid slots, on days with too few valid values and where
        the reference is <= 0 (the check is defined for positive consumption: a day whose
        third-largest interval is 0 is a zero-consumption question, not a spike).
    """
    if day is None:
        raise ConfigError("daily_peak_ratio needs a `day` array (day number of each value)")
    vals, off = as_batch(values, offsets)
    # any integer type as given: a calendar's int32 days are not widened (a copy per call)
    dy = as_int_array(day, "day", length=vals.shape[0], dtype=None)
    rk = check_positive_int(rank, "rank")
    mv = check_positive_int(min_valid, "min_valid")
    if dy.shape[0] > 1:
        back = dy[1:] < dy[:-1]
        # a decrease is fine only where a new series starts
        starts = off[1:-1]
        back[starts[(starts > 0) & (starts < dy.shape[0])] - 1] = False
        if back.any():
            i = int(np.flatnonzero(back)[0])
            raise ConfigError(f"day must not decrease within a series: day[{i}] = {dy[i]} > "
                              f"day[{i + 1}] = {dy[i + 1]}; sort each series by time")
    out = np.empty(vals.shape[0], dtype=np.float64)
    launch_series(_daily_peak_ratio, off, vals, off, dy, rk, mv, out)
    return out
