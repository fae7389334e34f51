"""Seasonal residual: a robust time-of-day x day-type profile from each series' own history.

The expected value of slot ``t`` is the median of the last ``n_history`` valid values of the
same series at the same slot of day and on the same day type (workday, weekend, holiday),
no older than ``max_age`` slots. This is the "same interval of like days" baseline that
meter-data VEE high/low-usage checks and the day-matching customer baselines of
demand-response settlement use (the "10 in 10" kind: the average of the 10 most recent like
days), made robust by taking the median instead of the mean. The current slot is not part of
its own expectation.

The residual ``x - expected`` is then scored by the rolling robust z of
:mod:`griddiag.kernels.rolling` over a trailing window of residuals (all slots of the day
together), so its spread adapts to the season.

Day types and slots of day come from the caller (local calendar, holidays, DST days with 92
or 100 slots): the kernel only groups by the integer keys it is given.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch_series
from griddiag.kernels._order import median_small
from griddiag.kernels._validate import as_batch, as_int_array, check_positive_int
from griddiag.kernels.rolling import rolling_robust_z

__all__ = ["seasonal_profile", "seasonal_residual_z"]


@njit(**JIT)
def _profile_series(x, key, n_keys, n_history, min_history, max_age, out):
    n = x.shape[0]
    # ring buffers of the last n_history valid values (and their positions) per key
    hv = np.empty((n_keys, n_history), dtype=np.float64)
    hp = np.empty((n_keys, n_history), dtype=np.int64)
    count = np.zeros(n_keys, dtype=np.int64)
    head = np.zeros(n_keys, dtype=np.int64)  # next write position
    tmp = np.empty(n_history, dtype=np.float64)
    for t in range(n):
        v = x[t]
        if not np.isfinite(v):
            out[t] = np.nan
            continue
        k = key[t]
        m = np.int64(0)
        for j in range(count[k]):
            if t - hp[k, j] <= max_age:
                tmp[m] = hv[k, j]
                m += 1
        out[t] = median_small(tmp, m) if m >= min_history and m > 0 else np.nan
        h = head[k]
        hv[k, h] = v
        hp[k, h] = t
        head[k] = h + 1 if h + 1 < n_history else 0
        if count[k] < n_history:
            count[k] += 1


@njit(**JIT)
def _seasonal_profile(first, end, values, offsets, key, n_keys, n_history, min_history, max_age,
                      out):
    for s in range(first, end):
        a = offsets[s]
        b = offsets[s + 1]
        if b > a:
            _profile_series(values[a:b], key[a:b], n_keys, n_history, min_history, max_age,
                            out[a:b])


def _profile(values, offsets, slot, day_type, n_slots, n_day_types, n_history, min_history,
             max_age):
    vals, off = as_batch(values, offsets)
    n = vals.shape[0]
    ns = check_positive_int(n_slots, "n_slots")
    nd = check_positive_int(n_day_types, "n_day_types")
    sl = as_int_array(slot, "slot", length=n, low=0, high=ns)
    dt = as_int_array(day_type, "day_type", length=n, low=0, high=nd)
    nh = check_positive_int(n_history, "n_history")
    mh = check_positive_int(min_history, "min_history")
    if mh > nh:
        raise ConfigError(f"min_history must lie in [1, n_history={nh}], got {mh}")
    if max_age is None:
        age = np.iinfo(np.int64).max
    else:
        age = check_positive_int(max_age, "max_age")
    key = dt * ns + sl
    out = np.empty(n, dtype=np.float64)
    launch_series(_seasonal_profile, off, vals, off, key, ns * nd, nh, mh, age, out)
    return vals, off, out


def seasonal_profile(values, offsets=None, slot=None, day_type=None, *, n_slots: int = 96,
                     n_day_types: int = 3, n_history: int = 4, min_history: int = 2,
                     max_age: int | None = None) -> np.ndarray:
    """Expected value of each slot: median of the same slot on the last like days.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Series concatenated, on a regular grid; NaN = missing.
    offsets : array_like of int, shape (n_series + 1,), optional
    slot : array_like of int, shape (n,)
        Slot of the (local) day of each value, in ``[0, n_slots)``.
    day_type : array_like of int, shape (n,)
        Day type of each value, in ``[0, n_day_types)``: 0 workday, 1 weekend, 2 holiday.
    n_slots, n_day_types : int
        Ranges of ``slot`` and ``day_type``.
    n_history : int
        How many earlier like values the median takes (4: four weeks of Mondays... or four
        workdays, depending on how ``day_type`` groups days).
    min_history : int
        Fewest earlier like values for an expectation; else NaN.
    max_age : int, optional
        Ignore like values more than this many slots back (e.g. ``8 * 7 * 96``: eight weeks);
        default no limit.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        NaN at invalid slots and where the history is too short.
    """
    if slot is None or day_type is None:
        raise ConfigError("seasonal_profile needs `slot` and `day_type` arrays (one per value)")
    return _profile(values, offsets, slot, day_type, n_slots, n_day_types, n_history,
                    min_history, max_age)[2]


def seasonal_residual_z(values, offsets=None, slot=None, day_type=None, *, n_slots: int = 96,
                        n_day_types: int = 3, n_history: int = 4, min_history: int = 2,
                        max_age: int | None = None, window: int = 7 * 96,
                        min_periods: int | None = None, min_scale: float = 0.0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seasonal expectation, residual and the residual's rolling robust z.

    ``expected`` is :func:`seasonal_profile`; ``residual = values - expected``;
    ``z = rolling_robust_z(residual, window, ...)`` over a trailing window of ``window`` slots
    (default a week), where slots without an expectation count as missing.

    Returns
    -------
    (expected, residual, z) : tuple of numpy.ndarray of float64, shape (n,)
    """
    if slot is None or day_type is None:
        raise ConfigError("seasonal_residual_z needs `slot` and `day_type` arrays (one per "
                          "value)")
    vals, off, expected = _profile(values, offsets, slot, day_type, n_slots, n_day_types,
                                   n_history, min_history, max_age)
    residual = vals - expected
    z = rolling_robust_z(residual, off, window, min_periods=min_periods, min_scale=min_scale)
    return expected, residual, z
