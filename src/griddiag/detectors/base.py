"""Detector base class and the common flags -> events -> findings step.

A detector is a frozen dataclass (scikit-learn manners, ``sklearn/base.py``): its fields are
its parameters and nothing else; it learns nothing it keeps, so scoring a grid never changes
it, and two runs of the same detector on the same data agree. Three things are kept apart
(river's ``anomaly/threshold.py``): the *score* of each slot (higher = more anomalous, NaN = no
score), the *flags* (score crossed the profile's threshold) and the *events* (flagged slots
merged into intervals by :func:`griddiag.kernels.flags_to_events`, ADTK's ``to_events``).

An event becomes a *finding* (``FINDINGS_SCHEMA``) here, with its start, end and peak, the
observed and expected values at the peak, a magnitude in physical units, the share of its
window that had data (coverage), the rule and standard it applies, and a reason and an action
written for the technician who goes to the site. :func:`merge_findings` then makes one
anomaly seen by several detectors read as one event per kind.
"""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from griddiag import kernels as K
from griddiag.detectors.grid import Grid, daily_totals
from griddiag.exceptions import ConfigError
from griddiag.kernels.events import event_stats
from griddiag.schema import FINDINGS_SCHEMA, METRICS, SEVERITIES, TS_DTYPE, empty_findings

__all__ = ["Detector", "Evaluation", "daily_grid", "fmt", "local_time_text", "merge_findings",
           "per_interval", "slots"]

_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Evaluation:
    """What a detector computed on a grid, one entry per slot.

    ``score`` is NaN where the detector has no opinion; ``flags`` True where the score crossed
    the threshold; ``expected`` the value the detector expected (NaN where it has none);
    ``begin_us`` optionally the earliest instant the anomaly at a slot may have started (a
    register step happened somewhere after the previous reading); ``codes`` optionally a class
    per slot, for detectors that report several kinds (the register check); ``observed``
    optionally what the finding reports as observed (default: the reading itself; a level
    shift reports the level after the change); ``expected_per_series`` in place of
    ``expected`` when the expectation is one number per series (one entry per series: a
    value-sized array repeating it would be read only at the events' peaks).
    """

    score: np.ndarray
    flags: np.ndarray
    expected: np.ndarray | None = None
    begin_us: np.ndarray | None = None
    codes: np.ndarray | None = None
    observed: np.ndarray | None = None
    expected_per_series: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True)
