"""Level shift: where a series moves to a new level, and by how much.

For each slot ``t`` compare the ``window`` slots before it, ``[t - window, t)``, with the
``window`` slots from it on, ``[t, t + window)``: the shift is the difference of their medians
and the score divides it by the pooled robust spread,

    shift_t = median(after) - median(before)
    score_t = |shift_t| / (1.4826 * sqrt((MAD_before**2 + MAD_after**2) / 2))

This is the double rolling window of ADTK's ``LevelShiftAD`` (medians of two adjacent
windows), scaled like a robust two-sample statistic instead of by a threshold on the series'
inter-quartile range, so scores of different meters compare. The best change point of a
series is the argmax of the score (the date a theft, a CT-ratio change or a new tenant
started); a CUSUM (Page 1954, Biometrika 41:100) finds the same single change, but the
windowed medians are not dragged by spikes and seasonal swings far from the change.

:func:`cusum` is that CUSUM, made robust and sequential: each value is standardised by the
median and MAD of the ``window`` slots before the current excursion began (so the shift being
accumulated never leaks into its own reference), clipped (a lone spike adds at most ``clip``),
and fed to Page's two one-sided sums ``S+ = max(0, S+ + z - drift)`` and
``S- = max(0, S- - z - drift)``. An alarm is raised when either sum passes ``threshold``; the
change is dated, as Page does, at the first slot after the sum last stood at zero. After an
alarm the next excursion may start only once a whole reference window lies after the change,
so one shift raises one alarm, and the windowed level shift above reports the same date.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT, MAD_TO_SIGMA
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch, launch_series
from griddiag.kernels._validate import (
    as_batch,
    as_float_array,
    check_nonnegative,
    check_offsets,
    check_positive_int,
)
from griddiag.kernels.rolling import _rolling_series, _rolling_stats

__all__ = ["change_index", "cusum", "level_shift"]


@njit(**JIT)
def _shift_series(x, window, med, mad, min_scale, shift, score):
    """One series: shift and score of each slot from the series' trailing median and MAD
    (window ending at each slot, unmasked; ``med``/``mad`` may be longer than ``x``). O(1)
    per slot."""
    n = x.shape[0]
    for t in range(n):
        tb = t - 1  # before = trailing window ending at t - 1
        ta = t + window - 1  # after = trailing window ending at t + window - 1
        # both windows must lie inside the series, whole
        if (not np.isfinite(x[t]) or t - window < 0 or ta >= n or med[tb] != med[tb]
                or med[ta] != med[ta]):
            shift[t] = np.nan
            score[t] = np.nan
            continue
        d = med[ta] - med[tb]
        sigma = MAD_TO_SIGMA * np.sqrt((mad[tb] * mad[tb] + mad[ta] * mad[ta]) / 2.0)
        if sigma < min_scale:
            sigma = min_scale
        shift[t] = d
        if sigma > 0.0:
            score[t] = abs(d) / sigma
        else:
            score[t] = 0.0 if d == 0.0 else np.inf


@njit(**JIT)
def _level_shift(first, end, values, offsets, window, min_periods, min_scale, shift, score):
    """Series ``first .. end - 1``: each one's trailing median and MAD at every slot (missing
    slots included: the windows before and after slot t end at t - 1 and t + window - 1)
    into scratch arrays as long as the longest series, then its shift and score from them.
    Scratch per series rather than two arrays the size of the batch: 16 bytes per value
    less memory, and the second pass reads what the first just wrote, still in cache."""
    longest = np.int64(0)
    for s in range(first, end):
        longest = max(longest, offsets[s + 1] - offsets[s])
    med = np.empty(longest, dtype=np.float64)
    mad = np.empty(longest, dtype=np.float64)
    unused = np.empty(0, dtype=np.float64)
    yes = np.bool_(True)  # np.bool_, not True: a literal would compile another version
    no = np.bool_(False)
    for s in range(first, end):
        a = offsets[s]
        b = offsets[s + 1]
        if b > a:
            _rolling_series(values[a:b], window, np.int64(0), min_periods, 0.0, yes, yes, no,
                            no, med[:b - a], mad[:b - a], unused)
            _shift_series(values[a:b], window, med, mad, min_scale, shift[a:b], score[a:b])


@njit(**JIT)
def _change_index(score, offsets, out):
    """Per series: the middle of the first run of slots holding the maximal score; -1 if none.

    A clean step scores its maximum on a plateau of up to ``window`` slots centred on the
    step (both windows stay pure), so the middle of the plateau, not its first slot, is the
    change.
    """
    for s in range(offsets.shape[0] - 1):
        a = offsets[s]
        b = offsets[s + 1]
        best = -np.inf
        first = -1
        for t in range(a, b):
            v = score[t]
            if v > best:
                best = v
                first = t
        if first < 0:
            out[s] = -1
            continue
        last = first
        while last + 1 < b and score[last + 1] == best:
            last += 1
        out[s] = (first + last) // 2


def level_shift(values, offsets=None, window: int = 7 * 96, *,
                min_periods: int | None = None, min_scale: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Level-shift magnitude and score at every slot.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Series concatenated; NaN = missing.
    offsets : array_like of int, shape (n_series + 1,), optional
    window : int
        Slots on each side (default a week of 15-minute data).
    min_periods : int, optional
        Fewest valid values each side needs; default ``window // 2 + 1``.
    min_scale : float
        Floor of the pooled sigma (the unit of the values).

    Returns
    -------
    shift : numpy.ndarray of float64, shape (n,)
        ``median(after) - median(before)`` in the unit of the values (signed: negative is a
        drop, e.g. consumption falling after a bypass).
    score : numpy.ndarray of float64, shape (n,)
        ``|shift| / sigma``; ``inf`` for a step between two flat windows (sigma 0, see
        ``min_scale``), 0 when nothing moves. NaN at invalid slots, where a side has fewer
        than ``min_periods`` valid values, and within ``window`` slots of either end of the
        series (``t - window < start`` or ``t + window > end``: both windows lie whole inside
        the series).
    """
    vals, off = as_batch(values, offsets)
    w = check_positive_int(window, "window")
    if min_periods is None:
        mp = w // 2 + 1
    else:
        mp = check_positive_int(min_periods, "min_periods")
        if mp > w:
            raise ConfigError(f"min_periods must lie in [1, window={w}], got {mp}")
    ms = check_nonnegative(min_scale, "min_scale")
    shift = np.empty(vals.shape[0], dtype=np.float64)
    score = np.empty(vals.shape[0], dtype=np.float64)
    launch_series(_level_shift, off, vals, off, w, mp, ms, shift, score)
    return shift, score


