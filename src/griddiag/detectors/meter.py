"""Meter data validation: the VEE (validation, editing, estimation) families of utility
meter-data management systems, as detectors over the kernels.

Each class checks one rule and reports one finding kind (the register check reports three):

======================  =================  ===============================================
detector                kind               rule
======================  =================  ===============================================
``gap``                 gap                missing intervals (any metric)
``spike``               spike              robust z against a rolling median/MAD *and* the
                                           day's max against its third-largest value
``zero_run``            zero_consumption   a run of zero interval energy on an active meter
``flatline``            flatline           a non-zero value repeated (stuck register/sensor)
``negative_energy``     negative_energy    negative interval energy
``register``            rollback,          a register decrease that is not a rollover at
                        meter_exchange     its digit limit; a reset to a new baseline
``usage``               high_usage,        a day's energy against the same day type of the
                        low_usage          asset's own trailing weeks
======================  =================  ===============================================

Duplicate and conflicting timestamps are not a detector's business: ingest rejects them into
the quarantine with a reason (``griddiag.ingest``), so the store, and therefore the grid,
holds one value per interval at most. The rules follow the VEE checks utilities publish for
interval data (e.g. the "spike check", "zero consumption on active meter", "register rollover
/ meter change" and "high/low usage" checks of Itron MDM and Oracle MDM rule sets); the
thresholds are the profile's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import polars as pl

from griddiag import kernels as K
from griddiag.detectors.base import Detector, Evaluation, fmt, local_time_text, per_interval, slots
from griddiag.detectors.grid import Grid, daily_totals
from griddiag.exceptions import ConfigError
from griddiag.kernels.register import RESET, ROLLBACK, ROLLOVER

__all__ = [
    "FlatlineDetector",
    "GapDetector",
    "NegativeEnergyDetector",
    "RegisterDetector",
    "SpikeDetector",
    "UsageDetector",
    "ZeroRunDetector",
]

_ALL_KINDS = ("interval_energy", "cumulative_register", "instantaneous")
_VEE = "meter-data VEE"


def _hours_of_slot(grid: Grid, run_length: np.ndarray) -> np.ndarray:
    return run_length * grid.interval_of_slot() / 3.6e9


def _series_median(grid: Grid) -> np.ndarray:
    """Median of each series' valid values (NaN if none), vectorised through polars."""
    sid = grid.series_of_slot()
    frame = pl.DataFrame({"s": sid, "v": grid.values}).filter(pl.col("v").is_finite())
    med = frame.group_by("s").agg(pl.col("v").median())
    out = np.full(grid.n_series, np.nan)
    out[med["s"].to_numpy()] = med["v"].to_numpy()
    return out


def _with_times(events: pl.DataFrame) -> pl.DataFrame:
    events = local_time_text(events, "start", "start_text")
    return local_time_text(events, "end", "end_text")


@dataclass(frozen=True, kw_only=True)
class GapDetector(Detector):
    """Missing intervals: runs of slots without a valid reading.

    Score: the length of the gap a missing slot belongs to, in hours (NaN at present slots:
    this detector scores missingness). Flag: ``hours >= min_hours``.

    Parameters
    ----------
    min_hours : float
        Shortest gap reported (0: any missing interval, the VEE default).
    """

    name: ClassVar[str] = "gap"
    kind: ClassVar[str] = "gap"
    metric_kinds: ClassVar[tuple[str, ...]] = _ALL_KINDS
    rule: ClassVar[str] = f"{_VEE}: missing interval check (no reading for a slot)"
    action: ClassVar[str] = ("Check the meter's communication path (concentrator, modem, "
                             "head-end) and re-read the missing intervals from the meter's "
                             "load-profile memory.")
    scores_missing: ClassVar[bool] = True

    min_hours: float = 0.0
    critical_at: float | None = 24.0

    def evaluate(self, grid: Grid) -> Evaluation:
        run = K.nan_runs(grid.values, grid.offsets)
        hours = _hours_of_slot(grid, run)
        score = np.where(run > 0, hours, np.nan)
        return Evaluation(score, (run > 0) & (hours >= self.min_hours))

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = _with_times(events)
        return events.with_columns(
            pl.lit("h").alias("unit"), pl.col("duration_h").alias("magnitude"),
            pl.lit(None, pl.Float64).alias("observed"),
            pl.format("No {} readings for {} h ({} intervals of {} min) from {} to {}. "
                      "Duplicate or conflicting timestamps are not counted here: ingest "
                      "quarantines them.", "metric", fmt("duration_h"), "n_slots",
                      fmt("interval_min", 0), "start_text", "end_text").alias("reason"),
        )


