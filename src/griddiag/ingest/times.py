"""Timestamps: text, epoch numbers and datetimes to wall times, then wall times to UTC.

Parsing yields a *wall time* (naive ``Datetime("us")``) and whether it is already UTC
(``aware``: the text carried an offset or ``Z``, or was an epoch number). Placing a naive wall
time in UTC needs its zone (``tz=``, else the asset's ``tz`` attribute, else UTC).

Accepted text, fastest first:

- ISO 8601 (``2024-01-01 00:15:00``, ``2024-01-01T00:15``, ``2024-01-01``, fractions, and with
  ``Z`` or ``+08:00``): Arrow's cast, ~10 M values/s;
- others, tried in turn on what is still unparsed: ``2024/1/1 0:15``, ``2024.01.01 00:15``,
  compact ``20240101``, ``202401010015``, ``20240101001500``; epoch seconds (9-10 digits) and
  milliseconds (13 digits); ``24:00`` as midnight of the next day (State Grid end labels).

Day-first or month-first dates (``01/02/2024``) are not accepted: which one is meant cannot be
told from the text.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta

import polars as pl
import pyarrow as pa

__all__ = [
    "TS_MAX",
    "TS_MIN",
    "check_zone",
    "parse_datetimes",
    "wall_to_utc",
]

# Readings outside these bounds are typos (``2204``, ``1900``), not meter data.
TS_MIN = datetime(1970, 1, 1)
TS_MAX = datetime(2100, 1, 1)

WALL = pl.Datetime("us")

_NAIVE_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S%.f", "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M:%S%.f", "%Y.%m.%d %H:%M",
    "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d",
)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
_AWARE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M%z",
    "%Y/%m/%d %H:%M:%S%.f%z", "%Y/%m/%d %H:%M%z",
)
_COMPACT = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}


def check_zone(zone: str) -> bool:
    """Whether ``zone`` is an IANA time zone name both Python and polars know."""
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


# -- parsing -------------------------------------------------------------------------------------


def parse_datetimes(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``(wall, aware)``: naive ``Datetime("us")`` (null where unparsable) and a Boolean
    series telling which walls are already UTC."""
    n = len(s)
    dtype = s.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return s.cast(WALL), pl.repeat(False, n, eager=True)
        wall = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(WALL)
        return wall, pl.repeat(True, n, eager=True)
    if dtype == pl.Date:
        return s.cast(WALL), pl.repeat(False, n, eager=True)
    if dtype.is_numeric():
        return _from_epoch(s.cast(pl.Float64)), pl.repeat(True, n, eager=True)
    if dtype in (pl.Categorical, pl.Enum) or dtype != pl.String:
        s = s.cast(pl.String)
    return _parse_text(s)


def _from_epoch(x: pl.Series) -> pl.Series:
    """Epoch seconds, or milliseconds where the magnitude says so (>= 1e11, i.e. after 1973
    in ms, after 5138 in s)."""
    us = (pl.when(x.abs() >= 1e11).then(x * 1e3).otherwise(x * 1e6))
    return pl.select(
        pl.when(x.is_finite()).then(us).cast(pl.Int64, strict=False).cast(WALL)
    ).to_series()


# A zone designator at the end of a time stamp: "Z", "+08", "+0800", "+08:00".
_HAS_ZONE = re.compile(r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)$")


