"""``griddiag.detect``: run a detector profile over readings and return the findings frame.

Data flow per batch (a set of whole transformer areas, INTERFACE.md "Inspection semantics"):
readings -> one regular grid per metric (:func:`griddiag.detectors.grid.to_grid`, missing
slots NaN, never filled) -> local calendar when a detector needs it -> each configured
detector on the series of the asset kinds and metrics it applies to -> electrical and theft
checks on the batch's sorted arrays (the period and the checks' history) -> findings explained
by another finding dropped -> overlapping
findings of one kind merged (:func:`griddiag.detectors.base.merge_findings`). A large batch
runs the electrical and theft checks on a second thread beside the detectors
(:func:`detect_batch`); the findings are the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.schema import (
    FINDINGS_SCHEMA,
    METRICS,
    empty_findings,
    normalize_assets,
    normalize_readings,
)
from griddiag.storage.base import Store

if TYPE_CHECKING:
    from griddiag.detectors.grid import SortedReadings
    from griddiag.detectors.profile import Profile

__all__ = ["detect"]

# The detectors (and numba) are imported inside the functions: `import griddiag` stays light.

log = logging.getLogger(__name__)


def detect(source: pl.DataFrame | Store, *, assets: pl.DataFrame | None = None,
           profile: str | Path | Profile = "default", year: int | None = None,
           start: datetime | None = None, end: datetime | None = None,
           batch_assets: int = 500) -> pl.DataFrame:
    """Findings of a detector profile over a readings frame or a store.

    Parameters
    ----------
    source : polars.DataFrame or Store
        Canonical readings, or a store (read in batches of whole transformer areas through
        ``Store.read_batches``; memory is bounded by the batch).
    assets : polars.DataFrame, optional
        Assets frame (kinds, time zones, register digits); default: the store's registry, or
        none for a frame (every asset then counts as kind ``unknown``, time zone UTC).
    profile : str, Path or Profile
        A shipped profile name (``"default"``), a TOML file, or a loaded profile.
    year : int, optional
        Calendar year in each asset's local time zone. Exclusive with ``start``/``end``.
    start, end : datetime, optional
        Period (aware datetimes; ``end`` exclusive).
    batch_assets : int
        Assets per batch when reading a store (whole areas are never split).

    Returns
    -------
    polars.DataFrame
        ``FINDINGS_SCHEMA``, sorted by ``asset_id, metric, start, kind``; ``run_id`` and
        ``status`` are null (the inspection job sets them).
    """
    from griddiag.detectors.profile import load_profile

    if year is not None and (start is not None or end is not None):
        raise ConfigError("pass either year or start/end, not both")
    prof = load_profile(profile)
    if isinstance(source, Store):
        reg = normalize_assets(assets if assets is not None else source.assets())
        # the external checks' history, and the history a meter detector asks for
        batches = _store_batches(source, reg, year, start, end, batch_assets,
                                 prof.read_history_days)
    elif isinstance(source, pl.DataFrame):
        reg = normalize_assets(assets) if assets is not None else _unknown_assets(source)
        batches = iter([normalize_readings(source)])
    else:
        raise ConfigError(f"detect() takes a readings DataFrame or a Store, got "
                          f"{type(source).__name__}")
    parts = []
    # one batch alive at a time: a loop variable would keep the previous batch (and its
    # sorted arrays) referenced while the next one is read, adding a batch to that peak
    while (batch := next(batches, None)) is not None:
        found = detect_batch(batch, reg, prof, year=year, start=start, end=end)
        del batch
        if found.height:
            parts.append(found)
    if not parts:
        return empty_findings()
    return pl.concat(parts).sort("asset_id", "metric", "start", "kind")


def _unknown_assets(readings: pl.DataFrame) -> pl.DataFrame:
    ids = readings["asset_id"].unique().sort()
    return normalize_assets(pl.DataFrame({"asset_id": ids, "kind": ["unknown"] * len(ids)}))


def _year_bounds(year: int, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    return (datetime(year, 1, 1, tzinfo=zone).astimezone(UTC),
            datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC))


def _period(assets: pl.DataFrame, year, start, end) -> tuple[datetime | None, datetime | None]:
    """The period as UTC bounds: a local year spans the earliest to the latest zone's."""
    if year is None:
        return start, end
    zones = assets["tz"].fill_null("UTC").unique().to_list() or ["UTC"]
    bounds = [_year_bounds(year, z) for z in zones]
    return min(b[0] for b in bounds), max(b[1] for b in bounds)