@dataclass(frozen=True, kw_only=True)
class SpikeDetector(Detector):
    """Isolated high interval values.

    Score: the robust z of the slot against a centred rolling median/MAD (Hampel
    identifier; :func:`griddiag.kernels.rolling_robust_stats`). Flag: ``z >= z_min`` *and*
    the value is at least ``ratio_min`` times its local day's third-largest value (the VEE
    spike check, :func:`griddiag.kernels.daily_peak_ratio`): a real peak has neighbours of
    similar size, a corrupt reading stands alone. Requiring both keeps a busy evening (high z,
    low ratio) and a quiet day with one kettle (high ratio, low z) from being reported.

    Parameters
    ----------
    window_hours : float
        Width of the centred rolling window.
    z_min, ratio_min : float
        Thresholds on the robust z and on the day's max-vs-3rd-max ratio.
    min_scale : float
        Floor of the robust sigma in the metric's unit (the register resolution, 0.01 kWh).
    """

    name: ClassVar[str] = "spike"
    kind: ClassVar[str] = "spike"
    metric_kinds: ClassVar[tuple[str, ...]] = ("interval_energy",)
    rule: ClassVar[str] = (f"{_VEE}: spike check (robust z vs rolling median/MAD, Hampel "
                           "identifier; day max vs 3rd-largest)")
    action: ClassVar[str] = ("Compare the interval with the register reading of that day; if "
                             "the register does not show the energy, mark the interval for "
                             "estimation and check the meter's clock and firmware.")
    needs_calendar: ClassVar[bool] = True

    window_hours: float = 24.0
    z_min: float = 10.0
    ratio_min: float = 3.0
    min_scale: float = 0.01

    def evaluate(self, grid: Grid) -> Evaluation:
        def run(g: Grid, step: int):
            med, _, z = K.rolling_robust_stats(g.values, g.offsets,
                                               slots(self.window_hours, step) | 1,
                                               center=True, min_scale=self.min_scale)
            return med, z

        med, z = per_interval(grid, run)
        ratio = K.daily_peak_ratio(grid.values, grid.offsets, grid.calendar.day)
        with np.errstate(invalid="ignore"):
            flags = (z >= self.z_min) & (ratio >= self.ratio_min)
        return Evaluation(z, flags, med)

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = local_time_text(events, "peak_ts", "peak_text")
        return events.with_columns(
            (pl.col("observed") - pl.col("expected")).alias("magnitude"),
            pl.format("{} {} reported at {}, where the surrounding {} h have a median of {} "
                      "{} (robust z {}); the day's other values do not come close.",
                      fmt("observed", 3), "unit", "peak_text", pl.lit(f"{self.window_hours:g}"),
                      fmt("expected", 3), "unit", fmt("score", 1)).alias("reason"),
        )


@dataclass(frozen=True, kw_only=True)
class ZeroRunDetector(Detector):
    """Zero consumption on an active meter.

    Score: the length (hours) of the run of ``|x| <= tolerance`` a slot belongs to
    (:func:`griddiag.kernels.zero_runs`); 0 at non-zero slots. Flag: ``hours >= min_hours``
    on a series whose median interval value exceeds ``tolerance`` (the meter is normally in
    use; a meter that is zero most of the time is vacant, not faulty).

    Parameters
    ----------
    min_hours : float
        Shortest zero run reported.
    tolerance : float
        Values with ``|x| <= tolerance`` count as zero (the metric's unit).
    """

    name: ClassVar[str] = "zero_run"
    kind: ClassVar[str] = "zero_consumption"
    metric_kinds: ClassVar[tuple[str, ...]] = ("interval_energy",)
    rule: ClassVar[str] = f"{_VEE}: zero consumption on an active meter"
    action: ClassVar[str] = ("Check whether supply was interrupted or the customer "
                             "disconnected (outage log, disconnection orders); otherwise "
                             "inspect the meter and its wiring on site (bypass, stopped "
                             "element).")

    min_hours: float = 4.0
    tolerance: float = 0.0
    critical_at: float | None = 72.0

    def evaluate(self, grid: Grid) -> Evaluation:
        run = K.zero_runs(grid.values, grid.offsets, tolerance=self.tolerance)
        hours = _hours_of_slot(grid, run)
        valid = np.isfinite(grid.values)
        score = np.where(valid, hours, np.nan)
        typical = np.repeat(_series_median(grid), np.diff(grid.offsets))
        active = typical > self.tolerance
        return Evaluation(score, (run > 0) & (hours >= self.min_hours) & active, typical)

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = _with_times(events)
        return events.with_columns(
            pl.lit("h").alias("unit"), pl.col("duration_h").alias("magnitude"),
            pl.format("Zero consumption for {} h from {} to {} on a meter that normally "
                      "records {} kWh per {}-min interval.", fmt("duration_h"),
                      "start_text", "end_text", fmt("expected", 3),
                      fmt("interval_min", 0)).alias("reason"),
        )


