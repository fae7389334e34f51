"""Year-over-year kernels against scipy / NumPy references (baselines/yoy_scipy.py).

Batches mix the awkward cases: NaN, +-inf, ties, constant series, an empty and a one-point
series; under ``NUMBA_DISABLE_JIT=1`` the same tests run on fewer, smaller batches.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

from baselines import yoy_scipy as R
from griddiag.exceptions import ConfigError
from griddiag.kernels import yoy as K

JIT_OFF = bool(numba.config.DISABLE_JIT)
SEEDS = range(3) if JIT_OFF else range(10)
MAX_LEN = 30 if JIT_OFF else 400


def _batch(rng, n_series):
    parts = []
    for i in range(n_series):
        kind = i % 7
        n = int(rng.integers(0, MAX_LEN))
        if kind == 0:
            x = rng.normal(10, 2, n)
        elif kind == 1:
            x = np.round(rng.gamma(2.0, 3.0, n), 1)  # ties, as metered 0.1 kWh values
        elif kind == 2:
            x = np.full(n, 4.2)  # constant
        elif kind == 3:
            x = np.empty(0)
        elif kind == 4:
            x = np.array([rng.normal()])
        elif kind == 5:
            x = rng.normal(0, 1, n)
            x[rng.random(n) < 0.2] = np.nan
            if n:
                x[0] = np.inf
        else:
            x = np.concatenate([rng.normal(0, 1, n // 2), rng.normal(3, 1, n - n // 2)])
        parts.append(x)
    off = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    vals = np.concatenate(parts) if parts else np.empty(0)
    return vals, off


def _close(a, b, rtol=1e-9, atol=1e-12):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_distribution_shift_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    av, ao = _batch(rng, 14)
    bv, bo = _batch(rng, 14)
    got = K.distribution_shift(av, ao, bv, bo)
    want = R.distribution_shift(av, ao, bv, bo)
    for key in ("ks_stat", "ks_p_value", "wasserstein", "psi", "quantile_delta"):
        _close(got[key], want[key], rtol=1e-9, atol=1e-9)


def test_ks_p_value_tracks_scipy_asymptotic_for_large_samples():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, 3000), rng.normal(0.05, 1, 2500)
    got = K.distribution_shift(x, None, y, None)
    ref = stats.ks_2samp(x, y, method="asymp")
    assert got["ks_stat"][0] == pytest.approx(ref.statistic, rel=1e-12)
    # scipy's asymp uses the finite-n kstwo distribution: close to the limit at n ~ 1400
    assert got["ks_p_value"][0] == pytest.approx(ref.pvalue, rel=0.05, abs=1e-4)


def test_kolmogorov_sf_matches_scipy():
    x = np.array([0.0, 0.05, 0.3, 0.7, 0.99, 1.0, 1.2, 2.0, 3.5, 6.0])
    _close(K.kolmogorov_sf(x), stats.kstwobign.sf(x), rtol=1e-10, atol=1e-15)


def test_identical_samples_show_no_shift():
    x = np.arange(50, dtype=float)
    got = K.distribution_shift(x, None, x.copy(), None)
    assert got["ks_stat"][0] == 0.0 and got["ks_p_value"][0] == 1.0
    assert got["wasserstein"][0] == 0.0 and got["psi"][0] == 0.0
    assert np.all(got["quantile_delta"][0] == 0.0)


def test_empty_batch_and_mismatched_batches():
    e = np.empty(0)
    got = K.distribution_shift(e, [0], e, [0])
    assert got["ks_stat"].shape == (0,)
    with pytest.raises(ConfigError, match="same number of series"):
        K.distribution_shift([1.0, 2.0], [0, 1, 2], [1.0], [0, 1])
    with pytest.raises(ConfigError, match="offsets"):
        K.distribution_shift([1.0, 2.0], [0, 3], [1.0], [0, 1])


@pytest.mark.parametrize("seed", SEEDS)
def test_paired_change_matches_reference(seed):
    rng = np.random.default_rng(seed)
    v, off = _batch(rng, 14)
    got = K.paired_change(v, off)
    want = R.paired_change(v, off)
    for g, w in zip(got, want, strict=True):
        _close(g, w, rtol=1e-9)


def test_paired_change_autocorrelation_widens_the_error():
    rng = np.random.default_rng(3)
    e = rng.normal(0, 1, 2000)
    ar = np.empty_like(e)
    ar[0] = e[0]
    for i in range(1, e.size):
        ar[i] = 0.8 * ar[i - 1] + e[i]
    _, se_ar, _ = K.paired_change(ar)
    naive = ar.std(ddof=1) / np.sqrt(ar.size)
    assert se_ar[0] > 2.5 * naive  # sqrt(1.8 / 0.2) = 3 in theory


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_shift_matches_reference(seed):
    rng = np.random.default_rng(seed)
    v, off = _batch(rng, 14)
    got = K.mean_shift(v, off, min_segment=3)
    want = R.mean_shift(v, off, min_segment=3)
    np.testing.assert_array_equal(got["index"], want["index"])
    for key in ("stat", "p_value", "before", "after"):
        _close(got[key], want[key], rtol=1e-7, atol=1e-12)


def test_mean_shift_finds_a_known_step():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 0.1, 300), rng.normal(0.4, 0.1, 430)])
    x[10:20] = np.nan
    got = K.mean_shift(x)
    assert abs(int(got["index"][0]) - 300) <= 2
    assert got["p_value"][0] < 1e-6
    assert got["after"][0] - got["before"][0] == pytest.approx(0.4, abs=0.05)
    flat = K.mean_shift(rng.normal(0, 0.1, 730))
    assert flat["p_value"][0] > 0.01
