"""Statistical detectors: rolling robust z, seasonal residual, level shift, CUSUM.

They report what the rule-based VEE checks of :mod:`.meter` cannot name: a value far from its
recent neighbours (``outlier``), a value far from what the same time of day on like days
usually shows (``seasonal_anomaly``), and a lasting move to a new level with its date
(``level_shift``: a bypass, a CT-ratio change, a new tenant), found two ways: by adjacent
windows (:class:`LevelShiftDetector`) and by a sequential robust CUSUM (:class:`CusumDetector`).
Both report kind ``level_shift`` dated at the change, so one shift seen by both merges into
one event (:func:`griddiag.detectors.base.merge_findings`). Scores are robust (medians and
MADs), so the anomalies they look for do not hide themselves by inflating the spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from griddiag import kernels as K
from griddiag.detectors.base import (
    Detector,
    Evaluation,
    daily_grid,
    fmt,
    local_time_text,
    per_interval,
    slots,
)
from griddiag.detectors.grid import Grid, daily_totals

__all__ = ["CusumDetector", "LevelShiftDetector", "RobustZDetector",
           "SeasonalResidualDetector"]

_NUMERIC = ("interval_energy", "instantaneous")


@dataclass(frozen=True, kw_only=True)
class RobustZDetector(Detector):
    """Rolling robust z-score (Hampel identifier; Pearson 2002, IEEE TCST 10:55).

    Score: ``|x - median| / (1.4826 MAD)`` over a trailing window
    (:func:`griddiag.kernels.rolling_robust_z`). Flag: score >= ``z_min``.

    Parameters
    ----------
    window_hours : float
        Trailing window.
    z_min : float
        Threshold on ``|z|``.
    min_scale : float
        Floor of the robust sigma in the metric's unit (its resolution).
    """

    name: ClassVar[str] = "robust_z"
    kind: ClassVar[str] = "outlier"
    metric_kinds: ClassVar[tuple[str, ...]] = _NUMERIC
    rule: ClassVar[str] = ("rolling robust z-score |x - median| / (1.4826 MAD) "
                           "(Hampel identifier)")
    action: ClassVar[str] = ("Check the reading against the meter or sensor; if it is real, "
                             "look for an operating event at that time.")

    window_hours: float = 7 * 24.0
    z_min: float = 8.0
    min_scale: float = 0.01

    def evaluate(self, grid: Grid) -> Evaluation:
        def run(g: Grid, step: int):
            med, _, z = K.rolling_robust_stats(g.values, g.offsets,
                                               slots(self.window_hours, step),
                                               min_scale=self.min_scale, mad=False)
            return med, z

        med, z = per_interval(grid, run)
        # z is this call's own array: |z| in place, like the MAD left out above, saves an
        # array of the batch's size (8 bytes a value: 280 MB for 1,000 meters x a year of
        # 15-minute data)
        score = np.abs(z, out=z)
        with np.errstate(invalid="ignore"):
            return Evaluation(score, score >= self.z_min, med)

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = local_time_text(events, "peak_ts", "peak_text")
        return events.with_columns(
            (pl.col("observed") - pl.col("expected")).alias("magnitude"),
            pl.format("{} {} at {} against a median of {} {} over the previous {} h "
                      "(robust z {}).", fmt("observed", 3), "unit", "peak_text",
                      fmt("expected", 3), "unit", pl.lit(f"{self.window_hours:g}"),
                      fmt("score", 1)).alias("reason"),
        )


@dataclass(frozen=True, kw_only=True)
class SeasonalResidualDetector(Detector):
    """Residual from a time-of-day x day-type profile, robustly scaled.

    Expected: the median of the same slot of day on the last ``n_history`` like days
    (workday, rest day, public holiday in the asset's local calendar; holidays from the
    ``holidays`` package) within ``max_age_days``; the residual's rolling robust z over
    ``window_hours`` is the score (:func:`griddiag.kernels.seasonal_residual_z`). Flag:
    ``|z| >= z_min``.
    """

    name: ClassVar[str] = "seasonal_residual"
    kind: ClassVar[str] = "seasonal_anomaly"
    metric_kinds: ClassVar[tuple[str, ...]] = _NUMERIC
    rule: ClassVar[str] = ("seasonal residual: x minus the median of the same time of day on "
                           "like days (workday/rest day/holiday), robust z of the residual")
    action: ClassVar[str] = ("Compare with the customer's or feeder's operating schedule; an "
                             "unexplained departure from the usual daily shape deserves a "
                             "site check.")
    needs_calendar: ClassVar[bool] = True

    n_history: int = 4
    min_history: int = 2
    max_age_days: int = 56
    window_hours: float = 7 * 24.0
    z_min: float = 8.0
    min_scale: float = 0.01

    def evaluate(self, grid: Grid) -> Evaluation:
        cal = grid.calendar

        def run(g: Grid, step: int):
            c = g.calendar
            per_day = max(int(86_400_000_000 // step), 1)
            exp, _, z = K.seasonal_residual_z(
                g.values, g.offsets, np.minimum(c.slot_of_day, per_day - 1), c.day_type,
                n_slots=per_day, n_day_types=3, n_history=self.n_history,
                min_history=self.min_history, max_age=self.max_age_days * per_day,
                window=slots(self.window_hours, step), min_scale=self.min_scale)
            return exp, z

        assert cal is not None
        exp, z = per_interval(grid, run)
        score = np.abs(z, out=z)  # this call's own array, as in RobustZDetector
        with np.errstate(invalid="ignore"):
            return Evaluation(score, score >= self.z_min, exp)

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = local_time_text(events, "peak_ts", "peak_text")
        return events.with_columns(
            (pl.col("observed") - pl.col("expected")).alias("magnitude"),
            pl.format("{} {} at {} where like days at that time of day show {} {} "
                      "(robust z of the residual {}).", fmt("observed", 3), "unit",
                      "peak_text", fmt("expected", 3), "unit", fmt("score", 1))
            .alias("reason"),
        )


@dataclass(frozen=True, kw_only=True)
class LevelShiftDetector(Detector):
    """A lasting move to a new level, dated.

    Interval energy is judged on local-day totals (a theft or a new tenant changes days, not
    single intervals), other metrics on their slots. Score at each point: the difference of
    the medians of the ``window_days`` before and after, over the pooled robust spread
    (:func:`griddiag.kernels.level_shift`; ADTK's ``LevelShiftAD`` double window, robustly
    scaled). Flag: score >= ``score_min`` and a relative change of at least
    ``min_relative_change``. The event's peak is the change date (start of the finding).
    """

    name: ClassVar[str] = "level_shift"
    kind: ClassVar[str] = "level_shift"
    metric_kinds: ClassVar[tuple[str, ...]] = _NUMERIC
    rule: ClassVar[str] = ("level shift: median after minus median before over adjacent "
                           "windows, scaled by the pooled MAD")
    action: ClassVar[str] = ("Ask whether the customer's use changed on that date; if not, "
                             "inspect the meter, its seals and CT wiring.")
    needs_calendar: ClassVar[bool] = True
    context_hours: ClassVar[float] = 0.0

    window_days: float = 28.0
    score_min: float = 4.0
    min_relative_change: float = 0.5
    min_coverage: float = 0.9
    max_gap: int = 3

    def prepare(self, grid: Grid) -> Grid:
        energy = grid.series["metric"].str.starts_with("energy_").to_numpy()
        if energy.all() and grid.n_series:
            return daily_grid(grid, self.min_coverage)
        return grid

    def evaluate(self, grid: Grid) -> Evaluation:
        def run(g: Grid, step: int):
            w = slots(self.window_days * 24.0, step)
            shift, score = K.level_shift(g.values, g.offsets, w)
            before = K.rolling_median(g.values, g.offsets, w)
            prev = np.full_like(before, np.nan)
            prev[1:] = before[:-1]
            starts = g.offsets[:-1][g.offsets[:-1] < prev.shape[0]]
            prev[starts] = np.nan
            return shift, score, prev

        shift, score, before = per_interval(grid, run)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(shift) / np.abs(before)
            flags = (score >= self.score_min) & (rel >= self.min_relative_change)
        return Evaluation(score, flags, before, observed=before + shift)

    def score(self, grid: Grid) -> np.ndarray:
        work = self.prepare(grid)
        if work is grid:
            return self.evaluate(grid).score
        daily, day_of_slot = daily_totals(grid, min_coverage=self.min_coverage)
        s = self.evaluate(daily).score
        return np.where(np.isfinite(grid.values), s[day_of_slot], np.nan) if s.size else s

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        # the finding starts at the change; observed = level after it
        events = events.with_columns(
            pl.col("peak_ts").alias("start"),
        )
        events = local_time_text(events, "peak_ts", "peak_text")
        return events.with_columns(
            (pl.col("observed") - pl.col("expected")).alias("magnitude"),
            pl.format("The level of {} changed around {}: from a median of {} {} per "
                      "{}-min interval before to {} {} after (score {}).", "metric",
                      "peak_text", fmt("expected", 3), "unit", fmt("interval_min", 0),
                      fmt("observed", 3), "unit", fmt("score", 1)).alias("reason"),
        )


@dataclass(frozen=True, kw_only=True)
class CusumDetector(Detector):
    """A lasting move to a new level, found sequentially by a robust CUSUM and dated.

    Page's two-sided CUSUM (Page 1954, Biometrika 41:100; Montgomery, *Introduction to
    Statistical Quality Control*, ch. 9) on values standardised by the median and MAD of the
    ``window_days`` before the current excursion, clipped at ``clip`` robust sigmas
    (:func:`griddiag.kernels.cusum`). Interval energy is judged on local-day totals, as by
    :class:`LevelShiftDetector`. An alarm (a sum above ``threshold``) is a finding when the
    level of the ``window_days`` after the dated change differs from the reference level by at
    least ``min_relative_change`` (the shift lasts; a heat wave or a holiday week does not).

    Unlike the windowed level shift, which needs a whole window on both sides of every slot,
    the CUSUM raises its alarm a few days after the change (how soon grows with the shift's
    size), so it serves a monitoring run; its finding reports kind ``level_shift``, starts at
    the change date and ends at the alarm, and merges with the windowed detector's finding of
    the same shift.

    Parameters
    ----------
    window_days : float
        Reference window before an excursion, and the window after a change whose median is
        the new level.
    drift, threshold, clip : float
        Page's ``k`` and ``h`` and the clipping, in robust sigmas.
    min_relative_change : float
        Smallest ``|level after - level before| / |level before|`` reported.
    min_scale : float
        Floor of the robust sigma (the metric's unit; its resolution).
    """

    name: ClassVar[str] = "cusum"
    kind: ClassVar[str] = "level_shift"
    metric_kinds: ClassVar[tuple[str, ...]] = _NUMERIC
    rule: ClassVar[str] = ("robust CUSUM (Page 1954): median/MAD-standardised, clipped values; "
                           "alarm when a one-sided sum passes h, change dated where it last "
                           "stood at zero")
    action: ClassVar[str] = LevelShiftDetector.action
    needs_calendar: ClassVar[bool] = True
    context_hours: ClassVar[float] = 0.0

    window_days: float = 28.0
    drift: float = 1.0
    threshold: float = 10.0
    clip: float = 4.0
    min_relative_change: float = 0.5
    min_coverage: float = 0.9
    min_scale: float = 0.01

    prepare = LevelShiftDetector.prepare
    score = LevelShiftDetector.score

    def evaluate(self, grid: Grid) -> Evaluation:
        def run(g: Grid, step: int):
            w = slots(self.window_days * 24.0, step)
            stat, change, ref = K.cusum(g.values, g.offsets, w, drift=self.drift,
                                        threshold=self.threshold, clip=self.clip,
                                        min_scale=self.min_scale)
            # the new level: the median of the window starting at the change (trailing
            # window ending at change + w - 1), only when it lies whole inside the series
            trailing = K.rolling_median(g.values, g.offsets, w)
            end = np.repeat(g.offsets[1:], np.diff(g.offsets))
            last = change + w - 1
            ok = (change >= 0) & (last < end)
            after = np.full(g.values.shape[0], np.nan)
            after[ok] = trailing[last[ok]]
            begin = g.ts_us.copy()
            begin[change >= 0] = g.ts_us[change[change >= 0]]
            return np.abs(stat), ref, after, begin

        score, ref, after, begin = per_interval(grid, run)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(after - ref) / np.abs(ref)
            flags = rel >= self.min_relative_change
        return Evaluation(score, flags, ref, begin_us=begin, observed=after)

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = local_time_text(local_time_text(events, "start", "start_text"), "peak_ts",
                                 "peak_text")
        return events.with_columns(
            (pl.col("observed") - pl.col("expected")).alias("magnitude"),
            pl.format("The level of {} changed around {}: from a median of {} {} per "
                      "{}-min interval before to {} {} after; the CUSUM crossed its limit on "
                      "{} (sum {} robust sigmas).", "metric", "start_text",
                      fmt("expected", 3), "unit", fmt("interval_min", 0), fmt("observed", 3),
                      "unit", "peak_text", fmt("score", 1)).alias("reason"),
        )
