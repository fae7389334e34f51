"""The technicians' HTML report: one self-contained ``index.html`` per inspection.

:func:`render_report` is what the inspection job calls; it needs no network when the file is
opened (inline CSS and JavaScript, charts as inline SVG, findings as embedded JSON rendered page
by page) and escapes every value that comes from the data. :class:`ReportCharts` carries the
few readings the report draws (anomaly windows, monthly totals, typical daily profiles), which
the job computes while a batch is in memory, so the renderer never reads a store.

``finding_key`` / ``finding_keys`` name a finding the same way on both sides:
``asset_id|metric|kind|start`` with ``start`` as ISO 8601 text in UTC
(``datetime.isoformat()``, e.g. ``M000019|energy_kwh|gap|2025-03-20T17:30:00+00:00``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from griddiag.schema import TS_DTYPE

__all__ = [
    "CHART_SCHEMAS",
    "LANGUAGES",
    "ReportCharts",
    "finding_key",
    "finding_keys",
    "render_report",
]

LANGUAGES = ("en", "zh-CN")

# Columns (and dtypes) of the three chart frames of ReportCharts.
CHART_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "finding_windows": {
        "finding_key": pl.String(),
        "ts": TS_DTYPE,
        "value": pl.Float64(),
        "expected_low": pl.Float64(),
        "expected_high": pl.Float64(),
    },
    "yoy_monthly": {
        "asset_id": pl.String(),
        "metric": pl.String(),
        "year": pl.Int32(),
        "month": pl.Int8(),
        "value": pl.Float64(),
    },
    "yoy_profile": {
        "asset_id": pl.String(),
        "metric": pl.String(),
        "year": pl.Int32(),
        "hour": pl.Float64(),
        "value": pl.Float64(),
    },
}


def _empty(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=CHART_SCHEMAS[name])


@dataclass
class ReportCharts:
    """Chart data for the report; each frame may be empty (its chart is then left out).

    Attributes
    ----------
    finding_windows : polars.DataFrame
        ``finding_key: str, ts: datetime[us, UTC], value: f64, expected_low: f64,
        expected_high: f64``: the readings around a serious finding and the expected band
        (NaN bounds = no band at that slot). ``finding_key`` as :func:`finding_key`.
    yoy_monthly : polars.DataFrame
        ``asset_id, metric, year: i32, month: i8 (1-12), value: f64``: monthly totals
        (energy) or means (other metrics) of this year and the baseline years.
    yoy_profile : polars.DataFrame
        ``asset_id, metric, year: i32, hour: f64 (local hour of day, 0-24), value: f64``: the
        typical (mean) daily profile of each year.
    """

    finding_windows: pl.DataFrame = field(default_factory=lambda: _empty("finding_windows"))
    yoy_monthly: pl.DataFrame = field(default_factory=lambda: _empty("yoy_monthly"))
    yoy_profile: pl.DataFrame = field(default_factory=lambda: _empty("yoy_profile"))


def finding_key(row: Mapping[str, Any]) -> str:
    """The key of one finding (a row as a mapping): ``asset_id|metric|kind|start-ISO-UTC``."""
    start = row["start"]
    if not isinstance(start, datetime):
        raise TypeError(f"finding 'start' must be a datetime, got {start!r}")
    if start.tzinfo is None:
        # Findings are UTC instants (FINDINGS_SCHEMA); a naive one is read as UTC, not local.
        start = start.replace(tzinfo=UTC)
    return f"{row['asset_id']}|{row['metric']}|{row['kind']}|{start.astimezone(UTC).isoformat()}"


def finding_keys(frame: pl.DataFrame) -> pl.Series:
    """:func:`finding_key` of every row of a findings frame, vectorised (same text exactly).

    ``datetime.isoformat`` prints microseconds only when they are not zero; the two branches
    below reproduce that so keys made in Python and in polars always match.
    """
    start = pl.col("start").dt.convert_time_zone("UTC")
    iso = (
        pl.when(start.dt.microsecond() == 0)
        .then(start.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
        .otherwise(start.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00"))
    )
    if frame.height == 0:
        return pl.Series("finding_key", [], dtype=pl.String)
    return frame.select(
        pl.concat_str(
            [pl.col("asset_id"), pl.col("metric"), pl.col("kind"), iso], separator="|"
        ).alias("finding_key")
    ).to_series()


def render_report(out_dir: Path | str, *, findings: pl.DataFrame, yoy: pl.DataFrame,
                  summary: Mapping[str, Any], charts: ReportCharts | None = None,
                  lang: str = "en", assets: pl.DataFrame | None = None,
                  max_finding_cards: int = 100, max_change_cards: int = 50) -> Path:
    """Write ``out_dir/index.html`` and return its path.

    Parameters
    ----------
    out_dir : Path
        Created if missing; only ``index.html`` is written (atomically: temp file + rename).
    findings : polars.DataFrame
        ``FINDINGS_SCHEMA`` (``run_id``/``status`` may be null). Optional extra columns
        ``transformer_id``, ``feeder_id`` name the asset's area when ``assets`` is not given.
    yoy : polars.DataFrame
        ``YOY_SCHEMA`` (columns it lacks show as "—").
    summary : mapping
        The inspection's ``summary.json`` content. Keys read (all optional; a missing or
        unusable one shows as "—"): ``run_id``, ``year``, ``baseline_years`` (list or
        "Y1,Y2"), ``store`` (already redacted), ``profile``, ``profile_hash``,
        ``griddiag_version`` (or ``version``), ``generated_at`` (ISO 8601), ``tz`` (IANA zone
        for the times shown; default the assets' zone, else UTC), ``data_start``/``data_end``
        (or ``data_range: {"start", "end"}``), ``counts`` (``{"by_severity": {...},
        "by_kind": {...}, "by_status": {...}}``; the report's own tables are computed from
        ``findings``), ``assets`` (``{"total", "meters", "transformers", "feeders",
        "with_findings", ...}``: asset counts), ``coverage`` (``{"share": 0-1, ...}``: data
        coverage of the year), ``timings`` (``{"<step>_s": seconds}``).
    charts : ReportCharts, optional
        Chart data; none means no charts.
    lang : {"en", "zh-CN"}
        Language of every UI string, finding kind, severity, change class and suggested action.
        Reasons are the detectors' English text, shown as they are.
    assets : polars.DataFrame, optional
        The assets frame (topology): each finding's transformer area and feeder.
    max_finding_cards, max_change_cards : int
        How many serious findings / significant year-over-year changes get a detail card with
        charts (the table lists all findings).
    """
    from griddiag.report.render import write_report

    return write_report(Path(out_dir), findings=findings, yoy=yoy, summary=summary,
                        charts=charts if charts is not None else ReportCharts(), lang=lang,
                        assets=assets, max_finding_cards=max_finding_cards,
                        max_change_cards=max_change_cards)