def plan_batches(assets: pl.DataFrame, batch_assets: int) -> list[list[str]]:
    """Asset ids in batches of whole transformer areas, about ``batch_assets`` each.

    A meter's area is its transformer; every other asset is its own area. Areas are taken in id
    order and a batch ends once it holds ``batch_assets`` assets, so an area is never split
    (energy balance and peer comparisons see complete groups). The inspection job and its Dask
    executor batch by this same rule.
    """
    areas = assets.with_columns(
        pl.when(pl.col("kind") == "meter").then(pl.col("parent_id")).otherwise(None)
        .fill_null(pl.col("asset_id")).alias("area"))
    sizes = areas.group_by("area").len().sort("area")
    first = sizes["len"].cum_sum() - sizes["len"]
    chunk = sizes.with_columns((first // max(batch_assets, 1)).alias("chunk"))
    areas = areas.join(chunk.select("area", "chunk"), on="area")
    return [group["asset_id"].to_list() for _, group in
            areas.sort("chunk", "area", "asset_id").group_by("chunk", maintain_order=True)]


def _store_batches(store: Store, assets: pl.DataFrame, year, start, end, batch_assets: int,
                   history_days: float = 0.0) -> Iterator[pl.DataFrame]:
    """Readings of whole transformer areas, ``batch_assets`` assets at a time (about), from
    ``history_days`` before the period (the external checks' history) to its end."""
    start, end = _period(assets, year, start, end)
    if start is not None and history_days:
        start = start - timedelta(days=history_days)
    for ids in plan_batches(assets, batch_assets):
        yield from store.read_batches(ids, None, start, end, batch_assets=len(ids) + 1)


def detect_batch(readings: pl.DataFrame, assets: pl.DataFrame, prof: Profile, *,
                 year: int | None = None, start: datetime | None = None,
                 end: datetime | None = None) -> pl.DataFrame:
    """Findings of one batch of whole transformer areas (see the module docstring).

    A large batch, with two kernel threads or more, runs in two lanes
    (:func:`griddiag.kernels._launch.side_lane`, which splits the threads between them): the
    electrical and theft checks (daily balances and PyOD models, much of it Python) on a
    second thread, beside the meter and statistical detectors, whose kernels and array work
    release the GIL (:func:`_checks_beside`). The detectors take the metric with the most
    readings last (:func:`_largest_last`), and the electrical checks wait for it to be done,
    so the grids they share (about 0.5 GB on 1,000 meters) never add to the detectors' memory
    peak. Whichever lane is free first takes the next electrical check (:class:`_CheckQueue`):
    the lane that ends its own work first does not wait idle for the other. A two-lane batch
    also starts its checks' imports (PyOD) on a third thread while it sorts
    (:func:`_warm_up_beside`). The findings are those of a one-lane run. On a cold numba cache
    a second process compiles the kernels from the other end of the run
    (:mod:`griddiag.cold_start`); the findings are the same.

    The checks read the batch's sorted arrays, or a window of them when the batch holds more
    history than the checks read (:func:`_checks_window`; the annual inspection reads its
    baseline years too): never a filtered copy of the frame sorted again.
    """
    from griddiag.cold_start import compile_helper
    from griddiag.detectors.base import merge_findings
    from griddiag.detectors.grid import forget_shared, sorted_readings
    from griddiag.kernels._launch import side_lane, side_lane_threads

    if readings.height == 0:
        return empty_findings()
    lo, hi = _period(assets, year, start, end)
    two_lanes = side_lane_threads(readings.height) >= 2
    if two_lanes:
        _warm_up_beside(prof.external)
    # sorted once (integer codes, no string work per metric)
    batch = sorted_readings(readings)
    zones = _zones(batch, assets)
    window = _checks_window(prof, lo, hi)
    # the checks' readings: in one lane made once the detectors are done (their memory peak)
    for_checks = batch.between(*window) if two_lanes else None
    found: list[pl.DataFrame] = []  # the detectors', then the checks' (as in one lane)
    # on a cold numba cache a second process compiles the kernels from the other end (it
    # counts this thread's kernel threads, so it is entered before the lanes split them)
    try:
        with (compile_helper(readings, assets, prof, batch.ids, two_lanes=two_lanes),
              side_lane(readings.height) if two_lanes else nullcontext(None) as submit):
            if submit is None:
                _run_detectors(batch, zones, assets, prof, year, start, end, found)
                found += _run_external(batch.between(*window), assets, prof.external, lo, hi)
            else:
                past_peak = threading.Event()
                electrical = _CheckQueue(
                    for_checks, assets,
                    [e for e in prof.external if e.family == "electrical"], lo, hi)
                beside = submit(_checks_beside, for_checks, assets, prof.external, lo, hi,
                                past_peak, electrical)
                try:
                    _run_detectors(batch, zones, assets, prof, year, start, end, found,
                                   past_peak=past_peak)
                finally:
                    past_peak.set()  # an error here must not leave the side lane waiting
                electrical.work()
                checked = {**beside.result(), **electrical.found}
                found += [checked[id(e)] for e in prof.external]  # in order, as in one lane
    finally:
        if two_lanes:  # the electrical grids, once both lanes are done (after an error too)
            forget_shared(for_checks)
    found = [f for f in found if f.height]
    if not found:
        return empty_findings()
    return merge_findings(_drop_explained(pl.concat(found)))


def _warm_up_beside(checks: list) -> None:
    """Start the checks' warm-up (:meth:`ExternalSpec.warm_up`: PyOD and scikit-learn for
    the theft checks, about 3 s of imports in a fresh process) on a thread of its own, to
    run while the batch is sorted rather than in the middle of the side lane; a check whose
    warm-up fails imports again, and raises, when it runs. Measured on 1,000 meters in a
    fresh process: 12.3-12.9 s -> 11.1-11.8 s for the whole profile."""

    def warm_up() -> None:
        for check in {e.family: e for e in checks}.values():  # once per module
            try:
                check.warm_up()
            except Exception:  # noqa: BLE001 - the check reports it when it runs
                log.debug("warm-up of %s checks failed", check.family, exc_info=True)

    threading.Thread(target=warm_up, name="griddiag-warm-up", daemon=True).start()


def _checks_beside(readings: SortedReadings, assets: pl.DataFrame, checks: list, lo, hi,
                   past_peak: threading.Event, electrical: _CheckQueue
                   ) -> dict[int, pl.DataFrame]:
    """The side lane of a two-lane :func:`detect_batch`: the checks that are not electrical
    (theft), then, once the detectors are past their memory peak (``past_peak``), the
    electrical checks of the queue the main lane also takes from when its detectors are
    done; the grids they share (about 0.5 GB on 1,000 meters) would otherwise add to the
    detectors' peak. Returns the findings of the checks it ran outside the queue, by ``id``
    of the check. The grids stay until both lanes are done: unlike :func:`_run_external`,
    nothing is let go after the theft checks, whose end may fall between two of the other
    lane's electrical checks that share a grid."""
    others = [e for e in checks if e.family != "electrical"]
    found = {id(e): _run_check(readings, assets, e, lo, hi) for e in others}
    past_peak.wait()
    electrical.work()
    return found


class _CheckQueue:
    """Checks that the two lanes of :func:`detect_batch` take one at a time, each lane as
    soon as it is free (:meth:`work`), so neither waits idle while the other still has
    several to run. Their shared grids are built once (``SortedReadings.shared``) and let
    go by the caller, after both lanes (:func:`griddiag.detectors.grid.forget_shared`)."""

    def __init__(self, readings: SortedReadings, assets: pl.DataFrame, checks: list,
                 lo: datetime | None, hi: datetime | None) -> None:
        self._args = (readings, assets, lo, hi)
        self._todo = list(checks)
        self._lock = threading.Lock()
        #: findings by ``id`` of the check, once it has run
        self.found: dict[int, pl.DataFrame] = {}

    def work(self) -> None:
        """Run the queue's next check until none is left."""
        readings, assets, lo, hi = self._args
        while True:
            with self._lock:
                if not self._todo:
                    return
                check = self._todo.pop(0)
            self.found[id(check)] = _run_check(readings, assets, check, lo, hi)


def _run_detectors(batch, zones, assets, prof, year, start, end,
                   out: list[pl.DataFrame], *, past_peak: threading.Event | None = None,
                   backwards: bool = False) -> None:
    """The profile's meter, statistical and joint detectors on the batch's sorted readings,
    zone after zone (:func:`_zones`), the metric with the most readings last
    (:func:`_largest_last`); ``past_peak`` is set once that metric, the detectors' memory
    peak, is done (in the first zone). ``backwards``: in the opposite order, joint detectors
    first (the cold-start compile helper's order, :func:`run_backwards`)."""
    for zone, ids in (zones[::-1] if backwards else zones):
        # a year is local to each asset: one grid per time zone (a handful per utility)
        lo, hi = _year_bounds(year, zone) if year is not None else (start, end)
        zone_sorted = batch if ids is None else batch.subset(batch.metrics.to_list(), ids)
        metrics = _largest_last(zone_sorted)
        joint_specs = [s for s in prof.detectors if s.joint]
        # the period grids of the metrics a joint detector compares are kept for it, so the
        # sum check reads the interval channel's grid in place instead of building it again
        keep = {m for s in joint_specs for m in metrics if s.applies(m)}
        grids: dict[str, Any] = {}
        if backwards:
            _run_joints(zone_sorted, assets, prof, joint_specs, metrics, lo, hi, grids, out)
        for metric in (metrics[::-1] if backwards else metrics):
            specs = [s for s in prof.detectors if not s.joint and s.applies(metric)]
            if specs:
                found, grid = _run_metric(zone_sorted, assets, prof, specs, lo, hi, [metric])
                out += found
                if metric in keep and grid is not None and not backwards:
                    grids[metric] = grid
            if past_peak is not None and metric == metrics[-1]:
                past_peak.set()
        if not backwards:
            _run_joints(zone_sorted, assets, prof, joint_specs, metrics, lo, hi, grids, out)
        del grids


def _largest_last(batch) -> list[str]:
    """The metrics of ``batch`` (``SortedReadings``), the fewest readings first (then by
    name), so the most readings last.

    In a two-lane run the many small grids (mostly Python: polars and array steps per
    metric) then overlap the side lane's energy balance, whose kernels release the GIL, and
    the largest metric's kernels overlap the theft checks' PyOD models, which hold it; the
    other way round the small grids and the PyOD models waited for each other's GIL. On
    1,000 meters x 1 year: the small metrics took 0.9 s instead of 1.8 s, the whole profile
    10.2-10.4 s against 10.5-11.2 s in alternating runs."""
    n_metrics = batch.metrics.len()
    series = np.bincount(batch.series_metric, minlength=n_metrics)
    n_readings = np.bincount(batch.series_metric, weights=np.diff(batch.row_offsets),
                             minlength=n_metrics)
    present = np.flatnonzero(series)  # a zone's subset keeps the batch's metric codes
    return batch.metrics.gather(present[np.argsort(n_readings[present], kind="stable")]
                                ).to_list()


def _run_joints(readings, assets, prof, specs, metrics, lo, hi, grids,
                out: list[pl.DataFrame]) -> None:
    for spec in specs:
        # a detector comparing metrics of one asset (the sum check) sees them together
        joint = [m for m in metrics if spec.applies(m)]
        if joint:
            out.append(_run_joint(readings, assets, prof, spec, lo, hi, joint, grids))


def run_backwards(readings: pl.DataFrame, assets: pl.DataFrame, prof: Profile, *,
                  two_lanes: bool) -> None:
    """:func:`detect_batch`'s work in the opposite order, findings thrown away: what the
    cold-start compile helper runs (:mod:`griddiag.cold_start`). ``detect_batch`` compiles the
    kernels from its first step on; this compiles them from its last step back, and each
    process loads from numba's cache what the other has already saved, so together they
    compile the profile about once. ``two_lanes``: backwards from the ends of a two-lane
    ``detect_batch``'s lanes (detectors on one; theft, then electrical checks on the other):
    electrical checks, detectors, theft checks; else the one lane's order (detectors, then
    the checks in the profile's order) reversed."""
    from dataclasses import replace

    from griddiag.detectors.grid import sorted_readings

    prof = replace(prof, detectors=prof.detectors[::-1])
    batch = sorted_readings(readings)

    def detectors() -> None:
        _run_detectors(batch, _zones(batch, assets), assets, prof, None, None, None, [],
                       backwards=True)

    checks = list(prof.external[::-1])
    if two_lanes:
        _run_external(batch, assets, [e for e in checks if e.family == "electrical"],
                      None, None)
        detectors()
        _run_external(batch, assets, [e for e in checks if e.family != "electrical"],
                      None, None)
    else:
        _run_external(batch, assets, checks, None, None)
        detectors()


def _zones(batch, assets: pl.DataFrame) -> list[tuple[str, list[str] | None]]:
    """The time zones of the batch's assets, each with its asset ids (``None``: all of
    them, the usual batch of one zone); an asset without a zone counts as UTC."""
    tz_of = assets.select("asset_id", pl.col("tz").fill_null("UTC"))
    ids = batch.ids  # the batch's distinct asset ids
    known = tz_of.filter(pl.col("asset_id").is_in(ids.implode()))
    zones = known["tz"].unique()
    if zones.len() <= 1 and known.height == ids.len():
        return [(zones[0] if zones.len() else "UTC", None)]
    zone_of = pl.DataFrame({"asset_id": ids}).join(tz_of, on="asset_id", how="left")
    zone_of = zone_of.with_columns(pl.col("tz").fill_null("UTC"))
    return [(zone, part["asset_id"].to_list())
            for (zone,), part in zone_of.partition_by("tz", as_dict=True).items()]


def _run_metric(readings, assets, prof, specs, lo, hi, metrics=None
                ) -> tuple[list[pl.DataFrame], Any]:
    """Detectors on one grid of the period, and that grid (None when no detector runs on
    the period itself); a detector needing history before the period (same period last year)
    gets its own, longer grid, and its findings are kept where they overlap the period (so
    the others pay nothing for it). ``metrics`` selects the series of ``readings`` (the
    batch's SortedReadings) inside :func:`to_grid`, so the selected rows are copied only while
    the grid is built, not for as long as its detectors run."""
    out = []
    if lo is not None:
        longer = [s for s in specs if s.history_days > 0]
        specs = [s for s in specs if s.history_days <= 0]
        for days in sorted({s.history_days for s in longer}):
            found, _ = _run_grid(readings, assets, prof,
                                 [s for s in longer if s.history_days == days],
                                 lo - timedelta(days=days), hi, metrics)
            out += [f.filter(pl.col("end") > lo) for f in found]
    if not specs:
        return out, None
    found, grid = _run_grid(readings, assets, prof, specs, lo, hi, metrics)
    return out + found, grid


def _run_grid(readings, assets, prof, specs, lo, hi, metrics=None
              ) -> tuple[list[pl.DataFrame], Any]:
    from griddiag.detectors.grid import build_calendar, to_grid

    grid = to_grid(readings, interval_minutes=prof.intervals, start=lo, end=hi, assets=assets,
                   metrics=metrics)
    if any(s.detector.needs_calendar for s in specs):
        grid = build_calendar(grid, holiday_country=prof.holiday_country)
    out = []
    for spec in specs:
        mask = _kinds_mask(grid, spec)
        if mask.any():
            out.append(spec.detector.find(grid.select(mask), label=spec.label))
    return out, grid


def _kinds_mask(grid, spec) -> np.ndarray:
    """The series of ``grid`` that ``spec`` applies to (its asset kinds)."""
    kinds = grid.series["asset_kind"].fill_null("unknown").to_numpy()
    if spec.asset_kinds is None:
        return np.ones(kinds.shape[0], dtype=bool)
    return np.isin(kinds, spec.asset_kinds)


def _run_joint(readings, assets, prof, spec, lo, hi, metrics, grids) -> pl.DataFrame:
    """A detector comparing several metrics of one asset. One that takes a grid per metric
    (``find_metrics``) gets the period grids the per-metric detectors already built (a grid
    is built here only for a metric nothing else ran on); any other gets one grid of all the
    metrics' series."""
    from griddiag.detectors.grid import build_calendar, to_grid

    det = spec.detector
    if not hasattr(det, "find_metrics"):
        found, _ = _run_grid(readings, assets, prof, [spec], lo, hi, metrics)
        return pl.concat(found) if found else empty_findings()
    chosen = {}
    for m in metrics:
        grid = grids.get(m)
        if grid is None:
            grid = to_grid(readings, interval_minutes=prof.intervals, start=lo, end=hi,
                           assets=assets, metrics=[m])
            if det.needs_calendar:
                grid = build_calendar(grid, holiday_country=prof.holiday_country)
        mask = _kinds_mask(grid, spec)
        if mask.any():
            chosen[m] = grid if mask.all() else grid.select(mask)
    return det.find_metrics(chosen, label=spec.label)


def _checks_window(prof: Profile, lo: datetime | None, hi: datetime | None
                   ) -> tuple[int | None, int | None]:
    """What the electrical and theft checks read, as microsecond bounds of the batch's
    sorted arrays (:meth:`~griddiag.detectors.grid.SortedReadings.between`): the period plus
    ``prof.history_days`` before it (``None``: unbounded).

    A theft or a line loss is a change against the asset's own history, so these checks read
    the history too (a theft that began before the period is still a fall of that meter's
    share); a batch may hold more (the annual inspection reads its baseline years), which
    they do not see.
    """
    from griddiag.detectors.grid import period_us

    start = lo - timedelta(days=prof.history_days) if lo is not None else None
    return period_us(start), period_us(hi)


def _run_external(readings: SortedReadings, assets: pl.DataFrame, checks: list,
                  lo: datetime | None, hi: datetime | None) -> list[pl.DataFrame]:
    """Findings of electrical and theft ``checks`` (of a profile's ``external``) on their
    readings (the batch's, :func:`_checks_window`), one frame per check
    (:func:`_run_check`)."""
    from griddiag.detectors.grid import forget_shared

    out = []
    for i, ext in enumerate(checks):
        out.append(_run_check(readings, assets, ext, lo, hi))
        if i + 1 == len(checks) or checks[i + 1].family != ext.family:
            # a family's checks share grids derived from the batch (the electrical ones:
            # about 0.5 GB on 1,000 meters); the next family does not read them
            forget_shared(readings)
    return out


def _run_check(readings: SortedReadings, assets: pl.DataFrame, ext, lo: datetime | None,
               hi: datetime | None) -> pl.DataFrame:
    """Findings of one electrical or theft check, kept where they overlap the period
    ``[lo, hi)``, with their true start."""
    found = ext.function()(readings, assets, dict(ext.params))
    missing = [c for c in FINDINGS_SCHEMA if c not in found.columns]
    if missing:
        raise ConfigError(f"{ext.family}.detect_{ext.name} returned a frame without "
                          f"{missing}")
    found = found.select([pl.col(c).cast(d) for c, d in FINDINGS_SCHEMA.items()])
    if lo is not None:
        found = found.filter(pl.col("end") > lo)
    if hi is not None:
        found = found.filter(pl.col("start") < hi)
    return found


def _drop_explained(findings: pl.DataFrame) -> pl.DataFrame:
    """Drop a flat register while the same meter records zero consumption.

    A register that does not advance during a supply interruption or disconnection is right,
    not stuck; the zero-consumption finding already tells the story. One register interval
    of slack covers the daily reading that closes the run.
    """
    registers = [m for m, x in METRICS.items() if x.kind == "cumulative_register"]
    flat = findings.filter((pl.col("kind") == "flatline") & pl.col("metric").is_in(registers))
    zero = findings.filter(pl.col("kind") == "zero_consumption")
    if flat.height == 0 or zero.height == 0:
        return findings
    slack = pl.duration(days=1)
    covered = (flat.with_row_index("_i").join(zero.select("asset_id", "start", "end"),
                                               on="asset_id", suffix="_z")
               .filter((pl.col("start") >= pl.col("start_z") - slack)
                       & (pl.col("end") <= pl.col("end_z") + slack))
               ["_i"].unique())
    keep_flat = flat.with_row_index("_i").filter(~pl.col("_i").is_in(covered.implode())).drop("_i")
    rest = findings.filter(~((pl.col("kind") == "flatline")
                             & pl.col("metric").is_in(registers)))
    return pl.concat([rest, keep_flat])
