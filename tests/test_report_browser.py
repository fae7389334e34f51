"""The report in a real browser: headless Chromium (Debian's ``chromium``), network off.

Each check loads ``index.html`` from disk with ``--dump-dom`` (the DOM after the script ran)
and fails on:

- any console message of the page (the script logs nothing; a CSP violation, a failed load or
  an uncaught exception all print one): read from ``--enable-logging=stderr``;
- any request by the page that is not ``file:`` or ``data:``: read from Chromium's net log
  (``--log-net-log``; the page's requests carry its opaque ``null`` origin as initiator), with
  DNS mapped to nothing (``--host-resolver-rules``) so nothing could leave anyway;
- the script's own error counter (``data-js-errors``) or a missing ``data-report-ready``.

The view (filters, page) is set through the URL hash the report reads, which is how the test
drives pagination and filtering without a DevTools client. Screenshots go to
``tests/artifacts/report/`` (ignored by git). Chromium comes from ``scripts/chromium.sh``
(``make test`` runs it); without it the tests skip, or fail under GRIDDIAG_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from griddiag.report import render_report
from griddiag.report.i18n import CATALOGUE
from tests.test_report_inputs import sample_inputs, summary

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "report"
_CONSOLE = re.compile(r":CONSOLE(?:\(\d+\))?(?::\d+)?\]\s*(.*)$")


def _chromium() -> str:
    for name in (os.environ.get("GRIDDIAG_CHROMIUM", ""), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    reason = ("headless Chromium not found: run `bash scripts/chromium.sh` as root "
              "(apt-get install chromium) or set GRIDDIAG_CHROMIUM")
    if os.environ.get("GRIDDIAG_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (GRIDDIAG_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


class Browser:
    """One headless Chromium run per call; returns the DOM and what went wrong."""

    def __init__(self, exe: str, work: Path):
        self.exe = exe
        self.work = work
        self.n = 0

    def _run(self, url: str, mode: list[str]) -> tuple[str, list[str], list[str]]:
        self.n += 1
        netlog = self.work / f"net{self.n}.json"
        args = [
            self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update",
            "--disable-default-apps", "--disable-features=Translate,OptimizationHints,MediaRouter",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
            f"--user-data-dir={self.work / f'profile{self.n}'}", f"--log-net-log={netlog}",
            "--virtual-time-budget=5000", "--window-size=1280,2400", *mode, url,
        ]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
        console = [m.group(1) for line in proc.stderr.splitlines()
                   if (m := _CONSOLE.search(line))]
        return proc.stdout, console, _page_requests(netlog)

    def dom(self, url: str) -> tuple[str, list[str], list[str]]:
        return self._run(url, ["--dump-dom"])

    def screenshot(self, url: str, path: Path) -> tuple[list[str], list[str]]:
        path.parent.mkdir(parents=True, exist_ok=True)
        _, console, requests = self._run(url, [f"--screenshot={path}"])
        assert path.exists() and path.stat().st_size > 10_000, f"no screenshot at {path}"
        print(f"screenshot: {path}")
        return console, requests


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for that are not file: or data: (browser housekeeping excluded:
    its requests have no origin, the page's have the file page's opaque origin "null")."""
    if not netlog.exists():
        return []
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
    if not text.endswith("}"):
        text += "]}"  # a net log cut short by exit lacks its closing brackets
    try:
        events = json.loads(text).get("events", [])
    except json.JSONDecodeError:
        events = []
    out = []
    for e in events:
        p = e.get("params") or {}
        url = p.get("url") or p.get("original_url")
        init = p.get("initiator")
        if url and (init == "null" or str(init).startswith("file:")) and not url.startswith(
                ("file:", "data:")):
            out.append(url)
    return out