@dataclass(frozen=True, kw_only=True)
class FlatlineDetector(Detector):
    """A non-zero value repeated: a stuck register, a frozen sensor, a copied interval.

    Score: the duration (hours) of the flat run a slot belongs to
    (:func:`griddiag.kernels.constant_runs`, range ``<= tolerance``). For interval values a
    run of ``n`` slots lasts ``n`` intervals; for a cumulative register it lasts ``n - 1``
    (the first reading of the run is a genuine reading; the repeats are the suspects, and only
    they are flagged). Zero runs are :class:`ZeroRunDetector`'s. Flag: ``hours >= min_hours``.

    Parameters
    ----------
    min_hours : float
        Shortest flat run reported (quiet nights repeat a 0.01 kWh value for a few hours).
    tolerance : float
        Largest range of values a run may span (the metric's unit).
    """

    name: ClassVar[str] = "flatline"
    kind: ClassVar[str] = "flatline"
    metric_kinds: ClassVar[tuple[str, ...]] = _ALL_KINDS
    rule: ClassVar[str] = f"{_VEE}: flat line / stuck value check"
    action: ClassVar[str] = ("Check the meter or sensor on site: a register that does not "
                             "advance while the customer is supplied, or a sensor value that "
                             "does not move, means a stuck element or a communication unit "
                             "repeating its last value.")

    min_hours: float = 12.0
    tolerance: float = 0.0

    def evaluate(self, grid: Grid) -> Evaluation:
        run = K.constant_runs(grid.values, grid.offsets, tolerance=self.tolerance)
        cumulative = _is_register(grid)
        steps = np.where(cumulative, np.maximum(run - 1, 0), run)
        hours = _hours_of_slot(grid, steps)
        valid = np.isfinite(grid.values)
        score = np.where(valid, hours, np.nan)
        with np.errstate(invalid="ignore"):
            flags = (hours >= self.min_hours) & (np.abs(grid.values) > self.tolerance)
        # registers: leave each run's first reading unflagged
        first = np.zeros(run.shape[0], dtype=bool)
        first[K.run_table(run, grid.offsets)[1]] = True
        return Evaluation(score, flags & ~(cumulative & first))

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = _with_times(events)
        return events.with_columns(
            pl.col("observed").alias("magnitude"),
            pl.format("{} stayed at {} {} for {} h ({} readings) from {} to {}.", "metric",
                      fmt("observed", 3), "unit", fmt("duration_h"), "n_slots",
                      "start_text", "end_text").alias("reason"),
        )


def _is_register(grid: Grid) -> np.ndarray:
    """Per slot: whether its series is a cumulative register."""
    from griddiag.schema import METRICS

    kinds = grid.series["metric"].replace_strict(
        {k: m.kind for k, m in METRICS.items()}, default="").to_numpy()
    return np.repeat(kinds == "cumulative_register", np.diff(grid.offsets))


@dataclass(frozen=True, kw_only=True)
class NegativeEnergyDetector(Detector):
    """Negative interval energy on an import (or export) channel.

    Score: ``-x`` (how far below zero, in kWh). Flag: ``x < -tolerance``. Each channel of an
    interval-energy metric counts one direction, so a negative value is a reversed
    connection, a CT polarity error or a sign convention mixed up in the head-end export.
    """

    name: ClassVar[str] = "negative_energy"
    kind: ClassVar[str] = "negative_energy"
    metric_kinds: ClassVar[tuple[str, ...]] = ("interval_energy",)
    rule: ClassVar[str] = f"{_VEE}: negative interval value on a unidirectional channel"
    action: ClassVar[str] = ("Check the meter's wiring on site (line/load or CT polarity "
                             "reversed) and the head-end's sign convention for this channel.")

    tolerance: float = 0.0

    def evaluate(self, grid: Grid) -> Evaluation:
        score = -grid.values
        with np.errstate(invalid="ignore"):
            flags = grid.values < -self.tolerance
        return Evaluation(score, flags, np.zeros_like(score))

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = _with_times(events)
        return events.with_columns(
            pl.col("total").alias("magnitude"),
            pl.format("{} was negative for {} h ({} intervals) from {} to {}: {} {} in all, "
                      "down to {} {}; an import channel cannot count backwards.", "metric",
                      fmt("duration_h"), "n_slots", "start_text", "end_text",
                      fmt("total", 3), "unit", fmt("vmin", 3), "unit").alias("reason"),
        )


