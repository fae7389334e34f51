"""Assemble ``index.html``: summary, findings table data, detail cards, run details.

The page is written by Python as static HTML (the summary and the detail cards read without
JavaScript) plus one embedded JSON document with every finding, which the inline script renders
page by page with sorting and filters. Keeping all findings out of the static HTML is what lets
a report with tens of thousands of findings open in a second: the browser lays out one page of
rows, not 50,000.

Safety: every value from the data goes through :func:`griddiag.report.svg.esc` in HTML and SVG,
and the embedded JSON escapes ``<``, ``>``, ``&`` and the JavaScript line separators, so an
asset named ``</script>`` cannot end the data block; the script writes data into the page with
``textContent`` only. A Content-Security-Policy allows exactly the inline style and script of
this file (by hash) and ``data:`` images, and nothing from the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.report import CHART_SCHEMAS, ReportCharts, finding_keys
from griddiag.report.i18n import catalogue, label
from griddiag.report.svg import (
    EARLIER_YEARS,
    OBSERVED,
    BAND,
    THIS_YEAR,
    WINDOW,
    bar_chart,
    esc,
    fmt_num,
    line_chart,
    severity_bars,
)
from griddiag.schema import SEVERITIES

__all__ = ["write_report", "build_html", "json_for_script"]

# Severity from most to least serious (SEVERITIES is least-first); status order for sorting:
# what is new since the last inspection comes before what the technician has already seen.
_SEV_ORDER = tuple(reversed(SEVERITIES))
_STATUS_ORDER = ("new", "recurring", "resolved")
_REQUIRED_FINDING_COLS = ("asset_id", "metric", "kind", "start", "end", "severity")
_SERIOUS = ("critical", "warning")
_TOP_N = 10
_NONE = "—"


# -- helpers ------------------------------------------------------------------------------------

def json_for_script(obj: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ``</script>`` cannot occur.

    ``<``, ``>`` and ``&`` become ``\\u003c`` etc. (still the same JSON strings after parsing);
    U+2028/U+2029 are escaped too because older engines treat them as line ends in script.
    Non-finite floats are refused by ``allow_nan=False``: callers turn them into null first.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _asset_text(name: str) -> str:
    return resources.files("griddiag.report").joinpath(name).read_text(encoding="utf-8")


def _num(v: Any) -> float | None:
    """A float for the page, or None for missing/unusable values."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _text(v: Any) -> str:
    """Any summary value as plain text ("—" when missing)."""
    if v is None or v == "" or (isinstance(v, float) and not math.isfinite(v)):
        return _NONE
    if isinstance(v, (list, tuple)):
        return ", ".join(_text(x) for x in v) or _NONE
    if isinstance(v, float):
        return fmt_num(v)
    return str(v)


def _pct(v: Any, digits: int = 1) -> str:
    f = _num(v)
    return _NONE if f is None else f"{f * 100:.{digits}f} %"


def _signed_pct(v: Any) -> str:
    """A change already in percent (``energy_change_pct``), with its sign."""
    f = _num(v)
    return _NONE if f is None else f"{f:+.1f} %"


def _check_frame(df: Any, name: str, required: Mapping[str, Any] | tuple[str, ...]) -> None:
    if not isinstance(df, pl.DataFrame):
        raise ConfigError(f"render_report: {name} must be a polars DataFrame, got "
                          f"{type(df).__name__}")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ConfigError(f"render_report: {name} lacks column(s) {missing}; expected at least "
                          f"{list(required)}")


def _zone(summary: Mapping[str, Any], assets: pl.DataFrame | None) -> tuple[str, ZoneInfo]:
    """Time zone of the times shown: summary ``tz``, else the assets' usual zone, else UTC."""
    candidates = [summary.get("tz")]
    if assets is not None and "tz" in assets.columns:
        tz = assets["tz"].drop_nulls()
        if tz.len():
            candidates.append(tz.mode().sort()[0])
    for name in candidates:
        if isinstance(name, str) and name:
            try:
                return name, ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue  # loose: an unknown zone in summary.json shows UTC, not an error
    return "UTC", ZoneInfo("UTC")


# -- data preparation -------------------------------------------------------------------------

def _areas(findings: pl.DataFrame, assets: pl.DataFrame | None) -> pl.DataFrame:
    """``asset_id -> area (transformer), feeder`` for the findings' assets.

    A meter's area is its parent transformer and the feeder that transformer's parent; a
    transformer is its own area; a feeder is its own feeder. Columns ``transformer_id`` /
    ``feeder_id`` already on the findings win (the job may know better, e.g. groups).
    """
    ids = findings.select("asset_id").unique()
    area = pl.lit(None, pl.String)
    feeder = pl.lit(None, pl.String)
    if assets is not None and {"asset_id", "kind", "parent_id"} <= set(assets.columns):
        reg = assets.select("asset_id", "kind", "parent_id").unique("asset_id")
        parent = reg.select(pl.col("asset_id").alias("parent_id"),
                            pl.col("kind").alias("parent_kind"),
                            pl.col("parent_id").alias("grand_id"))
        ids = ids.join(reg, on="asset_id", how="left").join(parent, on="parent_id", how="left")
        area = (pl.when(pl.col("kind") == "transformer").then(pl.col("asset_id"))
                .when(pl.col("parent_kind") == "transformer").then(pl.col("parent_id")))
        feeder = (pl.when(pl.col("kind") == "feeder").then(pl.col("asset_id"))
                  .when(pl.col("kind") == "transformer").then(pl.col("parent_id"))
                  .when(pl.col("parent_kind") == "transformer").then(pl.col("grand_id"))
                  .when(pl.col("parent_kind") == "feeder").then(pl.col("parent_id")))
    return ids.select("asset_id", area.alias("_area"), feeder.alias("_feeder"))


