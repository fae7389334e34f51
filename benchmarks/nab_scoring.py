"""NAB scoring (Numenta Anomaly Benchmark), implemented from its published description.

Source: Lavin & Ahmad (2015), "Evaluating Real-time Anomaly Detection Algorithms - the Numenta
Anomaly Benchmark", arXiv:1510.03336, section "Scoring", and Ahmad et al. (2017),
Neurocomputing 262:134-147; the details the papers leave open (probationary length, scoring
before the first window, normalisation) follow NAB v1.1's documented behaviour
(``nab/sweeper.py``, ``nab/runner.py::normalize``, ``config/profiles.json``).

The rules, for one data file of ``n`` rows with anomaly windows (inclusive row ranges):

- **Probationary period**: the first ``min(floor(0.15 n), 0.15 * 5000)`` rows are for learning;
  detections there are ignored, and a window none of whose rows lies after it is not scored.
- **Inside a window** of width ``w`` rows ending at row ``r``, a detection at row ``i`` has the
  relative position ``p = -(r - i + 1) / w`` (``-1`` at the window's first row, just below 0
  at its last) and earns ``A_TP * sigma(p) / sigma(-1)``, with the scaled sigmoid
  ``sigma(x) = 2 / (1 + exp(5 x)) - 1`` (``-1`` for ``x >= 3``): an early detection earns
  ``A_TP``, a late one little. Only the earliest detection of a window counts (the others are
  neither rewarded nor penalised).
- **A window without a detection** costs ``-A_FN``.
- **Outside every window**, a detection is a false positive worth ``A_FP * sigma(p)`` (negative):
  after a window of width ``w`` ending at row ``r``, ``p = (i - r) / (w - 1)``, so a detection
  just after a window costs little and one far after it costs ``A_FP``; before the first window
  ``p = 3`` (the full ``-A_FP``).
- A file's **raw score** is the sum of its windows' and false positives' scores; a corpus's is
  the sum over its files.
- **Normalised score** ``100 (S - S_null) / (S_perfect - S_null)``: the null detector (no
  detection) scores ``-A_FN`` per scored window, the perfect one ``A_TP`` per window.

Application profiles (``A_TN`` is part of NAB's cost matrix but unused by its scoring):

=====================  =====  =====  =====  =====
profile                A_TP   A_FP   A_FN   A_TN
=====================  =====  =====  =====  =====
standard               1.0    0.11   1.0    1.0
reward_low_FP_rate     1.0    0.22   1.0    1.0
reward_low_FN_rate     1.0    0.11   2.0    1.0
=====================  =====  =====  =====  =====

Detections here are binary (row indices), as griddiag's findings are: NAB's threshold sweep
over a continuous anomaly score is then unnecessary (every detection is above the threshold).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PROFILES", "CostProfile", "FileScore", "normalised", "probationary_length",
           "scaled_sigmoid", "score_file", "sweep_scores", "window_rows"]

PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class CostProfile:
    """NAB application profile: the weights of true/false positives and negatives."""

    tp: float
    fp: float
    fn: float
    tn: float = 1.0


PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostProfile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostProfile(tp=1.0, fp=0.11, fn=2.0),
}


def scaled_sigmoid(x: float) -> float:
    """``2 / (1 + exp(5 x)) - 1``, and ``-1`` from ``x >= 3`` on (far false positives)."""
    if x >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


_MAX_TP = scaled_sigmoid(-1.0)  # 0.98661: the reward of a detection at a window's first row


def probationary_length(n_rows: int, probation_percent: float = PROBATION_PERCENT) -> float:
    """Rows at the start of a file that are for learning only (NAB caps them at 750)."""
    return min(math.floor(probation_percent * n_rows), probation_percent * 5000)


def window_rows(timestamps: np.ndarray, windows: Sequence[tuple[object, object]]
                ) -> list[tuple[int, int]]:
    """Inclusive row ranges of anomaly windows given as ``(start, end)`` timestamps.

    A window covers the rows from the first whose time is ``>= start`` to the last whose time
    is ``<= end``, in file order. NAB's files contain a few rows out of order (daylight-saving
    artefacts); rows are located on the running maximum of the timestamps, so such a row
    belongs where it stands in the file. Windows must be in time order and not overlap.
    """
    ts = np.asarray(timestamps).astype("datetime64[us]")
    env = np.maximum.accumulate(ts) if ts.size else ts
    out: list[tuple[int, int]] = []
    for start, end in windows:
        s, e = np.datetime64(start, "us"), np.datetime64(end, "us")
        if e < s:
            raise ValueError(f"anomaly window ({start}, {end}) ends before it starts")
        left = int(np.searchsorted(env, s, side="left"))
        right = int(np.searchsorted(env, e, side="right")) - 1
        if left > right:
            raise ValueError(f"anomaly window ({start}, {end}) holds no row of the file "
                             f"({ts[0] if ts.size else 'empty'} .. "
                             f"{ts[-1] if ts.size else 'empty'})")
        if out and left <= out[-1][1]:
            raise ValueError(f"anomaly window ({start}, {end}) overlaps or precedes the "
                             "previous window; NAB windows are disjoint and in time order")
        out.append((left, right))
    return out


def sweep_scores(n_rows: int, windows: Sequence[tuple[int, int]], profile: CostProfile,
                 probation_percent: float = PROBATION_PERCENT
                 ) -> tuple[np.ndarray, np.ndarray]:
    """What a detection at each row would score, and which window each row is in.

    Returns ``(score, window)``: ``score[i]`` is the weighted score of a detection at row
    ``i`` (true-positive reward inside a window, false-positive cost outside); ``window[i]``
    is the window's index, ``-1`` outside every window and ``-2`` in the probationary period.
    """
    rows = np.arange(n_rows)
    score = np.empty(n_rows)
    window = np.full(n_rows, -1, dtype=np.int64)
    prev_right, prev_width = -1, 0
    cursor = 0
    bounds = [*windows, (n_rows, n_rows)]  # a sentinel after the last window
    for k, (left, right) in enumerate(bounds):
        # rows between the previous window and this one: false positives
        gap = rows[cursor:min(left, n_rows)]
        if prev_right < 0:
            score[gap] = -1.0 * profile.fp  # before any window: sigma(3) = -1
        elif prev_width <= 1:
            # a one-row window makes NAB's (w - 1) denominator zero; any later row is
            # then infinitely far from it relatively: the full cost
            score[gap] = -1.0 * profile.fp
        else:
            pos = np.abs(prev_right - gap) / (prev_width - 1.0)
            score[gap] = [scaled_sigmoid(p) * profile.fp for p in pos]
        if k == len(windows):
            break
        width = right - left + 1
        inside = rows[left:right + 1]
        pos = -(right - inside + 1) / width
        score[inside] = [scaled_sigmoid(p) * profile.tp / _MAX_TP for p in pos]
        window[inside] = k
        prev_right, prev_width, cursor = right, width, right + 1
    window[:int(math.ceil(probationary_length(n_rows, probation_percent)))] = -2
    return score, window


@dataclass(frozen=True)
class FileScore:
    """NAB score of one file under one profile."""

    score: float
    null: float  # what no detection at all scores: -A_FN per scored window
    perfect: float  # A_TP per window (NAB counts every labelled window)
    tp: int  # windows detected
    fn: int  # scored windows missed
    fp: int  # detections outside windows (after the probationary period)
    windows: int  # labelled windows
    detections: int  # detections scored (after the probationary period, first per window)


def score_file(n_rows: int, windows: Sequence[tuple[int, int]], detections: Sequence[int],
               profile: CostProfile, probation_percent: float = PROBATION_PERCENT
               ) -> FileScore:
    """NAB score of binary detections (row indices, any order, repeats allowed) in one file."""
    det = np.unique(np.asarray(detections, dtype=np.int64))
    if det.size and (det[0] < 0 or det[-1] >= n_rows):
        raise ValueError(f"detection rows must lie in [0, {n_rows}); got {det[0]}..{det[-1]}")
    score, window = sweep_scores(n_rows, windows, profile, probation_percent)
    scored = sorted({int(w) for w in window[window >= 0]})  # windows with a row after probation
    per_window = {w: -profile.fn for w in scored}
    hit: set[int] = set()
    fp_total, n_fp = 0.0, 0
    for i in det:  # in row order, so the first detection of a window is the earliest
        w = int(window[i])
        if w == -2:
            continue
        if w == -1:
            fp_total += score[i]
            n_fp += 1
        elif w not in hit:
            hit.add(w)
            per_window[w] = max(per_window[w], float(score[i]))
    total = float(sum(per_window.values()) + fp_total)
    return FileScore(score=total, null=-profile.fn * len(scored),
                     perfect=profile.tp * len(windows), tp=len(hit),
                     fn=len(scored) - len(hit), fp=n_fp, windows=len(windows),
                     detections=len(hit) + n_fp)


def normalised(score: float, null: float, perfect: float) -> float:
    """NAB's normalised score: null detector 0, perfect detector 100."""
    if perfect == null:
        raise ValueError("perfect and null scores are equal (no anomaly window): the "
                         "normalised score is undefined")
    return 100.0 * (score - null) / (perfect - null)
