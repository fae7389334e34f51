"""Several series of one asset laid on one regular grid (the electrical checks' layout).

The electrical rules compare quantities of one asset slot by slot (three phase voltages, their
currents, the load): each asset gets one grid, from its first to its last reading of any of
the quantities, stepping by the median positive step between the union of their timestamps,
and each quantity fills its own row of slots. Input is the batch layout of
:class:`griddiag.detectors.grid.SortedReadings`: timestamps and values sorted by series and
time, ``row_offsets`` delimiting the series; ``series`` picks the series to lay out, grouped
by asset (``group_offsets``), and ``column`` says which row of slots each one fills.

Readings landing in one slot (an irregular source) are averaged, in time order; a slot
without a reading, or whose value is not finite, is NaN.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch
from griddiag.kernels._order import median_step, sort_inplace
from griddiag.kernels._validate import as_float_array, check_offsets, offsets_from_lengths

__all__ = ["group_grids"]


@njit(**JIT)
def _group_span(t, row_offsets, series, a, b):
    """First and last timestamp of the series ``series[a:b]`` and the median positive step
    of their timestamps' union."""
    s0 = series[a]
    lo = t[row_offsets[s0]]
    hi = t[row_offsets[s0 + 1] - 1]
    n0 = row_offsets[s0 + 1] - row_offsets[s0]
    same = True  # the usual case: every quantity read at the same instants
    total = np.int64(0)
    for j in range(a, b):
        s = series[j]
        r0 = row_offsets[s]
        r1 = row_offsets[s + 1]
        lo = min(lo, t[r0])
        hi = max(hi, t[r1 - 1])
        total += r1 - r0
        if same and j > a:
            if r1 - r0 != n0:
                same = False
            else:
                for i in range(n0):
                    if t[r0 + i] != t[row_offsets[s0] + i]:
                        same = False
                        break
    if same:  # the union's positive steps are the first series' own
        return lo, hi, median_step(t, row_offsets[s0], row_offsets[s0 + 1])
    u = np.empty(total, dtype=np.int64)
    pos = 0
    for j in range(a, b):
        s = series[j]
        for r in range(row_offsets[s], row_offsets[s + 1]):
            u[pos] = t[r]
            pos += 1
    sort_inplace(u, total)
    return lo, hi, median_step(u, np.int64(0), total)


# Both kernels do O(1) work per reading (a quickselect per group, a slot index per reading):
# memory-bound, so one thread (measured on the 120-meter batch, 2 cores: 11 and 110 ms
# serial against 27 and 150 ms with prange), and they compile faster.

@njit(**JIT)
def _group_spans(t, row_offsets, series, group_offsets):
    n_groups = group_offsets.shape[0] - 1
    t0 = np.empty(n_groups, dtype=np.int64)
    t1 = np.empty(n_groups, dtype=np.int64)
    med = np.empty(n_groups, dtype=np.float64)
    for g in range(n_groups):
        a, b, m = _group_span(t, row_offsets, series, group_offsets[g], group_offsets[g + 1])
        t0[g] = a
        t1[g] = b
        med[g] = m
    return t0, t1, med


@njit(**JIT)
def _fill_slots(t, value, row_offsets, series, column, group_offsets, t0, step, slot_offsets,
                n_columns, shared_columns):
    n = slot_offsets[-1]
    out = np.full((n_columns, n), np.nan)
    if not shared_columns:
        _fill_own_rows(t, value, row_offsets, series, column, group_offsets, t0, step,
                       slot_offsets, out)
        return out
    count = np.zeros((n_columns, n), dtype=np.int32)
    for g in range(group_offsets.shape[0] - 1):
        for j in range(group_offsets[g], group_offsets[g + 1]):
            s = series[j]
            c = column[j]
            for r in range(row_offsets[s], row_offsets[s + 1]):
                k = slot_offsets[g] + (t[r] - t0[g]) // step[g]
                if count[c, k] == 0:
                    out[c, k] = value[r]
                else:
                    out[c, k] += value[r]
                count[c, k] += 1
        for c in range(n_columns):
            for k in range(slot_offsets[g], slot_offsets[g + 1]):
                if count[c, k] > 1:
                    out[c, k] /= count[c, k]
                if not np.isfinite(out[c, k]):
                    out[c, k] = np.nan
    return out