@dataclass(frozen=True, kw_only=True)
class RegisterDetector(Detector):
    """Register decreases, told apart (:func:`griddiag.kernels.classify_register`).

    A decrease is a *rollover* when it wraps at the register's limit
    ``10 ** register_digits`` kWh (assets frame; a 5-digit register shows 99999.99 and wraps
    to 0) with a plausible consumption; a *meter exchange* when it falls to a new baseline near
    zero and carries on from there; any other decrease is a *rollback*. Rollovers are normal
    and not reported unless ``report_rollover``; exchanges are reported as ``info``.

    Score: the decrease in kWh (NaN where there is no step). The event of a step starts at
    the previous valid reading (the change happened between the two readings).

    Parameters
    ----------
    increment_factor, reset_fraction, tolerance
        As :func:`griddiag.kernels.classify_register`.
    report_rollover : bool
        Also report rollovers (kind ``rollover``, severity ``info``).
    """

    name: ClassVar[str] = "register"
    kind: ClassVar[str] = "rollback"
    metric_kinds: ClassVar[tuple[str, ...]] = ("cumulative_register",)
    rule: ClassVar[str] = f"{_VEE}: register decrease / rollover / meter change check"
    action: ClassVar[str] = ("Read the register on site and compare with the head-end; a "
                             "register that runs backwards needs a meter test and a tamper "
                             "inspection.")

    increment_factor: float = 10.0
    reset_fraction: float = 0.1
    tolerance: float = 0.0
    report_rollover: bool = False
    critical_at: float | None = None

    def evaluate(self, grid: Grid) -> Evaluation:
        digits = grid.series["register_digits"].cast(pl.Float64).to_numpy()
        limit = np.where(np.isfinite(digits), 10.0 ** digits, np.nan)
        codes, _ = K.classify_register(grid.values, grid.offsets, limit,
                                       increment_factor=self.increment_factor,
                                       reset_fraction=self.reset_fraction,
                                       tolerance=self.tolerance)
        prev_idx = _previous_valid(grid)
        has_prev = prev_idx >= 0
        prev_val = np.where(has_prev, grid.values[np.maximum(prev_idx, 0)], np.nan)
        drop = np.where(codes > 0, prev_val - grid.values, np.nan)
        begin = np.where(has_prev, grid.ts_us[np.maximum(prev_idx, 0)], grid.ts_us)
        # find() runs one event pass per reported kind, from the codes
        return Evaluation(drop, codes == ROLLBACK, prev_val, begin, codes)

    def find(self, grid: Grid, *, label: str | None = None) -> pl.DataFrame:
        if grid.values.shape[0] == 0:
            return super().find(grid, label=label)
        ev = self.evaluate(grid)
        kinds = [(ROLLBACK, "rollback", self), (RESET, "meter_exchange",
                                                replace(self, severity="info"))]
        if self.report_rollover:
            kinds.append((ROLLOVER, "rollover", replace(self, severity="info")))
        parts = [det.findings_from(grid, replace(ev, flags=ev.codes == code), label=label,
                                   kind=kind) for code, kind, det in kinds]
        return pl.concat(parts)

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        # the step lies between the previous reading (start) and the reading showing it (peak)
        events = local_time_text(local_time_text(events, "start", "start_text"), "peak_ts",
                                 "end_text")
        text = {
            "rollback": pl.format("The register went back from {} to {} kWh ({} kWh less) "
                                  "between {} and {}, without reaching its rollover limit.",
                                  fmt("expected"), fmt("observed"), fmt("score"),
                                  "start_text", "end_text"),
            "meter_exchange": pl.format("The register restarted from {} kWh at {} kWh "
                                        "between {} and {} and carries on from there: a meter "
                                        "exchange or register reset.", fmt("expected"),
                                        fmt("observed"), "start_text", "end_text"),
            "rollover": pl.format("The register wrapped at its digit limit from {} to {} kWh "
                                  "between {} and {} (a normal rollover).", fmt("expected"),
                                  fmt("observed"), "start_text", "end_text"),
        }
        kind = events["kind"][0]
        magnitude = pl.col("expected") if kind == "meter_exchange" else pl.col("score")
        action = {"meter_exchange": "Confirm the exchange in the work-order system and "
                                    "record the old meter's final reading."}.get(kind)
        out = events.with_columns(magnitude.alias("magnitude"), text[kind].alias("reason"))
        return out.with_columns(pl.lit(action).alias("action")) if action else out


