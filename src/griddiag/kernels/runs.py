"""Runs: gaps (missing slots), flat/stuck values and zero consumption.

Each function returns, for every slot, the length of the run the slot belongs to (0 when it
belongs to none; int32), so the output lines up with the input and a detector flags
``length >= k`` without a second pass. :func:`run_table` turns such an array into a table of runs.

These are the "missing interval", "flat line / stuck register" and "zero consumption" checks
of utility meter-data VEE (validation, editing and estimation) rule sets; the thresholds
(minimum run length, tolerance) come from the detector profile, not from here.

A slot is valid when its value is finite; NaN and +-inf are both invalid (see
:mod:`griddiag.kernels.rolling`). Runs never cross from one series of the batch into the next.

These kernels do O(1) work per slot and are bound by memory, not arithmetic: each reads the
values once and writes each output slot once, testing the slot in the same pass (no
temporary mask array). They run over chunks of series on threads only from
:data:`~griddiag.config.MEMORY_BOUND_MIN_VALUES` values (``launch_series(...,
min_values=...)``): below that, waking the threads costs more than a second core's share of
the memory traffic saves.

The module also puts readings into their slots (:func:`place_on_grid`, for
:func:`griddiag.detectors.grid.to_grid`): a whole batch's readings in one call, read where
they lie in the batch (row ranges: a selection of series and a period within each,
:func:`rows_in_period`, cost no copy of the readings), on one thread for the same reasons.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT, MEMORY_BOUND_MIN_VALUES
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch, launch_series
from griddiag.kernels._order import cumulative_counts, first_at_least, sort_inplace
from griddiag.kernels._validate import (
    as_batch,
    as_bool_array,
    as_float_array,
    as_int_array,
    check_nonnegative,
    check_offsets,
    check_positive_int,
)

__all__ = ["RUN_DTYPE", "constant_runs", "interval_segments", "mask_runs", "nan_runs",
           "place_on_grid", "rows_in_period", "run_hours", "run_table", "step_modes",
           "zero_runs"]

#: dtype of per-slot run lengths: a series is shorter than 2**31 slots (4 000 years of
#: 1-minute data), and half the bytes of int64 keeps these memory-bound kernels fast and small.
RUN_DTYPE = np.int32


@njit(**JIT)
def _fill(out, i, j):
    """Every slot of the run ``[i, j)`` gets its length."""
    n = j - i
    for k in range(i, j):
        out[k] = n


# The kernels below walk one series at a time through a slice (indices from 0 let LLVM drop
# numba's negative-index check) and write each slot's position in its run as they go; a run
# longer than one slot is then filled with its length once it ends. The branch that fills is
# rarely taken and the position is a select, so the short runs of real data (a repeated
# 0.01 kWh, one missing interval) cost no mispredicted branch per run: the flatline kernel
# went from 8.3x to about 5x a NumPy sum over the same array (benchmarks/bench_detect.py (b)).


@njit(**JIT)
def _mask_series(m, out):
    p = 0
    n = m.shape[0]
    for i in range(n):
        if not m[i] and p > 1:
            _fill(out, i - p, i)
        p = p + 1 if m[i] else 0
        out[i] = p
    if p > 1:
        _fill(out, n - p, n)


@njit(**JIT)
def _mask_runs(first, end, mask, offsets, out):
    """Length of the run of True containing each slot (0 at False slots)."""
    for s in range(first, end):
        _mask_series(mask[offsets[s]:offsets[s + 1]], out[offsets[s]:offsets[s + 1]])


@njit(**JIT)
def _nan_series(x, out):
    p = 0
    n = x.shape[0]
    for i in range(n):
        gap = not np.isfinite(x[i])
        if not gap and p > 1:
            _fill(out, i - p, i)
        p = p + 1 if gap else 0
        out[i] = p
    if p > 1:
        _fill(out, n - p, n)


@njit(**JIT)
def _nan_runs(first, end, values, offsets, out):
    """Length of the run of invalid (NaN or +-inf) values containing each slot."""
    for s in range(first, end):
        _nan_series(values[offsets[s]:offsets[s + 1]], out[offsets[s]:offsets[s + 1]])


@njit(**JIT)
def _zero_series(x, tolerance, out):
    p = 0
    n = x.shape[0]
    for i in range(n):
        zero = abs(x[i]) <= tolerance  # NaN compares False: not zero
        if not zero and p > 1:
            _fill(out, i - p, i)
        p = p + 1 if zero else 0
        out[i] = p
    if p > 1:
        _fill(out, n - p, n)


@njit(**JIT)
def _zero_runs(first, end, values, offsets, tolerance, out):
    """Length of the run of valid ``|x| <= tolerance`` containing each slot (NaN and inf
    compare False: not zero)."""
    for s in range(first, end):
        _zero_series(values[offsets[s]:offsets[s + 1]], tolerance,
                     out[offsets[s]:offsets[s + 1]])


@njit(**JIT)
def _equal_series(x, out):
    """Runs of identical valid values (``tolerance == 0``): a slot continues the run of its
    predecessor when it equals it (NaN equals nothing; an inf is not valid: its slot is 0)."""
    p = 0
    prev = np.nan
    n = x.shape[0]
    for i in range(n):
        v = x[i]
        valid = v - v == 0.0  # isfinite in one subtraction (inf - inf and NaN are NaN)
        # ``& valid``: inf == inf, but an inf is no value (prev is stored as it is, without
        # a select on validity: 15 % faster, measured on the benchmark's 35 M values)
        same = (v == prev) & valid
        if not same and p > 1:
            _fill(out, i - p, i)
        p = p + 1 if same else np.int64(valid)
        out[i] = p
        prev = v
    if p > 1:
        _fill(out, n - p, n)


@njit(**JIT)
def _range_series(x, tolerance, out):
    """Greedy runs of valid values whose range (max - min) is <= ``tolerance`` (> 0)."""
    n = x.shape[0]
    i = np.int64(0)  # not 0: see "One compiled version" in griddiag.kernels
    while i < n:
        v = x[i]
        if not np.isfinite(v):
            out[i] = 0
            i += 1
            continue
        j = i + 1
        lo = v
        hi = v
        while j < n:
            u = x[j]
            if not np.isfinite(u):
                break
            nlo = min(lo, u)
            nhi = max(hi, u)
            if nhi - nlo > tolerance:
                break
            lo = nlo
            hi = nhi
            j += 1
        _fill(out, i, j)
        i = j


@njit(**JIT)
def _constant_runs(first, end, values, offsets, tolerance, out):
    """Greedy left-to-right runs of valid values whose range (max - min) is <= tolerance."""
    for s in range(first, end):
        x = values[offsets[s]:offsets[s + 1]]
        o = out[offsets[s]:offsets[s + 1]]
        if tolerance == 0.0:  # identical values: one comparison per slot
            _equal_series(x, o)
        else:
            _range_series(x, tolerance, o)


@njit(**JIT)
def _table_series(run_length, a, b, min_length, s, series, start, end, pos):
    """Runs of ``run_length[a:b]`` (walked by jumping over each run); returns the next row."""
    i = a
    while i < b:
        r = run_length[i]
        if r <= 0:
            i += 1
            continue
        if r >= min_length:
            if pos < series.shape[0]:
                series[pos] = s
                start[pos] = i
                end[pos] = min(i + r, b)
            pos += 1
        i += r
    return pos


@njit(**JIT)
def _run_table(run_length, offsets, min_length):
    n_series = offsets.shape[0] - 1
    counts = np.zeros(n_series + 1, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    for s in range(n_series):
        counts[s + 1] = _table_series(run_length, offsets[s], offsets[s + 1], min_length, s,
                                      empty, empty, empty, 0)
    first = cumulative_counts(counts)
    total = first[n_series]
    series = np.empty(total, dtype=np.int64)
    start = np.empty(total, dtype=np.int64)
    end = np.empty(total, dtype=np.int64)
    for s in range(n_series):
        a = first[s]
        _table_series(run_length, offsets[s], offsets[s + 1], min_length, s,
                      series[a:first[s + 1]], start[a:first[s + 1]], end[a:first[s + 1]], 0)
    return series, start, end


def mask_runs(mask, offsets=None) -> np.ndarray:
    """Per-slot length of the run of ``True`` slots the slot is in (0 for ``False`` slots).

    Parameters
    ----------
    mask : array_like of bool, shape (n,)
    offsets : array_like of int, shape (n_series + 1,), optional
        Series ``i`` is ``mask[offsets[i]:offsets[i + 1]]``; ``None`` means one series.

    Returns
    -------
    numpy.ndarray of int32, shape (n,)
    """
    m = as_bool_array(mask, "mask")
    off = check_offsets(offsets, m.shape[0])
    out = np.empty(m.shape[0], dtype=RUN_DTYPE)
    launch_series(_mask_runs, off, m, off, out, min_values=MEMORY_BOUND_MIN_VALUES)
    return out


def nan_runs(values, offsets=None) -> np.ndarray:
    """Per-slot length of the gap (run of missing or non-finite slots) the slot is in.

    0 at valid slots; a gap of 8 slots gives 8 at each of its slots. The "missing intervals"
    check of meter-data VEE: flag ``length >= k`` where ``k`` is the profile's tolerance.
    """
    vals, off = as_batch(values, offsets)
    out = np.empty(vals.shape[0], dtype=RUN_DTYPE)
    launch_series(_nan_runs, off, vals, off, out, min_values=MEMORY_BOUND_MIN_VALUES)
    return out


def zero_runs(values, offsets=None, *, tolerance: float = 0.0) -> np.ndarray:
    """Per-slot length of the run of valid values with ``|x| <= tolerance`` the slot is in.

    Zero consumption on an active meter: a detector flags ``length >= k`` (e.g. a day). 0 at
    slots that are not (near) zero and at invalid slots, which end a run.
    """
    vals, off = as_batch(values, offsets)
    tol = check_nonnegative(tolerance, "tolerance")
    out = np.empty(vals.shape[0], dtype=RUN_DTYPE)
    launch_series(_zero_runs, off, vals, off, tol, out, min_values=MEMORY_BOUND_MIN_VALUES)
    return out


def constant_runs(values, offsets=None, *, tolerance: float = 0.0) -> np.ndarray:
    """Per-slot length of the flat run (stuck value) the slot is in.

    A run is a maximal stretch of valid slots whose values span at most ``tolerance``
    (``max - min <= tolerance``; 0 means identical values), cut greedily from the start of the
    series. Using the range, not the step between neighbours, keeps a slow ramp from reading as
    flat. A missing slot ends a run (a stuck register across a gap is two runs: the detector
    may join them by looking at the value on both sides). Every valid slot is in a run of at
    least 1; invalid slots get 0.

    Flat/stuck non-zero value: flag ``length >= k`` together with ``values != 0`` (zero runs
    are :func:`zero_runs`' business).
    """
    vals, off = as_batch(values, offsets)
    tol = check_nonnegative(tolerance, "tolerance")
    out = np.empty(vals.shape[0], dtype=RUN_DTYPE)
    launch_series(_constant_runs, off, vals, off, tol, out,
                  min_values=MEMORY_BOUND_MIN_VALUES)
    return out


@njit(**JIT)
def _run_hours(run_length, offsets, interval_us, empty, out):
    for s in range(offsets.shape[0] - 1):
        step = interval_us[s]
        for i in range(offsets[s], offsets[s + 1]):
            r = run_length[i]
            out[i] = r * step / 3.6e9 if r > 0 else empty  # int64 product, one rounding


def run_hours(run_length, offsets, interval_us, *, empty: float = 0.0) -> np.ndarray:
    """Duration in hours of the run each slot belongs to: its run length (the output of the
    functions above) times its series' interval; ``empty`` at slots in no run (0, or NaN for
    a score that says nothing there).

    The detectors' scores are durations, so one profile serves 15-minute, hourly and daily
    series. One pass writing float64 (``run * interval`` in int64 microseconds, then divided
    by 3.6e9: the same number as ``run_length * interval_us / 3.6e9`` in NumPy), where NumPy
    would take two and an int64 temporary.

    Parameters
    ----------
    run_length : array_like of int, shape (n,)
    offsets : array_like of int, shape (n_series + 1,)
    interval_us : int or array_like of int, shape (n_series,)
        Interval of each series in microseconds (> 0).

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
    """
    rl = np.asarray(run_length)
    off = check_offsets(offsets, rl.shape[0] if rl.ndim == 1 else -1)
    rl = as_int_array(rl, "run_length", length=rl.shape[0], dtype=RUN_DTYPE)
    n_series = off.shape[0] - 1
    step = np.broadcast_to(np.asarray(interval_us), (n_series,))
    step = as_int_array(step, "interval_us", length=n_series, low=1)
    out = np.empty(rl.shape[0], dtype=np.float64)
    launch(_run_hours, rl, off, step, float(empty), out)
    return out


def run_table(run_length, offsets=None, *, min_length: int = 1
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Table of the runs in a per-slot run-length array (the output of the functions above).

    Parameters
    ----------
    run_length : array_like of int, shape (n,)
        For each slot the length of its run, 0 outside runs; a run starting at ``i`` covers
        ``[i, i + run_length[i])``, so two adjacent runs of equal length stay two runs.
    offsets : array_like of int, optional
    min_length : int
        Keep runs at least this long.

    Returns
    -------
    (series, start, end) : tuple of numpy.ndarray of int64
        One row per run, ordered by series then start; ``start``/``end`` (exclusive) index the
        concatenated array (subtract ``offsets[series]`` for a position within the series).
    """
    rl = np.asarray(run_length)
    off = check_offsets(offsets, rl.shape[0] if rl.ndim == 1 else -1)
    rl = as_int_array(rl, "run_length", length=rl.shape[0], dtype=RUN_DTYPE, low=0,
                      high=2**31)
    mn = check_positive_int(min_length, "min_length")
    return launch(_run_table, rl, off, mn)


