"""Tiny labelled tables: what each kernel means, in grid terms, at a glance.

Each case is ``{params, values, expected}`` (ADTK's ``tests/test_detector1d.py`` layout); NaN
marks a missing reading. The values are what a meter or a feeder would send.
"""

from __future__ import annotations

import numpy as np
import pytest

from griddiag import kernels as K

nan = np.nan


def _cases(cases):
    return pytest.mark.parametrize("case", cases, ids=[c["id"] for c in cases])


def _assert_equal(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, dtype=float),
                               np.asarray(expected, dtype=float), rtol=1e-9, atol=1e-9,
                               equal_nan=True)


# -- runs: gaps, stuck registers, zero consumption ------------------------------------------

RUNS = [
    {"id": "gap of two intervals", "kernel": K.nan_runs, "params": {},
     "values": [1.2, nan, nan, 0.8, nan, 0.9],
     "expected": [0, 2, 2, 0, 1, 0]},
    {"id": "corrupt inf counts as missing", "kernel": K.nan_runs, "params": {},
     "values": [1.2, np.inf, nan, 0.8],
     "expected": [0, 2, 2, 0]},
    {"id": "stuck register kWh", "kernel": K.constant_runs, "params": {},
     "values": [100.0, 100.4, 100.9, 101.3, 101.3, 101.3, 101.3, 101.3, 101.3, 101.7],
     "expected": [1, 1, 1, 6, 6, 6, 6, 6, 6, 1]},
    {"id": "stuck voltage within 0.1 V, gap splits", "kernel": K.constant_runs,
     "params": {"tolerance": 0.1},
     "values": [229.9, 230.0, 230.0, 229.95, nan, 230.0, 230.0, 231.2],
     "expected": [4, 4, 4, 4, 0, 2, 2, 1]},
    {"id": "slow ramp is not flat", "kernel": K.constant_runs, "params": {"tolerance": 0.15},
     "values": [1.0, 1.1, 1.2, 1.3, 1.4],
     "expected": [2, 2, 2, 2, 1]},
    {"id": "zero consumption on an active meter", "kernel": K.zero_runs, "params": {},
     "values": [0.42, 0.0, 0.0, 0.0, nan, 0.0, 0.31],
     "expected": [0, 3, 3, 3, 0, 1, 0]},
    {"id": "near-zero within meter resolution", "kernel": K.zero_runs,
     "params": {"tolerance": 0.001},
     "values": [0.0005, -0.0004, 0.2],
     "expected": [2, 2, 0]},
]


@_cases(RUNS)
def test_runs_table(case):
    got = case["kernel"](np.array(case["values"]), None, **case["params"])
    np.testing.assert_array_equal(got, case["expected"])


# -- cumulative registers -------------------------------------------------------------------

REGISTER = [
    {"id": "rollover at 99999.9 (6 digits of 0.1 kWh)", "params": {"limit": 100000.0},
     "values": [99998.9, 99999.4, 99999.9, 0.3, 0.8, 1.4],
     "codes": [-1, 0, 0, 2, 0, 0],
     "consumption": [nan, 0.5, 0.5, 0.4, 0.5, 0.6]},
    {"id": "rollover across a missing reading", "params": {"limit": 100000.0},
     "values": [99998.9, 99999.4, nan, 0.4, 0.9],
     "codes": [-1, 0, -1, 2, 0],
     "consumption": [nan, 0.5, nan, 1.0, 0.5]},
    {"id": "same drop, register limit unknown: exchange", "params": {},
     "values": [99998.9, 99999.4, 99999.9, 0.3, 0.8, 1.4],
     "codes": [-1, 0, 0, 3, 0, 0],
     "consumption": [nan, 0.5, 0.5, nan, 0.5, 0.6]},
    {"id": "meter exchange, new meter from 0.2 kWh", "params": {"limit": 100000.0},
     "values": [52340.1, 52340.6, 52341.0, 0.2, 0.7, 1.1, 1.6],
     "codes": [-1, 0, 0, 3, 0, 0, 0],
     "consumption": [nan, 0.5, 0.4, nan, 0.5, 0.4, 0.5]},
    {"id": "misread to near zero, back next reading: rollback", "params": {},
     "values": [5000.0, 5000.5, 12.0, 5001.2, 5001.6],
     "codes": [-1, 0, 1, 0, 0],
     "consumption": [nan, 0.5, -4988.5, 4989.2, 0.4]},
    {"id": "register set back by 10 kWh: rollback", "params": {"limit": 100000.0},
     "values": [5000.0, 5000.5, 4990.5, 4990.9],
     "codes": [-1, 0, 1, 0],
     "consumption": [nan, 0.5, -10.0, 0.4]},
    {"id": "rounding noise below tolerance is normal", "params": {"tolerance": 0.01},
     "values": [10.0, 10.5, 10.495, 11.0],
     "codes": [-1, 0, 0, 0],
     "consumption": [nan, 0.5, -0.005, 0.505]},
]


