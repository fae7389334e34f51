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
``usage_last_year``     high_usage,        a day's energy against the like days of the same
                        low_usage          calendar weeks a year before
``sum_check``           sum_check          interval energy vs the register's advance per
                                           local day; TOU tiers vs the total register
``reverse_energy``      reverse_energy     export energy on an import-only meter
``register``            reverse_energy     (also) a register running backwards persistently
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
from griddiag.exceptions import ConfigError
from griddiag.kernels._validate import offsets_from_lengths
from griddiag.kernels.register import NO_STEP, RESET, ROLLBACK, ROLLOVER
from griddiag.schema import empty_findings

__all__ = [
    "FlatlineDetector",
    "GapDetector",
    "NegativeEnergyDetector",
    "RegisterDetector",
    "ReverseEnergyDetector",
    "SpikeDetector",
    "SumCheckDetector",
    "UsageDetector",
    "UsageLastYearDetector",
    "ZeroRunDetector",
]

_ALL_KINDS = ("interval_energy", "cumulative_register", "instantaneous")
_VEE = "meter-data VEE"


def _hours_of_slot(grid: Grid, run_length: np.ndarray, empty: float = 0.0) -> np.ndarray:
    from griddiag.kernels.runs import run_hours

    return run_hours(run_length, grid.offsets, grid.series["interval_us"].to_numpy(),
                     empty=empty)


def _per_slot(grid: Grid, per_series: np.ndarray) -> np.ndarray:
    """A value per series repeated over the series' slots."""
    return np.repeat(per_series, np.diff(grid.offsets))


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
        score = _hours_of_slot(grid, run, empty=np.nan)  # NaN at present slots
        with np.errstate(invalid="ignore"):
            return Evaluation(score, score >= self.min_hours)

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
        return self._evaluate(grid, every_slot=True)

    def _evaluate(self, grid: Grid, *, every_slot: bool) -> Evaluation:
        """The evaluation; without ``every_slot``, the robust z and median only where the
        day's ratio passes (0 elsewhere), which are the only slots that can be flagged."""
        def run(g: Grid, step: int):
            ratio = K.daily_peak_ratio(g.values, g.offsets, g.calendar.day)
            window = slots(self.window_hours, step) | 1
            if every_slot:
                med, _, z = K.rolling_robust_stats(g.values, g.offsets, window, center=True,
                                                   min_scale=self.min_scale, mad=False)
                return med, z, ratio
            with np.errstate(invalid="ignore"):
                at = np.flatnonzero(ratio >= self.ratio_min)
            med_at, _, z_at = K.rolling_robust_stats_at(g.values, g.offsets, at, window,
                                                        center=True, min_scale=self.min_scale)
            # 0, not NaN, at the other slots (never flagged, never read): np.zeros leaves
            # their pages untouched, so two value-sized arrays cost memory only where asked
            med, z = np.zeros(g.values.shape[0]), np.zeros(g.values.shape[0])
            med[at], z[at] = med_at, z_at
            return med, z, ratio

        med, z, ratio = per_interval(grid, run)
        with np.errstate(invalid="ignore"):
            flags = (z >= self.z_min) & (ratio >= self.ratio_min)
        return Evaluation(z, flags, med)

    def find(self, grid: Grid, *, label: str | None = None) -> pl.DataFrame:
        # An event's numbers are read at its flagged slots (score and expected at the peak),
        # and a slot is flagged only where its day's ratio passes: a few slots per meter and
        # month. Scoring those alone gives the same findings without sliding the window over
        # every slot (most of this detector's time; tests/test_detectors_meter.py checks it).
        if grid.values.shape[0] == 0:
            return super().find(grid, label=label)
        return self.findings_from(grid, self._evaluate(grid, every_slot=False), label=label)

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
        from griddiag.kernels.register import series_median

        run = K.zero_runs(grid.values, grid.offsets, tolerance=self.tolerance)
        score = _hours_of_slot(grid, run)
        flags = (run > 0) & (score >= self.min_hours)
        typical = series_median(grid.values, grid.offsets)
        flags &= _per_slot(grid, typical > self.tolerance)
        score[~np.isfinite(grid.values)] = np.nan
        return Evaluation(score, flags, expected_per_series=typical)

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
        register = _is_register(grid)
        cumulative = _per_slot(grid, register) if register.any() else None
        steps = run if cumulative is None else np.where(cumulative, np.maximum(run - 1, 0), run)
        score = _hours_of_slot(grid, steps)
        v = grid.values
        with np.errstate(invalid="ignore"):
            # |v| > tolerance as two comparisons: no value-sized float temporary for |v|
            flags = (score >= self.min_hours) & ((v > self.tolerance) | (v < -self.tolerance))
        score[~np.isfinite(grid.values)] = np.nan
        if cumulative is not None:
            # registers: leave each run's first reading unflagged
            first = np.zeros(run.shape[0], dtype=bool)
            first[K.run_table(run, grid.offsets)[1]] = True
            flags &= ~(cumulative & first)
        return Evaluation(score, flags)

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = _with_times(events)
        return events.with_columns(
            pl.col("observed").alias("magnitude"),
            pl.format("{} stayed at {} {} for {} h ({} readings) from {} to {}.", "metric",
                      fmt("observed", 3), "unit", fmt("duration_h"), "n_slots",
                      "start_text", "end_text").alias("reason"),
        )