def change_index(score, offsets=None) -> np.ndarray:
    """Per series: the index (into the concatenated array) of its strongest level shift.

    The argmax of ``score`` (NaN ignored); where the maximum holds on a run of slots, the
    middle of the first such run. -1 for a series without any score.
    """
    sc = as_float_array(score, "score")
    off = check_offsets(offsets, sc.shape[0])
    out = np.empty(off.shape[0] - 1, dtype=np.int64)
    launch(_change_index, sc, off, out)
    return out


@njit(**JIT)
def _cusum(values, offsets, window, med, mad, drift, threshold, clip, min_scale,
           stat, change, reference):
    """From trailing stats (window ending at each slot), run the robust CUSUM per series.

    O(1) per slot: one thread (the rolling statistics before it run on threads). Unlike
    :func:`_level_shift` the statistics are batch-sized arrays: the CUSUM runs on daily
    values (35 times fewer than 15-minute ones), where they cost little memory.
    """
    for s in range(offsets.shape[0] - 1):
        a = offsets[s]
        b = offsets[s + 1]
        sp = 0.0
        sm = 0.0
        r = a + window  # first slot of the current excursion (its reference ends at r - 1)
        rp = r  # first slot after S+ last stood at zero (Page's change date for a rise)
        rm = r  # the same for S- (a fall)
        for t in range(a, b):
            stat[t] = np.nan
            change[t] = -1
            reference[t] = np.nan
            x = values[t]
            if t < r or not np.isfinite(x):
                # still inside a reference window, or nothing to add: a missing value neither
                # moves the sums nor ends an excursion
                continue
            m = med[r - 1]
            if m != m:  # the reference window holds too little data: move it on
                r = t + 1
                rp = r
                rm = r
                continue
            sigma = MAD_TO_SIGMA * mad[r - 1]
            if sigma < min_scale:
                sigma = min_scale
            d = x - m
            if sigma > 0.0:
                z = d / sigma
            else:
                z = 0.0 if d == 0.0 else (clip if d > 0.0 else -clip)
            if z > clip:
                z = clip
            elif z < -clip:
                z = -clip
            sp = max(0.0, sp + z - drift)
            sm = max(0.0, sm - z - drift)
            reference[t] = m
            stat[t] = sp if sp >= sm else -sm
            if sp > threshold or sm > threshold:
                c = rp if sp >= sm else rm
                change[t] = c
                sp = 0.0
                sm = 0.0
                r = c + window  # the next reference lies wholly after the change
                if r <= t:
                    r = t + 1
                rp = r
                rm = r
                continue
            if sp == 0.0:
                rp = t + 1
            if sm == 0.0:
                rm = t + 1
            if sp == 0.0 and sm == 0.0:
                r = t + 1