@njit(**JIT)
def _fill_own_rows(t, value, row_offsets, series, column, group_offsets, t0, step,
                   slot_offsets, out):
    """:func:`_fill_slots` when each series has a row of its group to itself (the electrical
    grids: one series per quantity and asset). The readings landing in one slot are then
    consecutive rows of one series (sorted by time), so they are averaged as they come, with
    the same additions as the general path, and no count of readings per slot is kept; a
    reading one step after the one before falls into the next slot, found without a
    division."""
    for g in range(group_offsets.shape[0] - 1):
        tg, sg, base = t0[g], step[g], slot_offsets[g]
        for j in range(group_offsets[g], group_offsets[g + 1]):
            row = out[column[j]]
            a, b = row_offsets[series[j]], row_offsets[series[j] + 1]
            k = base + (t[a] - tg) // sg
            acc = value[a]
            n = 1
            for r in range(a + 1, b):
                d = t[r] - t[r - 1]
                nk = k + 1 if d == sg else base + (t[r] - tg) // sg
                if nk == k:
                    acc += value[r]
                    n += 1
                    continue
                _put(row, k, acc, n)
                k = nk
                acc = value[r]
                n = 1
            _put(row, k, acc, n)


@njit(**JIT)
def _put(row, k, acc, n):
    """The mean of ``n`` readings summing to ``acc`` into slot ``k`` (NaN unless finite)."""
    m = acc / n if n > 1 else acc
    row[k] = m if np.isfinite(m) else np.nan


def group_grids(t_us, values, row_offsets, series, column, group_offsets, n_columns: int,
                default_step_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lay groups of series on one regular grid per group.

    Parameters
    ----------
    t_us : array_like of int64, shape (n_rows,)
        Timestamps, non-decreasing within each series.
    values : array_like of float64, shape (n_rows,)
    row_offsets : array_like of int64, shape (n_series + 1,)
        Series ``i`` is rows ``[row_offsets[i], row_offsets[i + 1])``; every picked series has
        at least one row.
    series : array_like of int64, shape (n_picked,)
        The series to lay out, grouped: group ``g`` is ``series[group_offsets[g]:
        group_offsets[g + 1]]``.
    column : array_like of int64, shape (n_picked,)
        Row of the output each picked series fills (``0 <= column < n_columns``).
    group_offsets : array_like of int64, shape (n_groups + 1,)
    n_columns : int
    default_step_us : int
        Step of a group with no positive step between its timestamps (a single instant).

    Returns
    -------
    (t0, step, slot_offsets, slots) : tuple of numpy.ndarray
        Per group its first slot's start and its step (int64; the median positive step of the
        union of its timestamps, rounded half to even), ``slot_offsets`` (``n_groups + 1``)
        delimiting the groups' slots, and ``slots`` of shape ``(n_columns, n_slots)``.
    """
    t = np.ascontiguousarray(t_us, dtype=np.int64)
    v = as_float_array(values, "values", length=t.shape[0])
    roff = check_offsets(row_offsets, t.shape[0])
    sel = np.ascontiguousarray(series, dtype=np.int64)
    col = np.ascontiguousarray(column, dtype=np.int64)
    goff = check_offsets(group_offsets, sel.shape[0])
    n_series = roff.shape[0] - 1
    if sel.size and (sel.min() < 0 or sel.max() >= n_series
                     or (roff[sel + 1] - roff[sel]).min() < 1):
        raise ConfigError(f"series must index non-empty series of row_offsets (0..{n_series - 1})")
    if col.shape != sel.shape or (col.size and (col.min() < 0 or col.max() >= n_columns)):
        raise ConfigError(f"column must give each picked series a row in [0, {n_columns})")
    if int(default_step_us) <= 0:
        raise ConfigError(f"default_step_us must be positive, got {default_step_us}")
    if goff.shape[0] > 1 and (np.diff(goff) < 1).any():
        raise ConfigError("every group needs at least one series (group_offsets increasing)")
    t0, t1, med = launch(_group_spans, t, roff, sel, goff)
    # np.round: half to even, as polars rounds the median the electrical grids used to take
    step = np.where(np.isfinite(med) & (med > 0), np.round(np.nan_to_num(med)),
                    default_step_us).astype(np.int64)
    slot_offsets = offsets_from_lengths((t1 - t0) // step + 1)
    # does a group hold two series of one column (their readings are then averaged together)?
    group_of = np.repeat(np.arange(goff.shape[0] - 1, dtype=np.int64), np.diff(goff))
    shared = bool(col.size) and np.unique(group_of * n_columns + col).size < col.size
    slots = launch(_fill_slots, t, v, roff, sel, col, goff, t0, step,
                   slot_offsets, int(n_columns), shared)
    return t0, step, slot_offsets, slots
