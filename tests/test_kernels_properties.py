"""Properties every kernel keeps, on hypothesis-generated batches.

No deadline: the first example may compile (or load from numba's cache).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from griddiag import kernels as K

JIT_OFF = bool(numba.config.DISABLE_JIT)

# z of a value next to a window whose spread is near 1e-300 overflows to inf; numpy scalars
# say so when the kernels run as Python (NUMBA_DISABLE_JIT=1), compiled code does not
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
SETTINGS = settings(deadline=None, max_examples=15 if JIT_OFF else 60,
                    suppress_health_check=[HealthCheck.too_slow])
MAX_LEN = 12 if JIT_OFF else 40

# values a meter sends, plus the awkward ones; a small pool makes ties and flat runs common
_value = st.one_of(
    st.sampled_from([0.0, 1.0, 2.0, 2.0, 5.0, 220.0, np.nan, np.inf, -np.inf]),
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
)
_series = st.lists(_value, min_size=0, max_size=MAX_LEN)


@st.composite
def batches(draw, value=_series):
    parts = draw(st.lists(value, min_size=0, max_size=4))
    values = np.array([v for p in parts for v in p], dtype=np.float64)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    return values, offsets


_int_series = st.lists(st.one_of(st.integers(-50, 50).map(float), st.just(np.nan)),
                       min_size=0, max_size=MAX_LEN)


@SETTINGS
@given(batches(), st.integers(1, 10), st.booleans())
def test_every_output_has_the_input_length_and_nan_in_nan_out(batch, window, center):
    values, offsets = batch
    bad = ~np.isfinite(values)
    n = values.shape[0]
    slot = np.zeros(n, dtype=np.int64)
    outs = [
        *K.rolling_robust_stats(values, offsets, window, center=center, min_periods=1),
        *K.level_shift(values, offsets, window, min_periods=1),
        K.seasonal_profile(values, offsets, slot, slot, n_slots=1, min_history=1),
        K.daily_peak_ratio(values, offsets, slot),
        K.register_delta(values, offsets),
        K.classify_register(values, offsets, 1000.0)[1],
    ]
    for out in outs:
        assert out.shape == values.shape
        assert np.isnan(out[bad]).all()
    for out in (K.nan_runs(values, offsets), K.constant_runs(values, offsets),
                K.zero_runs(values, offsets), K.classify_register(values, offsets)[0]):
        assert out.shape == values.shape


@SETTINGS
@given(batches(_int_series), st.integers(1, 12), st.integers(-8, 8), st.integers(-10**6, 10**6),
       st.booleans())
def test_robust_z_is_scale_and_shift_invariant(batch, window, log2_scale, shift, center):
    # integer-valued data, a power-of-two scale and an integer shift keep every operation
    # exact, so invariance holds bit for bit; a negative scale flips the sign
    values, offsets = batch
    z = K.rolling_robust_z(values, offsets, window, center=center, min_periods=1)
    scaled = values * 2.0 ** log2_scale + shift
    z2 = K.rolling_robust_z(scaled, offsets, window, center=center, min_periods=1)
    np.testing.assert_array_equal(z, z2)
    z3 = K.rolling_robust_z(-values, offsets, window, center=center, min_periods=1)
    np.testing.assert_array_equal(z3, -z + 0.0)


@SETTINGS
@given(batches(st.lists(st.floats(-100, 100).map(lambda v: round(v, 3)), min_size=0,
                        max_size=MAX_LEN)),
       st.integers(2, 12), st.floats(0.25, 8.0), st.floats(-500, 500))
def test_robust_z_is_affine_invariant_for_general_floats(batch, window, scale, shift):
    values, offsets = batch
    z = K.rolling_robust_z(values, offsets, window, min_periods=1)
    z2 = K.rolling_robust_z(values * scale + shift, offsets, window, min_periods=1)
    ok = np.isfinite(z) & np.isfinite(z2) & (np.abs(z) < 1e6)
    # values at a meter's resolution (0.001): the rounding of a * x + b stays far below the
    # spread of any window that has one
    np.testing.assert_allclose(z2[ok], z[ok], rtol=1e-6, atol=1e-6 * (1 + abs(shift)))


@SETTINGS
@given(batches(), st.integers(1, 10))
def test_a_batch_equals_its_series_one_by_one(batch, window):
    values, offsets = batch
    whole = K.rolling_robust_stats(values, offsets, window, min_periods=1)
    shift_whole = K.level_shift(values, offsets, window, min_periods=1)[1]
    for a, b in zip(offsets[:-1], offsets[1:]):
        part = K.rolling_robust_stats(values[a:b], None, window, min_periods=1)
        for w, p in zip(whole, part):
            np.testing.assert_array_equal(w[a:b], p)
        np.testing.assert_array_equal(shift_whole[a:b],
                                      K.level_shift(values[a:b], None, window, min_periods=1)[1])


@SETTINGS
@given(batches(), st.floats(0, 3))
def test_runs_cover_each_valid_slot_once(batch, tolerance):
    values, offsets = batch
    run_length = K.constant_runs(values, offsets, tolerance=tolerance)
    series, start, end = K.run_table(run_length, offsets)
    covered = np.zeros(values.shape[0], dtype=np.int64)
    for s, a, b in zip(series, start, end):
        assert offsets[s] <= a < b <= offsets[s + 1]
        covered[a:b] += 1
        seg = values[a:b]
        assert seg.max() - seg.min() <= tolerance
    np.testing.assert_array_equal(covered, np.isfinite(values).astype(np.int64))


@SETTINGS
@given(batches(), st.integers(0, 3), st.integers(1, 4), st.randoms(use_true_random=False))
def test_events_hold_every_flag_and_stay_in_their_series(batch, max_gap, min_len, rnd):
    values, offsets = batch
    flags = np.array([rnd.random() < 0.4 for _ in range(values.shape[0])], dtype=bool)
    series, start, end, peak = K.flags_to_events(flags, offsets, values, max_gap=max_gap,
                                                 min_len=min_len)
    inside = np.zeros(values.shape[0], dtype=bool)
    for s, a, b, p in zip(series, start, end, peak):
        assert offsets[s] <= a < b <= offsets[s + 1]
        assert b - a >= min_len and flags[a] and flags[b - 1] and flags[p] and a <= p < b
        inside[a:b] = True
    if min_len == 1:
        assert inside[flags].all()


@SETTINGS
@given(st.lists(st.sampled_from([0.0, 0.0, 0.3, 1.2, 4.0, np.nan]), min_size=1, max_size=60),
       st.floats(50, 990))
def test_register_consumption_telescopes_to_the_reading_difference(steps, start):
    # readings of a register that never wraps: consumption sums to last - first reading
    inc = np.nan_to_num(np.array(steps))
    readings = start + np.cumsum(inc)
    readings[np.isnan(steps)] = np.nan
    codes, consumption = K.classify_register(readings, None, 1e6)
    valid = readings[np.isfinite(readings)]
    assert set(codes.tolist()) <= {-1, 0}
    if valid.size:
        np.testing.assert_allclose(np.nansum(consumption), valid[-1] - valid[0], atol=1e-9)
