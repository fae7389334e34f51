"""Rendering of the technicians' report without a browser: content, escaping, empty and bad
input, both languages, and size with 50,000 findings (the browser test is
test_report_browser.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from griddiag.exceptions import ConfigError
from griddiag.report import CHART_SCHEMAS, ReportCharts, finding_key, finding_keys, render_report
from griddiag.report.i18n import CATALOGUE
from griddiag.report.render import json_for_script
from griddiag.report.svg import fmt_num, line_chart, nice_ticks
from griddiag.schema import FINDINGS_SCHEMA, SEVERITIES, empty_findings, empty_yoy
from tests.test_report_inputs import many_findings, sample_inputs, summary, synthetic_assets

EVIL = '</script><script>alert("x")</script><img src=x onerror=alert(1)>&amp;'


def _data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m, "embedded data block missing"
    return json.loads(m.group(1))


class _Text(HTMLParser):
    """All text nodes outside <script>/<style>, and every tag name seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.texts.append(data)


def _texts(html: str) -> _Text:
    t = _Text()
    t.feed(html)
    return t


def _render(tmp_path: Path, **kw) -> str:
    findings, yoy, assets, charts = sample_inputs()
    args = dict(findings=findings, yoy=yoy, summary=summary(), charts=charts, lang="en",
                assets=assets)
    args.update(kw)
    return render_report(tmp_path / "out", **args).read_text(encoding="utf-8")


# -- finding keys ------------------------------------------------------------------------------

def test_finding_keys_match_the_row_helper():
    f = many_findings(50).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(pl.col("start") + pl.duration(microseconds=123))  # isoformat prints micros
        .otherwise(pl.col("start")).alias("start"))
    keys = finding_keys(f).to_list()
    assert keys == [finding_key(r) for r in f.iter_rows(named=True)]
    assert keys[1].endswith("+00:00") and "." in keys[0].split("|")[3]
    assert finding_keys(empty_findings()).to_list() == []


def test_finding_key_is_utc_whatever_the_input_zone():
    row = {"asset_id": "M1", "metric": "energy_kwh", "kind": "gap",
           "start": datetime(2025, 3, 21, 1, 30, tzinfo=timezone(timedelta(hours=8)))}
    assert finding_key(row) == "M1|energy_kwh|gap|2025-03-20T17:30:00+00:00"
    with pytest.raises(TypeError):
        finding_key({**row, "start": "2025-03-20"})


# -- content -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_report_has_summary_table_data_cards_and_charts(tmp_path, lang):
    findings, yoy, _, charts = sample_inputs()
    html = _render(tmp_path, lang=lang)
    msgs = CATALOGUE[lang]
    assert f'<html lang="{lang}">' in html
    for anchor in ('id="summary"', 'id="findings-table"', 'id="serious"', 'id="changes"',
                   'id="run"', 'id="top-assets"', 'id="top-areas"', 'id="headline-changes"'):
        assert anchor in html
    data = _data(html)
    assert len(data["table"]["rows"]) == findings.height
    # Severity x kind counts in the summary table equal the findings'.
    open_ = findings.filter(pl.col("status") != "resolved")  # resolved: table only
    crit = open_.filter(pl.col("severity") == "critical").height
    assert f'{crit}</div><div class="tile-c">{msgs["severity"]["critical"]}' in html
    # One card per serious finding (fewer than the limit here), each chart with a band.
    serious = open_.filter(pl.col("severity").is_in(["critical", "warning"])).height
    assert html.count('<article class="card sev-') == serious
    assert html.count('class="band"') >= 1 and html.count('class="window"') >= 1
    # Changes: monthly bars and a daily profile per significant asset.
    n_sig = yoy.filter(pl.col("significant")).height
    assert n_sig >= 1
    assert html.count('<article class="card change"') == n_sig
    assert html.count('<rect class="bar"') >= 12 * n_sig
    # Translated vocabulary; reasons stay the detectors' English text.
    for kind in findings["kind"].unique():
        assert msgs["kind"][kind] in html
    reason = findings.filter(pl.col("kind") == "theft_risk")["reason"][0]
    assert reason[:40] in _texts(html).texts[0] or any(reason[:40] in t
                                                       for t in _texts(html).texts)
    if lang == "zh-CN":
        assert "窃电嫌疑" in html and msgs["action"]["theft_risk"] in html
    # Summary values from summary.json, store shown as given (the job redacts it).
    assert "98.7 %" in html and "run-test" in html and "Asia/Shanghai" in html
    assert "<caption>by_metric</caption>" in html and "99.1 %" in html