def _previous_valid(grid: Grid) -> np.ndarray:
    """For each slot, the index of the series' previous valid slot (-1 if none)."""
    n = grid.values.shape[0]
    idx = np.where(np.isfinite(grid.values), np.arange(n), -1)
    last = np.maximum.accumulate(idx) if n else idx
    prev = np.full(n, -1, dtype=np.int64)
    prev[1:] = last[:-1]
    start = np.repeat(grid.offsets[:-1], np.diff(grid.offsets))
    return np.where(prev >= start, prev, -1)


@dataclass(frozen=True, kw_only=True)
class UsageDetector(Detector):
    """High or low daily usage against the asset's own recent history.

    Works on local-day totals (:func:`griddiag.detectors.grid.daily_totals`). The expected
    value of a day is the median of the same day type (workday, rest day, public holiday;
    :func:`griddiag.detectors.grid.build_calendar`) over the last ``n_days`` such days within
    ``max_age_days`` (:func:`griddiag.kernels.seasonal_profile`): the "like days" baseline of
    VEE high/low usage checks and of demand-response customer baselines, made robust by the
    median. Score: ``|log(observed / expected)|``. Flag: ratio >= ``high_ratio`` (kind
    ``high_usage``) or <= ``low_ratio`` (kind ``low_usage``). Days below ``min_coverage``
    are not judged.
    """

    name: ClassVar[str] = "usage"
    kind: ClassVar[str] = "high_usage"
    metric_kinds: ClassVar[tuple[str, ...]] = ("interval_energy",)
    rule: ClassVar[str] = f"{_VEE}: high/low usage vs the asset's own like days"
    action: ClassVar[str] = ("Ask the customer about a change of use; if there is none, "
                             "check the meter on site (a sudden drop can be a bypass).")
    needs_calendar: ClassVar[bool] = True
    context_hours: ClassVar[float] = 7 * 24.0

    high_ratio: float = 3.0
    low_ratio: float = 0.2
    n_days: int = 8
    min_days: int = 4
    max_age_days: int = 56
    min_coverage: float = 0.9
    min_expected: float = 0.1

    def prepare(self, grid: Grid) -> Grid:
        return daily_totals(grid, min_coverage=self.min_coverage)[0]

    def evaluate(self, grid: Grid) -> Evaluation:
        if not (0 < self.low_ratio < 1 < self.high_ratio):
            raise ConfigError(f"usage: need 0 < low_ratio < 1 < high_ratio, got "
                              f"{self.low_ratio}, {self.high_ratio}")
        expected = K.seasonal_profile(grid.values, grid.offsets,
                                      np.zeros(grid.values.shape[0], dtype=np.int64),
                                      grid.calendar.day_type, n_slots=1, n_day_types=3,
                                      n_history=self.n_days, min_history=self.min_days,
                                      max_age=self.max_age_days)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = grid.values / expected
            score = np.abs(np.log(ratio))
            usable = expected >= self.min_expected
            flags = usable & ((ratio >= self.high_ratio) | (ratio <= self.low_ratio))
        return Evaluation(np.where(usable, score, np.nan), flags, expected)

    def score(self, grid: Grid) -> np.ndarray:
        daily, day_of_slot = daily_totals(grid, min_coverage=self.min_coverage)
        s = self.evaluate(daily).score
        return np.where(np.isfinite(grid.values), s[day_of_slot], np.nan) if s.size else s

    def find(self, grid: Grid, *, label: str | None = None) -> pl.DataFrame:
        work = self.prepare(grid)
        if work.values.shape[0] == 0:
            return super().find(grid, label=label)
        ev = self.evaluate(work)
        with np.errstate(invalid="ignore"):
            high = ev.flags & (work.values >= ev.expected)
        return pl.concat([
            self.findings_from(work, replace(ev, flags=high), label=label, kind="high_usage"),
            self.findings_from(work, replace(ev, flags=ev.flags & ~high), label=label,
                               kind="low_usage"),
        ])

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = local_time_text(events, "peak_ts", "peak_text")
        return events.with_columns(
            (pl.col("observed") - pl.col("expected")).alias("magnitude"),
            pl.format("{} {} on the day starting {} against a usual {} {} on like days "
                      "(x{}); {} day(s) in this stretch.", fmt("observed"), "unit",
                      "peak_text", fmt("expected"), "unit",
                      fmt(pl.col("observed") / pl.col("expected")), "n_slots").alias("reason"),
        )
