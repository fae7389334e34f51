"""Kernels against their references (tests/reference.py) on random batches.

Every batch mixes the awkward cases: NaN, +-inf, repeated values and flat runs, an empty
series and a one-point series inside the batch; the empty batch and argument errors are tested
separately. Under ``NUMBA_DISABLE_JIT=1`` the same tests run on fewer, smaller batches (the
kernels then run as Python, so coverage sees them).
"""

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


def assert_same(actual, expected, rtol=1e-12):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0, equal_nan=True)


def batch(seed, **kw):
    return R.random_batch(np.random.default_rng(seed), max_len=MAX_LEN, **kw)


# -- rolling --------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("center", [False, True])
def test_rolling_matches_reference(seed, center):
    values, offsets = batch(seed)
    rng = np.random.default_rng(100 + seed)
    window = int(rng.integers(1, 14))
    min_periods = int(rng.integers(1, window + 1))
    med, mad, z = K.rolling_robust_stats(values, offsets, window, center=center,
                                         min_periods=min_periods)
    r_med, r_mad, r_z = R.rolling_stats(values, offsets, window, center=center,
                                        min_periods=min_periods)
    # median and MAD are exact: the same float operations as numpy.median
    np.testing.assert_array_equal(med, r_med)
    np.testing.assert_array_equal(mad, r_mad)
    assert_same(z, r_z)  # the MeanAD fallback sums in another order
    np.testing.assert_array_equal(K.rolling_median(values, offsets, window, center=center,
                                                   min_periods=min_periods), r_med)
    np.testing.assert_array_equal(K.rolling_mad(values, offsets, window, center=center,
                                                min_periods=min_periods), r_mad)
    assert_same(K.rolling_robust_z(values, offsets, window, center=center,
                                   min_periods=min_periods), r_z)


@pytest.mark.parametrize("seed", SEEDS[:4])
@pytest.mark.parametrize("window", [33, 64, 65, 200])
def test_rolling_long_windows_match_reference(seed, window):
    # windows above the 32 candidates a rank is counted over: the halving probes run (once at
    # 33, up to three times at 200), on continuous and quantized values, NaN, inf, both
    # placements
    values, offsets = R.random_batch(np.random.default_rng(200 + seed), n_series=4,
                                     max_len=150 if JIT_OFF else 700)
    for center in (False, True):
        got = K.rolling_robust_stats(values, offsets, window, center=center)
        ref = R.rolling_stats(values, offsets, window, center=center)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
        assert_same(got[2], ref[2])


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_rolling_min_scale_and_default_min_periods(seed):
    values, offsets = batch(seed, quantized=True)
    z = K.rolling_robust_z(values, offsets, 9, min_scale=0.5)
    assert_same(z, R.rolling_stats(values, offsets, 9, min_scale=0.5)[2])