class _Dom(HTMLParser):
    """Just enough of the dumped DOM: attributes by id, body attributes, rows, texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.body: dict[str, str] = {}
        self.ids: dict[str, dict[str, str]] = {}
        self.counts: dict[str, int] = {}
        self.rows: list[list[str]] = []
        self.scripts = 0
        self._in_tbody = False
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.text: dict[str, str] = {}
        self._text_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag == "body":
            self.body = a
        if tag == "script":
            self.scripts += 1
        if "id" in a:
            self.ids[a["id"]] = a
            if a["id"] in ("match-count", "pg-label"):
                self._text_id = a["id"]
                self.text[a["id"]] = ""
        if tag == "tbody" and a.get("id") == "findings-body":
            self._in_tbody = True
        if self._in_tbody and tag == "tr" and "data-row" in a:
            self._row = []
            self.rows.append(self._row)
        if self._row is not None and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_tbody = False
            self._row = None
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag in ("p", "span"):
            self._text_id = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._text_id:
            self.text[self._text_id] += data


def _parse(html: str) -> _Dom:
    d = _Dom()
    d.feed(html)
    return d


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Browser:
    return Browser(_chromium(), tmp_path_factory.mktemp("chromium"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    findings, yoy, assets, charts = sample_inputs()
    out = {}
    for lang in ("en", "zh-CN"):
        out[lang] = render_report(tmp_path_factory.mktemp(f"report-{lang}"), findings=findings,
                                  yoy=yoy, summary=summary(), charts=charts, lang=lang,
                                  assets=assets)
    return out


def _clean(console: list[str], requests: list[str]) -> None:
    assert not console, f"console messages: {console}"
    assert not requests, f"the page requested the network: {requests}"


def test_checker_sees_console_errors_and_network(browser: Browser, tmp_path: Path) -> None:
    """The checks can fail: a page that loads a remote image and logs an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.com/x.png">'
                    '<script>console.error("boom")</script></body></html>', encoding="utf-8")
    _, console, requests = browser.dom(page.as_uri())
    assert any("boom" in c for c in console)
    assert any(u.startswith("http://example.com") for u in requests)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_report_loads_offline_with_summary_table_and_charts(browser: Browser, reports, lang):
    findings, yoy, _, _ = sample_inputs()
    ui = CATALOGUE[lang]["ui"]
    html, console, requests = browser.dom(reports[lang].as_uri())
    _clean(console, requests)
    d = _parse(html)
    assert d.body.get("data-report-ready") == "1"
    assert d.body.get("data-js-errors") == "0"
    for section in ("summary", "tiles", "kind-table", "top-assets", "top-areas", "findings",
                    "findings-table", "serious", "changes", "run"):
        assert section in d.ids, f"{section} missing"
    assert d.ids["findings-table"]
    assert d.counts.get("svg", 0) >= 2  # severity chart + at least one anomaly window chart
    assert d.counts.get("polyline", 0) >= 1 and d.counts.get("polygon", 0) >= 1  # line + band
    assert d.scripts == 2  # the data block and the report's own script, nothing injected
    # Page 1 of the table: 50 rows (the default page size), every column filled.
    assert len(d.rows) == min(50, findings.height)
    assert all(len(r) == 12 for r in d.rows)
    assert d.body["data-matches"] == str(findings.height)
    assert d.text["pg-label"] == ui["page_of"].format(page=1, pages=-(-findings.height // 50))
    # Severity and kind labels are in the page's language.
    first_sev = findings.sort(pl.col("severity").replace_strict(
        ["critical", "warning", "info"], [0, 1, 2])).row(0, named=True)["severity"]
    assert d.rows[0][0] == CATALOGUE[lang]["severity"][first_sev]
    shot = ARTIFACTS / f"report-{lang}.png"
    _clean(*browser.screenshot(reports[lang].as_uri(), shot))


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_report_filters_and_pages(browser: Browser, reports, lang):
    findings, _, _, _ = sample_inputs()
    msgs = CATALOGUE[lang]
    # Filter by severity, 10 rows per... page size 25, second page.
    n_warn = findings.filter(pl.col("severity") == "warning").height
    assert n_warn > 25, "the sample areas should give more than one page of warnings"
    html, console, requests = browser.dom(reports[lang].as_uri() + "#view:sev=warning&size=25&page=2")
    _clean(console, requests)
    d = _parse(html)
    assert d.body["data-matches"] == str(n_warn)
    assert d.body["data-page"] == "2"
    assert len(d.rows) == min(25, n_warn - 25)
    assert {r[0] for r in d.rows} == {msgs["severity"]["warning"]}
    assert d.text["match-count"] == msgs["ui"]["rows_shown"].format(shown=n_warn,
                                                                    total=findings.height)
    # Filter by kind and by area, sorted by start descending.
    n_over = findings.filter(pl.col("kind") == "overload").height
    html, console, requests = browser.dom(
        reports[lang].as_uri() + "#view:kind=overload&area=a%3ATX0003&sort=start&dir=desc")
    _clean(console, requests)
    d = _parse(html)
    assert d.body["data-matches"] == str(n_over)
    assert {r[2] for r in d.rows} == {msgs["kind"]["overload"]}
    starts = [r[6] for r in d.rows]
    assert starts == sorted(starts, reverse=True)
    # An asset filter that matches nothing says so instead of an empty table.
    html, console, requests = browser.dom(reports[lang].as_uri() + "#view:asset=NO-SUCH-ASSET")
    _clean(console, requests)
    d = _parse(html)
    assert d.body["data-matches"] == "0" and not d.rows
    assert msgs["ui"]["no_match"] in html
    _clean(*browser.screenshot(reports[lang].as_uri() + "#view:sev=warning&size=25&page=2",
                               ARTIFACTS / f"report-{lang}-filtered.png"))


def test_hostile_values_stay_text_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    findings, yoy, assets, charts = sample_inputs()
    evil = '</script><script>document.title="pwned"</script><img src=x onerror=alert(1)>'
    f = findings.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(evil)).otherwise(pl.col("asset_id"))
        .alias("asset_id"),
        pl.lit(evil).alias("reason"))
    path = render_report(tmp_path / "evil", findings=f, yoy=yoy, summary=summary(run_id=evil),
                         charts=charts, lang="en", assets=assets)
    html, console, requests = browser.dom(path.as_uri() + "#view:asset=" + "%3C%2Fscript")
    _clean(console, requests)
    d = _parse(html)
    assert d.scripts == 2
    assert "pwned" not in html.split("<title>")[1].split("</title>")[0]
    assert d.body["data-matches"] == "1"
    assert d.rows[0][3].startswith(evil)  # the asset cell shows the name as text


@pytest.mark.slow
def test_fifty_thousand_findings_open_one_page(browser: Browser, tmp_path: Path) -> None:
    """A big report still builds only one page of rows; filters run over all of them."""
    from griddiag.schema import empty_yoy
    from griddiag.report import ReportCharts
    from tests.test_report_inputs import many_findings, synthetic_assets

    f = many_findings(50_000, seed=2)
    path = render_report(tmp_path / "big", findings=f, yoy=empty_yoy(), summary=summary(),
                         charts=ReportCharts(), assets=synthetic_assets(f))
    html, console, requests = browser.dom(path.as_uri() + "#view:sev=critical&page=3")
    _clean(console, requests)
    d = _parse(html)
    assert d.body["data-report-ready"] == "1" and d.body["data-js-errors"] == "0"
    assert d.body["data-matches"] == str(f.filter(pl.col("severity") == "critical").height)
    assert d.body["data-page"] == "3" and len(d.rows) == 50