def _is_register(grid: Grid) -> np.ndarray:
    """Per series: whether it is a cumulative register."""
    from griddiag.schema import METRICS

    kinds = grid.series["metric"].replace_strict(
        {k: m.kind for k, m in METRICS.items()}, default="").to_numpy()
    return kinds == "cumulative_register"


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
        # expected: 0 on every series (an import channel never counts backwards)
        return Evaluation(score, flags, expected_per_series=np.zeros(grid.n_series))

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
    reverse_min_steps : int
        A run of at least this many consecutive decreasing steps (missing readings between
        them do not break it) is a register *running backwards*, reported as kind
        ``reverse_energy`` instead of ``rollback``: a meter counting in reverse (reversed
        connection, a tampered or faulty element) rather than one bad reading or a one-off
        reset. 0 turns this off (every decrease is a rollback).
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
    reverse_min_steps: int = 3
    critical_at: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        r = self.reverse_min_steps
        if isinstance(r, bool) or not isinstance(r, int) or r < 0 or r == 1:
            raise ConfigError(f"register: reverse_min_steps must be 0 (off) or an integer >= 2 "
                              f"(consecutive decreasing readings), got {r!r}")

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
        if self.reverse_min_steps:
            codes, _ = _reverse_runs(codes, grid.offsets, self.reverse_min_steps)
        return Evaluation(drop, codes == ROLLBACK, prev_val, begin, codes)

    def _reverse_evaluation(self, grid: Grid, ev: Evaluation) -> Evaluation:
        """The backwards-run pass: score = the fall since the reading before the run, so an
        event's peak is its last reading and its ``expected`` the reading before it began."""
        _, first = _reverse_runs(ev.codes, grid.offsets, self.reverse_min_steps)
        rev = first >= 0
        before = np.where(rev, ev.expected[np.maximum(first, 0)], np.nan)
        return replace(ev, score=np.where(rev, before - grid.values, np.nan), flags=rev,
                       expected=before)

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
        if self.reverse_min_steps:
            # missing readings inside a backwards run do not split its event
            det = replace(self, max_gap=max(self.max_gap, 10 ** 6))
            rev = self._reverse_evaluation(grid, ev)
            parts.append(det.findings_from(grid, rev, label=label, kind="reverse_energy"))
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
            "reverse_energy": pl.format("The register ran backwards from {} to {} kWh ({} kWh "
                                        "less) over {} consecutive readings, each lower than "
                                        "the one before, between {} and {}; an import "
                                        "register never counts down.", fmt("expected"),
                                        fmt("observed"), fmt("score"), "n_valid",
                                        "start_text", "end_text"),
        }
        kind = events["kind"][0]
        magnitude = pl.col("expected") if kind == "meter_exchange" else pl.col("score")
        action = {"meter_exchange": "Confirm the exchange in the work-order system and "
                                    "record the old meter's final reading.",
                  "reverse_energy": "Inspect the meter on site: a register counting down means "
                                    "a reversed connection or CT, a tampered or faulty meter; "
                                    "test it and check the seals."}.get(kind)
        out = events.with_columns(magnitude.alias("magnitude"), text[kind].alias("reason"))
        return out.with_columns(pl.lit(action).alias("action")) if action else out


#: register step code of a decrease that belongs to a backwards run (detector-level: the
#: kernel's codes say what one step is; a run is a property of several)
REVERSE_RUN = 4


