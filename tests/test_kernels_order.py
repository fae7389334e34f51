"""The order-statistic helpers of :mod:`griddiag.kernels._order` against NumPy.

They replace numba's ``np.sort``/``np.median`` inside kernels (see that module), so each must
equal NumPy exactly: ``select`` the k-th element of ``np.sort``, ``median_inplace`` and
``median_small`` ``np.median``, ``median_step`` the median of ``np.diff``'s positive steps,
``sort_inplace`` ``np.sort``; on random data, heavy ties (quantised values), one element and
(where allowed) none. Run with ``NUMBA_DISABLE_JIT=1`` too (fewer cases). The helpers expect
finite values: kernels drop invalid ones before calling them.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from griddiag.kernels._order import (
    cumulative_counts,
    first_above,
    first_at_least,
    median_at,
    median_inplace,
    median_small,
    median_step,
    select,
    sort_inplace,
)

JIT_OFF = bool(numba.config.DISABLE_JIT)
SEEDS = range(4) if JIT_OFF else range(25)
MAX_LEN = 40 if JIT_OFF else 300


def sample(seed, dtype=np.float64):
    """1..MAX_LEN values: continuous, quantised (many ties) or constant, by seed."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, MAX_LEN + 1))
    kind = seed % 3
    if kind == 0:
        x = rng.normal(size=n) * 1e3
    elif kind == 1:
        x = rng.integers(0, 5, size=n).astype(np.float64)
    else:
        x = np.full(n, 7.0)
    return x.astype(dtype)


@pytest.mark.parametrize("seed", SEEDS)
def test_select_is_the_kth_of_the_sorted_array_and_partitions_around_it(seed):
    x = sample(seed)
    n = x.shape[0]
    want = np.sort(x)
    for k in {0, n // 2, n - 1}:
        a = x.copy()
        got = select(a, np.int64(0), np.int64(n), np.int64(k))
        assert got == want[k] == a[k]
        assert (a[:k] <= got).all() and (a[k + 1:] >= got).all()
        assert np.array_equal(np.sort(a), want)  # a permutation of the input


@pytest.mark.parametrize("seed", SEEDS)
def test_select_twice_gives_two_order_statistics(seed):
    # register._median_finite brackets the median this way: the second call on a[k1:]
    x = sample(seed)
    n = x.shape[0]
    k1, k2 = n // 3, (2 * n) // 3
    a = x.copy()
    lo = select(a, np.int64(0), np.int64(n), np.int64(k1))
    hi = select(a, np.int64(k1), np.int64(n), np.int64(k2))
    assert (lo, hi) == (np.sort(x)[k1], np.sort(x)[k2])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [median_inplace, median_small])
def test_medians_equal_numpy(seed, fn):
    x = sample(seed)
    for m in {1, 2, x.shape[0]}:
        if m <= x.shape[0]:
            assert fn(x.copy(), np.int64(m)) == np.median(x[:m])


@pytest.mark.parametrize("seed", SEEDS)
def test_median_at_reads_the_median_off_a_band(seed):
    # the band around the median that register._median_finite keeps: `below` values under it
    # are dropped, the median's rank counted from the band's start
    x = sample(seed)
    n = x.shape[0]
    srt = np.sort(x)
    h = n >> 1
    for below in {0, max(h - 1 - (1 - n % 2), 0) // 2, max(h - 1 + n % 2, 0)}:
        if n % 2 == 0 and below > h - 1:
            continue
        band = srt[below:].copy()
        np.random.default_rng(seed).shuffle(band)
        got = median_at(band, np.int64(band.shape[0]), np.int64(h - below), np.int64(n & 1))
        assert got == np.median(x)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_sort_inplace_equals_numpy_sort(seed, dtype):
    x = sample(seed, dtype)
    a = x.copy()
    sort_inplace(a, np.int64(a.shape[0]))
    assert np.array_equal(a, np.sort(x))
    b = x.copy()  # a prefix only: the rest is left alone
    h = np.int64(b.shape[0] // 2)
    sort_inplace(b, h)
    assert np.array_equal(b[:h], np.sort(x[:h])) and np.array_equal(b[h:], x[h:])


def test_sort_inplace_empty_and_one():
    a = np.empty(0, dtype=np.int64)
    sort_inplace(a, np.int64(0))
    b = np.array([5], dtype=np.int64)
    sort_inplace(b, np.int64(1))
    assert b.tolist() == [5]


@pytest.mark.parametrize("seed", SEEDS)
def test_median_step_is_the_median_positive_step(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, MAX_LEN))
    # mostly one step, some gaps and repeated instants (step 0, left out)
    steps = rng.choice(np.array([900, 900, 900, 1800, 0, 300]), size=n)
    t = np.cumsum(np.concatenate([[10**15], steps])).astype(np.int64)
    a = int(rng.integers(0, t.shape[0]))
    d = np.diff(t[a:])
    d = d[d > 0]
    want = np.median(d) if d.size else np.nan
    got = median_step(t, np.int64(a), np.int64(t.shape[0]))
    np.testing.assert_equal(got, want)


def test_median_step_without_a_positive_step_is_nan():
    t = np.array([5, 5, 5], dtype=np.int64)
    for a, b in [(0, 0), (0, 1), (0, 3)]:
        assert np.isnan(median_step(t, np.int64(a), np.int64(b)))


@pytest.mark.parametrize("seed", SEEDS)
def test_bisection_equals_numpy_searchsorted(seed):
    rng = np.random.default_rng(seed)
    a = np.sort(rng.integers(-20, 20, size=int(rng.integers(0, MAX_LEN))))  # ties included
    n = a.shape[0]
    for lo, hi in {(0, n), (n // 3, n), (n // 3, (2 * n) // 3), (n, n)}:
        for x in (-30, -20, 0, 7, 19, 30, *a[:3].tolist()):
            lo64, hi64, x64 = np.int64(lo), np.int64(hi), np.int64(x)
            assert first_at_least(a, lo64, hi64, x64) == lo + np.searchsorted(a[lo:hi], x)
            assert first_above(a, lo64, hi64, x64) == lo + np.searchsorted(a[lo:hi], x, "right")


@pytest.mark.parametrize("seed", SEEDS)
def test_cumulative_counts_equal_numpy_cumsum(seed):
    c = np.random.default_rng(seed).integers(0, 1000, size=seed % 7 * 11)
    assert np.array_equal(cumulative_counts(c), np.cumsum(c))