def _prepare_findings(findings: pl.DataFrame, assets: pl.DataFrame | None,
                      zone: ZoneInfo) -> pl.DataFrame:
    """Findings in report order with area, feeder, local time text and finding key.

    Order: severity (critical first), then status (new, recurring, resolved), then the
    order the job gave (it ranks within a severity), kept by a stable sort.
    """
    f = findings.with_row_index("_input_order")
    for col, dtype in (("status", pl.String), ("observed", pl.Float64),
                       ("expected", pl.Float64), ("unit", pl.String), ("reason", pl.String),
                       ("action", pl.String), ("rule", pl.String), ("standard", pl.String),
                       ("detector", pl.String), ("peak_ts", findings.schema["start"]),
                       ("magnitude", pl.Float64), ("coverage", pl.Float64),
                       ("score", pl.Float64)):
        if col not in f.columns:
            f = f.with_columns(pl.lit(None, dtype).alias(col))
    f = f.join(_areas(findings, assets), on="asset_id", how="left", maintain_order="left")
    if "transformer_id" in f.columns:
        f = f.with_columns(pl.coalesce("transformer_id", "_area").alias("_area"))
    if "feeder_id" in f.columns:
        f = f.with_columns(pl.coalesce("feeder_id", "_feeder").alias("_feeder"))
    sev_rank = pl.col("severity").replace_strict(
        list(_SEV_ORDER), list(range(len(_SEV_ORDER))), default=len(_SEV_ORDER),
        return_dtype=pl.Int32)
    status_rank = pl.col("status").replace_strict(
        list(_STATUS_ORDER), [0, 1, 2], default=1, return_dtype=pl.Int32)
    tz = str(zone.key)

    def local(col: str) -> pl.Expr:
        c = pl.col(col)
        if f.schema[col] == pl.Datetime or isinstance(f.schema[col], pl.Datetime):
            if f.schema[col].time_zone is None:  # type: ignore[union-attr]
                c = c.dt.replace_time_zone("UTC")
            return c.dt.convert_time_zone(tz).dt.strftime("%Y-%m-%d %H:%M")
        return c.cast(pl.String)

    out = f.with_columns(
        sev_rank.alias("_sev_rank"), status_rank.alias("_status_rank"),
        local("start").alias("_start"), local("end").alias("_end"),
        local("peak_ts").alias("_peak"),
    ).sort(["_sev_rank", "_status_rank", "_input_order"], maintain_order=True)
    return out.with_columns(finding_keys(out).alias("_key") if out.height else
                            pl.lit(None, pl.String).alias("_key"))


def _rounded(col: str) -> pl.Expr:
    """Float column for JSON: 4 significant digits (what the table shows), non-finite -> null
    (JSON has no NaN)."""
    c = pl.col(col).cast(pl.Float64)
    return pl.when(c.is_finite()).then(c.round_sig_figs(4)).otherwise(None)


# Columns of the embedded findings table, in row order. Coded columns index the shared string
# table (repeated text such as kinds, rules and actions is stored once).
_TABLE_COLS = ("sev", "status", "kind", "asset", "area", "feeder", "metric", "start", "end",
               "observed", "expected", "unit", "reason", "action", "rule", "standard",
               "detector", "magnitude", "coverage", "card")
_CODED = {"sev": "severity", "status": "status", "kind": "kind", "asset": "asset_id",
          "area": "_area", "feeder": "_feeder", "metric": "metric", "unit": "unit",
          "action": "action", "rule": "rule", "standard": "standard", "detector": "detector"}


def _table_data(f: pl.DataFrame, cards: dict[str, int]) -> dict[str, Any]:
    """The findings as compact JSON-ready rows plus the shared string table."""
    # The most frequent strings get the shortest codes (severity, kind, unit: one digit).
    values = {short: f[col].cast(pl.String) for short, col in _CODED.items()}
    freq = (pl.concat([v.rename("s") for v in values.values()]).drop_nulls()
            .value_counts(sort=True, name="n"))
    strings: list[str] = freq.sort(["n", "s"], descending=[True, False])["s"].to_list()
    index = {v: i for i, v in enumerate(strings)}
    coded: dict[str, list[int | None]] = {
        short: [None if v is None else index[v] for v in series.to_list()]
        for short, series in values.items()
    }
    nums = f.select(_rounded("observed"), _rounded("expected"), _rounded("magnitude"),
                    pl.col("coverage").cast(pl.Float64).round(2).fill_nan(None))
    plain = {
        "start": f["_start"].to_list(), "end": f["_end"].to_list(),
        "reason": f["reason"].to_list(),
        "observed": nums["observed"].to_list(), "expected": nums["expected"].to_list(),
        "magnitude": nums["magnitude"].to_list(), "coverage": nums["coverage"].to_list(),
        "card": [cards.get(k) for k in f["_key"].to_list()],
    }
    columns = [coded[c] if c in coded else plain[c] for c in _TABLE_COLS]
    rows = [list(r) for r in zip(*columns, strict=True)] if f.height else []
    return {"cols": list(_TABLE_COLS), "coded": sorted(_CODED), "strings": strings,
            "rows": rows}


