"""Small inline SVG charts for the report, drawn in Python.

Inline SVG keeps the report one file that needs no network and no chart library, stays crisp
when printed or zoomed, and costs a few kilobytes per chart (a matplotlib PNG costs ten times
that and a second of CPU). Every text that reaches the SVG goes through :func:`esc`; numbers
are formatted here. Missing values (NaN, inf) break lines and bands instead of being drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "esc", "fmt_num", "line_chart", "nice_ticks", "severity_bars"]

# Colours chosen to stay distinct in greyscale print and for red-green colour blindness
# (severity: red / amber / blue; this year dark blue against grey earlier years).
SEVERITY_COLOURS = {"critical": "#c0392b", "warning": "#e08e0b", "info": "#2f6db5"}
THIS_YEAR = "#1f4e96"
EARLIER_YEARS = ("#8c96a3", "#b5bdc7", "#d3d8de", "#e6e9ed")
OBSERVED = "#1f4e96"
BAND = "#9fd4a8"
WINDOW = "#f6d5d1"


def esc(text: object) -> str:
    """HTML/SVG-escape any value (quotes too: values also land in attributes)."""
    return escape(str(text), quote=True)


def fmt_num(v: float | None, digits: int = 4) -> str:
    """A number for people: ``digits`` significant digits, no exponent for everyday sizes."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    if mag >= 9 or mag < -4:
        return f"{v:.{digits - 1}e}"
    decimals = max(0, digits - 1 - mag)
    s = f"{v:,.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (1, 2, 5 x 10^k steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) if lo else 1.0)
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 0.5 and len(ticks) < 2 * n + 2:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


class _Frame:
    """Plot area geometry and the data -> pixel mapping."""

    def __init__(self, width: int, height: int, x0: float, x1: float, y0: float, y1: float,
                 left: int = 56, right: int = 12, top: int = 12, bottom: int = 28):
        self.w, self.h = width, height
        self.l, self.r, self.t, self.b = left, width - right, top, height - bottom
        self.x0, self.x1 = x0, (x1 if x1 > x0 else x0 + 1.0)
        self.y0, self.y1 = y0, (y1 if y1 > y0 else y0 + 1.0)

    def x(self, v: float) -> float:
        return self.l + (v - self.x0) / (self.x1 - self.x0) * (self.r - self.l)

    def y(self, v: float) -> float:
        return self.b - (v - self.y0) / (self.y1 - self.y0) * (self.b - self.t)


def _open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} '
            f'{height}" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">',
            f"<title>{esc(title)}</title>"]


def _y_axis(fr: _Frame, ticks: Sequence[float], unit: str) -> list[str]:
    out = []
    for t in ticks:
        if fr.y0 - 1e-9 <= t <= fr.y1 + 1e-9:
            y = fr.y(t)
            out.append(f'<line class="grid" x1="{fr.l}" x2="{fr.r}" y1="{y:.1f}" y2="{y:.1f}"/>')
            out.append(f'<text class="tick" x="{fr.l - 4}" y="{y + 3:.1f}" '
                       f'text-anchor="end">{esc(fmt_num(t, 3))}</text>')
    if unit and unit != "1":  # "1" is the unit of a ratio (power factor): no label
        out.append(f'<text class="unit" x="4" y="{fr.t + 2}" dominant-baseline="hanging">'
                   f'{esc(unit)}</text>')
    out.append(f'<line class="axis" x1="{fr.l}" x2="{fr.r}" y1="{fr.b}" y2="{fr.b}"/>')
    return out