@_cases(REGISTER)
def test_register_table(case):
    codes, consumption = K.classify_register(np.array(case["values"]), None, **case["params"])
    np.testing.assert_array_equal(codes, case["codes"])
    _assert_equal(consumption, case["consumption"])


# -- robust z: a 3-hour voltage sag on a 220 V service ---------------------------------------

def _voltage_days(days=3, seed=3):
    """15-minute phase voltage of a 220 V service: daily swing +-3 V, 0.3 V noise, 0.1 V
    resolution, a few missing readings."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 96)
    v = 222.0 - 3.0 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.3, t.size)
    v = np.round(v, 1)
    v[[i for i in (17, 130, 131) if i < v.size]] = nan
    return v


def test_voltage_sag_is_a_robust_z_outlier():
    v = _voltage_days()
    sag = np.arange(2 * 96 + 40, 2 * 96 + 52)  # 10:00-13:00 on day 3: 12 intervals
    v[sag] = np.round(v[sag] - 29.0, 1)  # ~193 V: below 220 V - 10 % (GB/T 12325-2008, 4.3)
    v[sag[3]] = nan  # one missing reading inside the sag
    z = K.rolling_robust_z(v, None, 96)
    flagged = np.flatnonzero(np.abs(z) > 5.0)
    np.testing.assert_array_equal(flagged, np.setdiff1d(sag, [sag[3]]))
    assert (z[sag[[0, 1, 2, 4]]] < -5.0).all()  # a sag is negative
    assert np.isnan(z[sag[3]])  # the missing slot gets no score


def test_single_spike_is_a_robust_z_outlier_centred_window():
    v = _voltage_days(days=1)
    v[50] = 245.0
    z = K.rolling_robust_z(v, None, 25, center=True)
    assert np.flatnonzero(np.abs(z) > 5.0).tolist() == [50]


# -- daily max vs 3rd max ---------------------------------------------------------------------

SPIKE = [
    {"id": "one corrupt interval on day 2", "params": {"rank": 3},
     "values": [0.5, 0.9, 1.1, 0.7, nan, 0.6, 0.8, 0.9, 9.6, 1.0],
     "day": [0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
     "ratio_over_3": [8]},
    {"id": "two-interval spike still stands out against the 3rd max", "params": {"rank": 3},
     "values": [0.6, 0.8, 7.9, 8.4, 0.7, 0.9],
     "day": [0, 0, 0, 0, 0, 0],
     "ratio_over_3": [2, 3]},
    {"id": "a real peak has neighbours of similar size", "params": {"rank": 3},
     "values": [0.6, 2.8, 3.1, 2.9, 0.7, 0.5],
     "day": [0, 0, 0, 0, 0, 0],
     "ratio_over_3": []},
    {"id": "day with a zero 3rd max: no ratio", "params": {"rank": 3},
     "values": [0.0, 0.0, 0.0, 4.0, 0.0, 0.0],
     "day": [0, 0, 0, 0, 0, 0],
     "ratio_over_3": []},
]


@_cases(SPIKE)
def test_spike_table(case):
    ratio = K.daily_peak_ratio(np.array(case["values"]), None, np.array(case["day"]),
                               **case["params"])
    assert np.flatnonzero(ratio > 3.0).tolist() == case["ratio_over_3"]


# -- events -----------------------------------------------------------------------------------

EVENTS = [
    {"id": "outage with one reading inside is one event", "params": {"max_gap": 1},
     "flags": [0, 1, 1, 0, 1, 1, 0, 0, 1], "scores": [0, 3, 5, 9, 4, 2, 0, 0, 1],
     "expected": [(0, 1, 6, 2), (0, 8, 9, 8)]},
    {"id": "short blips dropped", "params": {"min_len": 2},
     "flags": [1, 0, 1, 1, 1, 0, 1], "scores": None,
     "expected": [(0, 2, 5, 2)]},
    {"id": "NaN score never the peak", "params": {},
     "flags": [1, 1, 1], "scores": [nan, 2.0, 1.0],
     "expected": [(0, 0, 3, 1)]},
]


@_cases(EVENTS)
def test_events_table(case):
    scores = None if case["scores"] is None else np.array(case["scores"], dtype=float)
    got = K.flags_to_events(np.array(case["flags"], dtype=bool), None, scores,
                            **case["params"])
    assert list(zip(*(c.tolist() for c in got))) == case["expected"]


# -- level shift: consumption drops after a bypass --------------------------------------------

def test_level_shift_finds_the_day_consumption_dropped():
    rng = np.random.default_rng(5)
    daily_kwh = np.r_[rng.normal(12.0, 1.5, 40), rng.normal(5.0, 1.2, 30)]
    daily_kwh[[10, 55]] = nan
    daily_kwh[20] = 30.0  # one party: a spike, not a level shift
    shift, score = K.level_shift(daily_kwh, None, 10)
    assert K.change_index(score).tolist() == [40]
    assert -8.5 < shift[40] < -5.5
    assert np.nanmax(score[:30]) < score[40] / 3


def test_level_shift_of_a_clean_step_is_infinite_and_centred():
    v = np.r_[np.full(30, 230.0), np.full(30, 236.0)]  # tap change on the transformer
    shift, score = K.level_shift(v, None, 8)
    assert np.isinf(score[30]) and shift[30] == 6.0
    assert K.change_index(score).tolist() == [30]
    _, floored = K.level_shift(v, None, 8, min_scale=0.5)
    assert floored[30] == 12.0


# -- seasonal residual: an unusual afternoon on a workday -------------------------------------

def test_seasonal_residual_flags_the_unusual_afternoon_only():
    n_slots = 24
    days = 21
    t = np.arange(days * n_slots)
    hour = t % n_slots
    weekday = (t // n_slots) % 7
    day_type = (weekday >= 5).astype(np.int8)  # 0 workday, 1 weekend
    shape = np.where(day_type == 0, 1.0 + 1.5 * ((hour >= 8) & (hour < 18)),
                     0.8 + 0.4 * (hour >= 10))
    rng = np.random.default_rng(11)
    load = shape + rng.normal(0, 0.05, t.size)
    load[[30, 31]] = nan
    odd = 16 * n_slots + 15  # Tuesday of week 3, 15:00
    load[odd] = 0.4  # works-closed level in working hours
    expected, residual, z = K.seasonal_residual_z(load, None, hour, day_type, n_slots=n_slots,
                                                  n_day_types=2, n_history=3, window=7 * 24)
    assert np.flatnonzero(np.abs(z) > 6).tolist() == [odd]
    assert abs(expected[odd] - 2.5) < 0.2