# -- HTML pieces -------------------------------------------------------------------------------

class _Page:
    """Builds the page for one language; ``t`` looks up UI strings, ``lab`` codes."""

    def __init__(self, lang: str, zone_name: str):
        self.lang = lang
        self.msg = catalogue(lang)
        self.zone_name = zone_name

    def t(self, key: str, **kw: Any) -> str:
        """UI string, escaped; placeholders filled with escaped values."""
        text = self.msg["ui"][key]
        return esc(text.format(**{k: _text(v) for k, v in kw.items()})) if kw else esc(text)

    def lab(self, section: str, code: str | None) -> str:
        return esc(label(self.msg, section, code))

    def sev_badge(self, sev: str | None) -> str:
        cls = esc(sev) if sev in SEVERITIES else "unknown"
        return f'<span class="sev sev-{cls}">{self.lab("severity", sev)}</span>'

    def status_badge(self, status: str | None) -> str:
        if status is None:
            return _NONE
        return f'<span class="status st-{esc(status)}">{self.lab("status", status)}</span>'

    def action(self, kind: str | None, detector_action: str | None) -> str:
        """Translated per-kind action, with the detector's own text as the detail; English
        shows the detector's text (it is more specific than a per-kind sentence)."""
        translated = self.msg["action"].get(kind or "")
        if translated:
            extra = (f'<div class="note">{self.t("detector_action")}: {esc(detector_action)}'
                     "</div>" if detector_action else "")
            return esc(translated) + extra
        return esc(detector_action) if detector_action else _NONE