def _parse_text(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    n = len(s)
    arr = s.to_arrow()
    first = s.drop_nulls().head(1).to_list()
    # Arrow takes seconds to *fail* the naive cast of a million offset-carrying stamps
    # ("...Z"), 50x its successful aware cast: try first the cast the first value fits.
    aware_first = bool(first) and _HAS_ZONE.search(first[0].strip()) is not None
    for aware in ((True, False) if aware_first else (False, True)):
        try:
            if aware:
                wall = pl.Series(s.name, arr.cast(pa.timestamp("us", "UTC")))
                return wall.dt.replace_time_zone(None).cast(WALL), \
                    pl.repeat(True, n, eager=True)
            return pl.Series(s.name, arr.cast(pa.timestamp("us"))).cast(WALL), \
                pl.repeat(False, n, eager=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return _parse_text_slow(s)


def _try_formats(frame: pl.DataFrame, formats: tuple[str, ...],
                 aware: bool) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """Parse column ``t`` of ``frame`` with each format in turn (the one that fits most of a
    sample first); returns parsed parts ``(i, wall)`` and the rows no format fits."""
    sample = frame["t"].head(64)
    hits = [(sample.str.to_datetime(f, strict=False, time_unit="us").is_not_null().sum(), -k, f)
            for k, f in enumerate(formats)]
    ordered = [f for _, _, f in sorted(hits, reverse=True)]
    done: list[pl.DataFrame] = []
    todo = frame
    for fmt in ordered:
        if todo.height == 0:
            break
        parsed = todo["t"].str.to_datetime(fmt, strict=False, time_unit="us")
        if aware:
            parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        ok = parsed.is_not_null()
        if ok.any():
            done.append(pl.DataFrame({"i": todo["i"].filter(ok), "wall": parsed.filter(ok)}))
            todo = todo.filter(~ok)
    return done, todo


def _parse_text_slow(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    n = len(s)
    frame = pl.DataFrame({"i": pl.int_range(0, n, eager=True, dtype=pl.Int64),
                          "t": s.str.strip_chars()}).filter(pl.col("t").str.len_bytes() > 0)
    parts_naive: list[pl.DataFrame] = []
    parts_aware: list[pl.DataFrame] = []

    digits = frame.filter(pl.col("t").str.contains(r"^\d+$"))
    rest = frame.filter(~pl.col("t").str.contains(r"^\d+$"))
    if digits.height:
        length = digits["t"].str.len_bytes()
        for size, fmt in _COMPACT.items():
            sub = digits.filter(length == size)
            if sub.height:
                done, _ = _try_formats(sub, (fmt,), aware=False)
                parts_naive += done
        epoch = digits.filter(length.is_in([9, 10, 13]))
        if epoch.height:
            parts_aware.append(pl.DataFrame({
                "i": epoch["i"], "wall": _from_epoch(epoch["t"].cast(pl.Float64))}))

    # an offset follows a time of day ("2024-01-02" ends in "-02" but has none)
    offset = pl.col("t").str.contains(
        r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s?(?:[Zz]|[+-]\d\d(?::?\d\d)?)$")
    aware = rest.filter(offset).with_columns(
        pl.col("t").str.replace(r"\s?[Zz]$", "+00:00").str.replace(r"\s([+-]\d\d)", "$1")
        .str.replace(r"([+-]\d\d)$", "${1}:00"))
    if aware.height:
        done, _ = _try_formats(aware, _AWARE_FORMATS, aware=True)
        parts_aware += done
    naive = rest.filter(~offset)
    if naive.height:
        done, todo = _try_formats(naive, _NAIVE_FORMATS, aware=False)
        parts_naive += done
        # "24:00" ends the day: midnight of the next one (interval-end labels)
        midnight = todo.filter(pl.col("t").str.contains(r"[ T]24:00(?::00(?:\.0+)?)?$"))
        if midnight.height:
            day = midnight.with_columns(pl.col("t").str.replace(r"[ T]24:00.*$", ""))
            done, _ = _try_formats(day, _DATE_FORMATS, aware=False)
            parts_naive += [d.with_columns(pl.col("wall") + timedelta(days=1)) for d in done]

    wall = pl.Series(s.name, [None] * n, dtype=WALL)
    is_aware = pl.repeat(False, n, eager=True)
    for part in parts_naive:
        wall = wall.scatter(part["i"], part["wall"].cast(WALL))
    for part in parts_aware:
        wall = wall.scatter(part["i"], part["wall"].cast(WALL))
        is_aware = is_aware.scatter(part["i"], True)
    return wall, is_aware


# -- zones --------------------------------------------------------------------------------------

OK, NONEXISTENT, AMBIGUOUS = 0, 1, 2


def wall_to_utc(wall: pl.Series, zone: str, ambiguous: str) -> tuple[pl.Series, pl.Series]:
    """``(ts, status)``: UTC instants of naive local ``wall`` times in ``zone``, and per value
    ``OK``, ``NONEXISTENT`` (in a DST gap) or ``AMBIGUOUS`` (repeated at a DST overlap, with
    ``ambiguous="raise"``); ``ts`` is null where the status is not ``OK``.

    A zone whose offset does not change over the data's span (Asia/Shanghai since 1991) is a
    subtraction; zones with DST go through polars' zone database.
    """
    n = len(wall)
    status = pl.repeat(OK, n, eager=True, dtype=pl.Int8)
    if zone == "UTC" or n == 0 or wall.null_count() == n:
        return wall.dt.replace_time_zone("UTC"), status
    lo, hi = wall.min(), wall.max()
    assert isinstance(lo, datetime) and isinstance(hi, datetime)
    grid = pl.datetime_range(lo - timedelta(days=2), hi + timedelta(days=2), "1d",
                             time_zone="UTC", eager=True)
    local = grid.dt.convert_time_zone(zone)
    offsets = (local.dt.base_utc_offset() + local.dt.dst_offset()).unique()
    if len(offsets) == 1:
        return (wall - offsets[0]).dt.replace_time_zone("UTC"), status
    earliest = wall.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    nonexistent = earliest.is_null() & wall.is_not_null()
    if ambiguous == "earliest":
        ts = earliest
        status = pl.select(pl.when(nonexistent).then(NONEXISTENT).otherwise(OK)
                           .cast(pl.Int8)).to_series()
    else:
        ts = wall.dt.replace_time_zone(
            zone, ambiguous="latest" if ambiguous == "latest" else "null", non_existent="null")
        status = pl.select(
            pl.when(nonexistent).then(NONEXISTENT)
            .when(ts.is_null() & wall.is_not_null()).then(AMBIGUOUS)
            .otherwise(OK).cast(pl.Int8)
        ).to_series()
    return ts.dt.convert_time_zone("UTC"), status
