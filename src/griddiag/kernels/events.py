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

from griddiag.config import JIT_SERIAL
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch
from griddiag.kernels._validate import (
    as_bool_array,
    as_float_array,
    check_offsets,
    check_positive_int,
)

__all__ = ["flags_to_events"]


@njit(**JIT_SERIAL)
def _scan(flags, scores, has_scores, a, b, s, max_gap, min_len, series, start, end, peak):
    """Events of ``flags[a:b]``; writes rows when the outputs have room; returns the count.

    Peak: the flagged slot of highest score (NaN scores ignored; first of equal scores; the
    first flagged slot when no flagged slot has a score). Gap slots bridged by ``max_gap``
    never become the peak.
    """
    pos = 0
    st = -1
    en = -1
    best = -np.inf
    best_i = -1
    for i in range(a, b):
        if not flags[i]:
            continue
        if st >= 0 and i - en > max_gap:
            if en - st >= min_len:
                if pos < series.shape[0]:
                    series[pos] = s
                    start[pos] = st
                    end[pos] = en
                    peak[pos] = best_i
                pos += 1
            st = -1
        if st < 0:
            st = i
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
        if pos < series.shape[0]:
            series[pos] = s
            start[pos] = st
            end[pos] = en
            peak[pos] = best_i
        pos += 1
    return pos


@njit(**JIT_SERIAL)
def _flags_to_events(flags, scores, has_scores, offsets, max_gap, min_len):
    """Count the events of each series, then fill the table (one thread: O(1) per slot)."""
    n_series = offsets.shape[0] - 1
    counts = np.zeros(n_series + 1, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    for s in range(n_series):
        counts[s + 1] = _scan(flags, scores, has_scores, offsets[s], offsets[s + 1], s,
                              max_gap, min_len, empty, empty, empty, empty)
    first = np.cumsum(counts)
    total = first[n_series]
    series = np.empty(total, dtype=np.int64)
    start = np.empty(total, dtype=np.int64)
    end = np.empty(total, dtype=np.int64)
    peak = np.empty(total, dtype=np.int64)
    for s in range(n_series):
        a = first[s]
        z = first[s + 1]
        _scan(flags, scores, has_scores, offsets[s], offsets[s + 1], s, max_gap, min_len,
              series[a:z], start[a:z], end[a:z], peak[a:z])
    return series, start, end, peak


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
    return launch(_flags_to_events, f.shape[0], f, sc, scores is not None, off,
                  int(max_gap), ml)