def test_times_are_shown_in_the_report_zone(tmp_path):
    f = many_findings(1).with_columns(
        pl.lit(datetime(2025, 3, 20, 17, 30, tzinfo=UTC)).cast(FINDINGS_SCHEMA["start"])
        .alias("start"))
    html = render_report(tmp_path, findings=f, yoy=empty_yoy(), summary={"tz": "Asia/Shanghai"},
                         charts=ReportCharts()).read_text(encoding="utf-8")
    assert _data(html)["table"]["rows"][0][7] == "2025-03-21 01:30"
    html = render_report(tmp_path, findings=f, yoy=empty_yoy(), summary={"tz": "Not/AZone"},
                         charts=ReportCharts()).read_text(encoding="utf-8")
    assert _data(html)["table"]["rows"][0][7] == "2025-03-20 17:30"  # loose: unknown -> UTC


def test_serious_findings_come_first_and_cards_are_capped(tmp_path):
    f = many_findings(500, seed=3)
    html = render_report(tmp_path, findings=f, yoy=empty_yoy(), summary={},
                         charts=ReportCharts(), assets=synthetic_assets(f),
                         max_finding_cards=7).read_text(encoding="utf-8")
    data = _data(html)
    strings, rows = data["table"]["strings"], data["table"]["rows"]
    sev = [strings[r[0]] for r in rows]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert [rank[s] for s in sev] == sorted(rank[s] for s in sev)
    assert html.count('<article class="card sev-') == 7
    assert sum(r[-1] is not None for r in rows) == 7  # table rows link to their card
    card_rows = [r for r in rows if r[-1] is not None]
    assert all(strings[r[1]] != "resolved" for r in card_rows)  # cards: open findings only
    # Areas and feeders come from the topology.
    area_col = data["table"]["cols"].index("area")
    assert all(strings[r[area_col]].startswith("TX") for r in rows)


# -- escaping ----------------------------------------------------------------------------------

def test_every_data_value_is_escaped(tmp_path):
    findings, yoy, assets, charts = sample_inputs()
    f = findings.with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(pl.lit(EVIL)).otherwise(pl.col("asset_id"))
        .alias("asset_id"),
        pl.lit(EVIL).alias("reason"), pl.lit(EVIL).alias("unit"), pl.lit(EVIL).alias("rule"))
    evil_assets = pl.concat([assets, pl.DataFrame({"asset_id": [EVIL], "kind": ["meter"],
                                                   "parent_id": ["TX0003"]})],
                            how="diagonal_relaxed")
    y = yoy.with_columns(pl.lit(EVIL).alias("reason"),
                         pl.when(pl.col("significant")).then(pl.lit(EVIL))
                         .otherwise(pl.col("asset_id")).alias("asset_id"))
    c = ReportCharts(finding_windows=charts.finding_windows,
                     yoy_monthly=charts.yoy_monthly.with_columns(pl.lit(EVIL).alias("asset_id")),
                     yoy_profile=charts.yoy_profile)
    html = render_report(tmp_path, findings=f, yoy=y, assets=evil_assets, charts=c,
                         summary=summary(run_id=EVIL, store=EVIL, timings={EVIL: 1.0},
                                         coverage={EVIL: EVIL}), lang="en"
                         ).read_text(encoding="utf-8")
    # No markup from the data: the only <script> tags are the page's two.
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert "<img" not in html and 'alert("x")' not in html.replace("&quot;", "?")
    parsed = _texts(html)
    assert parsed.tags.count("script") == 2 and "img" not in parsed.tags
    assert sum(EVIL in t for t in parsed.texts) >= 5  # shown as text, e.g. run id, cards
    # The JSON block parses back to the exact original strings.
    data = _data(html)
    assert EVIL in data["table"]["strings"]
    assert all(r[data["table"]["cols"].index("reason")] == EVIL for r in data["table"]["rows"])


def test_json_for_script_cannot_close_the_block():
    text = json_for_script({"a": "</script><!-- \u2028 & >", "b": [1.5, None]})
    assert "</" not in text and "<!--" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- \u2028 & >", "b": [1.5, None]}
    with pytest.raises(ValueError):
        json_for_script({"x": float("nan")})


def test_non_finite_numbers_become_null(tmp_path):
    f = many_findings(3).with_columns(
        pl.Series("observed", [float("nan"), float("inf"), 1.0]),
        pl.Series("expected", [None, float("-inf"), 2.0]))
    html = render_report(tmp_path, findings=f, yoy=empty_yoy(), summary={},
                         charts=ReportCharts()).read_text(encoding="utf-8")
    rows = _data(html)["table"]["rows"]
    obs = sorted([r[9] for r in rows], key=lambda v: (v is not None, v))
    assert obs == [None, None, 1.0]


# -- empty, missing and bad input ---------------------------------------------------------------

def test_empty_inputs_render(tmp_path):
    for lang in ("en", "zh-CN"):
        path = render_report(tmp_path / lang, findings=empty_findings(), yoy=empty_yoy(),
                             summary={}, charts=ReportCharts(), lang=lang)
        html = path.read_text(encoding="utf-8")
        assert _data(html)["table"]["rows"] == []
        assert CATALOGUE[lang]["ui"]["no_findings"] in html
        assert CATALOGUE[lang]["ui"]["no_changes"] in html
        assert "—" in html  # missing summary keys


