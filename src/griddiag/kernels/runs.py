"""Runs: gaps (missing slots), flat/stuck values and zero consumption.

Each function returns, for every slot, the length of the run the slot belongs to (0 when it
belongs to none; int32), so the output lines up with the input and a detector flags
``length >= k`` without a second pass. :func:`run_table` turns such an array into a table of runs.

These are the "missing interval", "flat line / stuck register" and "zero consumption" checks
of utility meter-data VEE (validation, editing and estimation) rule sets; the thresholds
(minimum run length, tolerance) come from the detector profile, not from here.

A slot is valid when its value is finite; NaN and +-inf are both invalid (see
:mod:`griddiag.kernels.rolling`). Runs never cross from one series of the batch into the next.

These kernels do O(1) work per slot and are bound by memory, not arithmetic: they loop over
the series on one thread (``parallel=True`` would add seconds of compile time and a thread
wake-up per call for no gain).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT_SERIAL
from griddiag.kernels._launch import launch
from griddiag.kernels._validate import (
    as_batch,
    as_bool_array,
    as_int_array,
    check_nonnegative,
    check_offsets,
    check_positive_int,
)

__all__ = ["RUN_DTYPE", "constant_runs", "mask_runs", "nan_runs", "run_table", "zero_runs"]

#: dtype of per-slot run lengths: a series is shorter than 2**31 slots (4 000 years of
#: 1-minute data), and half the bytes of int64 keeps these memory-bound kernels fast and small.
RUN_DTYPE = np.int32


@njit(**JIT_SERIAL)
def _mask_runs(mask, offsets, out):
    """Length of the run of True containing each slot (0 at False slots)."""
    for s in range(offsets.shape[0] - 1):
        a = offsets[s]
        b = offsets[s + 1]
        i = a
        while i < b:
            if not mask[i]:
                out[i] = 0
                i += 1
                continue
            j = i + 1
            while j < b and mask[j]:
                j += 1
            for k in range(i, j):
                out[k] = j - i
            i = j


@njit(**JIT_SERIAL)
def _constant_runs(values, offsets, tolerance, out):
    """Greedy left-to-right runs of valid values whose range (max - min) is <= tolerance."""
    for s in range(offsets.shape[0] - 1):
        a = offsets[s]
        b = offsets[s + 1]
        i = a
        while i < b:
            v = values[i]
            if not np.isfinite(v):
                out[i] = 0
                i += 1
                continue
            lo = v
            hi = v
            j = i + 1
            while j < b:
                u = values[j]
                if not np.isfinite(u):
                    break
                nlo = min(lo, u)
                nhi = max(hi, u)
                if nhi - nlo > tolerance:
                    break
                lo = nlo
                hi = nhi
                j += 1
            for k in range(i, j):
                out[k] = j - i
            i = j


@njit(**JIT_SERIAL)
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


@njit(**JIT_SERIAL)
def _run_table(run_length, offsets, min_length):
    n_series = offsets.shape[0] - 1
    counts = np.zeros(n_series + 1, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    for s in range(n_series):
        counts[s + 1] = _table_series(run_length, offsets[s], offsets[s + 1], min_length, s,
                                      empty, empty, empty, 0)
    first = np.cumsum(counts)
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
    launch(_mask_runs, m.shape[0], m, off, out)
    return out


def nan_runs(values, offsets=None) -> np.ndarray:
    """Per-slot length of the gap (run of missing or non-finite slots) the slot is in.

    0 at valid slots; a gap of 8 slots gives 8 at each of its slots. The "missing intervals"
    check of meter-data VEE: flag ``length >= k`` where ``k`` is the profile's tolerance.
    """
    vals, off = as_batch(values, offsets)
    out = np.empty(vals.shape[0], dtype=RUN_DTYPE)
    launch(_mask_runs, vals.shape[0], ~np.isfinite(vals), off, out)
    return out


def zero_runs(values, offsets=None, *, tolerance: float = 0.0) -> np.ndarray:
    """Per-slot length of the run of valid values with ``|x| <= tolerance`` the slot is in.

    Zero consumption on an active meter: a detector flags ``length >= k`` (e.g. a day). 0 at
    slots that are not (near) zero and at invalid slots, which end a run.
    """
    vals, off = as_batch(values, offsets)
    tol = check_nonnegative(tolerance, "tolerance")
    out = np.empty(vals.shape[0], dtype=RUN_DTYPE)
    with np.errstate(invalid="ignore"):
        zero = np.abs(vals) <= tol  # NaN and inf compare False: not zero
    launch(_mask_runs, vals.shape[0], zero, off, out)
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
    launch(_constant_runs, vals.shape[0], vals, off, tol, out)
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
    return launch(_run_table, rl.shape[0], rl, off, mn)
