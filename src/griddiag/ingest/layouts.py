"""Layouts: which column holds what, told from the header.

=============  ===========================================================================
format         header (names are matched case-insensitively; Chinese aliases in brackets)
=============  ===========================================================================
``long``       ``asset_id, ts, metric, value[, unit]`` - one reading per line
               (``asset|meter|户号|表号``, ``timestamp|time|时间|数据时间``, ``metric|指标``,
               ``value|数值``, ``unit|单位``)
``wide``       ``asset_id, ts, <metric>...`` - one column per metric, unit variants converted
               (``energy_wh``, ``voltage_kv_a``; see ``schema.canonical_metric``)
``day-wide``   ``asset_id, date[, metric][, unit], <point>...`` - one line per asset and day
               with the day's curve (State Grid 96-point): points labelled by time of day,
               interval ends ``00:15 .. 24:00`` or starts ``00:00 .. 23:45``, or numbered
               ``p1 .. p96``; the interval is 1440 min / number of points
``day-columns`` ``asset_id, [other...], <date>...`` - one column per day of daily energy (the
               SGCC electricity-theft data set: ``CONS_NO, FLAG, 2014/1/1, 2014/1/2, ...``);
               ``FLAG`` and other non-date columns are ignored
=============  ===========================================================================

``columns={"Meter No": "asset_id", ...}`` maps source names to the roles ``asset_id, ts,
metric, value, unit, date``. An unknown layout is an ``InputError`` naming the header and the
``format=``/``columns=`` to pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from griddiag.exceptions import ConfigError, InputError
from griddiag.schema import METRICS, canonical_metric

__all__ = ["FORMATS", "ROLES", "Layout", "ValueColumn", "detect_layout", "resolve_metric"]

FORMATS = ("long", "wide", "day-wide", "day-columns")
_FORMAT_ALIASES = {
    "long": "long", "wide": "wide", "wide-metric": "wide", "day-wide": "day-wide",
    "daywide": "day-wide", "curve": "day-wide", "96": "day-wide",
    "day-columns": "day-columns", "day-per-column": "day-columns", "sgcc": "day-columns",
}
ROLES = ("asset_id", "ts", "metric", "value", "unit", "date")

_ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "asset_id": ("asset_id", "asset", "assetid", "asset_no", "meter", "meter_id", "meterid",
                 "meter_no", "meter_number", "device_id", "id", "cons_no", "户号", "表号",
                 "用户编号", "用户号", "电表编号", "电能表编号", "表计编号", "资产编号",
                 "设备编号", "表计资产号"),
    "ts": ("ts", "timestamp", "time", "datetime", "date_time", "reading_time", "read_time",
           "时间", "数据时间", "采集时间", "日期时间", "时标", "冻结时间"),
    "metric": ("metric", "measure", "measurement", "channel", "指标", "测量项", "数据项",
               "数据类型"),
    "value": ("value", "val", "reading", "数值", "值", "读数", "示值"),
    "unit": ("unit", "units", "单位"),
    "date": ("date", "day", "data_date", "read_date", "日期", "数据日期", "冻结日期"),
}
_ALIAS_TO_ROLE = {a: role for role, names in _ROLE_ALIASES.items() for a in names}

_HHMM = re.compile(r"^(\d{1,2})[:：](\d{2})(?::00)?$")
_NUMBERED = re.compile(r"^([^\W\d]*)[_\s]?(\d{1,4})$")
_DATE_NAME = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$|^(\d{4})(\d{2})(\d{2})$")


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").lower())


@dataclass(frozen=True)
class ValueColumn:
    """A source column holding values: its metric (wide), offset in the day (day-wide, in
    minutes of interval start) or date (day-columns)."""

    name: str
    metric: str | None = None
    factor: float = 1.0
    minutes: int | None = None
    day: datetime | None = None


@dataclass(frozen=True)
class Layout:
    format: str
    asset_id: str
    ts: str | None = None
    date: str | None = None
    metric: str | None = None
    value: str | None = None
    unit: str | None = None
    values: tuple[ValueColumn, ...] = ()
    # metric of day-wide/day-columns files without a metric column, and its unit factor
    fixed_metric: str | None = None
    fixed_factor: float = 1.0
    interval_minutes: int | None = None  # declared by the layout (day-wide, day-columns)
    end_labels: bool = False
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def readings_per_line(self) -> int:
        return 1 if self.format == "long" else len(self.values)

    def source_columns(self) -> list[str]:
        named = [self.asset_id, self.ts, self.date, self.metric, self.value, self.unit]
        return [c for c in named if c] + [v.name for v in self.values]


def normalise_format(fmt: str | None) -> str:
    key = (fmt or "auto").strip().lower()
    if key == "auto":
        return "auto"
    if key not in _FORMAT_ALIASES:
        raise ConfigError(f"format {fmt!r} is unknown; use auto, {', '.join(FORMATS)}")
    return _FORMAT_ALIASES[key]


# unit spellings seen in exports, mapped to the unit tokens used in metric names
_UNIT_WORDS = {
    "kw·h": "kwh", "kw.h": "kwh", "kw*h": "kwh", "千瓦时": "kwh", "度": "kwh", "瓦时": "wh",
    "千伏": "kv", "伏": "v", "伏特": "v", "安": "a", "安培": "a", "千瓦": "kw", "瓦": "w",
    "千伏安": "kva", "℃": "c", "°c": "c", "degc": "c",
}


def resolve_metric(name: str, unit: str | None = None) -> tuple[str, float] | None:
    """``(canonical metric, factor)`` for a source metric name and optional unit text.

    The unit, when given, says what the values are in: ``("energy", "Wh")`` and
    ``("energy_kwh", "kWh")`` resolve, ``("voltage_a", "kV")`` is ``voltage_v_a`` x 1000. A unit
    that contradicts the unit in the name (``energy_kwh`` in ``Wh``) resolves to nothing rather
    than guessing which of the two is right.
    """
    u = (unit or "").strip().lower()
    u = _UNIT_WORDS.get(u, u)
    base = canonical_metric(name)
    if not u:
        return base
    tokens = [t for t in name.strip().lower().split("_") if t]
    if base is not None:
        canon, _ = base
        canon_tokens = canon.split("_")
        canon_unit = METRICS[canon].unit.lower()
        canon_unit = _UNIT_WORDS.get(canon_unit, canon_unit)
        for i in range(len(tokens)):
            if [*tokens[:i], canon_unit, *tokens[i + 1:]] == canon_tokens:
                return base if u == tokens[i] else None  # tokens[i] is the name's unit
        return base if u == canon_unit else None
    for i in range(len(tokens) + 1):
        candidate = canonical_metric("_".join([*tokens[:i], u, *tokens[i:]]))
        if candidate is not None:
            return candidate
    return None


def _roles(columns: Sequence[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """role -> column name; raises on two columns claiming one role."""
    found: dict[str, list[str]] = {}
    by_norm = {_norm(k): v for k, v in mapping.items()}
    for col in columns:
        role = mapping.get(col) or by_norm.get(_norm(col)) or _ALIAS_TO_ROLE.get(_norm(col))
        if role:
            found.setdefault(role, []).append(col)
    roles: dict[str, str] = {}
    for role, cols in found.items():
        if len(cols) > 1:
            mapped = [c for c in cols if c in mapping or _norm(c) in by_norm]
            if len(mapped) != 1:
                raise InputError(
                    f"columns {cols} all look like {role!r}; say which one with "
                    f"columns={{{cols[0]!r}: {role!r}}}")
            cols = mapped
        roles[role] = cols[0]
    return roles


def _points(columns: Sequence[str], taken: set[str]) -> tuple[list[tuple[str, int]], str] | None:
    """Point columns of a day curve: ``[(name, label)]`` and ``"clock"`` (label = minutes of
    the day) or ``"numbered"`` (label = point number)."""
    clock = []
    numbered: dict[str, list[tuple[str, int]]] = {}
    for c in columns:
        if c in taken:
            continue
        m = _HHMM.match(c.strip())
        if m:
            clock.append((c, int(m.group(1)) * 60 + int(m.group(2))))
            continue
        m = _NUMBERED.match(c.strip())
        if m and not _DATE_NAME.match(c.strip()):
            numbered.setdefault(m.group(1).lower(), []).append((c, int(m.group(2))))
    if len(clock) >= 2:
        return clock, "clock"
    best = max(numbered.values(), key=len, default=[])
    if len(best) >= 2:
        return best, "numbered"
    return None


def _day_curve(points: list[tuple[str, int]], kind: str, interval_label: str | None,
               path: str | None) -> tuple[tuple[ValueColumn, ...], int, bool]:
    n = len(points)
    if 1440 % n:
        raise InputError(
            f"{n} point columns do not divide a day into equal intervals "
            f"(24, 48, 96, 288 or 1440 points expected)", path=path)
    interval = 1440 // n
    labels = sorted(label for _, label in points)
    if kind == "numbered":
        first = labels[0]
        if labels != list(range(first, first + n)) or first not in (0, 1):
            raise InputError(f"numbered point columns must run 1..{n} (or 0..{n - 1}); "
                             f"got {labels[0]}..{labels[-1]} with gaps", path=path)
        cols = tuple(ValueColumn(name, minutes=(label - first) * interval)
                     for name, label in points)
        return cols, interval, False
    if labels == [k * interval for k in range(1, n + 1)]:
        if interval_label == "start":
            raise ConfigError(
                "the point columns run to 24:00, so they label interval ends; "
                "pass interval_label='end' or leave it out")
        cols = tuple(ValueColumn(name, minutes=label - interval) for name, label in points)
        return cols, interval, True
    if labels == [k * interval for k in range(n)]:
        shift = interval if interval_label == "end" else 0
        cols = tuple(ValueColumn(name, minutes=label - shift) for name, label in points)
        return cols, interval, interval_label == "end"
    raise InputError(
        f"time-of-day columns {points[0][0]}..{points[-1][0]} are not {n} evenly spaced labels "
        f"of {interval} min (00:00..{(1440 - interval) // 60:02d}:{(1440 - interval) % 60:02d} "
        f"or 00:{interval:02d}..24:00)" if interval < 60 else
        f"time-of-day columns are not {n} evenly spaced labels of {interval} min", path=path)


def _date_columns(columns: Sequence[str], taken: set[str]) -> list[ValueColumn]:
    out = []
    for c in columns:
        if c in taken:
            continue
        m = _DATE_NAME.match(c.strip())
        if not m:
            continue
        y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else m.group(4, 5, 6)
        try:
            out.append(ValueColumn(c, day=datetime(int(y), int(mo), int(d))))
        except ValueError:
            continue
    return out


def _fixed_metric(metric: str | None) -> tuple[str, float]:
    resolved = resolve_metric(metric or "energy_kwh")
    if resolved is None:
        raise ConfigError(f"metric {metric!r} is not a known metric; use one of "
                          f"{', '.join(sorted(METRICS))} (unit variants such as energy_wh too)")
    return resolved


def detect_layout(
    columns: Sequence[str],
    *,
    format: str = "auto",
    mapping: Mapping[str, str] | None = None,
    metric: str | None = None,
    interval_label: str | None = None,
    path: str | None = None,
) -> Layout:
    """The layout of a source with these column names (see the module docstring)."""
    fmt = normalise_format(format)
    mapping = dict(mapping or {})
    for src, role in mapping.items():
        if role not in ROLES:
            raise ConfigError(f"columns maps {src!r} to {role!r}; roles are {', '.join(ROLES)}")
    try:
        roles = _roles(columns, mapping)
    except InputError as exc:
        raise InputError(str(exc), path=path) from None
    asset = roles.get("asset_id")
    shown = ", ".join(list(columns)[:12]) + (", ..." if len(columns) > 12 else "")
    hint = (f"header: [{shown}]; pass format= (long, wide, day-wide, day-columns) and "
            "columns={'<name in file>': 'asset_id'|'ts'|'metric'|'value'|'unit'|'date'}")
    if asset is None:
        raise InputError(f"no asset column (asset_id, meter, CONS_NO, 户号, ...) found; {hint}",
                         path=path)
    taken = set(roles.values())

    def ignored(used: Sequence[str]) -> tuple[str, ...]:
        return tuple(c for c in columns if c not in set(used))

    def long() -> Layout:
        missing = [r for r in ("ts", "metric", "value") if r not in roles]
        if missing:
            raise InputError(f"long format needs column(s) {missing}; {hint}", path=path)
        lay = Layout("long", asset, ts=roles["ts"], metric=roles["metric"],
                     value=roles["value"], unit=roles.get("unit"),
                     end_labels=interval_label == "end")
        return _with_ignored(lay, ignored(lay.source_columns()))

    def wide() -> Layout:
        if "ts" not in roles:
            raise InputError(f"wide format needs a timestamp column; {hint}", path=path)
        values = []
        for c in columns:
            if c in taken:
                continue
            resolved = resolve_metric(c)
            if resolved is not None:
                values.append(ValueColumn(c, metric=resolved[0], factor=resolved[1]))
        if not values:
            raise InputError(f"wide format needs metric columns (energy_kwh, voltage_v_a, ...); "
                             f"{hint}", path=path)
        lay = Layout("wide", asset, ts=roles["ts"], values=tuple(values),
                     end_labels=interval_label == "end")
        return _with_ignored(lay, ignored(lay.source_columns()))

    def day_wide() -> Layout:
        day_col = roles.get("date") or roles.get("ts")
        pts = _points(columns, taken)
        if day_col is None or pts is None:
            raise InputError(f"day-wide format needs a date column and point columns "
                             f"(00:15..24:00, 00:00..23:45 or p1..p96); {hint}", path=path)
        values, interval, end = _day_curve(pts[0], pts[1], interval_label, path)
        fixed, factor = (None, 1.0) if "metric" in roles else _fixed_metric(metric)
        lay = Layout("day-wide", asset, date=day_col, metric=roles.get("metric"),
                     unit=roles.get("unit"), values=values, fixed_metric=fixed,
                     fixed_factor=factor, interval_minutes=interval, end_labels=end)
        return _with_ignored(lay, ignored(lay.source_columns()))

    def day_columns() -> Layout:
        values = _date_columns(columns, taken)
        if not values:
            raise InputError(f"day-columns format needs date columns (2014/1/1, 2014-01-01, "
                             f"20140101); {hint}", path=path)
        fixed, factor = _fixed_metric(metric)
        end = interval_label == "end"
        if end:  # a day labelled by its end (midnight after it) starts the day before
            values = [ValueColumn(v.name, day=v.day - timedelta(days=1))  # type: ignore[operator]
                      for v in values]
        lay = Layout("day-columns", asset, values=tuple(values), fixed_metric=fixed,
                     fixed_factor=factor, interval_minutes=1440, end_labels=end)
        return _with_ignored(lay, ignored(lay.source_columns()))

    builders = {"long": long, "wide": wide, "day-wide": day_wide, "day-columns": day_columns}
    if fmt != "auto":
        return builders[fmt]()
    if {"ts", "metric", "value"} <= roles.keys():
        return long()
    if "ts" not in roles and "date" not in roles and _date_columns(columns, taken):
        return day_columns()
    if ("date" in roles or "ts" in roles) and _points(columns, taken) is not None:
        return day_wide()
    if "ts" in roles and any(resolve_metric(c) for c in columns if c not in taken):
        return wide()
    raise InputError(f"cannot tell the layout from the header; {hint}", path=path)


def _with_ignored(layout: Layout, ignored: tuple[str, ...]) -> Layout:
    from dataclasses import replace

    notes = tuple(f"column {c!r} ignored" for c in ignored)
    return replace(layout, ignored=ignored, notes=notes)