class Detector:
    """Base class: parameters as fields; ``score`` / ``evaluate`` / ``find`` never mutate.

    Subclasses set the class variables below and implement :meth:`evaluate` and
    :meth:`describe`.

    Parameters
    ----------
    severity : {"info", "warning", "critical"}
        Severity of an event.
    critical_at : float, optional
        Events whose peak score reaches this are ``critical``.
    max_gap : int
        Flagged slots at most this many slots apart form one event.
    min_len : int
        Shortest event, in slots.
    """

    #: name in profiles and in the findings' ``detector`` column
    name: ClassVar[str] = ""
    #: finding kind it reports
    kind: ClassVar[str] = ""
    #: metric kinds (``schema.METRIC_KINDS``) it applies to
    metric_kinds: ClassVar[tuple[str, ...]] = ()
    rule: ClassVar[str] = ""
    standard: ClassVar[str] = ""
    action: ClassVar[str] = ""
    #: True when the score lives on *missing* slots (the gap detector), so the contract's
    #: "NaN in, NaN out" reads the other way round
    scores_missing: ClassVar[bool] = False
    #: True when :meth:`evaluate` needs ``grid.calendar`` (local days, day types)
    needs_calendar: ClassVar[bool] = False
    #: slots either side of an event that its coverage also looks at (in hours)
    context_hours: ClassVar[float] = 24.0

    severity: str = "warning"
    critical_at: float | None = None
    max_gap: int = 0
    min_len: int = 1

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ConfigError(f"{self.name}: severity must be one of {SEVERITIES}, "
                              f"got {self.severity!r}")
        if isinstance(self.max_gap, bool) or not isinstance(self.max_gap, int) \
                or self.max_gap < 0:
            raise ConfigError(f"{self.name}: max_gap must be an integer >= 0 (slots), got "
                              f"{self.max_gap!r}")
        if isinstance(self.min_len, bool) or not isinstance(self.min_len, int) \
                or self.min_len < 1:
            raise ConfigError(f"{self.name}: min_len must be an integer >= 1 (slots), got "
                              f"{self.min_len!r}")

    # -- parameters (scikit-learn's get_params / set_params, immutable) -----------------------
    def get_params(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def with_params(self, **params: object) -> Detector:
        """A new detector with some parameters changed (this one is unchanged)."""
        return dataclasses.replace(self, **params)

    @classmethod
    def from_params(cls, params: dict[str, object], *, where: str = "") -> Detector:
        """Build from a profile table, naming unknown keys and the valid ones."""
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - valid)
        if unknown:
            raise ConfigError(f"{where or cls.name}: unknown parameter(s) {unknown}; "
                              f"{cls.name} takes {sorted(valid)}")
        try:
            return cls(**params)
        except TypeError as exc:  # wrong value types caught by dataclass init
            raise ConfigError(f"{where or cls.name}: {exc}") from exc

    def applies_to(self, metric: str) -> bool:
        """Whether the detector means anything for ``metric`` (by the metric's kind)."""
        m = METRICS.get(metric)
        return m is not None and m.kind in self.metric_kinds

    # -- the three steps -------------------------------------------------------------------
    def evaluate(self, grid: Grid) -> Evaluation:
        """Score and flag every slot of ``grid`` (pure: reads the grid, returns new arrays)."""
        raise NotImplementedError

    def score(self, grid: Grid) -> np.ndarray:
        """Per-slot score, higher = more anomalous, NaN = no score (one per slot of ``grid``)."""
        return self.evaluate(grid).score

    def describe(self, events: pl.DataFrame) -> pl.DataFrame:
        """Add ``magnitude``, ``reason`` (and optionally ``severity``, ``kind``, ``action``)
        to the event table of :meth:`find`; polars expressions over all events at once."""
        raise NotImplementedError

    def prepare(self, grid: Grid) -> Grid:
        """The grid the detector works on (identity; daily detectors aggregate here)."""
        return grid

    def find(self, grid: Grid, *, label: str | None = None) -> pl.DataFrame:
        """Findings (``FINDINGS_SCHEMA``) of this detector on ``grid``."""
        work = self.prepare(grid)
        if work.values.shape[0] == 0:
            return empty_findings()
        return self.findings_from(work, self.evaluate(work), label=label)

    def findings_from(self, grid: Grid, ev: Evaluation, *, label: str | None = None,
                      kind: str | None = None) -> pl.DataFrame:
        """Flags -> events (:func:`griddiag.kernels.flags_to_events`) -> findings."""
        series, start, end, peak = K.flags_to_events(ev.flags, grid.offsets, ev.score,
                                                     max_gap=self.max_gap,
                                                     min_len=self.min_len)
        if series.size == 0:
            return empty_findings()
        table = event_table(grid, ev, series, start, end, peak, self.context_hours)
        table = table.with_columns(
            pl.lit(kind or self.kind).alias("kind"),
            pl.lit(self.action).alias("action"),
            self._severity_expr(),
        )
        out = self.describe(table)
        return finalize(out, detector=label or self.name, rule=self.rule,
                        standard=self.standard)

    def _severity_expr(self) -> pl.Expr:
        if self.critical_at is None:
            return pl.lit(self.severity).alias("severity")
        return (pl.when(pl.col("score") >= self.critical_at).then(pl.lit("critical"))
                .otherwise(pl.lit(self.severity)).alias("severity"))


# -- event table ------------------------------------------------------------------------------

def _utc(us: np.ndarray) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(TS_DTYPE)