def _y_range(values: Sequence[float | None]) -> tuple[float, float, list[float]]:
    vals = [v for v in values if _finite(v)]
    if not vals:
        return 0.0, 1.0, [0.0, 1.0]
    lo, hi = min(vals), max(vals)
    if lo > 0 and lo < 0.25 * hi:
        lo = 0.0  # keep zero in view when the data nearly reaches it: bars/levels read true
    ticks = nice_ticks(lo, hi)
    return min(ticks[0], lo), max(ticks[-1], hi), ticks


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Split a series at missing values: each run is drawn as its own line."""
    runs: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    for x, y in points:
        if _finite(y):
            cur.append((x, y))  # type: ignore[arg-type]
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def line_chart(x: Sequence[float], series: Sequence[tuple[str, Sequence[float | None], str]],
               *, title: str, unit: str = "", x_labels: Sequence[tuple[float, str]] = (),
               band: tuple[Sequence[float | None], Sequence[float | None]] | None = None,
               shade: tuple[float, float] | None = None, width: int = 640, height: int = 200,
               legend: Sequence[tuple[str, str]] = ()) -> str:
    """Lines over a numeric x axis, with an optional expected band and a shaded window.

    ``series`` is ``(label, values, colour)``; ``band`` is ``(low, high)`` aligned with ``x``
    (a slot with a missing bound has no band); ``shade`` is an ``(x_start, x_end)`` window;
    ``x_labels`` are ``(x, text)`` ticks; ``legend`` is ``(text, colour)`` swatches.
    """
    ys: list[float | None] = [v for _, vals, _ in series for v in vals]
    if band is not None:
        ys += list(band[0]) + list(band[1])
    y0, y1, ticks = _y_range(ys)
    xs = [v for v in x if _finite(v)]
    x0 = min(xs) if xs else 0.0
    x1 = max(xs) if xs else 1.0
    if shade is not None:
        x0, x1 = min(x0, shade[0]), max(x1, shade[1])
    fr = _Frame(width, height, x0, x1, y0, y1, bottom=28 + (14 if legend else 0))
    out = _open(width, height, title)
    if shade is not None:
        a, b = fr.x(shade[0]), fr.x(shade[1])
        out.append(f'<rect class="window" x="{a:.1f}" y="{fr.t}" width="{max(b - a, 1.5):.1f}" '
                   f'height="{fr.b - fr.t}" fill="{WINDOW}"/>')
    out += _y_axis(fr, ticks, unit)
    if band is not None:
        lo, hi = band
        pts = [(xi, (a, b)) for xi, a, b in zip(x, lo, hi, strict=True)]
        run: list[tuple[float, float, float]] = []
        for xi, (a, b) in [*pts, (math.nan, (None, None))]:
            if _finite(a) and _finite(b) and _finite(xi):
                run.append((xi, a, b))  # type: ignore[arg-type]
                continue
            if run:
                if len(run) == 1:  # a lone slot: a short bar so it is still visible
                    xi1, a1, b1 = run[0]
                    run = [(xi1 - 0.4 * (fr.x1 - fr.x0) / max(len(x), 1), a1, b1),
                           (xi1 + 0.4 * (fr.x1 - fr.x0) / max(len(x), 1), a1, b1)]
                top = " ".join(f"{fr.x(p[0]):.1f},{fr.y(p[2]):.1f}" for p in run)
                bot = " ".join(f"{fr.x(p[0]):.1f},{fr.y(p[1]):.1f}" for p in reversed(run))
                out.append(f'<polygon class="band" points="{top} {bot}" fill="{BAND}" '
                           f'fill-opacity="0.55"/>')
                run = []
    for label_text, vals, colour in series:
        for r in _runs(list(zip(x, vals, strict=True))):
            if len(r) == 1:
                out.append(f'<circle class="series" cx="{fr.x(r[0][0]):.1f}" '
                           f'cy="{fr.y(r[0][1]):.1f}" r="2" fill="{colour}"/>')
            else:
                pts_s = " ".join(f"{fr.x(a):.1f},{fr.y(b):.1f}" for a, b in r)
                out.append(f'<polyline class="series" points="{pts_s}" fill="none" '
                           f'stroke="{colour}" stroke-width="1.5"><title>{esc(label_text)}'
                           f'</title></polyline>')
    for i, (xv, text) in enumerate(x_labels):
        if fr.x0 <= xv <= fr.x1:
            px = fr.x(xv)
            # the outermost labels hang inwards so they are not cut at the chart's edge
            anchor = "start" if i == 0 else ("end" if i == len(x_labels) - 1 else "middle")
            out.append(f'<line class="axis" x1="{px:.1f}" x2="{px:.1f}" y1="{fr.b}" '
                       f'y2="{fr.b + 4}"/>')
            out.append(f'<text class="tick" x="{px:.1f}" y="{fr.b + 15}" '
                       f'text-anchor="{anchor}">{esc(text)}</text>')
    out += _legend(fr, legend)
    out.append("</svg>")
    return "".join(out)


def _legend(fr: _Frame, legend: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    lx = fr.l
    ly = fr.h - 8
    for text, colour in legend:
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="8" fill="{colour}"/>')
        out.append(f'<text class="legend" x="{lx + 13}" y="{ly}">{esc(text)}</text>')
        lx += 22 + 7 * len(text) + (6 * sum(1 for ch in text if ord(ch) > 0x2e80))
    return out


def bar_chart(categories: Sequence[str], groups: Sequence[tuple[str, Sequence[float | None], str]],
              *, title: str, unit: str = "", width: int = 640, height: int = 200) -> str:
    """Grouped vertical bars: one group per category, one bar per ``(label, values, colour)``."""
    ys = [v for _, vals, _ in groups for v in vals] + [0.0]
    y0, y1, ticks = _y_range(ys)
    fr = _Frame(width, height, 0.0, float(max(len(categories), 1)), y0, y1, bottom=42)
    out = _open(width, height, title)
    out += _y_axis(fr, ticks, unit)
    n = max(len(groups), 1)
    slot = (fr.r - fr.l) / max(len(categories), 1)
    bw = slot * 0.8 / n
    zero = fr.y(0.0) if y0 <= 0.0 <= y1 else fr.b
    for gi, (label_text, vals, colour) in enumerate(groups):
        for ci, v in enumerate(vals):
            if not _finite(v):
                continue
            px = fr.l + ci * slot + slot * 0.1 + gi * bw
            py = fr.y(v)  # type: ignore[arg-type]
            top, h = min(py, zero), abs(zero - py)
            out.append(f'<rect class="bar" x="{px:.1f}" y="{top:.1f}" width="{max(bw - 0.5, 0.5):.1f}"'
                       f' height="{max(h, 0.5):.1f}" fill="{colour}"><title>{esc(label_text)} '
                       f'{esc(categories[ci])}: {esc(fmt_num(v))} {esc(unit)}</title></rect>')
    for ci, cat in enumerate(categories):
        px = fr.l + (ci + 0.5) * slot
        out.append(f'<text class="tick" x="{px:.1f}" y="{fr.b + 13}" text-anchor="middle">'
                   f'{esc(cat)}</text>')
    out += _legend(fr, [(g[0], g[2]) for g in groups])
    out.append("</svg>")
    return "".join(out)


def severity_bars(rows: Sequence[tuple[str, dict[str, int]]], severities: Sequence[str],
                  labels: dict[str, str], *, title: str, width: int = 640) -> str:
    """Horizontal stacked bars: one row per finding kind, segments by severity."""
    bar_h, gap, left = 16, 6, 190
    height = 24 + len(rows) * (bar_h + gap) + 22
    total_max = max([sum(c.values()) for _, c in rows] + [1])
    out = _open(width, height, title)
    span = width - left - 60
    y = 12
    for label_text, counts in rows:
        out.append(f'<text class="tick" x="{left - 6}" y="{y + bar_h - 4}" text-anchor="end">'
                   f'{esc(label_text)}</text>')
        x = float(left)
        for sev in severities:
            c = counts.get(sev, 0)
            if not c:
                continue
            w = max(c / total_max * span, 1.5)
            out.append(f'<rect class="bar sev-{esc(sev)}" x="{x:.1f}" y="{y}" width="{w:.1f}" '
                       f'height="{bar_h}" fill="{SEVERITY_COLOURS.get(sev, "#888")}"><title>'
                       f'{esc(label_text)}, {esc(labels.get(sev, sev))}: {c}</title></rect>')
            x += w
        out.append(f'<text class="tick" x="{x + 4:.1f}" y="{y + bar_h - 4}">'
                   f'{sum(counts.values())}</text>')
        y += bar_h + gap
    lx = left
    for sev in severities:
        out.append(f'<rect x="{lx}" y="{y + 4}" width="10" height="10" '
                   f'fill="{SEVERITY_COLOURS.get(sev, "#888")}"/>')
        text = labels.get(sev, sev)
        out.append(f'<text class="legend" x="{lx + 14}" y="{y + 13}">{esc(text)}</text>')
        lx += 30 + 8 * len(text)
    out.append("</svg>")
    return "".join(out)
