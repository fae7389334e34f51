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

__all__ = ["flags_to_events", "prefix_sums"]


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
def _prefix_sums(values, valid, csum, vsum):
    """One pass: validity, and the running sums of the valid values and of their count, in
    NumPy's order of additions (``np.cumsum`` adds left to right, starting from the first
    element), so the sums are NumPy's to the bit."""
    csum[0] = 0.0
    vsum[0] = 0
    acc = 0.0
    cnt = 0
    for i in range(values.shape[0]):
        v = values[i]
        f = np.isfinite(v)
        valid[i] = f
        x = v if f else 0.0
        acc = x if i == 0 else acc + x
        cnt += f
        csum[i + 1] = acc
        vsum[i + 1] = cnt


def prefix_sums(values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``isfinite(values)`` and the prefix sums of the valid values and of the valid count,
    each with a leading 0: an event's total and present slots are then two lookups.

    Equal to ``np.isfinite``, ``np.cumsum(np.where(valid, values, 0.0))`` and
    ``np.cumsum(valid)`` (with the leading 0), in one pass instead of four and without the
    zero-filled copy of the values.

    Returns
    -------
    (valid, csum, vsum) : numpy.ndarray of bool (n,), float64 (n + 1,), int64 (n + 1,)
    """
    vals = as_float_array(values, "values")
    n = vals.shape[0]
    valid = np.empty(n, dtype=np.bool_)
    csum = np.empty(n + 1, dtype=np.float64)
    vsum = np.empty(n + 1, dtype=np.int64)
    launch(_prefix_sums, vals, valid, csum, vsum)
    return valid, csum, vsum