def test_rolling_long_window_many_duplicates():
    # a window larger than the series and values drawn from 3 levels: exercises the MAD split
    # search far from its previous position and the MeanAD fallback
    rng = np.random.default_rng(7)
    n = 120 if JIT_OFF else 600
    values = rng.choice([0.0, 0.0, 0.0, 1.5, 4.0], n)
    values[rng.random(n) < 0.1] = np.nan
    offsets = np.array([0, n // 3, n], dtype=np.int64)
    for window in (5, 96, 1000):
        got = K.rolling_robust_stats(values, offsets, window, min_periods=1)
        ref = R.rolling_stats(values, offsets, window, min_periods=1)
        for g, r in zip(got, ref):
            assert_same(g, r)


def test_rolling_invalid_slots_get_nan():
    x = np.array([1.0, np.nan, 3.0, np.inf, -np.inf, 2.0, 2.0])
    med, mad, z = K.rolling_robust_stats(x, None, 3, min_periods=1)
    bad = ~np.isfinite(x)
    assert np.isnan(med[bad]).all() and np.isnan(mad[bad]).all() and np.isnan(z[bad]).all()
    assert np.isfinite(z[~bad]).all()
    # inf never enters a window: the slot after +inf sees only finite values
    assert med[5] == 2.0


# -- runs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("on_threads", [False, True])
@pytest.mark.parametrize("seed", SEEDS)
def test_runs_match_reference(monkeypatch, seed, on_threads):
    if on_threads:  # chunks of series on two threads, as a batch of millions of values runs
        from griddiag.kernels import _launch, runs

        monkeypatch.setattr(runs, "MEMORY_BOUND_MIN_VALUES", 0)
        monkeypatch.setattr(_launch, "PARALLEL_MIN_VALUES", 0)
        monkeypatch.setattr(_launch, "_thread_count", lambda n: 2)
    values, offsets = batch(seed, quantized=True)
    np.testing.assert_array_equal(K.nan_runs(values, offsets), R.nan_runs(values, offsets))
    np.testing.assert_array_equal(K.zero_runs(values, offsets),
                                  R.zero_runs(values, offsets))
    np.testing.assert_array_equal(K.zero_runs(values, offsets, tolerance=1.0),
                                  R.zero_runs(values, offsets, 1.0))
    for tol in (0.0, 1.0, 2.5):
        cr = K.constant_runs(values, offsets, tolerance=tol)
        np.testing.assert_array_equal(cr, R.constant_runs(values, offsets, tol))
        for k in (1, 3):
            got = K.run_table(cr, offsets, min_length=k)
            for g, r in zip(got, R.run_table(cr, offsets, k)):
                np.testing.assert_array_equal(g, r)
    mask = np.isfinite(values) & (values > 2)
    np.testing.assert_array_equal(K.mask_runs(mask, offsets), R.mask_runs(mask, offsets))


def test_run_table_keeps_adjacent_equal_runs_apart():
    x = np.array([5.0, 5.0, 5.0, 7.0, 7.0, 7.0])
    cr = K.constant_runs(x)
    np.testing.assert_array_equal(cr, [3, 3, 3, 3, 3, 3])
    series, start, end = K.run_table(cr)
    np.testing.assert_array_equal(start, [0, 3])
    np.testing.assert_array_equal(end, [3, 6])


# -- events ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_events_match_reference(seed):
    rng = np.random.default_rng(seed)
    values, offsets = batch(seed)
    flags = rng.random(values.shape[0]) < 0.3
    scores = rng.normal(size=values.shape[0])
    scores[rng.random(values.shape[0]) < 0.2] = np.nan
    scores[rng.random(values.shape[0]) < 0.05] = np.inf
    for max_gap in (0, 1, 3):
        for min_len in (1, 2, 5):
            for sc in (None, scores):
                got = K.flags_to_events(flags, offsets, sc, max_gap=max_gap, min_len=min_len)
                ref = R.flags_to_events(flags, offsets, sc, max_gap, min_len)
                for g, r in zip(got, ref):
                    np.testing.assert_array_equal(g, r)


# -- register -------------------------------------------------------------------------------

def register_batch(seed):
    """Growing registers with rollovers at 1000, exchanges, glitches, gaps and inf."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(6):
        n = int(rng.integers(0, MAX_LEN))
        x = np.cumsum(rng.choice([0.0, 0.0, 0.4, 1.1, 2.5], n)) + rng.uniform(900, 1000)
        if n > 10:
            i = int(rng.integers(1, n - 1))
            kind = rng.integers(4)
            if kind == 0:
                x[i:] %= 1000.0  # rollover
            elif kind == 1:
                x[i:] -= x[i] - rng.uniform(0, 3)  # meter exchange
            elif kind == 2:
                x[i] = rng.uniform(0, 3)  # a glitch to near zero, back next slot
            else:
                x[i:] -= 5.0  # rollback
        x[rng.random(n) < 0.1] = np.nan
        x[rng.random(n) < 0.02] = np.inf
        parts.append(x)
    values = np.concatenate(parts)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    return values, offsets


@pytest.mark.parametrize("seed", SEEDS)
def test_register_matches_reference(seed):
    values, offsets = register_batch(seed)
    assert_same(K.register_delta(values, offsets), R.register_delta(values, offsets))
    assert_same(K.typical_increment(values, offsets), R.typical_increment(values, offsets))
    limits = np.where(np.arange(len(offsets) - 1) % 2 == 0, 1000.0, np.nan)
    for limit in (1000.0, limits):
        for tol in (0.0, 0.5):
            codes, cons = K.classify_register(values, offsets, limit, tolerance=tol)
            r_codes, r_cons = R.classify_register(values, offsets, limit, tolerance=tol)
            np.testing.assert_array_equal(codes, r_codes)
            assert_same(cons, r_cons)


# -- seasonal -------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_seasonal_matches_reference(seed):
    values, offsets = batch(seed)
    rng = np.random.default_rng(seed)
    n_slots = 4
    slot = np.concatenate([np.arange(b - a) % n_slots
                           for a, b in zip(offsets[:-1], offsets[1:])]).astype(np.int64)
    day_type = rng.integers(0, 3, values.shape[0]).astype(np.int8)
    for n_history, min_history, max_age in ((4, 2, None), (3, 1, 12), (5, 5, None)):
        kw = dict(n_slots=n_slots, n_history=n_history, min_history=min_history,
                  max_age=max_age)
        assert_same(K.seasonal_profile(values, offsets, slot, day_type, **kw),
                    R.seasonal_profile(values, offsets, slot, day_type, **kw))
        got = K.seasonal_residual_z(values, offsets, slot, day_type, window=8, **kw)
        ref = R.seasonal_residual_z(values, offsets, slot, day_type, window=8, **kw)
        for g, r in zip(got, ref):
            assert_same(g, r, rtol=1e-9)


# -- change point ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_level_shift_matches_reference(seed):
    values, offsets = batch(seed)
    rng = np.random.default_rng(seed)
    window = int(rng.integers(1, 9))
    for min_scale in (0.0, 0.5):
        shift, score = K.level_shift(values, offsets, window, min_scale=min_scale)
        r_shift, r_score = R.level_shift(values, offsets, window, min_scale=min_scale)
        assert_same(shift, r_shift)
        assert_same(score, r_score)
        np.testing.assert_array_equal(K.change_index(score, offsets),
                                      R.change_index(score, offsets))


# -- spike ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_daily_peak_ratio_matches_reference(seed):
    values, offsets = batch(seed, quantized=True)
    rng = np.random.default_rng(seed)
    day = np.concatenate([np.sort(rng.integers(0, 6, b - a))
                          for a, b in zip(offsets[:-1], offsets[1:])]).astype(np.int64)
    for rank, min_valid in ((3, 3), (1, 1), (2, 5)):
        assert_same(K.daily_peak_ratio(values, offsets, day, rank=rank, min_valid=min_valid),
                    R.daily_peak_ratio(values, offsets, day, rank, min_valid))


# -- every kernel: empty batch, empty and one-point series, output length ------------------

def per_slot_outputs(values, offsets):
    """Every per-slot output of every kernel, by name."""
    n = values.shape[0]
    slot = np.zeros(n, dtype=np.int64)
    day_type = np.zeros(n, dtype=np.int8)
    day = np.zeros(n, dtype=np.int64)
    out = {
        "rolling_median": K.rolling_median(values, offsets, 4),
        "rolling_mad": K.rolling_mad(values, offsets, 4),
        "rolling_robust_z": K.rolling_robust_z(values, offsets, 4),
        "nan_runs": K.nan_runs(values, offsets),
        "zero_runs": K.zero_runs(values, offsets),
        "constant_runs": K.constant_runs(values, offsets),
        "mask_runs": K.mask_runs(np.isfinite(values), offsets),
        "register_delta": K.register_delta(values, offsets),
        "seasonal_profile": K.seasonal_profile(values, offsets, slot, day_type, n_slots=1),
        "daily_peak_ratio": K.daily_peak_ratio(values, offsets, day),
    }
    out["register_codes"], out["register_consumption"] = K.classify_register(
        values, offsets, 1000.0)
    out["level_shift"], out["level_shift_score"] = K.level_shift(values, offsets, 2)
    for i, a in enumerate(K.seasonal_residual_z(values, offsets, slot, day_type, n_slots=1,
                                                window=4)):
        out[f"seasonal_residual_z[{i}]"] = a
    return out


@pytest.mark.parametrize("lengths", [[], [0], [0, 0], [1], [0, 1, 0], [1, 7, 0, 3]])
def test_degenerate_batches(lengths):
    rng = np.random.default_rng(0)
    values = rng.normal(size=sum(lengths))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    for name, a in per_slot_outputs(values, offsets).items():
        assert a.shape == values.shape, name
    assert K.change_index(np.zeros(values.shape), offsets).shape == (len(lengths),)
    assert K.typical_increment(values, offsets).shape == (len(lengths),)
    for table in (K.run_table(K.nan_runs(values, offsets), offsets),
                  K.flags_to_events(np.ones(values.shape, bool), offsets)):
        assert all(c.dtype == np.int64 for c in table)


def test_one_point_series():
    x = np.array([3.0])
    assert np.isnan(K.rolling_robust_z(x, None, 4))  # min_periods 3 > 1 value
    assert K.rolling_robust_z(x, None, 4, min_periods=1)[0] == 0.0
    assert K.classify_register(x)[0][0] == -1
    np.testing.assert_array_equal(K.constant_runs(x), [1])
    assert K.change_index(np.array([np.nan])).tolist() == [-1]


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_nan_in_nan_out_everywhere(seed):
    values, offsets = batch(seed)
    bad = ~np.isfinite(values)
    for name, a in per_slot_outputs(values, offsets).items():
        if a.dtype.kind == "f":
            assert np.isnan(a[bad]).all(), name


def test_inputs_are_not_modified_and_other_dtypes_accepted():
    values = np.arange(10, dtype=np.int32)
    before = values.copy()
    z = K.rolling_robust_z(values, [0, 4, 10], 3, min_periods=1)
    np.testing.assert_array_equal(values, before)
    assert z.dtype == np.float64
    # non-contiguous float input
    strided = np.arange(20.0)[::2]
    np.testing.assert_array_equal(K.rolling_median(strided, None, 3, min_periods=1),
                                  K.rolling_median(strided.copy(), None, 3, min_periods=1))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: K.rolling_median(np.zeros(5), [0, 3], 3), "end at len"),
        (lambda: K.rolling_median(np.zeros(5), [0, 4, 2, 5], 3), "must not decrease"),
        (lambda: K.rolling_median(np.zeros(5), [1, 5], 3), "start at 0"),
        (lambda: K.rolling_median(np.zeros(5), [0.0, 5.0], 3), "integers"),
        (lambda: K.rolling_median(np.zeros((2, 2)), None, 3), "1-D"),
        (lambda: K.rolling_median(np.array(["a"]), None, 3), "numeric"),
        (lambda: K.rolling_median(np.zeros(5), None, 0), "window"),
        (lambda: K.rolling_median(np.zeros(5), None, 3, min_periods=4), "min_periods"),
        (lambda: K.rolling_robust_z(np.zeros(5), None, 3, min_scale=-1), "min_scale"),
        (lambda: K.constant_runs(np.zeros(5), tolerance=np.nan), "tolerance"),
        (lambda: K.flags_to_events(np.zeros(5, bool), max_gap=-1), "max_gap"),
        (lambda: K.flags_to_events(np.zeros(5, bool), None, np.zeros(4)), "scores"),
        (lambda: K.classify_register(np.zeros(5), [0, 2, 5], [1.0]), "limit"),
        (lambda: K.classify_register(np.zeros(5), reset_fraction=2), "reset_fraction"),
        (lambda: K.seasonal_profile(np.zeros(4), None, [0, 1, 2, 3], [0, 0, 0, 0],
                                    n_slots=3), "slot"),
        (lambda: K.seasonal_profile(np.zeros(4)), "slot"),
        (lambda: K.daily_peak_ratio(np.zeros(4), None, [0, 1, 0, 1]), "must not decrease"),
        (lambda: K.run_table(np.array([-1, 0]), None), "run_length"),
    ],
)
def test_argument_errors_say_what_is_wrong(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_offsets_from_lengths():
    from griddiag.kernels._validate import offsets_from_lengths

    for lengths, want in (([], [0]), ([3], [0, 3]), ([2, 0, 5], [0, 2, 2, 7]),
                          (np.array([1, 1], dtype=np.int32), [0, 1, 2])):
        got = offsets_from_lengths(lengths)
        assert got.dtype == np.int64 and got.tolist() == want


def test_day_may_restart_at_series_boundary():
    values = np.ones(6)
    day = np.array([5, 5, 6, 0, 0, 1])
    K.daily_peak_ratio(values, [0, 3, 6], day)  # no error: a new series starts at 3


def test_numba_flags_are_as_configured():
    from griddiag import config
    from griddiag.kernels.rolling import _rolling_stats

    assert config.NUMBA_FASTMATH is False
    if not JIT_OFF:
        assert _rolling_stats.targetoptions["fastmath"] is False
        # threads come from launch_series: a parallel region would cost seconds to compile
        assert not _rolling_stats.targetoptions.get("parallel", False)
        assert _rolling_stats.targetoptions["nogil"] is True
