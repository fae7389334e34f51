"""Flags to events: merge flagged slots into intervals, per series.

Scores say how surprising a slot is, flags say whether it crossed the profile's threshold, and
an *event* is what a technician reads: one interval with a start, an end and a peak. This is
ADTK's ``to_events`` (``adtk/data/_data.py``) for a batch of series at once, plus a merge
gap and a minimum length (with ``max_gap=1`` a two-hour outage with one good reading in the
middle reads as one outage, not two).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch
from griddiag.kernels._validate import (
    as_bool_array,
    as_float_array,
    check_offsets,
    check_positive_int,
)

__all__ = ["event_stats", "flags_to_events"]


@njit(**JIT)
def _flagged_to_events(idx, series_of, scores, has_scores, max_gap, min_len):
    """Events of the flagged slots ``idx`` (increasing; ``series_of`` their series): one pass
    over the flagged slots only, which a detector has a few of among millions of slots.

    Peak: the flagged slot of highest score (NaN scores ignored; first of equal scores; the
    first flagged slot when no flagged slot has a score). Gap slots bridged by ``max_gap``
    never become the peak.
    """
    n = idx.shape[0]
    series = np.empty(n, dtype=np.int64)  # at most one event per flagged slot
    start = np.empty(n, dtype=np.int64)
    end = np.empty(n, dtype=np.int64)
    peak = np.empty(n, dtype=np.int64)
    pos = 0
    st = -1
    en = -1
    cur = -1
    best = -np.inf
    best_i = -1
    for k in range(n):
        i = idx[k]
        s = series_of[k]
        if st >= 0 and (s != cur or i - en > max_gap):
            if en - st >= min_len:
                series[pos] = cur
                start[pos] = st
                end[pos] = en
                peak[pos] = best_i
                pos += 1
            st = -1
        if st < 0:
            st = i
            cur = s
            best = -np.inf
            best_i = i
            if has_scores:
                v = scores[i]
                if v == v:
                    best = v
        elif has_scores:
            v = scores[i]
            if v > best:  # False for NaN
                best = v
                best_i = i
        en = i + 1
    if st >= 0 and en - st >= min_len:
        series[pos] = cur
        start[pos] = st
        end[pos] = en
        peak[pos] = best_i
        pos += 1
    return series[:pos].copy(), start[:pos].copy(), end[:pos].copy(), peak[:pos].copy()


def flags_to_events(flags, offsets=None, scores=None, *, max_gap: int = 0, min_len: int = 1
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge flagged slots into events, per series.

    Parameters
    ----------
    flags : array_like of bool, shape (n,)
        True where a slot crossed the detector's threshold.
    offsets : array_like of int, shape (n_series + 1,), optional
        Series ``i`` is ``flags[offsets[i]:offsets[i + 1]]``; ``None`` means one series.
        Events never cross series.
    scores : array_like of float, shape (n,), optional
        Higher = more anomalous; picks each event's peak. NaN scores are ignored.
    max_gap : int
        Flagged slots separated by at most this many unflagged slots belong to one event
        (0: only adjacent flags merge).
    min_len : int
        Drop events spanning fewer slots (``end - start``, bridged gaps included).

    Returns
    -------
    (series, start, end, peak) : tuple of numpy.ndarray of int64
        One row per event, ordered by series then start. ``start``, ``end`` (exclusive) and
        ``peak`` index the concatenated array; ``peak`` is the flagged slot of highest score
        (the first of equal ones; the first flagged slot when no score is given or all are
        NaN).
    """
    f = as_bool_array(flags, "flags")
    off = check_offsets(offsets, f.shape[0])
    if scores is None:
        sc = np.empty(0, dtype=np.float64)
    else:
        sc = as_float_array(scores, "scores", length=f.shape[0])
    if isinstance(max_gap, bool) or not isinstance(max_gap, (int, np.integer)) or max_gap < 0:
        raise ConfigError(f"max_gap must be an integer >= 0 (slots), got {max_gap!r}")
    ml = check_positive_int(min_len, "min_len")
    # the flagged slots, found by NumPy's vectorised scan (a fraction of a millisecond for
    # millions of slots), and the series of each (the last series starting at or before it:
    # empty series share their offset with the next)
    idx = np.flatnonzero(f)
    series_of = np.searchsorted(off, idx, side="right") - 1
    return launch(_flagged_to_events, idx, series_of, sc, scores is not None,
                  int(max_gap), ml)


@njit(**JIT)
def _event_stats(values, start, end, window_start, window_end, total, n_valid, vmin, vmax,
                 window_valid):
    """Per event ``k``, one pass over its slots ``[start[k], end[k])`` and over the rest of
    its window ``[window_start[k], window_end[k])``: the sum and count of the finite values,
    NumPy's ``fmin``/``fmax`` (NaN skipped, infinities kept, the first of equal values; NaN
    when all are NaN), and the finite values of the window."""
    for k in range(start.shape[0]):
        acc = 0.0
        cnt = 0
        lo = np.nan
        hi = np.nan
        for i in range(start[k], end[k]):
            v = values[i]
            if np.isfinite(v):
                acc += v
                cnt += 1
            if not np.isnan(v):
                if np.isnan(lo) or v < lo:
                    lo = v
                if np.isnan(hi) or v > hi:
                    hi = v
        total[k] = acc
        n_valid[k] = cnt
        vmin[k] = lo
        vmax[k] = hi
        for i in range(window_start[k], start[k]):
            cnt += np.isfinite(values[i])
        for i in range(end[k], window_end[k]):
            cnt += np.isfinite(values[i])
        window_valid[k] = cnt


def event_stats(values, start, end, window_start=None, window_end=None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The numbers of an event table, read from each event's own slots (and its window's).

    ``[start[k], end[k])`` index ``values`` (events do not need to be disjoint or ordered);
    the window ``[window_start[k], window_end[k])`` (default: the event) must contain the
    event. The work is the events' and windows' slots, not the whole array: a detector has a
    few events among millions of slots, and nothing value-sized is allocated (the prefix
    sums this replaces were 0.6 GB of new memory on a year of 1,000 meters).

    Returns
    -------
    (total, n_valid, vmin, vmax, window_valid)
        float64, int64, float64, float64, int64 arrays, one element per event: the sum (left
        to right) and the count of the event's finite values, ``np.fmin.reduce`` and
        ``np.fmax.reduce`` of its values (NaN only when all are NaN), and the count of finite
        values in its window.
    """
    vals = as_float_array(values, "values")
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    window_start = start if window_start is None else np.asarray(window_start, dtype=np.int64)
    window_end = end if window_end is None else np.asarray(window_end, dtype=np.int64)
    k = start.shape[0]
    if not (end.shape[0] == window_start.shape[0] == window_end.shape[0] == k):
        raise ConfigError("start, end, window_start and window_end must have one element per "
                          "event")
    if k and ((window_start < 0).any() or (window_start > start).any()
              or (start > end).any() or (end > window_end).any()
              or (window_end > vals.shape[0]).any()):
        raise ConfigError("each event needs 0 <= window_start <= start <= end <= window_end "
                          f"<= len(values) ({vals.shape[0]})")
    total, vmin, vmax = np.empty(k), np.empty(k), np.empty(k)
    n_valid, window_valid = np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64)
    launch(_event_stats, vals, start, end, window_start, window_end, total, n_valid, vmin,
           vmax, window_valid)
    return total, n_valid, vmin, vmax, window_valid
