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


# -- summary kernels --------------------------------------------------------------------------

N_SERIES = 4 if JIT_OFF else 12


def _readings_batch(rng):
    """Series of 15-minute readings (some hourly, some sparse) with NaN, inf, a constant and
    an empty series, sorted by time within each."""
    parts, ts_parts = [], []
    t0 = 1_703_980_800_000_000  # 2023-12-31 00:00 UTC
    for i in range(N_SERIES):
        kind = i % 6
        n = 0 if kind == 3 else int(rng.integers(1, 200 if JIT_OFF else 3000))
        step = 3_600_000_000 if kind == 4 else 900_000_000
        ts = t0 + np.sort(rng.integers(0, n * 2 + 1, n)) * step // 2
        x = np.round(rng.gamma(2.0, 0.2, n), 2)
        if kind == 2:
            x[:] = 0.25
        if kind == 5 and n:
            x[rng.random(n) < 0.2] = np.nan
            x[0] = np.inf
        parts.append(x)
        ts_parts.append(ts.astype(np.int64))
    off = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    return np.concatenate(parts), off, np.concatenate(ts_parts)


@pytest.mark.parametrize("seed", SEEDS)
def test_hourly_sums_match_reference(seed):
    rng = np.random.default_rng(seed)
    v, off, ts = _readings_batch(rng)
    shift = np.where(np.arange(N_SERIES) % 3 == 1, 1_800_000_000, 0).astype(np.int64)
    got = K.hourly_sums(v, off, ts, shift)
    want = R.hourly_sums(v, off, ts, shift)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_hourly_sums_checks_time_order():
    with pytest.raises(ConfigError, match="must not decrease within a series"):
        K.hourly_sums([1.0, 2.0], [0, 2], np.array([5, 4]), np.zeros(1, np.int64))
    # a new series may start earlier than the previous one ended
    off, key, *_ = K.hourly_sums([1.0, 2.0], [0, 1, 2],
                                 np.array([K.HOUR_US * 5, 0]), np.zeros(2, np.int64))
    assert off.tolist() == [0, 1, 2] and key.tolist() == [5, 0]
    empty = K.hourly_sums(np.empty(0), [0], np.empty(0, np.int64), np.empty(0, np.int64))
    assert empty[0].tolist() == [0] and empty[1].size == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_day_summary_matches_reference(seed):
    from griddiag.yoy.summary import _zone_table

    rng = np.random.default_rng(seed)
    v, off, ts = _readings_batch(rng)
    zones = ["Asia/Shanghai", "Asia/Kolkata", "America/New_York"]
    shifts = [0, 1_800_000_000, 0]
    zone = np.arange(N_SERIES) % 3
    h = K.hourly_sums(v, off, ts, np.array([shifts[z] for z in zone], dtype=np.int64))
    tabs = [_zone_table(zones[z], 2024, shifts[z]) for z in range(3)]
    width = max(t[1].size for t in tabs)

    def pad(k, fill):
        return np.stack([np.pad(t[k], (0, width - t[k].size), constant_values=fill)
                         for t in tabs])

    tables = (np.array([t[0] for t in tabs]), pad(1, -1), pad(2, 0), pad(3, 0))
    energy = np.arange(N_SERIES) % 2 == 0
    got = K.day_summary(h[0], h[1], h[2], h[3], zone, energy, tables, n_days=366)
    want = R.day_summary(h[0], h[1], h[2], h[3], zone, energy, tables, n_days=366)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, equal_nan=True, err_msg=k)


@pytest.mark.parametrize("seed", SEEDS)
def test_degree_day_fits_match_numpy(seed):
    rng = np.random.default_rng(seed)
    n_days = 60 if JIT_OFF else 365
    ys, ts, ws = [], [], []
    for i in range(6):
        t = rng.normal(15, 8, n_days)
        w = (np.arange(n_days) % 7 >= 5).astype(float)
        y = 10 + 0.5 * np.maximum(16 - t, 0) + 0.8 * np.maximum(t - 19.5, 0) - 2 * w \
            + rng.normal(0, 1, n_days)
        if i == 1:
            t = np.full(n_days, 25.0)  # no heating days: the HDD column has no spread
        if i == 2:
            y[30:] = np.nan  # too few days (fewer than 30 known)
            y[:5] = np.nan
        if i == 3:
            t[::3] = np.nan
            y[5] = np.inf
        if i == 4:
            w[:] = 0.0
        ys.append(y)
        ts.append(t)
        ws.append(w)
    off = np.arange(7, dtype=np.int64) * n_days
    kw = dict(hdd_base_c=16.0, cdd_base_c=19.5, min_days=30)
    got = K.degree_day_fits(np.concatenate(ys), np.concatenate(ts), np.concatenate(ws), off,
                            **kw)
    want = R.degree_day_fits(np.concatenate(ys), np.concatenate(ts), np.concatenate(ws), off,
                             **kw)
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-10)
    assert not got[2][2] and got[2][0]


@pytest.mark.parametrize("seed", SEEDS)
def test_rolling_median_matches_polars(seed):
    import polars as pl

    rng = np.random.default_rng(seed)
    v, off = _batch(rng, 14)
    got = K.rolling_median(v, off, window=7, min_known=4)
    want = np.concatenate([
        pl.Series(v[off[i]:off[i + 1]]).fill_nan(None)
        .rolling_median(7, min_samples=4, center=True).cast(pl.Float64).fill_null(np.nan)
        .to_numpy() if off[i + 1] > off[i] else np.empty(0)
        for i in range(len(off) - 1)])
    # polars treats inf as a value; the kernel drops it like NaN (invalid = missing)
    keep = np.isfinite(v)
    v2 = np.where(keep, v, np.nan)
    want2 = np.concatenate([
        pl.Series(v2[off[i]:off[i + 1]]).fill_nan(None)
        .rolling_median(7, min_samples=4, center=True).cast(pl.Float64).fill_null(np.nan)
        .to_numpy() if off[i + 1] > off[i] else np.empty(0)
        for i in range(len(off) - 1)])
    _close(got, want2)
    assert want.shape == got.shape
    with pytest.raises(ConfigError, match="odd"):
        K.rolling_median(v, off, window=6)
