"""Local calendar keys of every slot: local day, slot of the local day, day type.

Daily checks (the spike check's day, daily energy, like-day baselines) group slots by the
*local* day of the asset, and time-of-day profiles index them by their position in that day.
The caller converts time zones where it is cheap, once per zone and not once per slot: it
gives each zone's UTC offset as a step function (the instants where the offset changes, a
few a year) and the day type of every local day of the batch (from the holiday calendar).
This kernel then walks each series once, without a division per slot: between two
transitions the offset is fixed, and within one local day at one offset each slot is the
previous slot's successor, so the day and the slot of the day are divided out only where a
day or an offset begins.

The keys are small integers (local day: ``int32`` days since 1970-01-01; slot of the day:
``int32``; day type: ``int8``): a year of 15-minute data for a thousand meters is 35 M slots,
and three ``int64`` keys per slot would be the largest arrays of a detection run.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch
from griddiag.kernels._order import first_above
from griddiag.kernels._validate import as_int_array, check_offsets

__all__ = ["US_PER_DAY", "local_calendar"]

#: Microseconds per day.
US_PER_DAY = 86_400_000_000

_NEVER = np.iinfo(np.int64).max


@njit(**JIT)
def _local_calendar(ts, offsets, step, series_zone, zone_start, tr_time, tr_offset,
                    first_day, day_types, day, slot_of_day, day_type, last_slot):
    """Series after series, on one thread: a few compares and three stores per slot, bound
    by memory (measured on 2 cores: no faster with ``prange``, and slower on small grids,
    where waking the threads costs more than the work)."""
    for s in range(offsets.shape[0] - 1):
        a = offsets[s]
        b = offsets[s + 1]
        if b == a:
            last_slot[s] = 0
            continue
        st = step[s]
        z = series_zone[s]
        hi = zone_start[z + 1]
        # the transition in force at the first slot (the caller checked there is one)
        p = first_above(tr_time, zone_start[z], hi, ts[a]) - 1
        off = tr_offset[p]
        nxt = tr_time[p + 1] if p + 1 < hi else _NEVER
        day_end = -_NEVER  # below every local time: the first slot computes its keys
        d = np.int64(0)
        k = np.int64(0)
        kind = day_types[0]
        top = np.int64(0)
        for i in range(a, b):
            t = ts[i]
            if t >= nxt:  # the offset changes at or before this slot: keys afresh
                while p + 1 < hi and tr_time[p + 1] <= t:
                    p += 1
                off = tr_offset[p]
                nxt = tr_time[p + 1] if p + 1 < hi else _NEVER
                day_end = -_NEVER
            local = t + off
            if local >= day_end:
                top = max(top, k)  # the day before ends (its last slot is its largest)
                d = local // US_PER_DAY
                day_end = (d + 1) * US_PER_DAY
                k = (local - d * US_PER_DAY) // st
                kind = day_types[d - first_day]
            else:
                k += 1  # the next slot of the same local day at the same offset
            day[i] = d
            slot_of_day[i] = k
            day_type[i] = kind
        top = max(top, k)
        last_slot[s] = top


def local_calendar(ts_us, offsets, step_us, *, transitions_us, utc_offsets_us, day_types,
                   first_day: int, series_zone=None, zone_offsets=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Local day, slot of the local day and day type of every slot of a batch of grids.

    Parameters
    ----------
    ts_us : array_like of int64, shape (n,)
        Start of each slot (microseconds since the epoch, UTC); series ``i`` is
        ``ts_us[offsets[i]:offsets[i + 1]]`` and steps forward by ``step_us[i]``.
    offsets : array_like of int, shape (n_series + 1,)
    step_us : array_like of int, shape (n_series,)
        Interval of each series (> 0).
    transitions_us, utc_offsets_us : array_like of int64, shape (n_transitions,)
        Each zone's UTC offset as a step function, zone after zone: from the instant
        ``transitions_us[j]`` on (until the zone's next transition) the offset is
        ``utc_offsets_us[j]``; a zone's transitions increase, and its first lies at or before
        the first slot of its series. Zone ``z`` holds the transitions
        ``zone_offsets[z]:zone_offsets[z + 1]``.
    day_types : array_like of int, shape (n_days,)
        Type of the local day ``first_day + j`` (0 workday, 1 rest day, 2 public holiday).
    first_day : int
        Local day number (days since 1970-01-01) of ``day_types[0]``.
    series_zone : array_like of int, shape (n_series,), optional
        Zone of each series (default: all in zone 0).
    zone_offsets : array_like of int, shape (n_zones + 1,), optional
        Default: one zone holding every transition.

    Returns
    -------
    day : numpy.ndarray of int32
        Local date as days since 1970-01-01.
    slot_of_day : numpy.ndarray of int32
        Slots since local midnight in the series' interval (a DST day has 92 or 100 slots of
        15 minutes).
    day_type : numpy.ndarray of int8
    n_slots_of_day : int
        Largest slot of the day plus one (1 when there is no slot).

    Raises
    ------
    ConfigError
        When a zone's transitions or the day types do not cover the slots of its series.
    """
    ts = as_int_array(ts_us, "ts_us", length=np.asarray(ts_us).shape[0])
    off = check_offsets(offsets, ts.shape[0])
    n_series = off.shape[0] - 1
    step = as_int_array(step_us, "step_us", length=n_series, low=1)
    tr_time = as_int_array(transitions_us, "transitions_us",
                           length=np.asarray(transitions_us).shape[0])
    tr_offset = as_int_array(utc_offsets_us, "utc_offsets_us", length=tr_time.shape[0])
    zone = (np.zeros(n_series, dtype=np.int64) if series_zone is None else
            as_int_array(series_zone, "series_zone", length=n_series, low=0))
    z_off = (np.array([0, tr_time.shape[0]], dtype=np.int64) if zone_offsets is None else
             check_offsets(zone_offsets, tr_time.shape[0]))
    n_zones = z_off.shape[0] - 1
    types = as_int_array(day_types, "day_types", length=np.asarray(day_types).shape[0],
                         dtype=np.int8, low=0, high=3)
    d0 = int(first_day)
    has = np.diff(off) > 0
    if has.any():
        zs = zone[has]
        if int(zs.max()) >= n_zones:
            raise ConfigError(f"series_zone names zone {int(zs.max())}, but zone_offsets "
                              f"describes {n_zones} zone(s)")
        first = np.array([tr_time[a] if b > a else _NEVER
                          for a, b in zip(z_off[:-1], z_off[1:])], dtype=np.int64)
        # every slot of a series lies between its first and its last (slots step forward)
        lo_t, hi_t = ts[off[:-1][has]], ts[off[1:][has] - 1]
        if (lo_t < first[zs]).any():
            raise ConfigError("a zone's first transition must lie at or before the first slot "
                              "of each of its series (give the offset in force at the start)")
        if any((np.diff(tr_time[a:b]) <= 0).any() for a, b in zip(z_off[:-1], z_off[1:])):
            raise ConfigError("transitions_us must increase within each zone")
        o_lo = np.array([tr_offset[a:b].min() if b > a else 0
                         for a, b in zip(z_off[:-1], z_off[1:])], dtype=np.int64)[zs]
        o_hi = np.array([tr_offset[a:b].max() if b > a else 0
                         for a, b in zip(z_off[:-1], z_off[1:])], dtype=np.int64)[zs]
        day_lo = int(((lo_t + o_lo) // US_PER_DAY).min())
        day_hi = int(((hi_t + o_hi) // US_PER_DAY).max())
        if day_lo < d0 or day_hi >= d0 + types.shape[0]:
            raise ConfigError(f"day_types covers local days {d0} .. {d0 + types.shape[0] - 1}"
                              f", but the slots may fall on days {day_lo} .. {day_hi}")
    n = ts.shape[0]
    day = np.empty(n, dtype=np.int32)
    slot_of_day = np.empty(n, dtype=np.int32)
    day_type = np.empty(n, dtype=np.int8)
    last = np.zeros(n_series, dtype=np.int64)
    if types.shape[0] == 0:  # no slot needs one (checked above); the kernel reads types[0]
        types = np.zeros(1, dtype=np.int8)
    launch(_local_calendar, ts, off, step, zone, z_off, tr_time, tr_offset, d0, types,
           day, slot_of_day, day_type, last)
    return day, slot_of_day, day_type, int(last.max()) + 1 if n_series else 1
