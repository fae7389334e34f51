"""``griddiag.inspect``: the annual inspection job over a whole store.

One pass over the store in batches of whole transformer areas (``griddiag.detect``'s
batching), each batch read once for every year the job needs (the inspected year, the
baseline years and the detector profile's history before the year), so memory is bounded by
the batch, not by the store. Per batch (:func:`griddiag.inspection.executor.run_batch`, in
this process or on Dask workers): the findings (``detect_batch``), the year-over-year rows
(``compare_years``' building blocks), chart candidates and coverage. This process (the
driver) takes the batches' results in batch order, whatever order they complete in: each
finding's status, the findings staged in the store, the chart collector. Then the population
steps over the per-batch results (FDR q-values and ranks of the year-over-year rows, the
findings resolved since the previous run), the output files, and last the store's switch to
this run's results.

Scope and status
----------------
A run's *scope* is what its findings can be compared with: the store it reads (implicit: runs
are recorded in that store), the detector profile's name and the asset set (always the whole
store: ``assets=all``). Each finding is compared with the current results of the previous
inspection of the same scope, the complete run of the latest year before the inspected one
(normally last year's inspection), by ``(asset_id, metric, kind)``: ``recurring`` when that
problem was reported then, ``new`` otherwise; a problem reported then and not now is added as
a ``resolved`` row (the previous finding with this run's id). Comparing with the previous
*year*, not with an earlier run of the same year, makes re-running a year give the same
statuses every time.

Safe for a scheduler
--------------------
The run is recorded as ``running`` before the first batch, its findings are staged under its
run id batch by batch, the output files are written when every batch is done, and only then
does ``Store.finish_run`` switch the scope and year's current results to this run in one
atomic step, superseding (and deleting) the previous run of the same year. An exception marks
the run ``failed``; a killed process leaves it ``running``; either way the previous complete
results stay current and intact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError, DataError
from griddiag.schema import (
    FINDINGS_SCHEMA,
    SEVERITIES,
    empty_findings,
    empty_yoy,
    normalize_assets,
)
from griddiag.storage.base import Store

if TYPE_CHECKING:
    from griddiag.detectors.grid import SortedReadings

__all__ = ["InspectionResult", "ProgressFn", "inspect", "scope_of", "with_status"]

log = logging.getLogger(__name__)

#: ``progress(done_assets, total_assets, message)``, called after each batch
ProgressFn = Callable[[int, int, str], None]

LANGS = ("en", "zh-CN")
#: how many earlier years a default baseline takes
DEFAULT_BASELINE_YEARS = 2
#: false discovery rate of the year-over-year population step
FDR_ALPHA = 0.05

OUTPUT_FILES = {
    "index_html": "index.html",
    "findings_parquet": "findings.parquet",
    "findings_csv": "findings.csv",
    "yoy_parquet": "yoy.parquet",
    "summary_json": "summary.json",
}


@dataclass
class InspectionResult:
    """What one inspection did.

    Attributes
    ----------
    run_id : str
        The run's id (also in every finding's ``run_id`` and in the store's run record).
    paths : dict of str to Path
        The output files: ``index_html``, ``findings_parquet``, ``findings_csv``,
        ``yoy_parquet``, ``summary_json``.
    counts : dict
        Findings by severity, kind and status, assets, readings, year-over-year rows.
    timings : dict of str to float
        Seconds per step (``read_s``, ``detect_s``, ``yoy_s``, ``charts_s``, ``store_s``,
        ``outputs_s``, ``total_s``).
    findings : polars.DataFrame
        The run's findings (``FINDINGS_SCHEMA``), ``resolved`` rows included.
    memory : dict of str to float or None
        Peak resident memory in MiB: ``driver_peak_mib`` of this process, ``batch_peak_mib``
        the largest of the processes that ran the batches (this one with the local executor;
        each batch's own child with ``executor="process"``). None where not reported.
    """

    run_id: str
    scope: str
    year: int
    baseline_years: list[int]
    previous_run_id: str | None
    paths: dict[str, Path]
    counts: dict[str, Any]
    timings: dict[str, float]
    findings: pl.DataFrame = field(repr=False, default_factory=empty_findings)
    memory: dict[str, float | None] = field(default_factory=dict)

    def at_or_above(self, severity: str) -> int:
        """Open findings (not ``resolved``) of ``severity`` or worse: what ``--fail-on``
        counts."""
        if severity not in SEVERITIES:
            raise ConfigError(f"severity {severity!r}: expected one of {SEVERITIES}")
        worse = SEVERITIES[SEVERITIES.index(severity):]
        return self.findings.filter(pl.col("severity").is_in(worse)
                                    & (pl.col("status") != "resolved")).height


def scope_of(profile_name: str) -> str:
    """The scope key of runs over a whole store with a profile (see the module docstring)."""
    return f"profile={profile_name};assets=all"


def with_status(findings: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """``findings`` with ``status`` new or recurring against ``previous`` (the previous run's
    open findings), by ``(asset_id, metric, kind)``."""
    if findings.height == 0:
        return findings
    keys = previous.select("asset_id", "metric", "kind").unique().with_columns(_seen=True)
    return (findings.drop("status")
            .join(keys, on=["asset_id", "metric", "kind"], how="left", nulls_equal=True)
            .with_columns(status=pl.when(pl.col("_seen")).then(pl.lit("recurring"))
                          .otherwise(pl.lit("new")))
            .select(list(FINDINGS_SCHEMA)))


def resolved_rows(previous: pl.DataFrame, seen: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Previous open findings whose ``(asset_id, metric, kind)`` this run did not report, as
    ``resolved`` rows of this run."""
    if previous.height == 0:
        return empty_findings()
    return (previous.join(seen, on=["asset_id", "metric", "kind"], how="anti", nulls_equal=True)
            .with_columns(run_id=pl.lit(run_id), status=pl.lit("resolved"))
            .select(list(FINDINGS_SCHEMA)))


def _profile_hash(prof) -> str:
    try:
        data = Path(prof.source).read_bytes()
    except OSError:
        data = repr(prof).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def _new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"


def _baseline(year: int, baseline_years: Sequence[int] | None,
              first_year: int | None) -> list[int]:
    if baseline_years is not None:
        years = sorted({int(y) for y in baseline_years})
        later = [y for y in years if y >= year]
        if later:
            raise ConfigError(f"baseline year(s) {later} are not before the inspected year "
                              f"{year}")
        return years
    if first_year is None:
        return []
    return [y for y in range(year - DEFAULT_BASELINE_YEARS, year) if y >= first_year]


def _compare_batch(readings: pl.DataFrame, assets: pl.DataFrame, year: int,
                   baseline: list[int], findings: pl.DataFrame, prof, period_end
                   ) -> pl.DataFrame:
    """Year-over-year measures of one batch's assets (``griddiag.yoy``'s building blocks;
    the batch's areas are whole, so every per-asset measure is final except the population
    columns ``q_value``, ``significant`` and ``rank``, which :func:`_yoy_population` adds)."""
    from griddiag.yoy import compare_summaries, hourly_aggregate, yearly_summary

    hourly = hourly_aggregate(readings, assets)
    cur = yearly_summary(hourly, year, assets=assets)
    base = [yearly_summary(hourly, y, assets=assets) for y in baseline]
    base = [b for b in base if b.height]
    if cur.height == 0:
        return pl.DataFrame()
    return compare_summaries(cur, pl.concat(base) if base else cur.clear(), year=year,
                             baseline_years=baseline, period_end=period_end,
                             group_by="asset", holiday_country=prof.holiday_country,
                             findings=findings)


def _yoy_population(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The population step over every batch's measures: q-values, significance and ranks
    (``griddiag.yoy.finalize``); the result does not depend on the batching."""
    from griddiag.yoy import finalize

    parts = [p for p in parts if p.height]
    if not parts:
        return empty_yoy()
    return finalize(parts, fdr=FDR_ALPHA)


def _period_end(last_ts: datetime | None, assets: pl.DataFrame, year: int) -> date:
    """First local date not compared: the day after the store's last reading in ``year``
    (a partial year is compared with the same dates of the baseline years), capped at the
    year's end; the same rule as ``compare_years``."""
    year_end = date(year + 1, 1, 1)
    if last_ts is None:
        return year_end
    last_local = last_ts.astimezone(ZoneInfo(_main_zone(assets))).date()
    if last_local.year > year:
        return year_end
    return min(year_end, last_local + timedelta(days=1))


def _read_window(assets: pl.DataFrame, year: int, baseline: list[int], history_days: float
                 ) -> tuple[datetime, datetime, datetime, datetime]:
    """UTC bounds of what the job reads (``lo, hi``) and of the inspected year (``y0, y1``)."""
    from griddiag.detect import _period

    y0, y1 = _period(assets, year, None, None)
    lo = y0 - timedelta(days=history_days)
    if baseline:
        lo = min(lo, _period(assets, min(baseline), None, None)[0])
    return lo, y1, y0, y1


_COVERAGE_SCHEMA = {"asset_id": pl.String(), "metric": pl.String(), "present": pl.Int64(),
                    "expected": pl.Float64()}


def _year_series(readings: pl.DataFrame, y0: datetime, y1: datetime
                 ) -> tuple[SortedReadings, np.ndarray, np.ndarray, np.ndarray]:
    """The batch's sorted arrays and, for each series with readings in the inspected year
    ``[y0, y1)``: its index, first row and end row there (two binary searches a series); what
    the batch's coverage (:func:`_coverage`) and year statistics are read from.

    The arrays are the ones ``detect_batch`` sorted the batch into
    (:func:`griddiag.detectors.grid.sorted_readings` keeps them with the frame), so the
    year's readings are found without filtering a copy of the batch and grouping it by its
    string ids: the coverage of a batch of 26 M readings took 1.4-2.6 s that way, 0.05 s so."""
    from griddiag.detectors.grid import period_us, sorted_readings
    from griddiag.kernels.runs import rows_in_period

    sr = sorted_readings(readings)
    off = sr.row_offsets
    first, end = rows_in_period(sr.t, off[:-1], off[1:], period_us(y0), period_us(y1))
    s = np.flatnonzero(end > first)
    return sr, s, first[s], end[s]


def _coverage(year: tuple[SortedReadings, np.ndarray, np.ndarray, np.ndarray], y0: datetime,
              y1: datetime) -> pl.DataFrame:
    """Per asset and metric in the inspected year (:func:`_year_series`): readings present and
    expected (the year's length over the series' most common interval; the readings present
    when a series has no two readings at different times), rows sorted by asset and
    metric."""
    from griddiag.kernels.runs import step_modes

    sr, s, first, end = year
    if s.size == 0:
        return pl.DataFrame(schema=_COVERAGE_SCHEMA)
    span_us = (y1 - y0) / timedelta(microseconds=1)
    present = end - first
    step = step_modes(sr.t, first, end)
    expected = np.where(step > 0, span_us / np.maximum(step, 1).astype(np.float64),
                        present.astype(np.float64))
    return pl.DataFrame({"asset_id": sr.ids.gather(sr.series_asset[s]),
                         "metric": sr.metrics.gather(sr.series_metric[s]),
                         "present": present, "expected": expected}, schema=_COVERAGE_SCHEMA)


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _count(series: pl.Series) -> dict[str, int]:
    if series.len() == 0:
        return {}
    return {str(k): int(v) for k, v in series.value_counts(sort=True).iter_rows()}


def _area_of(assets: pl.DataFrame) -> pl.DataFrame:
    """asset_id -> transformer area (a meter's parent; a transformer itself)."""
    return assets.select(
        "asset_id", "kind",
        pl.when(pl.col("kind") == "meter").then(pl.col("parent_id"))
        .when(pl.col("kind") == "transformer").then(pl.col("asset_id"))
        .otherwise(None).alias("area_id"))


def _severity_table(findings: pl.DataFrame, by: str, n: int = 10) -> list[dict[str, Any]]:
    if findings.height == 0:
        return []
    sev = [pl.col("severity").eq(s).sum().cast(pl.Int64).alias(s) for s in SEVERITIES]
    return (findings.filter(pl.col(by).is_not_null()).group_by(by)
            .agg(*sev, pl.len().cast(pl.Int64).alias("total"))
            .sort(["critical", "warning", "total", by], descending=[True, True, True, False])
            .head(n).to_dicts())


def _coverage_by_metric(cov: pl.DataFrame) -> list[dict[str, Any]]:
    """The summary's coverage per metric, sorted by metric, the same on every run.

    polars' ``group_by(...).agg(mean)`` adds a group's floats in partial sums whose order
    depends on its threads, so the last bit of a mean changed between two runs of one
    inspection; each metric's rows (in batch order) are summed in their own order instead."""
    rows = []
    for (metric,), part in sorted(cov.partition_by("metric", as_dict=True).items()):
        share = part["share"]
        rows.append({"metric": metric, "series": part.height,
                     "readings": int(part["present"].sum()), "mean_share": share.mean(),
                     "below_90pct": int((share < 0.9).sum())})
    return rows


def _summary(*, run_id, scope, year, baseline, prof, profile_hash, store, lang, started,
             previous, assets, findings, yoy, coverage, stats, timings, tz) -> dict[str, Any]:
    open_ = findings.filter(pl.col("status") != "resolved")
    areas = _area_of(assets)
    with_area = open_.join(areas.select("asset_id", "area_id"), on="asset_id", how="left")
    kinds = assets["kind"]
    cov = coverage.with_columns(share=(pl.col("present") / pl.col("expected")).clip(0.0, 1.0))
    by_metric = _coverage_by_metric(cov)
    sig = yoy.filter(pl.col("significant").fill_null(False)) if yoy.height else yoy
    headlines = (sig.sort("rank", nulls_last=True).head(10)
                 .select("asset_id", "group_by", "metric", "change_class", "energy_change_pct",
                         "q_value", "reason").to_dicts()) if sig.height else []
    return {
        "run_id": run_id,
        "scope": scope,
        "year": year,
        "baseline_years": baseline,
        "store": store.url,
        "profile": prof.name,
        "profile_hash": profile_hash,
        "griddiag_version": _version(),
        "lang": lang,
        "tz": tz,
        "started_at": started.isoformat(),
        "generated_at": datetime.now(UTC).isoformat(),
        "previous_run_id": previous["run_id"] if previous else None,
        "previous_year": previous["year"] if previous else None,
        "data_start": stats["data_start"].isoformat() if stats["data_start"] else None,
        "data_end": stats["data_end"].isoformat() if stats["data_end"] else None,
        "assets": {
            "total": assets.height,
            "meters": int((kinds == "meter").sum()),
            "transformers": int((kinds == "transformer").sum()),
            "feeders": int((kinds == "feeder").sum()),
            "with_data": stats["assets_with_data"],
            "with_findings": open_["asset_id"].n_unique(),
        },
        "coverage": {
            "share": (float(cov["present"].sum() / cov["expected"].sum())
                      if cov.height and cov["expected"].sum() > 0 else None),
            "readings": stats["readings"],
            "by_metric": by_metric,
        },
        "counts": {
            "findings": open_.height,
            "resolved": findings.height - open_.height,
            "by_severity": _count(open_["severity"]),
            "by_kind": _count(open_["kind"]),
            "by_status": _count(findings["status"]),
            "yoy_rows": yoy.height,
            "yoy_significant": sig.height,
        },
        "top_assets": _severity_table(open_, "asset_id"),
        "top_areas": _severity_table(with_area, "area_id"),
        "yoy_headlines": headlines,
        "timings": timings,
    }


def _version() -> str:
    from griddiag import __version__

    return __version__


def _json_default(o: object) -> str:
    if isinstance(o, datetime):
        return o.isoformat()
    return str(o)


def inspect(store: Store, *, year: int, baseline_years: Sequence[int] | None = None,
            profile: Any = "default", out_dir: str | os.PathLike[str], lang: str = "en",
            batch_assets: int = 500, progress: ProgressFn | None = None,
            tz: str | None = None, holiday_country: str | None = None,
            top_n: int = 200, executor: Any = "local", scheduler: str | None = None,
            workers: int | None = None, store_url: str | None = None) -> InspectionResult:
    """Inspect every asset of ``store`` for ``year`` and write the report (see the module
    docstring for the batching, the statuses and what happens when a run is interrupted).

    Parameters
    ----------
    store : Store
        An open store (its readings, assets and earlier runs).
    year : int
        Calendar year in each asset's local time zone.
    baseline_years : sequence of int, optional
        Years compared with ``year``; default the two years before it that the store has data
        for (none in the store's first year: the comparison is then left out).
    profile : str, Path or Profile
        Detector profile (``"default"``, a TOML file or a loaded profile).
    out_dir : path
        Where ``index.html``, ``findings.parquet``, ``findings.csv``, ``yoy.parquet`` and
        ``summary.json`` are written (created if missing; earlier files are replaced).
    lang : {"en", "zh-CN"}
        Language of the report.
    batch_assets : int
        Assets per batch (whole transformer areas are never split); bounds the memory.
    progress : callable, optional
        ``progress(done_assets, total_assets, message)`` after each batch.
    tz : str, optional
        Time zone of assets that have none (default UTC).
    holiday_country : str, optional
        Overrides the profile's holiday calendar (ISO code of the ``holidays`` package).
    top_n : int
        Serious findings and significant changes that get charts in the report.
    executor : {"local", "process", "dask"} or Executor
        Where the batches run (:mod:`griddiag.inspection.executor`): in this process, each in
        a fresh child process (peak memory bound by one batch whatever the store's size; what
        ``griddiag inspect`` uses), or on
        a Dask cluster. The results are the same either way.
    scheduler : str, optional
        With ``executor="dask"``: address of a running Dask scheduler (``tcp://host:8786``).
    workers : int, optional
        With ``executor="dask"`` and no scheduler: worker processes of a local cluster.
    store_url : str, optional
        How Dask workers open the store (default: the Parquet store's absolute directory or
        the TimescaleDB URL the store was opened with).

    Returns
    -------
    InspectionResult
    """
    from griddiag.detectors.profile import load_profile
    from griddiag.inspection.executor import BatchParams, make_executor, plan_batches

    t_start = time.perf_counter()
    started = datetime.now(UTC)
    if lang not in LANGS:
        raise ConfigError(f"lang {lang!r}: expected one of {LANGS}")
    if batch_assets < 1:
        raise ConfigError(f"batch_assets must be >= 1, got {batch_assets}")
    if tz is not None:
        from zoneinfo import ZoneInfoNotFoundError

        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"tz {tz!r} is not an IANA time zone (e.g. Asia/Shanghai)"
                              ) from None
    prof = load_profile(profile)
    if holiday_country is not None:
        prof = replace(prof, holiday_country=holiday_country)
    out = Path(out_dir)
    reg = normalize_assets(store.assets())
    if reg.height == 0:
        raise DataError(f"store {store.url} has no assets: ingest readings first")
    if tz is not None:
        reg = reg.with_columns(pl.col("tz").fill_null(tz))
    status = store.status()
    first_ts = status.get("first_ts")
    first_year = (first_ts.astimezone(ZoneInfo(_main_zone(reg))).year
                  if isinstance(first_ts, datetime) else None)
    baseline = _baseline(year, baseline_years, first_year)
    scope = scope_of(prof.name)
    profile_hash = _profile_hash(prof)
    previous = store.previous_run(scope, year)
    prev_open = (store.read_findings(previous["run_id"]).filter(pl.col("status") != "resolved")
                 if previous else empty_findings())
    lo, hi, y0, y1 = _read_window(reg, year, baseline, prof.read_history_days)
    last_ts = status.get("last_ts")
    period_end = _period_end(last_ts if isinstance(last_ts, datetime) else None, reg, year)
    run_id = _new_run_id()
    parameters = {"year": year, "baseline_years": baseline, "profile": prof.name,
                  "profile_source": str(prof.source), "holiday_country": prof.holiday_country,
                  "tz": tz, "lang": lang, "batch_assets": batch_assets, "top_n": top_n,
                  "executor": getattr(executor, "name", executor),
                  "out_dir": str(out.resolve()), "read_from": lo.isoformat(),
                  "read_to": hi.isoformat()}
    # the executor starts (a local Dask cluster, a connection to a scheduler) before the run
    # is recorded, so a cluster that cannot start leaves no failed run behind
    runner = make_executor(executor, scheduler=scheduler, workers=workers)
    # an executor the caller made is the caller's to close (its cluster may serve more runs)
    if runner is executor:
        runner_close = lambda: None  # noqa: E731
    else:
        runner_close = runner.close
    try:
        store.begin_run({"run_id": run_id, "scope": scope, "year": year, "profile": prof.name,
                         "profile_hash": profile_hash, "griddiag_version": _version(),
                         "previous_run_id": previous["run_id"] if previous else None,
                         "parameters": parameters})
    except BaseException:
        runner_close()
        raise
    log.info("inspection %s: %s, year %d, baseline %s, %d assets, %s previous run, %s",
             run_id, scope, year, baseline or "none", reg.height,
             previous["run_id"] if previous else "no", runner.name)
    timings = dict.fromkeys(("read_s", "detect_s", "yoy_s", "charts_s", "store_s"), 0.0)
    try:
        from griddiag.inspection.charts import ChartCollector

        collector = ChartCollector(n=top_n, years=tuple(sorted([*baseline, year])))
        findings_parts: list[pl.DataFrame] = []
        yoy_parts: list[pl.DataFrame] = []
        coverage_parts: list[pl.DataFrame] = []
        stats: dict[str, Any] = {"data_start": None, "data_end": None, "readings": 0,
                                 "assets_with_data": 0}
        plan = plan_batches(reg, batch_assets)
        params = BatchParams(assets=reg, profile=prof, year=year, baseline=tuple(baseline),
                             lo=lo, hi=hi, y0=y0, y1=y1, period_end=period_end, run_id=run_id,
                             top_n=top_n, numba_threads=runner.numba_threads())
        done = 0
        batch_peak: float | None = None
        waiting: dict[int, Any] = {}
        next_i = 0
        # looked up here, not bound at import, so tests can wrap the batch function
        results = runner.map(_process_batch, store, store_url, plan, params)
        for i, result in results:
            # results arrive in completion order; they are used in batch order, so the
            # findings, yoy rows, charts and store writes never depend on which worker was first
            waiting[i] = result
            while next_i in waiting:
                res = waiting.pop(next_i)
                next_i += 1
                for k in ("read_s", "detect_s", "yoy_s", "charts_s"):
                    timings[k] += res.timings.get(k, 0.0)
                if res.peak_rss_mib is not None:
                    batch_peak = max(batch_peak or 0.0, res.peak_rss_mib)
                t0 = time.perf_counter()
                found = with_status(res.findings, prev_open)
                if found.height:
                    store.add_findings(run_id, found)
                timings["store_s"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                collector.add(res.charts)
                timings["charts_s"] += time.perf_counter() - t0
                findings_parts.append(found)
                if res.yoy is not None and res.yoy.height:
                    yoy_parts.append(res.yoy)
                coverage_parts.append(res.coverage)
                _merge_stats(stats, res.stats)
                done += len(res.asset_ids)
                if progress is not None:
                    progress(done, reg.height, f"{done:,} of {reg.height:,} assets")
        if next_i != len(plan):  # an executor that lost a batch must not pass silently
            raise RuntimeError(f"inspection {run_id}: {len(plan) - next_i} of {len(plan)} "
                               "batches returned no result")

        findings = (pl.concat(findings_parts) if findings_parts else empty_findings())
        t0 = time.perf_counter()
        resolved = resolved_rows(prev_open, findings.select("asset_id", "metric", "kind"),
                                 run_id)
        if resolved.height:
            store.add_findings(run_id, resolved)
        timings["store_s"] += time.perf_counter() - t0
        findings = pl.concat([findings, resolved]).sort("asset_id", "metric", "start", "kind")
        t0 = time.perf_counter()
        yoy = _yoy_population(yoy_parts)
        timings["yoy_s"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        charts = collector.charts(yoy)
        timings["charts_s"] += time.perf_counter() - t0
        coverage = pl.concat(coverage_parts) if coverage_parts else pl.DataFrame(
            schema=_COVERAGE_SCHEMA)

        t0 = time.perf_counter()
        timings["total_s"] = time.perf_counter() - t_start
        summary = _summary(run_id=run_id, scope=scope, year=year, baseline=baseline, prof=prof,
                           profile_hash=profile_hash, store=store, lang=lang, started=started,
                           previous=previous, assets=reg, findings=findings, yoy=yoy,
                           coverage=coverage, stats=stats, timings=timings,
                           tz=_main_zone(reg))
        paths = _write_outputs(out, findings, yoy, summary, charts, lang, reg)
        timings["outputs_s"] = time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - t_start
        counts = {k: summary["counts"][k] for k in summary["counts"]}
        counts.update(assets=reg.height, assets_with_data=stats["assets_with_data"],
                      readings=stats["readings"])
        store.finish_run(run_id, state="complete", counts=counts,
                         timings={k: round(v, 3) for k, v in timings.items()},
                         data_start=stats["data_start"], data_end=stats["data_end"])
    except BaseException as exc:
        runner_close()
        # KeyboardInterrupt too: the run is marked failed, the previous results stay current
        try:
            store.finish_run(run_id, state="failed", error=f"{type(exc).__name__}: {exc}",
                             timings={k: round(v, 3) for k, v in timings.items()})
        except Exception:  # the store itself may be what failed
            log.warning("inspection %s: could not record the failure in the store", run_id,
                        exc_info=True)
        raise
    runner_close()
    log.info("inspection %s complete: %d findings (%s), %d year-over-year rows, %.1f s",
             run_id, summary["counts"]["findings"], summary["counts"]["by_severity"],
             yoy.height, timings["total_s"])
    from griddiag.inspection.executor import peak_rss_mib

    return InspectionResult(run_id, scope, year, baseline,
                            previous["run_id"] if previous else None, paths, counts,
                            timings, findings,
                            {"driver_peak_mib": peak_rss_mib(), "batch_peak_mib": batch_peak})


def _process_batch(store, asset_ids, params):
    """One batch's work (:func:`griddiag.inspection.executor.run_batch`): the name the
    executors are handed, so a test can wrap it."""
    from griddiag.inspection.executor import run_batch

    return run_batch(store, asset_ids, params)


def _merge_stats(stats: dict[str, Any], part: dict[str, Any]) -> None:
    if not part["readings"]:
        return
    lo, hi = part["data_start"], part["data_end"]
    stats["data_start"] = lo if stats["data_start"] is None else min(stats["data_start"], lo)
    stats["data_end"] = hi if stats["data_end"] is None else max(stats["data_end"], hi)
    stats["readings"] += part["readings"]
    stats["assets_with_data"] += part["assets_with_data"]


def _main_zone(assets: pl.DataFrame) -> str:
    zones = assets["tz"].drop_nulls()
    return str(zones.mode().sort()[0]) if zones.len() else "UTC"


def _write_outputs(out: Path, findings: pl.DataFrame, yoy: pl.DataFrame,
                   summary: dict[str, Any], charts, lang: str, assets: pl.DataFrame
                   ) -> dict[str, Path]:
    """The files of INTERFACE.md, each written to a temporary name and renamed into place."""
    from griddiag.report import render_report

    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / v for k, v in OUTPUT_FILES.items()}
    _write_atomic(paths["findings_parquet"], findings.write_parquet)
    _write_atomic(paths["findings_csv"], findings.write_csv)
    _write_atomic(paths["yoy_parquet"], yoy.write_parquet)
    _write_atomic(paths["summary_json"], lambda p: p.write_text(
        json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default) + "\n",
        encoding="utf-8"))
    paths["index_html"] = render_report(out, findings=findings, yoy=yoy, summary=summary,
                                        charts=charts, lang=lang, assets=assets)
    return paths

