"""Order statistics inside kernels: selection, medians, an in-place sort, bisection.

Kernels call these instead of numba's ``np.sort``, ``np.argsort``, ``np.median``,
``np.partition``, ``np.searchsorted`` and ``np.cumsum``: each of those compiles numba's generic
quicksort, introselect or search machinery for every dtype it meets (measured: 1.5-2 s per
dtype on an idle 2-core box, ~6 s loaded, for the sorts), the largest item of a cold start of
the default profile, while the helpers here are a few small loops that compile in a fraction
of that and are shared by every kernel (one compiled version each: callers pass int64 indices
and counts, never an int literal or a counter that starts as one; see the note in
:mod:`griddiag.kernels`).

- :func:`select` (quickselect) and :func:`median_inplace`: O(n) expected, for long inputs;
  :func:`median_step`, the median positive step of sorted times, is built on them, and
  :func:`median_at` reads a median off a band of values around it;
- :func:`median_small` (insertion sort): for the short buffers of the seasonal and
  last-year baselines (tens of values);
- :func:`sort_inplace` (heapsort): O(n log n) worst case without recursion, for the rare
  paths that need a whole sorted array (a series without a majority step, the union of
  timestamps read at different instants);
- :func:`first_at_least` / :func:`first_above` (bisection) and :func:`cumulative_counts`:
  ``numpy.searchsorted`` left / right and ``numpy.cumsum`` on int64 arrays.

Every result equals NumPy's (``numpy.median``, ``numpy.sort``, ...) exactly: the tests in
``tests/test_kernels_order.py`` compare them with NumPy on random data, ties, empty and
one-element input.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT

__all__ = ["cumulative_counts", "first_above", "first_at_least", "median_at", "median_inplace",
           "median_small", "median_step", "select", "sort_inplace"]


@njit(**JIT)
def select(a, lo, hi, k):
    """The k-th smallest of ``a[lo:hi]`` (``lo <= k < hi``), partially sorting it in place.

    Quickselect (Hoare 1961, CACM 4:321, "FIND") with a median-of-three pivot and a three-way
    partition, so runs of equal values (quantised readings, equal steps) cost nothing.
    Afterwards ``a[lo:k]`` holds no value above the result and ``a[k + 1:hi]`` none below it,
    with ``a[k]`` the result: a second call on ``a[k:hi]`` finds a larger order statistic.
    """
    while hi - lo > 1:
        x = a[lo]
        y = a[(lo + hi - 1) >> 1]
        z = a[hi - 1]
        if x > y:
            x, y = y, x
        pivot = y if y <= z else (z if z > x else x)
        lt = lo
        i = lo
        gt = hi
        while i < gt:
            v = a[i]
            if v < pivot:
                a[i] = a[lt]
                a[lt] = v
                lt += 1
                i += 1
            elif v > pivot:
                gt -= 1
                a[i] = a[gt]
                a[gt] = v
            else:
                i += 1
        if k < lt:
            hi = lt
        elif k >= gt:
            lo = gt
        else:
            return pivot
    return a[lo]


@njit(**JIT)
def median_at(a, n, k, odd):
    """A median known to be the ``k``-th smallest of ``a[:n]`` (``odd``: of an odd count), or
    the mean of the ``k - 1``-th and ``k``-th (even count, ``k >= 1``); reorders ``a[:n]``.
    ``a`` may hold a band of the values around the median, ``k`` counting from the band's
    start (see ``register._median_finite``)."""
    upper = select(a, np.int64(0), n, k)
    if odd:
        return upper
    lower = a[0]  # the largest of a[:k], which select left at or below the k-th
    for i in range(1, k):
        if a[i] > lower:
            lower = a[i]
    return (lower + upper) / 2.0


@njit(**JIT)
def median_inplace(a, m):
    """Median of ``a[:m]`` (m >= 1), reordering it; equals ``numpy.median``."""
    return median_at(a, m, m >> 1, m & 1)


@njit(**JIT)
def median_step(u, a, b):
    """Median of the positive steps between consecutive values of the sorted ``u[a:b]``
    (int64 times): a series' interval, which a few gaps or repeated instants do not change.
    NaN when there is no positive step."""
    d = np.empty(max(b - a - 1, 0), dtype=np.float64)
    k = np.int64(0)
    for i in range(a, b - 1):
        x = u[i + 1] - u[i]
        if x > 0:
            d[k] = x  # exact: a step is far below 2**53 microseconds
            k += 1
    return median_inplace(d, k) if k > 0 else np.nan


@njit(**JIT)
def median_small(tmp, m):
    """Median of ``tmp[:m]`` (m >= 1), sorting it in place (insertion sort: m is small)."""
    for i in range(1, m):
        v = tmp[i]
        j = i
        while j > 0 and tmp[j - 1] > v:
            tmp[j] = tmp[j - 1]
            j -= 1
        tmp[j] = v
    h = m >> 1
    if m & 1:
        return tmp[h]
    return (tmp[h - 1] + tmp[h]) / 2.0


@njit(**JIT)
def _sift_down(a, root, end):
    v = a[root]
    while True:
        child = 2 * root + 1
        if child >= end:
            break
        if child + 1 < end and a[child + 1] > a[child]:
            child += 1
        if a[child] <= v:
            break
        a[root] = a[child]
        root = child
    a[root] = v


@njit(**JIT)
def sort_inplace(a, n):
    """Sort ``a[:n]`` ascending in place (heapsort: Williams 1964, CACM 7:347; no NaN)."""
    for root in range((n >> 1) - 1, -1, -1):
        _sift_down(a, root, n)
    for end in range(n - 1, 0, -1):
        v = a[0]
        a[0] = a[end]
        a[end] = v
        _sift_down(a, np.int64(0), end)


# numba's np.searchsorted and np.cumsum compile generic implementations (about 1.5 s of a
# cold start between them, measured with numba's compile events); kernels on sorted int64
# times and days need only these few lines.


@njit(**JIT)
def first_at_least(a, lo, hi, x):
    """First ``i`` in ``[lo, hi)`` with ``a[i] >= x`` (``hi`` if none), ``a[lo:hi]``
    ascending: ``lo + numpy.searchsorted(a[lo:hi], x, side="left")``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(**JIT)
def first_above(a, lo, hi, x):
    """First ``i`` in ``[lo, hi)`` with ``a[i] > x`` (``hi`` if none), ``a[lo:hi]``
    ascending: ``lo + numpy.searchsorted(a[lo:hi], x, side="right")``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(**JIT)
def cumulative_counts(counts):
    """``numpy.cumsum`` of an int64 array (e.g. row counts into offsets)."""
    out = np.empty(counts.shape[0], dtype=np.int64)
    total = np.int64(0)
    for i in range(counts.shape[0]):
        total += counts[i]
        out[i] = total
    return out