def cusum(values, offsets=None, window: int = 28, *, drift: float = 1.0,
          threshold: float = 10.0, clip: float = 4.0, min_periods: int | None = None,
          min_scale: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust two-sided CUSUM with change dates (see the module docstring).

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Series concatenated; NaN = missing (skipped: it neither adds nor resets).
    offsets : array_like of int, shape (n_series + 1,), optional
    window : int
        Reference window in slots: median and MAD of the ``window`` slots before the
        current excursion (default four weeks of daily values).
    drift : float
        Page's reference value ``k`` in robust sigmas: shifts smaller than about ``2 * drift``
        sigmas are not accumulated.
    threshold : float
        Page's decision interval ``h`` in robust sigmas.
    clip : float
        Largest ``|z|`` one value may add (Huber-type clipping against single spikes).
    min_periods : int, optional
        Fewest valid values a reference window needs; default ``window // 2 + 1``.
    min_scale : float
        Floor of the robust sigma (the unit of the values).

    Returns
    -------
    stat : numpy.ndarray of float64, shape (n,)
        ``S+`` where it is the larger sum, else ``-S-`` (the signed CUSUM); NaN at invalid
        slots and in reference windows. At an alarm slot it is the value that crossed.
    change : numpy.ndarray of int64, shape (n,)
        At alarm slots, the index (into the concatenated array) of the slot the change is
        dated to; -1 elsewhere.
    reference : numpy.ndarray of float64, shape (n,)
        The reference median each monitored slot was compared with (the level before).
    """
    vals, off = as_batch(values, offsets)
    w = check_positive_int(window, "window")
    if min_periods is None:
        mp = w // 2 + 1
    else:
        mp = check_positive_int(min_periods, "min_periods")
        if mp > w:
            raise ConfigError(f"min_periods must lie in [1, window={w}], got {mp}")
    k = check_nonnegative(drift, "drift")
    h = check_nonnegative(threshold, "threshold")
    c = check_nonnegative(clip, "clip")
    if c <= k:
        raise ConfigError(f"clip ({clip!r}) must exceed drift ({drift!r}), else no value can "
                          "move the sums")
    ms = check_nonnegative(min_scale, "min_scale")
    n = vals.shape[0]
    med = np.empty(n, dtype=np.float64)
    mad = np.empty(n, dtype=np.float64)
    launch_series(_rolling_stats, off, vals, off, w, 0, mp, 0.0, True, True, False, False, med,
                  mad, np.empty(0, dtype=np.float64))
    stat = np.empty(n, dtype=np.float64)
    change = np.empty(n, dtype=np.int64)
    reference = np.empty(n, dtype=np.float64)
    launch(_cusum, vals, off, w, med, mad, k, h, c, ms, stat, change, reference)
    return stat, change, reference