def test_minimal_frames_and_loose_summary(tmp_path):
    f = many_findings(20).select("asset_id", "metric", "kind", "start", "end", "severity")
    y = pl.DataFrame({"asset_id": ["A"], "metric": ["energy_kwh"], "significant": [True]})
    html = render_report(tmp_path, findings=f, yoy=y, charts=ReportCharts(),
                         summary={"year": "2025", "baseline_years": "2023,2024",
                                  "coverage": 0.5, "timings": "n/a", "assets": [1, 2]}
                         ).read_text(encoding="utf-8")
    assert len(_data(html)["table"]["rows"]) == 20
    assert "50.0 %" in html and "2023,2024" in html


@pytest.mark.parametrize("kw, match", [
    ({"lang": "fr"}, "zh-CN"),
    ({"summary": ["not", "a", "dict"]}, "summary must be a mapping"),
    ({"findings": empty_findings().drop("severity")}, r"findings lacks column\(s\) \['severity'\]"),
    ({"yoy": pl.DataFrame({"x": [1]})}, "yoy lacks"),
    ({"charts": ReportCharts(yoy_monthly=pl.DataFrame({"asset_id": ["A"]}))},
     r"charts.yoy_monthly lacks column\(s\)"),
    ({"max_finding_cards": -1}, "max_finding_cards"),
])
def test_bad_input_is_a_clear_error(tmp_path, kw, match):
    args = dict(findings=empty_findings(), yoy=empty_yoy(), summary={}, charts=ReportCharts())
    args.update(kw)
    with pytest.raises(ConfigError, match=match):
        render_report(tmp_path, **args)
    assert not (tmp_path / "index.html").exists()


def test_rewrite_replaces_the_file_atomically(tmp_path):
    f = many_findings(5)
    for n in (5, 2):
        render_report(tmp_path, findings=f.head(n), yoy=empty_yoy(), summary={},
                      charts=ReportCharts())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]
    assert len(_data((tmp_path / "index.html").read_text(encoding="utf-8"))["table"]["rows"]) == 2


# -- scale -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_fifty_thousand_findings_stay_small(tmp_path):
    f = many_findings(50_000, seed=1)
    path = render_report(tmp_path, findings=f, yoy=empty_yoy(), summary={},
                         charts=ReportCharts(), assets=synthetic_assets(f))
    size = path.stat().st_size
    reasons = f["reason"].str.len_bytes().sum()
    # The reasons are unique text; everything else costs under 120 bytes a finding (short codes
    # for repeated strings, start/end as local text, 4-digit numbers), plus under 0.4 MB of
    # page, script and the 100 detail cards.
    assert size < reasons + 120 * f.height + 400_000, (size, reasons)
    html = path.read_text(encoding="utf-8")
    assert len(_data(html)["table"]["rows"]) == 50_000
    # The static page holds no table rows: one page is built by the script when opened.
    assert '<tbody id="findings-body"></tbody>' in html
    assert html.count('<article class="card') == 100


# -- catalogue and charts ------------------------------------------------------------------------

def test_catalogue_languages_have_the_same_keys():
    en, zh = CATALOGUE["en"], CATALOGUE["zh-CN"]
    for section in ("ui", "severity", "status", "change_class", "kind"):
        assert set(en[section]) == set(zh[section]), section
    assert set(zh["action"]) == set(zh["kind"])
    assert set(SEVERITIES) <= set(zh["severity"])
    classes = ("growth decline step_change peak_shift new_seasonal_pattern volatility "
               "data_quality near_zero unchanged").split()
    assert set(classes) == set(zh["change_class"])
    for key, text in en["ui"].items():  # placeholders agree, so .format works in both
        assert set(re.findall(r"\{(\w+)\}", text)) == set(
            re.findall(r"\{(\w+)\}", zh["ui"][key])), key


def test_every_sample_finding_kind_is_translated():
    findings = sample_inputs()[0]
    assert set(findings["kind"]) <= set(CATALOGUE["zh-CN"]["kind"])


def test_charts_skip_missing_values_and_format_numbers():
    svg = line_chart([0, 1, 2, 3, 4], [("v", [1.0, float("nan"), 2.0, 3.0, None], "#000")],
                     title="<t>", band=([0.5, 0.5, None, 1.0, 1.0], [1.5, 1.5, None, 4.0, 4.0]))
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # NaN splits the line
    assert svg.count('class="band"') == 2 and "<t>" not in svg and "&lt;t&gt;" in svg
    assert fmt_num(1234.5678) == "1,235" and fmt_num(0.000123) == "0.000123"
    assert fmt_num(float("nan")) == "—" and fmt_num(float("inf")) == "∞"
    assert nice_ticks(0, 9.3) == [0, 2.5, 5, 7.5, 10]
    assert CHART_SCHEMAS["finding_windows"]["ts"] == FINDINGS_SCHEMA["start"]