# -- interval segments: runs of equal steps between timestamps --------------------------------


@njit(**JIT)
def _step_mode(t, a, b):
    """Most common positive step of ``t[a:b]`` (ties: the shorter step; -1 when none).

    A regular series has one step in the vast majority of its gaps: the Boyer-Moore majority
    vote (Boyer & Moore 1991, "MJRTY") finds it in two passes without allocating; only a
    series without a majority step pays for the sort.
    """
    n = b - a - 1
    if n <= 0:
        return -1
    cand = -1
    votes = 0
    k = 0
    for i in range(a, b - 1):
        x = t[i + 1] - t[i]
        if x > 0:
            k += 1
            if votes == 0:
                cand = x
                votes = 1
            elif x == cand:
                votes += 1
            else:
                votes -= 1
    if k == 0:
        return -1
    c = 0
    for i in range(a, b - 1):
        c += t[i + 1] - t[i] == cand
    if 2 * c > k:  # more than half the positive steps: no other step can tie it
        return cand
    d = np.empty(n, dtype=np.int64)
    k = np.int64(0)
    for i in range(a, b - 1):
        x = t[i + 1] - t[i]
        if x > 0:
            d[k] = x
            k += 1
    if k == 0:
        return -1
    sort_inplace(d, k)
    best = d[0]
    best_n = 0
    i = 0
    while i < k:
        j = i + 1
        while j < k and d[j] == d[i]:
            j += 1
        if j - i > best_n:  # strictly more: an equal count keeps the shorter step
            best_n = j - i
            best = d[i]
        i = j
    return best