def _dl(rows: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _tile(value: str, caption: str, cls: str = "") -> str:
    return (f'<div class="tile {cls}"><div class="tile-v">{value}</div>'
            f'<div class="tile-c">{caption}</div></div>')


def _summary_section(p: _Page, f: pl.DataFrame, yoy: pl.DataFrame, sig: pl.DataFrame,
                     summary: Mapping[str, Any]) -> str:
    parts = [f'<section id="summary"><h2>{p.t("summary")}</h2>']
    # Tiles: totals by severity and status, assets, changes, coverage. Resolved findings (gone
    # since the previous inspection) are counted in the status line and the table only.
    st_counts = dict(f.group_by("status").len().iter_rows()) if f.height else {}
    f = _open_findings(f)
    sev_counts = dict(f.group_by("severity").len().iter_rows()) if f.height else {}
    tiles = [_tile(f"{f.height:,}", p.t("total_findings"))]
    tiles += [_tile(f"{sev_counts.get(s, 0):,}", p.lab("severity", s), f"tile-{s}")
              for s in _SEV_ORDER]
    n_assets = f["asset_id"].n_unique() if f.height else 0
    tiles.append(_tile(f"{n_assets:,}", p.t("assets_with_findings")))
    tiles.append(_tile(f"{sig.height:,}", p.t("significant_changes")))
    cov = summary.get("coverage")
    share = cov.get("share") if isinstance(cov, Mapping) else cov
    tiles.append(_tile(esc(_pct(share)), p.t("coverage")))
    parts.append('<div class="tiles" id="tiles">' + "".join(tiles) + "</div>")
    if any(st_counts.get(s) for s in _STATUS_ORDER):
        parts.append(f'<p class="statusline">{p.t("counts_by_status")}: ' + " · ".join(
            f"{p.status_badge(s)} {st_counts.get(s, 0):,}" for s in _STATUS_ORDER) + "</p>")

    # Findings by kind and severity: chart + table.
    parts.append(f'<div class="grid2"><div><h3>{p.t("by_severity_kind")}</h3>')
    if f.height:
        kc = (f.group_by("kind", "severity").len()
              .pivot(on="severity", index="kind", values="len").fill_null(0))
        for s in SEVERITIES:
            if s not in kc.columns:
                kc = kc.with_columns(pl.lit(0, pl.UInt32).alias(s))
        kc = kc.with_columns(pl.sum_horizontal(*SEVERITIES).alias("_total")).sort(
            ["critical", "warning", "_total", "kind"], descending=[True, True, True, False])
        rows = [(label(p.msg, "kind", r["kind"]), {s: int(r[s]) for s in _SEV_ORDER})
                for r in kc.iter_rows(named=True)]
        parts.append(severity_bars(rows, _SEV_ORDER, p.msg["severity"],
                                   title=p.msg["ui"]["by_severity_kind"]))
        head = "".join(f"<th>{p.lab('severity', s)}</th>" for s in _SEV_ORDER)
        body = "".join(
            f'<tr><td>{p.lab("kind", r["kind"])}</td>'
            + "".join(f'<td class="num">{int(r[s]):,}</td>' for s in _SEV_ORDER)
            + f'<td class="num">{int(r["_total"]):,}</td></tr>' for r in kc.iter_rows(named=True))
        parts.append(f'<table class="compact" id="kind-table"><thead><tr><th>{p.t("kind")}</th>'
                     f'{head}<th>{p.t("total")}</th></tr></thead><tbody>{body}</tbody></table>')
    else:
        parts.append(f'<p class="empty">{p.t("no_findings")}</p>')
    parts.append("</div><div>")
    parts.append(_coverage_block(p, summary, yoy))
    parts.append("</div></div>")

    # Assets and transformer areas with the most serious findings.
    parts.append('<div class="grid2">')
    parts.append(_top_block(p, f, "asset_id", "top_assets", "top-assets"))
    parts.append(_top_block(p, f, "_area", "top_areas", "top-areas"))
    parts.append("</div>")

    # Headline year-over-year changes.
    parts.append(f'<h3>{p.t("headline_changes")}</h3>')
    if sig.height:
        rows_html = []
        for r in sig.head(_TOP_N).iter_rows(named=True):
            asset = (f'<a href="#chg-{r["_card"]}">{esc(r["asset_id"])}</a>'
                     if r["_card"] is not None else esc(r["asset_id"]))
            rows_html.append(
                f'<tr><td>{asset}</td>'
                f'<td>{esc(_text(r.get("group_by")))}</td><td>{p.lab("metric", r["metric"])}</td>'
                f'<td><span class="cls">{p.lab("change_class", r.get("change_class"))}</span></td>'
                f'<td class="num">{esc(_signed_pct(r.get("energy_change_pct")))}</td>'
                f'<td class="reason">{esc(_text(r.get("reason")))}</td></tr>')
        parts.append(
            f'<table class="compact" id="headline-changes"><thead><tr><th>{p.t("asset")}</th>'
            f'<th></th><th>{p.t("metric")}</th><th>{p.t("change_class")}</th>'
            f'<th>{p.t("energy_change_pct")}</th><th>{p.t("reason")}</th></tr></thead><tbody>'
            + "".join(rows_html) + "</tbody></table>")
    else:
        parts.append(f'<p class="empty">{p.t("no_changes")}</p>')
    parts.append("</section>")
    return "".join(parts)


def _open_findings(f: pl.DataFrame) -> pl.DataFrame:
    return f.filter(pl.col("status").fill_null("") != "resolved")


def _coverage_block(p: _Page, summary: Mapping[str, Any], yoy: pl.DataFrame) -> str:
    parts = [f'<h3>{p.t("coverage_title")}</h3>']
    cov = summary.get("coverage")
    rows: list[tuple[str, str]] = []
    tables: list[str] = []
    if isinstance(cov, Mapping):
        for k, v in cov.items():
            if isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
                tables.append(_records_table(k, v))  # e.g. coverage by metric
                continue
            is_share = "share" in str(k) or str(k).startswith("coverage")
            rows.append((esc(k), esc(_pct(v) if is_share and _num(v) is not None
                                      and 0 <= float(v) <= 1 else _text(v))))
    elif cov is not None:
        rows.append((p.t("coverage"), esc(_pct(cov) if _num(cov) is not None else _text(cov))))
    if "coverage" in yoy.columns and yoy.height:
        med = yoy["coverage"].drop_nans().median() if yoy["coverage"].dtype.is_float() else None
        if _num(med) is not None:
            rows.append((esc("yoy median"), esc(_pct(med))))
    if rows:
        parts.append(_dl(rows))
    parts += tables
    assets = summary.get("assets")
    if isinstance(assets, Mapping) and assets:
        parts.append(f'<h3>{p.t("asset_counts")}</h3>')
        parts.append(_dl([(esc(k), esc(_text(v))) for k, v in assets.items()]))
    if len(parts) == 1:
        parts.append(f"<p>{_NONE}</p>")
    return "".join(parts)


def _records_table(name: str, records: list[Mapping[str, Any]]) -> str:
    """A list of records from summary.json as a small table (shares shown as percent)."""
    cols = list(dict.fromkeys(k for r in records for k in r))
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)

    def cell(c: str, v: Any) -> str:
        f = _num(v)
        if f is not None and "share" in c and 0 <= f <= 1:
            return f'<td class="num">{esc(_pct(f))}</td>'
        num = ' class="num"' if f is not None else ""
        return f"<td{num}>{esc(_text(v))}</td>"

    body = "".join("<tr>" + "".join(cell(c, r.get(c)) for c in cols) + "</tr>"
                   for r in records[:50])
    return (f'<table class="compact"><caption>{esc(name)}</caption><thead><tr>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table>")


def _top_block(p: _Page, f: pl.DataFrame, col: str, title_key: str, html_id: str) -> str:
    parts = [f'<div><h3>{p.t(title_key)}</h3>']
    serious = f.filter(pl.col("severity").is_in(_SERIOUS) & pl.col(col).is_not_null())
    if not serious.height:
        parts.append(f'<p class="empty">{p.t("no_findings")}</p></div>')
        return "".join(parts)
    top = (serious.group_by(col)
           .agg((pl.col("severity") == "critical").sum().alias("critical"),
                (pl.col("severity") == "warning").sum().alias("warning"),
                pl.col("kind").unique().sort().alias("kinds"),
                pl.col("asset_id").n_unique().alias("n_assets"),
                pl.col("_area").first().alias("area"), pl.col("_feeder").first().alias("feeder"))
           .sort(["critical", "warning", col], descending=[True, True, False]).head(_TOP_N))
    is_area = col == "_area"
    filt = "area" if is_area else "asset"
    second = p.t("feeder") if is_area else p.t("area")
    rows = []
    for r in top.iter_rows(named=True):
        key = r[col]
        place = r["feeder"] if is_area else r["area"]
        kinds = ", ".join(label(p.msg, "kind", k) for k in r["kinds"])
        rows.append(
            f'<tr><td><a href="#findings" class="filter-link" data-filter="{filt}" '
            f'data-value="{esc(key)}">{esc(key)}</a></td><td>{esc(_text(place))}</td>'
            f'<td class="num">{r["critical"]:,}</td><td class="num">{r["warning"]:,}</td>'
            f'<td>{esc(kinds)}</td></tr>')
    parts.append(
        f'<table class="compact" id="{html_id}"><thead><tr>'
        f'<th>{p.t("area") if is_area else p.t("asset")}</th><th>{second}</th>'
        f'<th>{p.lab("severity", "critical")}</th><th>{p.lab("severity", "warning")}</th>'
        f'<th>{p.t("kinds")}</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")
    return "".join(parts)


def _findings_section(p: _Page) -> str:
    """The table's frame; rows come from the embedded JSON (see report.js)."""
    def select(name: str, key: str) -> str:
        return (f'<label>{p.t(key)} <select id="f-{name}" data-filter="{name}">'
                f'<option value="">{p.t("all")}</option></select></label>')

    return (
        f'<section id="findings"><h2>{p.t("findings_table")}</h2>'
        f'<form class="filters" id="filters">'
        + select("sev", "filter_severity") + select("kind", "filter_kind")
        + select("status", "filter_status") + select("area", "filter_area")
        + f'<label>{p.t("filter_asset")} <input id="f-asset" type="search" data-filter="asset"'
          f' autocomplete="off"></label>'
        f'<button type="button" id="f-reset">{p.t("reset")}</button></form>'
        f'<p class="count" id="match-count"></p>'
        f'<div class="table-wrap"><table id="findings-table" class="findings">'
        f"<thead><tr>"
        + "".join(f'<th data-sort="{c}" tabindex="0">{p.t(k)}</th>' for c, k in (
            ("sev", "severity"), ("status", "status"), ("kind", "kind"), ("asset", "asset"),
            ("area", "area"), ("metric", "metric"), ("start", "start"), ("end", "end"),
            ("observed", "observed"), ("expected", "expected")))
        + f'<th>{p.t("reason")}</th><th>{p.t("action")}</th></tr></thead>'
        f'<tbody id="findings-body"></tbody></table></div>'
        f'<div class="pager" id="pager"><button type="button" id="pg-prev">{p.t("prev")}'
        f'</button><span id="pg-label"></span><button type="button" id="pg-next">'
        f'{p.t("next")}</button><label>{p.t("page_size")} <select id="pg-size">'
        + "".join(f"<option{' selected' if n == 50 else ''}>{n}</option>"
                  for n in (25, 50, 100, 250))
        + f'</select></label></div><noscript><p>{p.t("js_needed")}</p></noscript></section>')


def _window_chart(p: _Page, w: pl.DataFrame | None, row: Mapping[str, Any],
                  zone: ZoneInfo) -> str:
    if w is None or not w.height:
        return f'<p class="empty">{p.t("no_chart")}</p>'
    w = w.sort("ts")
    x = [t.timestamp() for t in w["ts"].to_list()]
    vals = w["value"].to_list()
    lo = w["expected_low"].to_list()
    hi = w["expected_high"].to_list()
    start, end = row["start"], row["end"]
    shade = None
    if isinstance(start, datetime) and isinstance(end, datetime):
        s = start if start.tzinfo else start.replace(tzinfo=UTC)
        e = end if end.tzinfo else end.replace(tzinfo=UTC)
        shade = (s.timestamp(), max(e.timestamp(), s.timestamp()))
    x0, x1 = min(x + ([shade[0]] if shade else [])), max(x + ([shade[1]] if shade else []))
    span = x1 - x0
    fmt = "%m-%d %H:%M" if span <= 3 * 86400 else ("%m-%d" if span <= 400 * 86400 else "%Y-%m")
    labels = [(x0 + span * i / 4, datetime.fromtimestamp(x0 + span * i / 4, zone).strftime(fmt))
              for i in range(5)]
    unit = row.get("unit") or ""
    has_band = any(_num(a) is not None for a in lo) and any(_num(b) is not None for b in hi)
    legend = [(p.msg["ui"]["chart_observed"], OBSERVED)]
    if has_band:
        legend.append((p.msg["ui"]["chart_band"], BAND))
    if shade:
        legend.append((p.msg["ui"]["chart_window"], WINDOW))
    title = (f"{row['asset_id']} {label(p.msg, 'metric', row['metric'])} "
             f"{label(p.msg, 'kind', row['kind'])}")
    return line_chart(x, [(p.msg["ui"]["chart_observed"], vals, OBSERVED)], title=title,
                      unit=unit, x_labels=labels, band=(lo, hi) if has_band else None,
                      shade=shade, legend=legend)


def _finding_cards(p: _Page, cards: pl.DataFrame, windows: dict[str, pl.DataFrame],
                   total: int, zone: ZoneInfo) -> str:
    parts = [f'<section id="serious"><h2>{p.t("serious_title")}</h2>']
    if not cards.height:
        parts.append(f'<p class="empty">{p.t("no_findings")}</p></section>')
        return "".join(parts)
    parts.append(f'<p>{p.t("serious_intro", n=cards.height, total=f"{total:,}")}</p>')
    for i, r in enumerate(cards.iter_rows(named=True)):
        obs, exp = r.get("observed"), r.get("expected")
        unit = r.get("unit") or ""
        facts = [
            (p.t("asset"), esc(r["asset_id"])),
            (p.t("area"), esc(_text(r["_area"])) + " / " + esc(_text(r["_feeder"]))),
            (p.t("metric"), f'{p.lab("metric", r["metric"])} <code>{esc(r["metric"])}</code>'),
            (p.t("start"), esc(_text(r["_start"]))), (p.t("end"), esc(_text(r["_end"]))),
            (p.t("observed"), esc(fmt_num(_num(obs)) + " " + unit)),
            (p.t("expected"), esc(fmt_num(_num(exp)) + " " + unit)),
            (p.t("rule"), esc(_text(r.get("rule")))),
            (p.t("standard"), esc(_text(r.get("standard")))),
            (p.t("detector"), esc(_text(r.get("detector")))),
        ]
        parts.append(
            f'<article class="card sev-{esc(r["severity"])}" id="card-{i}">'
            f'<h3>{p.sev_badge(r["severity"])} {p.status_badge(r.get("status"))} '
            f'{p.lab("kind", r["kind"])} · {esc(r["asset_id"])}</h3>'
            f'<div class="card-body"><div class="chart-box">'
            f'{_window_chart(p, windows.get(r["_key"]), r, zone)}</div>'
            f'<div class="facts">{_dl(facts)}</div></div>'
            f'<p class="reason"><b>{p.t("reason")}:</b> {esc(_text(r.get("reason")))}</p>'
            f'<div class="action"><b>{p.t("action")}:</b> '
            f'{p.action(r["kind"], r.get("action"))}</div></article>')
    parts.append("</section>")
    return "".join(parts)


def _year_colours(years: list[int], year: int | None) -> dict[int, str]:
    """This year (else the latest) in the accent colour; earlier years in greys, the most
    recent darkest, so the eye goes to this year and the year before."""
    this = year if year in years else (max(years) if years else None)
    earlier = sorted((y for y in years if y != this), reverse=True)
    out = {y: EARLIER_YEARS[min(i, len(EARLIER_YEARS) - 1)] for i, y in enumerate(earlier)}
    if this is not None:
        out[this] = THIS_YEAR
    return out


def _change_cards(p: _Page, sig: pl.DataFrame, total: int, monthly: pl.DataFrame,
                  profile: pl.DataFrame, this_year: int | None) -> str:
    parts = [f'<section id="changes"><h2>{p.t("changes_title")}</h2>']
    if not sig.height:
        parts.append(f'<p class="empty">{p.t("no_changes")}</p></section>')
        return "".join(parts)
    parts.append(f'<p>{p.t("changes_intro", n=sig.height, total=f"{total:,}")}</p>')
    m_parts = monthly.partition_by("asset_id", "metric", as_dict=True) if monthly.height else {}
    pr_parts = profile.partition_by("asset_id", "metric", as_dict=True) if profile.height else {}
    for r in sig.iter_rows(named=True):
        key = (r["asset_id"], r["metric"])
        year = r.get("year") if isinstance(r.get("year"), int) else this_year
        unit = r.get("unit") or ""
        charts = []
        mdf = m_parts.get(key)
        if mdf is not None and mdf.height:
            years = sorted(mdf["year"].unique().to_list())
            colours = _year_colours(years, year)
            groups = []
            for y in years:
                sub = mdf.filter(pl.col("year") == y)
                by_month = dict(zip(sub["month"].to_list(), sub["value"].to_list(), strict=True))
                groups.append((str(y), [by_month.get(mo) for mo in range(1, 13)], colours[y]))
            cats = [str(mo) for mo in range(1, 13)]
            charts.append(f'<figure><figcaption>{p.t("monthly")} ({esc(unit)})</figcaption>'
                          + bar_chart(cats, groups, title=f"{r['asset_id']} "
                                      f"{p.msg['ui']['monthly']}", unit=unit, width=420,
                                      height=200) + "</figure>")
        pdf = pr_parts.get(key)
        if pdf is not None and pdf.height:
            pdf = pdf.sort("year", "hour")
            hours = sorted(pdf["hour"].unique().to_list())
            series = []
            years = sorted(pdf["year"].unique().to_list())
            colours = _year_colours(years, year)
            for y in years:
                part = pdf.filter(pl.col("year") == y)
                sub = dict(zip(part["hour"].to_list(), part["value"].to_list(), strict=True))
                series.append((str(y), [sub.get(h) for h in hours], colours[y]))
            charts.append(
                f'<figure><figcaption>{p.t("daily_profile")}</figcaption>'
                + line_chart(hours, series, title=f"{r['asset_id']} "
                             f"{p.msg['ui']['daily_profile']}", unit=unit,
                             x_labels=[(h, f"{h:g}") for h in (0, 3, 6, 9, 12, 15, 18, 21, 24)],
                             legend=[(s[0], s[2]) for s in series], width=420, height=200)
                + "</figure>")
        facts = [
            (p.t("energy"), esc(fmt_num(_num(r.get("energy_kwh"))) + " " + unit)),
            (p.t("energy_baseline"),
             esc(fmt_num(_num(r.get("energy_baseline_kwh"))) + " " + unit)),
            (p.t("energy_change_pct"), esc(_signed_pct(r.get("energy_change_pct")))),
            (p.t("peak"), esc(fmt_num(_num(r.get("peak_kw"))))),
            (p.t("peak_baseline"), esc(fmt_num(_num(r.get("peak_baseline_kw"))))),
            (p.t("load_factor"), esc(fmt_num(_num(r.get("load_factor")), 3)) + " / "
             + esc(fmt_num(_num(r.get("load_factor_baseline")), 3))),
            (p.t("q_value"), esc(fmt_num(_num(r.get("q_value")), 3))),
            (p.t("baseline_years"), esc(_text(r.get("baseline_years")))),
        ]
        parts.append(
            f'<article class="card change" id="chg-{r["_card"]}"><h3>'
            f'<span class="cls">{p.lab("change_class", r.get("change_class"))}</span> '
            f'{esc(r["asset_id"])} · {p.lab("metric", r["metric"])} '
            f'<code>{esc(r["metric"])}</code></h3>'
            f'<div class="card-body"><div class="chart-box">{"".join(charts)}</div>'
            f'<div class="facts">{_dl(facts)}</div></div>'
            f'<p class="reason"><b>{p.t("reason")}:</b> {esc(_text(r.get("reason")))}</p>'
            "</article>")
    parts.append("</section>")
    return "".join(parts)


def _run_section(p: _Page, summary: Mapping[str, Any]) -> str:
    rng = summary.get("data_range")
    start = rng.get("start") if isinstance(rng, Mapping) else summary.get("data_start")
    end = rng.get("end") if isinstance(rng, Mapping) else summary.get("data_end")
    rows = [
        (p.t("run"), esc(_text(summary.get("run_id")))),
        (p.t("year"), esc(_text(summary.get("year")))),
        (p.t("baseline_years"), esc(_text(summary.get("baseline_years")))),
        (p.t("store"), esc(_text(summary.get("store")))),
        (p.t("profile"), esc(_text(summary.get("profile")))),
        (p.t("profile_hash"), esc(_text(summary.get("profile_hash")))),
        (p.t("version"), esc(_text(summary.get("griddiag_version", summary.get("version"))))),
        (p.t("generated_at"), esc(_text(summary.get("generated_at")))),
        (p.t("data_range"), esc(_text(start)) + " – " + esc(_text(end))),
    ]
    parts = [f'<section id="run"><h2>{p.t("run_title")}</h2>', _dl(rows)]
    timings = summary.get("timings")
    if isinstance(timings, Mapping) and timings:
        parts.append(f'<h3>{p.t("timings")}</h3>')
        parts.append(_dl([(esc(k), p.t("seconds", s=fmt_num(_num(v), 3)) if _num(v) is not None
                           else esc(_text(v))) for k, v in timings.items()]))
    parts.append("</section>")
    return "".join(parts)


def _significant(yoy: pl.DataFrame) -> pl.DataFrame:
    """Significant changes, most important first (rank, then q-value), with a card index."""
    if not yoy.height or "significant" not in yoy.columns:
        return yoy.head(0).with_columns(pl.lit(0, pl.Int64).alias("_card"))
    sig = yoy.filter(pl.col("significant").fill_null(False))
    if "change_class" in sig.columns:
        sig = sig.filter(pl.col("change_class").fill_null("") != "unchanged")
    order = [c for c in ("rank", "q_value") if c in sig.columns]
    if order:
        sig = sig.sort(order, nulls_last=True, maintain_order=True)
    return sig.with_row_index("_card")


# -- the page ---------------------------------------------------------------------------------

def build_html(*, findings: pl.DataFrame, yoy: pl.DataFrame, summary: Mapping[str, Any],
               charts: ReportCharts, lang: str, assets: pl.DataFrame | None,
               max_finding_cards: int, max_change_cards: int) -> str:
    """The whole page as one string (see :func:`griddiag.report.render_report`)."""
    p_check = catalogue(lang)  # unknown language: ConfigError before any work
    del p_check
    if not isinstance(summary, Mapping):
        raise ConfigError(f"render_report: summary must be a mapping (summary.json content), "
                          f"got {type(summary).__name__}")
    _check_frame(findings, "findings", _REQUIRED_FINDING_COLS)
    _check_frame(yoy, "yoy", ("asset_id", "metric"))
    if not isinstance(charts, ReportCharts):
        raise ConfigError("render_report: charts must be a griddiag.report.ReportCharts")
    for name, schema in CHART_SCHEMAS.items():
        _check_frame(getattr(charts, name), f"charts.{name}", schema)
    if assets is not None:
        _check_frame(assets, "assets", ("asset_id",))
    for name in ("max_finding_cards", "max_change_cards"):
        v = max_finding_cards if name == "max_finding_cards" else max_change_cards
        if not isinstance(v, int) or v < 0:
            raise ConfigError(f"render_report: {name} must be an integer >= 0, got {v!r}")

    zone_name, zone = _zone(summary, assets)
    p = _Page(lang, zone_name)
    f = _prepare_findings(findings, assets, zone)

    serious = _open_findings(f).filter(pl.col("severity").is_in(_SERIOUS))
    cards = serious.head(max_finding_cards)
    card_index = {k: i for i, k in enumerate(cards["_key"].to_list())}
    wanted = charts.finding_windows.filter(pl.col("finding_key").is_in(list(card_index)))
    windows = wanted.partition_by("finding_key", as_dict=True) if wanted.height else {}
    windows = {k[0]: v for k, v in windows.items()}

    sig_all = _significant(yoy)
    sig = sig_all.head(max_change_cards)
    year = summary.get("year")
    this_year = year if isinstance(year, int) else None

    data = {
        "table": _table_data(f, card_index),
        "i18n": {
            "ui": {k: v for k, v in p.msg["ui"].items()},
            "severity": {s: label(p.msg, "severity", s) for s in SEVERITIES},
            "status": {s: label(p.msg, "status", s) for s in _STATUS_ORDER},
            "kind": {k: label(p.msg, "kind", k) for k in f["kind"].unique().drop_nulls()},
            "metric": {m: label(p.msg, "metric", m) for m in f["metric"].unique().drop_nulls()},
            "action": {k: a for k, a in p.msg["action"].items()
                       if k in set(f["kind"].unique().drop_nulls().to_list())},
        },
        "sevOrder": list(_SEV_ORDER),
        "statusOrder": list(_STATUS_ORDER),
    }
    css = _asset_text("report.css")
    js = _asset_text("report.js")
    csp = (f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    header_meta = " · ".join([
        f'{p.t("year")} <b id="meta-year">{esc(_text(summary.get("year")))}</b>',
        f'{p.t("baseline_years")} {esc(_text(summary.get("baseline_years")))}',
        f'{p.t("run")} <code>{esc(_text(summary.get("run_id")))}</code>',
        f'{p.t("generated_at")} {esc(_text(summary.get("generated_at")))}',
        p.t("times_in", tz=zone_name),
    ])
    nav = "".join(f'<a href="#{a}">{p.t(k)}</a>' for a, k in (
        ("summary", "nav_summary"), ("findings", "nav_findings"), ("serious", "nav_serious"),
        ("changes", "nav_changes"), ("run", "nav_run")))
    body = "".join([
        _summary_section(p, f, yoy, sig_all.with_columns(
            pl.when(pl.col("_card") < max_change_cards).then(pl.col("_card")).alias("_card")),
            summary),
        _findings_section(p),
        _finding_cards(p, cards, windows, serious.height, zone),
        _change_cards(p, sig, sig_all.height, charts.yoy_monthly, charts.yoy_profile,
                      this_year),
        _run_section(p, summary),
    ])
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(p.msg["ui"]["lang_attr"])}"><head>'
        f'<meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="griddiag">'
        f'<title>{p.t("title")} {esc(_text(summary.get("year")))}</title>'
        f"<style>{css}</style></head>"
        f'<body data-report-ready="0" data-js-errors="0"><header><h1>{p.t("title")}</h1>'
        f'<p class="meta">{header_meta}</p><nav>{nav}</nav></header><main>{body}</main>'
        f'<footer>{p.t("footer")}</footer>'
        f'<script type="application/json" id="report-data">{json_for_script(data)}</script>'
        f"<script>{js}</script></body></html>\n"
    )


def write_report(out_dir: Path, *, findings: pl.DataFrame, yoy: pl.DataFrame,
                 summary: Mapping[str, Any], charts: ReportCharts, lang: str,
                 assets: pl.DataFrame | None, max_finding_cards: int,
                 max_change_cards: int) -> Path:
    """Render and write ``out_dir/index.html`` atomically (temp file, fsync, rename), so a
    report open in a browser or copied by a scheduler is never half-written."""
    html_text = build_html(findings=findings, yoy=yoy, summary=summary, charts=charts,
                           lang=lang, assets=assets, max_finding_cards=max_finding_cards,
                           max_change_cards=max_change_cards)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "index.html"
    tmp = out_dir / f".index.html.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(html_text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target