def event_table(grid: Grid, ev: Evaluation, series: np.ndarray, start: np.ndarray,
                end: np.ndarray, peak: np.ndarray, context_hours: float) -> pl.DataFrame:
    """Numbers of every event (one row each), read from the events' own slots
    (:func:`griddiag.kernels.events.event_stats`). ``coverage``: the share of present slots
    in the event's window, ``context_hours`` each side cut at its series' ends."""
    vals = grid.values
    interval_us = grid.series["interval_us"].to_numpy()[series]
    last = end - 1
    ctx = np.maximum((context_hours * 3.6e9) // interval_us, 0).astype(np.int64)
    window_start = np.maximum(start - ctx, grid.offsets[series])
    window_end = np.minimum(end + ctx, grid.offsets[series + 1])
    total, n_valid, vmin, vmax, window_valid = event_stats(vals, start, end, window_start,
                                                           window_end)
    begin = ev.begin_us if ev.begin_us is not None else grid.ts_us
    if ev.expected is not None:
        expected = ev.expected[peak]
    elif ev.expected_per_series is not None:
        expected = ev.expected_per_series[series]
    else:
        expected = np.full(peak.size, np.nan)
    meta = grid.series.select("asset_id", "metric", "tz")[series]
    return meta.with_columns(
        pl.Series("series", series),
        _utc(begin[start]).alias("start"),
        _utc(grid.ts_us[last] + interval_us).alias("end"),
        _utc(grid.ts_us[peak]).alias("peak_ts"),
        pl.Series("score", ev.score[peak]),
        pl.Series("observed", (ev.observed if ev.observed is not None else vals)[peak]),
        pl.Series("expected", expected),
        pl.Series("n_slots", end - start),
        pl.Series("n_valid", n_valid),
        pl.Series("total", total),
        pl.Series("vmin", vmin),
        pl.Series("vmax", vmax),
        pl.Series("interval_min", interval_us / 6e7),
        pl.Series("duration_h", (end - start) * interval_us / 3.6e9),
        pl.Series("coverage", window_valid / np.maximum(window_end - window_start, 1)),
        pl.col("metric").replace_strict({k: m.unit for k, m in METRICS.items()},
                                        default=None).alias("unit"),
    )


def finalize(events: pl.DataFrame, *, detector: str, rule: str, standard: str
             ) -> pl.DataFrame:
    """Shape a described event table into ``FINDINGS_SCHEMA`` (run_id/status null)."""
    cols = []
    fixed = {"detector": detector, "rule": rule, "standard": standard or None}
    for c, dtype in FINDINGS_SCHEMA.items():
        if c in fixed and c not in events.columns:
            cols.append(pl.lit(fixed[c], dtype).alias(c))
        elif c in events.columns:
            cols.append(pl.col(c).cast(dtype))
        else:
            cols.append(pl.lit(None, dtype).alias(c))
    return events.select(cols)


# -- text helpers -----------------------------------------------------------------------------

def fmt(col: str | pl.Expr, digits: int = 2) -> pl.Expr:
    """A number as text with at most ``digits`` decimals (no float noise in a reason)."""
    e = pl.col(col) if isinstance(col, str) else col
    return (e.round(0).cast(pl.Int64) if digits == 0 else e.round(digits)).cast(pl.String)


def local_time_text(events: pl.DataFrame, col: str, out: str) -> pl.DataFrame:
    """Add ``out``: ``col`` as local wall time of the asset's ``tz`` (UTC when unknown).

    Technicians read local time; converting per distinct zone keeps it vectorised.
    """
    zones = events["tz"].fill_null("UTC")
    names = zones.unique().to_list()
    if len(names) == 1:  # the usual batch: one expression, no scatter per zone
        label = "UTC" if names[0] == "UTC" else names[0]
        return events.with_columns(
            (pl.col(col).dt.convert_time_zone(names[0]).dt.strftime("%Y-%m-%d %H:%M")
             + f" {label}").alias(out))
    text = pl.Series(out, [None] * events.height, dtype=pl.String)
    for zone in names:
        mask = (zones == zone).to_numpy()
        idx = np.flatnonzero(mask)
        local = events[col].gather(idx).dt.convert_time_zone(zone)
        label = "UTC" if zone == "UTC" else zone
        text = text.scatter(idx, local.dt.strftime("%Y-%m-%d %H:%M") + f" {label}")
    return events.with_columns(text)


# -- merging ----------------------------------------------------------------------------------

def merge_findings(findings: pl.DataFrame) -> pl.DataFrame:
    """One event per (asset, metric, kind) where findings overlap or touch in time.

    The merged row keeps the numbers and text of its most severe, then highest-scoring,
    member; its window is the union; ``detector`` lists every detector that saw it (``+``).
    """
    if findings.height < 2:
        return findings
    keys = ["asset_id", "metric", "kind"]
    f = findings.sort([*keys, "start"]).with_columns(
        pl.col("severity").replace_strict(_SEVERITY_RANK, default=0).alias("_rank"),
        (pl.col("start") > pl.col("end").cum_max().shift(1).over(keys))
        .fill_null(True).cum_sum().alias("_grp"),
    )
    merged = f.group_by("_grp", maintain_order=True).agg(
        # ties broken by start and detector so the result never depends on input row order
        pl.all().sort_by(["_rank", "score", "start", "detector"],
                         descending=[True, True, False, False], nulls_last=True)
        .first(),
        pl.col("start").min().alias("_start"),
        pl.col("end").max().alias("_end"),
        pl.col("detector").unique().sort().str.join("+").alias("_detectors"),
    )
    return merged.with_columns(
        pl.col("_start").alias("start"), pl.col("_end").alias("end"),
        pl.col("_detectors").alias("detector"),
    ).select(list(FINDINGS_SCHEMA))




# -- shared work of the detectors of one grid -------------------------------------------------

_DAILY: list[tuple[weakref.ref, weakref.ref, float, Grid]] = []


def daily_grid(grid: Grid, min_coverage: float) -> Grid:
    """:func:`griddiag.detectors.grid.daily_totals` of ``grid`` (the grid of days), reused
    while the same grid is prepared again: the daily detectors of one grid (usage, usage last
    year, level shift) share one aggregation instead of each taking a pass over every slot.

    Keyed by the identity of the grid's values and calendar (weak references: never a
    recycled id); one entry, so memory holds at most one small grid of days.
    """
    cal = grid.calendar
    for ref_v, ref_d, cov, days in _DAILY:
        if ref_v() is grid.values and cal is not None and ref_d() is cal.day \
                and cov == min_coverage:
            return days
    days = daily_totals(grid, min_coverage=min_coverage, index=False)[0]
    try:
        _DAILY[:] = [(weakref.ref(grid.values), weakref.ref(cal.day), min_coverage, days)]
    except (TypeError, AttributeError):  # no calendar (daily_totals raised) or no weakref
        _DAILY.clear()
    return days


# -- helpers for detectors whose windows are set in hours --------------------------------------

def slots(hours: float, interval_us: int) -> int:
    """Whole slots in ``hours`` at ``interval_us`` (at least 1)."""
    return max(int(round(hours * 3.6e9 / interval_us)), 1)


def per_interval(grid: Grid, fn) -> tuple[np.ndarray, ...]:
    """Run ``fn(sub_grid, interval_us) -> tuple of per-slot arrays`` once per distinct
    interval of the grid's series and reassemble the arrays in slot order.

    Kernel windows count slots, so a window given in hours needs one call per interval; a
    batch rarely holds more than one or two intervals per metric.
    """
    steps = grid.series["interval_us"].to_numpy()
    kinds = np.unique(steps)
    if kinds.size <= 1:  # the usual case; an empty grid takes any interval
        return fn(grid, int(kinds[0]) if kinds.size else 3_600_000_000)
    outs: list[np.ndarray] | None = None
    slot_step = grid.interval_of_slot()
    for step in kinds:
        part = fn(grid.select(steps == step), int(step))
        keep = slot_step == step
        if outs is None:
            outs = [np.empty(grid.values.shape[0], dtype=a.dtype) for a in part]
        for o, a in zip(outs, part):
            o[keep] = a
    return tuple(outs or ())
