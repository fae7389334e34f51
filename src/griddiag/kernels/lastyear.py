"""Same period last year: the baseline of a day from the like days of a year before.

Meter-data VEE high/low usage checks compare a period's usage with the customer's own usage of
"the same period last year" as well as with recent like days (Oracle Utilities MDM's
High/Low Check compares the current consumption with historical consumption normalised per
day); billing systems print the same comparison on every bill. Weather and the calendar repeat
roughly by the year, so a day that is high against the last few weeks may be ordinary against
last summer, and a slow loss of consumption invisible against trailing weeks shows against a
year ago.

The expected value of day ``d`` is the median of the valid values of the same series on days
``d - lag_days - half_window_days ... d - lag_days + half_window_days`` of the same day type
(workday, rest day, public holiday). ``lag_days = 364`` is 52 weeks: the same weekdays of the
same local calendar weeks, so a Monday is compared with Mondays (365 would compare it with
Sundays every year). Day numbers and day types come from the caller (the local calendar); the
kernel only matches the integers it is given.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch_series
from griddiag.kernels._order import first_at_least, median_small
from griddiag.kernels._validate import as_batch, as_int_array, check_positive_int

__all__ = ["last_year_baseline"]


@njit(**JIT)
def _baseline_series(x, day, day_type, lag, half, min_days, out):
    n = x.shape[0]
    tmp = np.empty(2 * half + 1, dtype=np.float64)
    for t in range(n):
        out[t] = np.nan
        if not np.isfinite(x[t]):
            continue
        # the first slot on or after the window
        lo = first_at_least(day, np.int64(0), n, day[t] - lag - half)
        m = np.int64(0)
        u = lo
        while u < n and day[u] <= day[t] - lag + half:
            if u != t and day_type[u] == day_type[t] and np.isfinite(x[u]) \
                    and m < tmp.shape[0]:
                tmp[m] = x[u]
                m += 1
            u += 1
        if m >= min_days:
            out[t] = median_small(tmp, m)


@njit(**JIT)
def _last_year_baseline(first, end, values, offsets, day, day_type, lag, half, min_days, out):
    for s in range(first, end):
        a = offsets[s]
        b = offsets[s + 1]
        if b > a:
            _baseline_series(values[a:b], day[a:b], day_type[a:b], lag, half, min_days,
                             out[a:b])


def last_year_baseline(values, offsets, day, day_type, *, lag_days: int = 364,
                       half_window_days: int = 7, min_days: int = 3) -> np.ndarray:
    """Median of the like days around the same day ``lag_days`` earlier, per slot.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Daily values (e.g. local-day energy) of a batch of series; NaN = missing day.
    offsets : array_like of int, shape (n_series + 1,), optional
    day : array_like of int, shape (n,)
        Local day number of each slot (days since 1970-01-01), strictly increasing within a
        series (one slot per day).
    day_type : array_like of int, shape (n,)
        Day type of each slot (0 workday, 1 rest day, 2 public holiday).
    lag_days : int
        How far back the comparison period lies (364: 52 weeks, weekday-aligned).
    half_window_days : int
        Days either side of the lagged day that count (7: three calendar weeks).
    min_days : int
        Fewest valid like days needed; fewer gives NaN.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        The baseline; NaN at invalid slots and where last year holds too few like days.
    """
    vals, off = as_batch(values, offsets)
    n = vals.shape[0]
    d = as_int_array(day, "day", length=n)
    dt = as_int_array(day_type, "day_type", length=n)
    lag = check_positive_int(lag_days, "lag_days")
    half = check_positive_int(half_window_days, "half_window_days", minimum=0)
    md = check_positive_int(min_days, "min_days")
    if half >= lag:
        raise ConfigError(f"half_window_days ({half}) must be below lag_days ({lag}): the "
                          "window must lie wholly in the past")
    if md > 2 * half + 1:
        raise ConfigError(f"min_days ({md}) cannot exceed the window's {2 * half + 1} days "
                          "(2 * half_window_days + 1)")
    if n:
        steps = np.diff(d)
        inner = np.ones(n - 1, dtype=bool)
        inner[off[1:-1][(off[1:-1] > 0) & (off[1:-1] < n)] - 1] = False
        if (steps[inner] <= 0).any():
            i = int(np.flatnonzero(inner & (steps <= 0))[0])
            raise ConfigError(f"day must increase within each series; day[{i}] = {d[i]} "
                              f">= day[{i + 1}] = {d[i + 1]} (one slot per local day: use "
                              "daily totals)")
    out = np.empty(n, dtype=np.float64)
    launch_series(_last_year_baseline, off, vals, off, d, dt, lag, half, md, out)
    return out
