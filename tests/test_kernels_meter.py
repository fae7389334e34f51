"""Kernels of the sum check, the same-period-last-year baseline and the robust CUSUM against
their references (tests/reference.py), on random batches with NaN, +-inf, flat runs, empty and
one-point series, and on tiny labelled tables."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from griddiag import kernels as K
from griddiag.exceptions import ConfigError
from tests import reference as R

JIT_OFF = bool(numba.config.DISABLE_JIT)
SEEDS = range(3) if JIT_OFF else range(12)
MAX_LEN = 25 if JIT_OFF else 80
nan, inf = np.nan, np.inf


def assert_same(actual, expected, rtol=1e-12, atol=0.0):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


def batch(seed, **kw):
    return R.random_batch(np.random.default_rng(seed), max_len=MAX_LEN, **kw)


# -- span_compare -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_span_compare_matches_reference(seed):
    obs, offsets = batch(seed, quantized=True)
    rng = np.random.default_rng(200 + seed)
    n = obs.shape[0]
    exp = obs + rng.choice([0.0, 0.0, 0.0, 0.01, -2.0], n)
    exp[rng.random(n) < 0.1] = nan
    excluded = rng.random(n) < 0.1
    anchor = rng.random(n) < 0.5
    frac, tol = float(rng.choice([0.0, 0.01, 0.2])), float(rng.choice([0.0, 0.02]))
    got = K.span_compare(obs, exp, excluded, anchor, offsets, tolerance_fraction=frac,
                         tolerance_abs=tol)
    ref = R.span_compare(obs, exp, excluded, anchor, offsets, frac, tol)
    for g, r in zip(got, ref):
        assert_same(g, r, atol=1e-9)


SPAN_TABLE = [
    # id, observed, expected, excluded, anchor, expected score (NaN = not compared)
    ("equal accounts pass", [0, 5, 5], [nan, 5, 5], [0, 0, 0], [1, 1, 1], [nan, 0, 0]),
    ("a mismatch over the tolerance", [0, 5, 8], [nan, 5, 5], [0, 0, 0], [1, 1, 1],
     [nan, 0, 30.0]),
    ("a missing reading telescopes into the next span", [0, 5, 5, 5],
     [nan, nan, 10, 5], [0, 0, 0, 0], [1, 0, 1, 1], [nan, nan, 0, 0]),
    ("an excluded step leaves its span unjudged", [0, 5, 50, 5], [nan, 5, 5, 5],
     [0, 0, 1, 0], [1, 1, 1, 1], [nan, 0, nan, 0]),
    ("inf is corrupt: not judged", [0, inf, 5], [nan, 5, 5], [0, 0, 0], [1, 1, 1],
     [nan, nan, 0]),
]


@pytest.mark.parametrize("case", SPAN_TABLE, ids=[c[0] for c in SPAN_TABLE])
def test_span_compare_table(case):
    _, obs, exp, exc, anc, want = case
    _, _, score = K.span_compare(obs, exp, np.array(exc, bool), np.array(anc, bool),
                                 tolerance_fraction=0.01, tolerance_abs=0.1)
    assert_same(score, np.array(want, dtype=float))


def test_span_compare_empty_one_point_and_errors():
    e = np.empty(0)
    for out in K.span_compare(e, e, e.astype(bool), e.astype(bool)):
        assert out.shape == (0,)
    o, x, s = K.span_compare([1.0], [1.0], [False], [True])
    assert np.isnan(s).all()
    with pytest.raises(ConfigError, match="anchor"):
        K.span_compare([1.0, 2.0], [1.0, 2.0], [False, False], [True])
    with pytest.raises(ConfigError, match="tolerance_fraction"):
        K.span_compare([1.0], [1.0], [False], [True], tolerance_fraction=-1)


# -- bin_to_readings ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_bin_to_readings_matches_reference(seed):
    values, offsets = batch(seed)
    rng = np.random.default_rng(300 + seed)
    n_series = offsets.shape[0] - 1
    n_reg = 3
    r_len = rng.integers(0, 6, n_reg)
    r_off = np.concatenate([[0], np.cumsum(r_len)]).astype(np.int64)
    t0 = rng.integers(0, 40, n_series) * 15
    step = np.full(n_series, 15)
    smap = rng.integers(-1, n_reg, n_series)
    r_t0 = rng.integers(0, 100, n_reg) * 5
    r_step = rng.choice([60, 96 * 15], n_reg)
    got = K.bin_to_readings(values, offsets, t0, step, smap, r_t0, r_step, r_off)
    ref = R.bin_to_readings(values, offsets, t0, step, smap, r_t0, r_step, r_off)
    assert_same(got[0], ref[0], atol=1e-9)
    np.testing.assert_array_equal(got[1], ref[1])


def test_bin_to_readings_a_day_of_intervals_closes_at_midnight():
    day_us = 86_400_000_000
    q = day_us // 96
    values = np.full(2 * 96, 0.25)
    values[100] = nan  # one missing interval on the second day
    total, missing = K.bin_to_readings(values, [0, 192], [0], [q], [0], [0], [day_us],
                                       [0, 3])
    # the reading at 00:00 of day 1 closes day 0; day 1's missing interval is counted
    np.testing.assert_allclose(total, [0.0, 24.0, 95 * 0.25])
    np.testing.assert_array_equal(missing, [0, 0, 1])


# -- cusum ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_cusum_matches_reference(seed):
    values, offsets = batch(seed)
    rng = np.random.default_rng(400 + seed)
    window = int(rng.integers(2, 10))
    mp = int(rng.integers(1, window + 1))
    drift = float(rng.choice([0.0, 0.5, 1.0]))
    threshold = float(rng.choice([0.0, 2.0, 6.0]))
    ms = float(rng.choice([0.0, 0.5]))
    got = K.cusum(values, offsets, window, drift=drift, threshold=threshold, clip=3.0,
                  min_periods=mp, min_scale=ms)
    ref = R.cusum(values, offsets, window, drift, threshold, 3.0, mp, ms)
    assert_same(got[0], ref[0], atol=1e-9)
    np.testing.assert_array_equal(got[1], ref[1])
    assert_same(got[2], ref[2])


def test_cusum_dates_a_step_once():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(10, 0.5, 60), rng.normal(5, 0.5, 80)])
    x[20] = 80.0  # a lone spike: clipped, no alarm
    x[90:93] = nan
    stat, change, ref = K.cusum(x, None, 28)
    alarms = np.flatnonzero(change >= 0)
    assert alarms.size == 1
    assert change[alarms[0]] == 60 and alarms[0] < 66
    assert abs(ref[alarms[0]] - 10) < 0.5
    assert np.isnan(stat[:28]).all() and np.isnan(stat[90:93]).all()


def test_cusum_constant_empty_one_point_and_errors():
    stat, change, _ = K.cusum(np.full(50, 3.0), None, 10)
    assert (stat[10:] == 0).all() and (change == -1).all()
    for out in K.cusum(np.empty(0), None, 5):
        assert out.shape == (0,)
    stat, change, _ = K.cusum([1.0], None, 5)
    assert np.isnan(stat).all() and (change == -1).all()
    with pytest.raises(ConfigError, match="clip"):
        K.cusum([1.0, 2.0], None, 5, drift=2.0, clip=1.0)
    with pytest.raises(ConfigError, match="min_periods"):
        K.cusum([1.0, 2.0], None, 5, min_periods=6)


# -- last_year_baseline ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_last_year_baseline_matches_reference(seed):
    values, offsets = batch(seed)
    rng = np.random.default_rng(500 + seed)
    n = values.shape[0]
    day = np.empty(n, dtype=np.int64)
    for a, b in zip(offsets[:-1], offsets[1:]):
        day[a:b] = 19000 + np.cumsum(rng.integers(1, 3, b - a))
    day_type = rng.integers(0, 3, n)
    lag, half = int(rng.integers(3, 12)), int(rng.integers(0, 3))
    md = int(rng.integers(1, 2 * half + 2))
    got = K.last_year_baseline(values, offsets, day, day_type, lag_days=lag,
                               half_window_days=half, min_days=md)
    ref = R.last_year_baseline(values, offsets, day, day_type, lag, half, md)
    np.testing.assert_array_equal(got, ref)


def test_last_year_baseline_weekday_aligned():
    days = np.arange(800, dtype=np.int64)
    weekday = (days + 3) % 7
    day_type = (weekday >= 5).astype(np.int64)
    x = np.where(day_type == 1, 20.0, 10.0)
    x[400] = 99.0  # last year's value on one like day does not move the median
    base = K.last_year_baseline(x, None, days, day_type)
    assert np.isnan(base[:357]).all()  # no year of history yet
    np.testing.assert_array_equal(base[400:], np.where(day_type[400:] == 1, 20.0, 10.0))


def test_last_year_baseline_empty_one_point_and_errors():
    e = np.empty(0)
    assert K.last_year_baseline(e, None, e.astype(np.int64), e.astype(np.int64)).shape == (0,)
    assert np.isnan(K.last_year_baseline([1.0], None, [5], [0])).all()
    with pytest.raises(ConfigError, match="increase"):
        K.last_year_baseline([1.0, 2.0], None, [5, 5], [0, 0])
    with pytest.raises(ConfigError, match="min_days"):
        K.last_year_baseline([1.0], None, [5], [0], half_window_days=1, min_days=4)
    with pytest.raises(ConfigError, match="lag_days"):
        K.last_year_baseline([1.0], None, [5], [0], lag_days=3, half_window_days=3)