@njit(**JIT)
def _boundary(t, e, i, d_old, d_new):
    """First row of the new segment, in ``[min(e + 1, i), i]``: the one that leaves the fewest
    steps off their segment's grid (a step not a multiple of its interval); ties go to the
    latest row. ``e`` is the last reading of the old regime, ``i`` the first of the new one's
    run: readings between them (a missing reading broke the new regime's first run) go to
    the grid they fit."""
    lo = min(e + 1, i)
    best = i
    best_cost = 1 << 62
    for k in range(lo, i + 1):
        cost = 0
        for j in range(e, k - 1):  # steps inside the old segment
            if (t[j + 1] - t[j]) % d_old != 0:
                cost += 1
        for j in range(k, i):  # steps inside the new segment, before its run
            if (t[j + 1] - t[j]) % d_new != 0:
                cost += 1
        if cost <= best_cost:
            best_cost = cost
            best = k
    return best


@njit(**JIT)
def _segments_of(t, a, b, declared, min_run, start, step, pos):
    """Segments of series ``t[a:b]``; writes rows ``pos...`` when there is room; returns
    the next row.

    A *regime* is a run of at least ``min_run`` equal positive steps. With regimes of more
    than one step the series splits where the regime's step changes (:func:`_boundary`
    places the cut); each segment takes its regime's step. Otherwise, one segment on the
    series' most common step (``declared`` > 0 wins).
    """
    room = start.shape[0]
    if b <= a:  # an empty series has no segment
        return pos
    if declared > 0 or b - a < 2:
        if pos < room:
            start[pos] = a
            step[pos] = declared if declared > 0 else _step_mode(t, a, b)
        return pos + 1
    first = pos
    cur = np.int64(-1)  # not -1: see "One compiled version" in griddiag.kernels
    last_cur = a  # last reading of the current regime's latest run
    i = a
    while i < b - 1:
        d = t[i + 1] - t[i]
        j = i + 1
        while j < b - 1 and t[j + 1] - t[j] == d:
            j += 1
        if d > 0 and j - i >= min_run and d != cur:
            if cur < 0:  # the first regime: its segment starts with the series
                if pos < room:
                    start[pos] = a
                    step[pos] = d
            elif pos < room:
                start[pos] = _boundary(t, last_cur, i, cur, d)
                step[pos] = d
            pos += 1
            cur = d
        if d == cur and j - i >= min_run:
            last_cur = j
        i = j
    if pos - first <= 1:  # one regime or none: the series keeps its most common step
        if first < room:
            start[first] = a
            step[first] = _step_mode(t, a, b)
        return first + 1
    return pos