def _reverse_runs(codes: np.ndarray, offsets: np.ndarray, min_steps: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Codes with rollbacks in runs of >= ``min_steps`` consecutive decreases -> REVERSE_RUN,
    and for each such slot the slot of its run's first step (-1 elsewhere).

    Runs are counted over the steps only (slots with a code other than NO_STEP), so a missing
    reading inside a backwards run does not break it.
    """
    first = np.full(codes.shape[0], -1, dtype=np.int64)
    steps = np.flatnonzero(codes != NO_STEP)
    if steps.size == 0:
        return codes, first
    lengths = np.diff(np.searchsorted(steps, offsets))
    step_off = offsets_from_lengths(lengths)
    # REVERSE_RUN too: the codes may already be marked (a second pass on them)
    down = (codes[steps] == ROLLBACK) | (codes[steps] == REVERSE_RUN)
    rev = K.mask_runs(down, step_off) >= min_steps
    out = codes.copy()
    out[steps[rev]] = REVERSE_RUN
    begins = rev.copy()
    begins[1:] &= ~rev[:-1]
    begins[step_off[:-1][lengths > 0]] = rev[step_off[:-1][lengths > 0]]  # series starts
    idx = np.maximum.accumulate(np.where(begins, np.arange(steps.size), -1))
    first[steps[rev]] = steps[idx[rev]]
    return out, first


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
class _DailyUsage(Detector):
    """High or low daily usage against a baseline from the asset's own history (the shared
    part of :class:`UsageDetector` and :class:`UsageLastYearDetector`).

    Works on local-day totals (:func:`griddiag.detectors.grid.daily_totals`); subclasses give
    the expected value of each day (:meth:`_expected`). Score: ``|log(observed / expected)|``.
    Flag: ratio >= ``high_ratio`` (kind ``high_usage``) or <= ``low_ratio`` (kind
    ``low_usage``). Days below ``min_coverage`` are not judged, nor days whose expected value
    is below ``min_expected`` kWh (a ratio against nothing means nothing).
    """

    kind: ClassVar[str] = "high_usage"
    metric_kinds: ClassVar[tuple[str, ...]] = ("interval_energy",)
    action: ClassVar[str] = ("Ask the customer about a change of use; if there is none, "
                             "check the meter on site (a sudden drop can be a bypass).")
    needs_calendar: ClassVar[bool] = True
    context_hours: ClassVar[float] = 7 * 24.0
    #: what the expected value is, for the reason text
    baseline_text: ClassVar[str] = ""

    high_ratio: float = 3.0
    low_ratio: float = 0.2
    min_coverage: float = 0.9
    min_expected: float = 0.1

    def _expected(self, grid: Grid) -> np.ndarray:
        raise NotImplementedError

    def prepare(self, grid: Grid) -> Grid:
        return daily_grid(grid, self.min_coverage)

    def evaluate(self, grid: Grid) -> Evaluation:
        if not (0 < self.low_ratio < 1 < self.high_ratio):
            raise ConfigError(f"{self.name}: need 0 < low_ratio < 1 < high_ratio, got "
                              f"{self.low_ratio}, {self.high_ratio}")
        expected = self._expected(grid)
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
            pl.format("{} {} on the day starting {} against a usual {} {} on {} (x{}); {} "
                      "day(s) in this stretch.", fmt("observed"), "unit", "peak_text",
                      fmt("expected"), "unit", pl.lit(self.baseline_text),
                      fmt(pl.col("observed") / pl.col("expected")), "n_slots")
            .alias("reason"),
        )


@dataclass(frozen=True, kw_only=True)
class UsageDetector(_DailyUsage):
    """High or low daily usage against the asset's own recent history.

    The expected value of a day is the median of the same day type (workday, rest day,
    public holiday; :func:`griddiag.detectors.grid.build_calendar`) over the last ``n_days``
    such days within ``max_age_days`` (:func:`griddiag.kernels.seasonal_profile`): the "like
    days" baseline of VEE high/low usage checks and of demand-response customer baselines,
    made robust by the median. Scores and flags as :class:`_DailyUsage`.
    """

    name: ClassVar[str] = "usage"
    rule: ClassVar[str] = f"{_VEE}: high/low usage vs the asset's own like days"
    baseline_text: ClassVar[str] = "recent like days"

    n_days: int = 8
    min_days: int = 4
    max_age_days: int = 56

    def _expected(self, grid: Grid) -> np.ndarray:
        return K.seasonal_profile(grid.values, grid.offsets,
                                  np.zeros(grid.values.shape[0], dtype=np.int64),
                                  grid.calendar.day_type, n_slots=1, n_day_types=3,
                                  n_history=self.n_days, min_history=self.min_days,
                                  max_age=self.max_age_days)


@dataclass(frozen=True, kw_only=True)
class UsageLastYearDetector(_DailyUsage):
    """High or low daily usage against the same period last year.

    The expected value of a local day is the median of the days of the same day type within
    ``half_window_days`` of the day ``lag_days`` earlier (:func:`griddiag.kernels.
    last_year_baseline`; 364 days = 52 weeks, so weekdays line up and the window covers the
    same local calendar weeks): the "same period last year" comparison of VEE high/low usage
    checks and of customer bills. It sees what a trailing-weeks baseline cannot: a season that
    is normal for this customer, or a consumption that fell slowly over months. It needs a
    year of readings before the period (:attr:`history_days`; ``griddiag.detect`` reads them
    for this detector only). Scores and flags as :class:`_DailyUsage`; the kinds are those of
    :class:`UsageDetector`, so one unusual day seen by both reads as one event.
    """

    name: ClassVar[str] = "usage_last_year"
    rule: ClassVar[str] = (f"{_VEE}: high/low usage vs the same calendar weeks last year "
                           "(like days, 52 weeks back)")
    baseline_text: ClassVar[str] = "like days of the same weeks last year"

    lag_days: int = 364
    half_window_days: int = 7
    min_days: int = 3

    @property
    def history_days(self) -> float:
        """Days of readings before the period this detector needs (its window, one year back)."""
        return float(self.lag_days + self.half_window_days + 1)

    def _expected(self, grid: Grid) -> np.ndarray:
        return K.last_year_baseline(grid.values, grid.offsets, grid.calendar.day,
                                    grid.calendar.day_type, lag_days=self.lag_days,
                                    half_window_days=self.half_window_days,
                                    min_days=self.min_days)


# -- reverse energy ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ReverseEnergyDetector(Detector):
    """Export (reverse) energy recorded on an import-only meter.

    What meter-data systems mean by *reverse energy*: energy counted in the received
    direction by a service that only takes from the grid. State Grid's electricity
    information acquisition systems list it as an anomaly of their own (反向电量异常: reverse
    active energy on a customer without generation), AMI head-ends raise a "reverse energy
    flow" event for it, and electromechanical meters show it as reverse rotation. On a
    customer without generation it means a reversed connection or CT, a meter installed the
    wrong way round, or tampering. (A register that runs *backwards* is the same fault seen on
    a meter without an export register: :class:`RegisterDetector` reports it with this kind.)

    Applies to ``energy_export_kwh``. A meter is import-only unless listed in
    ``generating_assets`` (customers with solar or another generation agreement; the profile
    section's ``asset_kinds`` narrows where it runs). Score: the exported energy of the slot
    (kWh). Flag: export > ``tolerance``; flagged slots up to ``max_gap`` apart are one event.

    Parameters
    ----------
    tolerance : float
        Export per interval still taken as zero (kWh; one register quantum of creep).
    generating_assets : sequence of str
        Asset ids whose export is expected (net-metered or generating customers).
    """

    name: ClassVar[str] = "reverse_energy"
    kind: ClassVar[str] = "reverse_energy"
    metric_kinds: ClassVar[tuple[str, ...]] = ("interval_energy",)
    rule: ClassVar[str] = (f"{_VEE}: reverse (export) energy on an import-only service "
                           "(State Grid acquisition-system anomaly 反向电量异常)")
    action: ClassVar[str] = ("Check on site that the customer has no generation; if not, "
                             "check the meter's connection and CT polarity, and the seals for "
                             "tampering.")

    tolerance: float = 0.0
    generating_assets: tuple[str, ...] = ()
    max_gap: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        ga = self.generating_assets
        if isinstance(ga, str) or not all(isinstance(a, str) for a in ga):
            raise ConfigError(f"reverse_energy: generating_assets must be a list of asset ids, "
                              f"got {ga!r}")
        object.__setattr__(self, "generating_assets", tuple(ga))
        if not self.tolerance >= 0:
            raise ConfigError(f"reverse_energy: tolerance must be >= 0 kWh, got "
                              f"{self.tolerance!r}")

    def applies_to(self, metric: str) -> bool:
        return metric == "energy_export_kwh"

    def evaluate(self, grid: Grid) -> Evaluation:
        generating = grid.series["asset_id"].is_in(list(self.generating_assets)).to_numpy()
        import_only = ~np.repeat(generating, np.diff(grid.offsets))
        score = np.where(import_only, grid.values, np.nan)
        with np.errstate(invalid="ignore"):
            flags = score > self.tolerance
        return Evaluation(score, flags, expected_per_series=np.zeros(grid.n_series))

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = _with_times(events)
        return events.with_columns(
            pl.col("total").alias("magnitude"),
            pl.format("{} kWh exported in {} interval(s) from {} to {} (up to {} kWh in one) "
                      "on a meter with no generation: it should record import only.",
                      fmt("total", 3), "n_valid", "start_text", "end_text", fmt("vmax", 3))
            .alias("reason"),
        )


# -- sum check ----------------------------------------------------------------------------------

_TOTAL = "register_kwh"
_TIERS = tuple(f"register_kwh_t{i}" for i in range(1, 5))
_ENERGY = "energy_kwh"


@dataclass(frozen=True, kw_only=True)
class SumCheckDetector(Detector):
    """Sum check: the interval channel against the register, the TOU tiers against the total.

    The VEE *sum check* (Oracle Utilities MDM rule "Sum Check", algorithm D2-SUM-CHK: the
    consumption of a measuring component must lie within a tolerance of the sum of its related
    components over the same period, "interval ... vs scalar" and "TOU registers vs a check
    register"). Two comparisons, each over the span between two register readings that close
    local days (with a daily register read at 00:00, one local day):

    - ``energy_kwh`` summed over the span against the advance of ``register_kwh`` (finding on
      ``energy_kwh``): a mismatch is an interval channel that lost, doubled or invented
      energy, or a register that stuck or jumped;
    - the advances of ``register_kwh_t1..t4`` (those the meter has) against the advance of
      ``register_kwh`` (finding on ``register_kwh``): a tier that stopped or a total that does
      not add up.

    Spans are skipped, never guessed, when a side cannot account for them
    (:func:`griddiag.kernels.span_compare`): a missing interval, a register step the
    register check classifies as rollover, meter exchange or rollback
    (:func:`griddiag.kernels.classify_register`; the rollback and exchange have findings of
    their own), or intervals outside the energy series' grid. A missing register reading
    merges two days into one span (the next reading covers both).

    Score: ``|observed - expected| / tolerance`` with tolerance ``max(tolerance_fraction *
    |register advance|, tolerance_steps * resolution_kwh)`` (rounding of each interval or tier
    to the meter's resolution). Flag: score > 1.

    The detector reads several metrics of one asset at once (``joint``): the pipeline hands
    it the batch's energy and register series together.
    """

    name: ClassVar[str] = "sum_check"
    kind: ClassVar[str] = "sum_check"
    metric_kinds: ClassVar[tuple[str, ...]] = ("interval_energy", "cumulative_register")
    rule: ClassVar[str] = (f"{_VEE}: sum check (interval energy vs register advance per local "
                           "day; TOU tier registers vs the total register)")
    action: ClassVar[str] = ("Re-read the meter's registers and load profile; if the meter's "
                             "own data disagree, test the meter.")
    #: local days are wanted on the register series only (one reading a day): it builds
    #: them itself (:func:`_first_of_local_day`) rather than have the pipeline put a
    #: calendar on every slot of the interval channel too
    needs_calendar: ClassVar[bool] = False
    context_hours: ClassVar[float] = 0.0
    #: the pipeline gives it every metric it applies to in one grid
    joint: ClassVar[bool] = True

    tolerance_fraction: float = 0.01
    tolerance_steps: float = 2.0
    resolution_kwh: float = 0.01
    increment_factor: float = 10.0
    reset_fraction: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("tolerance_fraction", "tolerance_steps", "resolution_kwh"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                raise ConfigError(f"sum_check: {f} must be a number >= 0, got {v!r}")

    def applies_to(self, metric: str) -> bool:
        return metric in (_ENERGY, _TOTAL, *_TIERS)

    @property
    def tolerance_abs(self) -> float:
        return self.tolerance_steps * self.resolution_kwh

    # -- the two comparisons, on the total register's axis -----------------------------------
    def _checks(self, energy: Grid, registers: Grid) -> list[tuple[str, Grid, Evaluation]]:
        """``(metric, findings grid, evaluation)`` per comparison made.

        ``energy`` holds the interval channel's series, ``registers`` the total and tier
        registers' (the same grid when one holds them all); other series are ignored. The
        interval channel is read where it lies (``bin_to_readings`` skips the other series):
        only register series, one reading a day, are copied out.
        """
        metric = registers.series["metric"].to_numpy()
        total_mask = metric == _TOTAL
        if not total_mask.any():
            return []
        reg = registers.select(total_mask)
        codes, cons = self._classify(reg)
        valid = np.isfinite(reg.values)
        day_start = _first_of_local_day(reg, valid)
        bad_code = (codes == ROLLBACK) | (codes == ROLLOVER) | (codes == RESET)
        reg_ids = reg.series["asset_id"].to_list()
        out = []

        energy_mask = energy.series["metric"].to_numpy() == _ENERGY
        if energy_mask.any():
            smap = np.where(energy_mask, _series_map(energy, reg_ids), -1)
            t0, step = _grid_starts(energy), energy.series["interval_us"].to_numpy()
            r_t0, r_step = _grid_starts(reg), reg.series["interval_us"].to_numpy()
            total, missing = K.bin_to_readings(energy.values, energy.offsets, t0, step, smap,
                                               r_t0, r_step, reg.offsets)
            paired = np.zeros(reg.n_series, dtype=bool)
            paired[smap[smap >= 0]] = True
            # a reading whose step reaches outside the energy grid cannot be accounted for
            covered = _covered(reg, smap, t0, step, np.diff(energy.offsets))
            anchor = np.repeat(paired, np.diff(reg.offsets)) & valid & day_start
            ev, fg = self._compare(reg, total, cons, bad_code | (missing > 0) | ~covered,
                                   anchor, _ENERGY)
            out.append((_ENERGY, fg, ev))

        tier_mask = np.isin(metric, _TIERS)
        if tier_mask.any():
            tiers = registers.select(tier_mask)
            smap = _series_map(tiers, reg_ids)
            t_codes, t_cons = self._classify(tiers)
            t_bad = (t_codes == ROLLBACK) | (t_codes == ROLLOVER) | (t_codes == RESET)
            idx, exact = _reading_slot(tiers, smap, reg)
            inside = idx >= 0
            n = reg.values.shape[0]
            step_sum = np.bincount(idx[inside], weights=np.where(
                np.isfinite(t_cons), t_cons, 0.0)[inside], minlength=n)
            t_excluded = np.bincount(idx[inside], weights=t_bad[inside], minlength=n) > 0
            n_valid = np.bincount(idx[inside], weights=(np.isfinite(tiers.values)
                                                       & exact)[inside], minlength=n)
            n_tiers = np.bincount(smap[smap >= 0], minlength=reg.n_series)
            need = np.repeat(n_tiers, np.diff(reg.offsets))
            anchor = valid & day_start & (need > 0) & (n_valid == need)
            ev, fg = self._compare(reg, step_sum, cons, bad_code | t_excluded, anchor, _TOTAL)
            out.append((_TOTAL, fg, ev))
        return out

    def _classify(self, g: Grid) -> tuple[np.ndarray, np.ndarray]:
        digits = g.series["register_digits"].cast(pl.Float64).to_numpy()
        limit = np.where(np.isfinite(digits), 10.0 ** digits, np.nan)
        return K.classify_register(g.values, g.offsets, limit,
                                   increment_factor=self.increment_factor,
                                   reset_fraction=self.reset_fraction)

    def _compare(self, reg: Grid, observed_step: np.ndarray, expected_step: np.ndarray,
                 excluded: np.ndarray, anchor: np.ndarray, metric_name: str
                 ) -> tuple[Evaluation, Grid]:
        obs, exp, score = K.span_compare(observed_step, expected_step, excluded, anchor,
                                         reg.offsets,
                                         tolerance_fraction=self.tolerance_fraction,
                                         tolerance_abs=self.tolerance_abs)
        with np.errstate(invalid="ignore"):
            flags = score > 1.0
        prev = _previous_true(anchor, reg.offsets)
        step = reg.interval_of_slot()
        begin = np.where(prev >= 0, reg.ts_us[np.maximum(prev, 0)], reg.ts_us - step)
        ev = Evaluation(score, flags, exp, begin_us=begin, observed=obs)
        # findings grid: the register's axis, each slot standing for the interval that ends
        # at its reading (so an event ends at the reading that closed its span), named after
        # the metric the finding is about
        meta = reg.series.with_columns(pl.lit(metric_name).alias("metric"))
        fg = Grid(meta, obs, reg.offsets, reg.ts_us - step, reg.calendar)
        return ev, fg

    def evaluate(self, grid: Grid) -> Evaluation:
        score = np.full(grid.values.shape[0], np.nan)
        checks = self._checks(grid, grid)
        if checks:  # the comparisons' scores live on the total register's slots
            reg_slots = np.flatnonzero(np.repeat(grid.series["metric"].to_numpy() == _TOTAL,
                                                 np.diff(grid.offsets)))
        for _, _, ev in checks:
            cur = score[reg_slots]
            score[reg_slots] = np.where(np.isnan(cur), ev.score, np.fmax(cur, ev.score))
        with np.errstate(invalid="ignore"):
            return Evaluation(score, score > 1.0)

    def find(self, grid: Grid, *, label: str | None = None) -> pl.DataFrame:
        checks = self._checks(grid, grid) if grid.values.shape[0] else []
        return self._findings(checks, label)

    def find_metrics(self, grids: dict[str, Grid], *, label: str | None = None
                     ) -> pl.DataFrame:
        """:meth:`find` on one grid per metric (``{"energy_kwh": grid, "register_kwh": ...}``,
        each holding that metric's series), as the pipeline builds them for the other
        detectors: the same findings as :meth:`find` on one grid of all their series, with
        no second grid of the interval channel (its slots are read in place; the registers'
        few are gathered).

        Only assets with a ``register_kwh`` series in ``grids`` are checked, so choosing
        the register series chooses the assets.
        """
        unknown = sorted(set(grids) - {_ENERGY, _TOTAL, *_TIERS})
        if unknown:
            raise ConfigError(f"sum_check: no comparison uses {unknown}; pass the grids of "
                              f"{[_ENERGY, _TOTAL, *_TIERS]} only")
        if _TOTAL not in grids or grids[_TOTAL].values.shape[0] == 0:
            return empty_findings()
        registers = _concat_series([grids[m] for m in (_TOTAL, *_TIERS) if m in grids])
        return self._findings(self._checks(grids.get(_ENERGY, registers), registers), label)

    def _findings(self, checks: list[tuple[str, Grid, Evaluation]], label: str | None
                  ) -> pl.DataFrame:
        parts = [self.findings_from(fg, ev, label=label) for _, fg, ev in checks]
        return pl.concat(parts) if parts else empty_findings()

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        events = _with_times(events)
        tol = pl.max_horizontal(pl.col("expected").abs() * self.tolerance_fraction,
                                pl.lit(self.tolerance_abs))
        what = (pl.when(pl.col("metric") == _ENERGY)
                .then(pl.lit("Interval energy summed to"))
                .otherwise(pl.lit("The time-of-use tier registers advanced by")))
        return events.with_columns(
            (pl.col("observed") - pl.col("expected")).alias("magnitude"),
            pl.lit("kWh").alias("unit"),
            pl.format("{} {} kWh from {} to {}, but the total register advanced by {} kWh "
                      "(difference {} kWh; tolerance {} kWh).", what, fmt("observed", 3),
                      "start_text", "end_text", fmt("expected", 3),
                      fmt(pl.col("observed") - pl.col("expected"), 3), fmt(tol, 3))
            .alias("reason"),
        )


def _concat_series(grids: list[Grid]) -> Grid:
    """The series of ``grids`` in one grid (in asset order, as :func:`to_grid` puts a grid
    of all their metrics, so every comparison sees its series in the same order either
    way). Meant for the register series (one reading a day): it copies their slots. The
    calendars are dropped (:func:`_first_of_local_day` builds the local days it needs)."""
    if len(grids) == 1:
        return grids[0]
    series = pl.concat([g.series for g in grids], how="diagonal_relaxed")
    # a stable sort: an asset's segments of one metric stay in time order
    order = series.with_row_index("i").sort("asset_id", "metric", maintain_order=True)[
        "i"].to_numpy().astype(np.int64)
    base = np.cumsum([0] + [g.values.shape[0] for g in grids[:-1]])
    starts = np.concatenate([g.offsets[:-1] + b for g, b in zip(grids, base)])[order]
    n = np.concatenate([np.diff(g.offsets) for g in grids])[order]
    offsets = offsets_from_lengths(n)
    rows = np.repeat(starts - offsets[:-1], n) + np.arange(int(offsets[-1]), dtype=np.int64)
    values = np.concatenate([g.values for g in grids])
    ts_us = np.concatenate([g.ts_us for g in grids])
    return Grid(series[order], values[rows], offsets, ts_us[rows])


def _grid_starts(g: Grid) -> np.ndarray:
    """First slot time of each series (0 for an empty series: it has no slot to place)."""
    starts = g.offsets[:-1]
    out = np.zeros(g.n_series, dtype=np.int64)
    has = np.diff(g.offsets) > 0
    out[has] = g.ts_us[starts[has]]
    return out


def _series_map(g: Grid, reg_ids: list[str]) -> np.ndarray:
    """For each series of ``g``, the index of its asset's total-register series (-1: none)."""
    pos = {a: i for i, a in enumerate(reg_ids)}
    return np.array([pos.get(a, -1) for a in g.series["asset_id"].to_list()], dtype=np.int64)


def _reading_slot(g: Grid, smap: np.ndarray, reg: Grid) -> tuple[np.ndarray, np.ndarray]:
    """For each slot of ``g``: the first slot of its register series at or after its time
    (-1 when none), and whether the times are equal."""
    lengths = np.diff(g.offsets)
    sid = np.repeat(np.arange(g.n_series), lengths)
    r = smap[sid]
    ok = r >= 0
    rs = np.where(ok, r, 0)
    r_t0 = _grid_starts(reg)[rs]
    r_step = reg.series["interval_us"].to_numpy()[rs] if reg.n_series else np.ones_like(rs)
    k = np.maximum(-((r_t0 - g.ts_us) // r_step), 0)
    inside = ok & (k < np.diff(reg.offsets)[rs])
    idx = np.where(inside, reg.offsets[:-1][rs] + k, -1)
    exact = inside & (r_t0 + k * r_step == g.ts_us)
    return idx, exact


def _covered(reg: Grid, smap: np.ndarray, t0: np.ndarray, step: np.ndarray,
             n_slots: np.ndarray) -> np.ndarray:
    """Per register slot: whether the interval ``(ts - register step, ts]`` lies within its
    asset's energy grid (outside it, missing intervals would not be counted as missing)."""
    lo = np.full(reg.n_series, np.iinfo(np.int64).max)
    hi = np.full(reg.n_series, np.iinfo(np.int64).min)
    m = smap >= 0
    lo[smap[m]] = t0[m]
    hi[smap[m]] = t0[m] + n_slots[m] * step[m]
    lengths = np.diff(reg.offsets)
    step_r = reg.interval_of_slot()
    return ((reg.ts_us - step_r >= np.repeat(lo, lengths))
            & (reg.ts_us <= np.repeat(hi, lengths)))


def _first_of_local_day(g: Grid, valid: np.ndarray) -> np.ndarray:
    """Valid slots that are the first valid reading of their local day (in each asset's
    ``tz``; the grid's calendar when it has one, else built here for these few slots): the
    readings that close one local day and open the next."""
    if g.calendar is None:
        from griddiag.detectors.grid import build_calendar

        g = build_calendar(g, holiday_country=None)  # local days only: no day types needed
    idx = np.flatnonzero(valid)
    out = np.zeros(valid.shape[0], dtype=bool)
    if idx.size == 0:
        return out
    sid = g.series_of_slot()[idx]
    day = g.calendar.day[idx]
    first = np.ones(idx.size, dtype=bool)
    first[1:] = (sid[1:] != sid[:-1]) | (day[1:] != day[:-1])
    out[idx[first]] = True
    return out


def _previous_true(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """For each slot, the index of the previous True slot of its series (-1 if none)."""
    n = mask.shape[0]
    idx = np.where(mask, np.arange(n), -1)
    last = np.maximum.accumulate(idx) if n else idx
    prev = np.full(n, -1, dtype=np.int64)
    prev[1:] = last[:-1]
    start = np.repeat(offsets[:-1], np.diff(offsets))
    return np.where(prev >= start, prev, -1)
