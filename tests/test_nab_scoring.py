"""NAB scoring (benchmarks/nab_scoring.py) on cases computed by hand from NAB's rules.

The hand values use sigma(x) = 2 / (1 + exp(5 x)) - 1 written out, not the module's function,
so a wrong formula in the module cannot agree with itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.nab_scoring import (
    PROFILES,
    CostProfile,
    normalised,
    probationary_length,
    scaled_sigmoid,
    score_file,
    sweep_scores,
    window_rows,
)

STD = PROFILES["standard"]
MAX_TP = 2.0 / (1.0 + math.exp(-5.0)) - 1.0  # sigma(-1) = 0.986614...


def test_scaled_sigmoid_published_points():
    # NAB's description: -1 -> 0.98661 (window start), -0.5 -> 0.84828, 0 -> 0 (window end),
    # 1 -> -0.98661, and -1 from 3 window widths on
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0
    assert scaled_sigmoid(2.9) == pytest.approx(2.0 / (1.0 + math.exp(14.5)) - 1.0)


def test_profiles_are_nabs_cost_matrices():
    assert PROFILES["standard"] == CostProfile(tp=1.0, fp=0.11, fn=1.0, tn=1.0)
    assert PROFILES["reward_low_FP_rate"] == CostProfile(tp=1.0, fp=0.22, fn=1.0, tn=1.0)
    assert PROFILES["reward_low_FN_rate"] == CostProfile(tp=1.0, fp=0.11, fn=2.0, tn=1.0)


def test_probationary_length():
    assert probationary_length(100) == 15  # floor(0.15 * 100)
    assert probationary_length(4032) == 604
    assert probationary_length(22695) == 750  # capped at 0.15 * 5000


# one file of 100 rows, probation rows 0..14, one window rows 40..49 (width 10)
N, WIN = 100, [(40, 49)]


def test_detection_at_window_start_earns_full_tp():
    s = score_file(N, WIN, [40], STD)
    assert s.score == pytest.approx(1.0)  # A_TP * sigma(-1) / sigma(-1)
    assert (s.tp, s.fn, s.fp) == (1, 0, 0)


def test_detection_at_window_end_earns_little():
    # p = -(49 - 49 + 1) / 10 = -0.1 -> sigma = 2 / (1 + e^-0.5) - 1 = 0.244919
    s = score_file(N, WIN, [49], STD)
    assert s.score == pytest.approx((2.0 / (1.0 + math.exp(-0.5)) - 1.0) / MAX_TP)
    assert s.score == pytest.approx(0.248242, abs=1e-6)


def test_only_the_earliest_detection_of_a_window_counts():
    # rows 45 and 42: p(42) = -(49 - 42 + 1) / 10 = -0.8; the later one is neither reward
    # nor cost
    s = score_file(N, WIN, [45, 42, 48], STD)
    assert s.score == pytest.approx((2.0 / (1.0 + math.exp(-4.0)) - 1.0) / MAX_TP)
    assert (s.tp, s.fp, s.detections) == (1, 0, 1)


def test_false_positive_after_a_window_scaled_by_distance():
    # row 60: p = (60 - 49) / (10 - 1) = 1.2222 -> sigma = 2 / (1 + e^6.111) - 1 = -0.995586
    fp = 0.11 * (2.0 / (1.0 + math.exp(5.0 * 11.0 / 9.0)) - 1.0)
    s = score_file(N, WIN, [40, 60], STD)
    assert s.score == pytest.approx(1.0 + fp)
    assert fp == pytest.approx(-0.109514, abs=1e-6)
    # just after the window (row 50: p = 1/9) the cost is smaller
    near = 0.11 * (2.0 / (1.0 + math.exp(5.0 / 9.0)) - 1.0)
    assert score_file(N, WIN, [50], STD).score == pytest.approx(-1.0 + near)
    assert abs(near) < abs(fp)
    # far after it (p >= 3, row 49 + 27): the full -A_FP
    assert score_file(N, WIN, [76], STD).score == pytest.approx(-1.0 - 0.11)


def test_false_positive_before_first_window_costs_full_fp_and_miss_costs_fn():
    s = score_file(N, WIN, [30], STD)
    assert s.score == pytest.approx(-0.11 - 1.0)  # FP at sigma(3) = -1, window missed
    assert (s.tp, s.fn, s.fp) == (0, 1, 1)


def test_probationary_detections_are_ignored():
    s = score_file(N, WIN, [0, 14], STD)
    assert s.score == pytest.approx(-1.0)
    assert s.detections == 0
    # row 15 is the first scored row
    assert score_file(N, WIN, [15], STD).score == pytest.approx(-1.0 - 0.11)


def test_window_inside_probation_is_not_scored():
    s = score_file(N, [(2, 10)], [], STD)
    assert (s.score, s.null, s.perfect, s.fn) == (0.0, 0.0, 1.0, 0)
    # a window straddling the probation end is scored (rows 10..20, rows 15..20 count)
    s = score_file(N, [(10, 20)], [], STD)
    assert s.score == -1.0 and s.fn == 1


def test_profiles_change_the_weights():
    low_fn = PROFILES["reward_low_FN_rate"]
    assert score_file(N, WIN, [], low_fn).score == -2.0
    low_fp = PROFILES["reward_low_FP_rate"]
    assert score_file(N, WIN, [40, 76], low_fp).score == pytest.approx(1.0 - 0.22)


def test_two_windows_false_positive_measured_from_previous_window():
    # windows rows 20..29 and 60..69 in 100 rows; detection at 35: after window 0,
    # p = (35 - 29) / 9 = 0.6667
    wins = [(20, 29), (60, 69)]
    s = score_file(N, wins, [35, 60], STD)
    fp = 0.11 * (2.0 / (1.0 + math.exp(5.0 * 6.0 / 9.0)) - 1.0)
    assert s.score == pytest.approx(-1.0 + fp + 1.0)
    assert (s.tp, s.fn, s.fp, s.windows) == (1, 1, 1, 2)
    assert (s.null, s.perfect) == (-2.0, 2.0)


def test_one_row_window_does_not_divide_by_zero():
    s = score_file(N, [(40, 40)], [40, 41], STD)
    assert s.score == pytest.approx(1.0 - 0.11)


def test_sweep_scores_labels_rows():
    score, window = sweep_scores(N, WIN, STD)
    assert (window[:15] == -2).all() and (window[40:50] == 0).all()
    assert (window[15:40] == -1).all() and (window[50:] == -1).all()
    assert score[40] == pytest.approx(1.0) and score[49] > 0 > score[50]
    assert np.all(np.diff(score[40:50]) < 0)  # earlier is better


def test_normalised():
    assert normalised(-5.0, -5.0, 5.0) == 0.0
    assert normalised(5.0, -5.0, 5.0) == 100.0
    assert normalised(0.0, -4.0, 4.0) == 50.0
    with pytest.raises(ValueError, match="undefined"):
        normalised(0.0, 0.0, 0.0)


def test_window_rows_from_timestamps_with_repeats_and_disorder():
    ts = np.array(["2014-03-09 01:55", "2014-03-09 03:00", "2014-03-09 03:00",
                   "2014-03-09 03:05", "2014-03-09 02:50", "2014-03-09 03:10",
                   "2014-03-09 03:15"], dtype="datetime64[us]")
    # 02:50 stands after 03:05 in the file: it belongs to the running time 03:05
    assert window_rows(ts, [("2014-03-09 03:00", "2014-03-09 03:05")]) == [(1, 4)]
    assert window_rows(ts, [("2014-03-09 03:10", "2014-03-09 03:15")]) == [(5, 6)]
    with pytest.raises(ValueError, match="holds no row"):
        window_rows(ts, [("2014-03-10", "2014-03-11")])
    with pytest.raises(ValueError, match="overlaps"):
        window_rows(ts, [("2014-03-09 03:00", "2014-03-09 03:10"),
                         ("2014-03-09 03:05", "2014-03-09 03:15")])


def test_bad_detection_rows_are_refused():
    with pytest.raises(ValueError, match="detection rows"):
        score_file(N, WIN, [100], STD)
    with pytest.raises(ValueError, match="detection rows"):
        score_file(N, WIN, [-1], STD)


def test_empty_file_without_windows():
    s = score_file(0, [], [], STD)
    assert (s.score, s.null, s.perfect) == (0.0, 0.0, 0.0)