@njit(**JIT)
def _interval_segments(t, starts, ends, declared, min_run):
    """Count each series' segments, keeping the first; write the others' only for the series
    that split (most have one segment: a second pass over their steps would repeat the
    first). One thread: a compare per step (see the module docstring)."""
    n_series = starts.shape[0]
    counts = np.zeros(n_series + 1, dtype=np.int64)
    first_start = np.empty(n_series, dtype=np.int64)
    first_step = np.empty(n_series, dtype=np.int64)
    for s in range(n_series):
        counts[s + 1] = _segments_of(t, starts[s], ends[s], declared[s], min_run,
                                     first_start[s:s + 1], first_step[s:s + 1], 0)
    first = cumulative_counts(counts)
    total = first[n_series]
    start = np.empty(total, dtype=np.int64)
    step = np.empty(total, dtype=np.int64)
    series = np.empty(total, dtype=np.int64)
    for s in range(n_series):
        a = first[s]
        z = first[s + 1]
        if z - a == 1:
            start[a] = first_start[s]
            step[a] = first_step[s]
        elif z > a:
            _segments_of(t, starts[s], ends[s], declared[s], min_run, start[a:z], step[a:z],
                         0)
        series[a:z] = s
    return series, start, step


def _row_ranges(offsets, ends, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(first row, end row)`` of each series: from ``offsets`` alone (contiguous series) or,
    with ``ends``, ``offsets`` as each series' first row and ``ends`` as the row after its
    last (series anywhere in the rows, other rows between them)."""
    if ends is None:
        off = check_offsets(offsets, n)
        return off[:-1], off[1:]
    first = as_int_array(offsets, "with `ends`, offsets (each series' first row)", length=None)
    end = as_int_array(ends, "ends", length=first.shape[0])
    if first.size and ((first < 0).any() or (end < first).any() or (end > n).any()):
        i = int(np.flatnonzero((first < 0) | (end < first) | (end > n))[0])
        raise ConfigError(f"series {i} has rows [{int(first[i])}, {int(end[i])}), outside "
                          f"[0, {n}] or reversed: each series' rows must satisfy 0 <= first "
                          f"<= end <= len(t_us)")
    return first, end


def interval_segments(t_us, offsets=None, declared_us=None, *, min_run: int = 96,
                      ends=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each series of timestamps where its reading interval changes.

    A series' interval is the most common positive step between consecutive timestamps
    (ties go to the shorter step, whose grid keeps every reading in its own slot). A few
    missing readings do not change it, and neither does a stretch of missing ones (one long
    step). An interval *change* (a meter reprogrammed from 30 to 15 minutes) shows as two
    *regimes*: runs of at least ``min_run`` equal steps with different lengths. The series is
    then split where the new regime begins (readings between the old regime's last run and
    the new one's first long run go to the segment whose interval they fit: a missing reading
    early in the new regime does not leave its first readings on the old grid), and every
    segment keeps its own step, so neither part is resampled or shown as a stretch of gaps.

    Parameters
    ----------
    t_us : array_like of int64, shape (n,)
        Timestamps (e.g. microseconds), non-decreasing within each series.
    offsets : array_like of int, shape (n_series + 1,), optional
        Series ``i`` is ``t_us[offsets[i]:offsets[i + 1]]``; with ``ends``, shape
        ``(n_series,)``: each series' first row.
    declared_us : array_like of int64, shape (n_series,), optional
        A declared interval per series (> 0): no split, that step. ``<= 0``: infer.
    min_run : int
        Equal steps in a row that make a regime (96: a day of 15-minute readings).
    ends : array_like of int, shape (n_series,), optional
        The row after each series' last: series ``i`` is ``t_us[offsets[i]:ends[i]]``, so a
        selection of a batch's series (and of a period within each) is read in place, with
        the other rows between them.

    Returns
    -------
    (series, start, step) : tuple of numpy.ndarray of int64
        One row per segment, in series order: its series, its first row (index into
        ``t_us``; a segment runs to the next one's first row or its series' end) and its
        step (-1 when the series has no positive step: a single reading). An empty series
        has no segment.
    """
    t = as_int_array(t_us, "t_us", length=None)
    first, end = _row_ranges(offsets, ends, t.shape[0])
    n_series = first.shape[0]
    if declared_us is None:
        dec = np.zeros(n_series, dtype=np.int64)
    else:
        dec = as_int_array(declared_us, "declared_us", length=n_series)
    mr = check_positive_int(min_run, "min_run")
    return launch(_interval_segments, t, first, end, dec, mr)


@njit(**JIT)
def _step_modes(t, first, end, out):
    for s in range(first.shape[0]):
        out[s] = _step_mode(t, first[s], end[s])


def step_modes(t_us, first, end) -> np.ndarray:
    """Each range ``t_us[first[i]:end[i]]``'s most common positive step (ties: the shorter;
    -1 when it has none): the interval its readings show, whatever gaps or duplicates they
    have (:func:`_step_mode`, as :func:`interval_segments` infers an undeclared interval).
    The ranges are read in place, as in :func:`rows_in_period`."""
    t = np.asarray(t_us)
    f, e = _row_ranges(first, end, t.shape[0])
    out = np.empty(f.shape[0], dtype=np.int64)
    launch(_step_modes, np.ascontiguousarray(t, dtype=np.int64), f, e, out)
    return out


# -- readings onto their segments' grids ------------------------------------------------------


@njit(**JIT)
def _rows_in_period(t, first, end, lo, hi, out_first, out_end):
    for s in range(first.shape[0]):
        a = first_at_least(t, first[s], end[s], lo)
        b = first_at_least(t, first[s], end[s], hi)
        out_first[s] = a
        out_end[s] = max(a, b)


def rows_in_period(t_us, first, end, lo_us: int | None = None, hi_us: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each series' rows within ``[lo_us, hi_us)``: the series ``t_us[first[i]:end[i]]``
    (times non-decreasing) narrowed by two binary searches, so choosing a period costs
    O(log n) per series, not a pass and a copy of every reading. ``None``: unbounded."""
    t = np.asarray(t_us)
    f, e = _row_ranges(first, end, t.shape[0])
    lo = np.iinfo(np.int64).min if lo_us is None else int(lo_us)
    hi = np.iinfo(np.int64).max if hi_us is None else int(hi_us)
    out_first = np.empty(f.shape[0], dtype=np.int64)
    out_end = np.empty(f.shape[0], dtype=np.int64)
    launch(_rows_in_period, np.ascontiguousarray(t, dtype=np.int64), f, e, lo, hi,
           out_first, out_end)
    return out_first, out_end


@njit(**JIT)
def _place_on_grid(t, value, row_start, row_end, t0, step, offsets, values, ts_us, counts):
    """Each segment: its slots (times, NaN), then its readings in time order, so readings
    sharing a slot are neighbours and a collision needs no count per slot, and a reading at
    the start of the slot after the previous reading's needs no division. One thread: O(1)
    per reading, and measured on 2 cores the serial loop beat the ``prange`` one even with
    both threads (21 against 34-38 ms for 4.2 M readings; 1.0 against 4.1 ms for 210 k,
    where waking the threads cost more than the work)."""
    n_seg = offsets.shape[0] - 1
    for g in range(n_seg):
        a = offsets[g]
        b = offsets[g + 1]
        base = t0[g]
        st = step[g]
        for k in range(a, b):
            values[k] = np.nan
            ts_us[k] = base + (k - a) * st
        off_grid = 0
        collisions = 0
        last = -1  # slot of the previous reading
        same = 0  # readings so far in that slot
        # a regular series' next reading starts the next slot: that needs no division
        next_q = 0
        next_rel = 0
        for r in range(row_start[g], row_end[g]):
            rel = t[r] - base  # >= 0: the grid starts at or before the first reading
            if rel == next_rel:
                q = next_q
            else:
                q = rel // st
                off_grid += rel - q * st != 0
            next_q = q + 1
            next_rel = next_q * st
            pos = a + q
            if pos == last:
                same += 1
            else:
                if same > 1:
                    collisions += same
                    values[last] = np.nan
                same = 1
            values[pos] = value[r]
            last = pos
        if same > 1:
            collisions += same
            values[last] = np.nan
        present = 0
        for k in range(a, b):
            present += np.isfinite(values[k])
        counts[g, 0] = present
        counts[g, 1] = off_grid
        counts[g, 2] = collisions


def place_on_grid(t_us, value, row_start, t0_us, step_us, offsets, row_end=None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Put readings into the slots of their segments' regular grids.

    Segment ``g`` holds the rows ``row_start[g]`` up to ``row_end[g]`` (default: the next
    segment's first row; the last one: to the end; given, the segments may lie anywhere in
    the rows, as a selection of a batch's series does), times non-decreasing, and the slots
    ``offsets[g]:offsets[g + 1]`` from
    ``t0_us[g]`` every ``step_us[g]`` (the grid covers every reading: ``t0 <= t`` and the
    slot of the last reading exists). A reading goes into the slot containing it (``ts``
    labels an interval's start); when two or more readings land in one slot none is chosen:
    the slot is NaN and the readings are counted as collisions (the grid's module docstring,
    :mod:`griddiag.detectors.grid`).

    Returns
    -------
    (values, ts_us, counts)
        ``values`` float64 and ``ts_us`` int64 per slot; ``counts`` int64 of shape
        ``(n_segments, 3)``: present slots (finite values), readings off the grid (``t - t0``
        not a multiple of the step) and readings in a collided slot.
    """
    t = np.ascontiguousarray(t_us, dtype=np.int64)
    v = as_float_array(value, "value", length=t.shape[0])
    off = np.asarray(offsets)
    off = check_offsets(off, int(off[-1]) if off.ndim == 1 and off.size else 0)
    n_seg = off.shape[0] - 1
    rows = as_int_array(row_start, "row_start", length=n_seg, low=0, high=t.shape[0] + 1)
    if row_end is None:
        ends = np.append(rows[1:], t.shape[0]).astype(np.int64)
    else:
        ends = as_int_array(row_end, "row_end", length=n_seg, low=0, high=t.shape[0] + 1)
    if (ends < rows).any():
        i = int(np.flatnonzero(ends < rows)[0])
        raise ConfigError(f"segment {i} ends at row {int(ends[i])} before it starts "
                          f"({int(rows[i])}): give each segment's rows in order")
    base = as_int_array(t0_us, "t0_us", length=n_seg)
    step = as_int_array(step_us, "step_us", length=n_seg, low=1)
    n = int(off[-1])
    values = np.empty(n, dtype=np.float64)
    ts_us = np.empty(n, dtype=np.int64)
    counts = np.zeros((n_seg, 3), dtype=np.int64)
    launch(_place_on_grid, t, v, rows, ends, base, step, off, values, ts_us, counts)
    return values, ts_us, counts
