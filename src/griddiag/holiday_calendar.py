"""Public-holiday calendars from the maintained ``holidays`` package, named by one code.

The code is an ISO 3166 country (``"CN"``) or a country and subdivision (``"AU-VIC"``): a
state's own holidays (Victoria's Melbourne Cup) are not national ones. The detectors' day types
and the year-over-year calendar pairing both read their calendar here, so a profile's
``holiday_country`` means the same in both.

Importing ``holidays`` and computing one country's year costs 0.3-0.7 s (it imports every
country's module; China's lunar holidays and make-up working days are computed), more than the
rest of a small detection run together. The answer never changes for a given ``holidays``
release, so :func:`country_holidays` keeps it, per code and set of years, in a small JSON file
under :data:`griddiag.config.CACHE_DIR` (keyed by the installed ``holidays`` files, so an
upgrade recomputes), and in memory for the process. What it returns is a read-only
:class:`HolidayCalendar` answering the questions griddiag asks (``date in cal``,
``cal.get(date)``, ``cal.items()``, ``cal.is_working_day(date)``) exactly as the ``holidays``
object does; a date outside the cached years is answered by the ``holidays`` object itself
(loaded then), as before.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from griddiag import config
from griddiag.exceptions import ConfigError

__all__ = ["HolidayCalendar", "country_holidays", "parse_holiday_country"]

log = logging.getLogger(__name__)

#: Version of the cache files' layout (a new layout never reads an old file).
_FORMAT = 1


def parse_holiday_country(code: str) -> tuple[str, str | None]:
    """``"CN"`` -> ``("CN", None)``; ``"AU-VIC"`` -> ``("AU", "VIC")``."""
    if not isinstance(code, str) or not code.strip():
        raise ConfigError(f"holiday_country must be a code such as 'CN' or 'AU-VIC', got "
                          f"{code!r}")
    country, sep, subdiv = code.strip().upper().partition("-")
    if not country or (sep and not subdiv):
        raise ConfigError(f"holiday_country {code!r} is not 'CC' or 'CC-SUBDIV' (e.g. 'CN', "
                          "'AU-VIC')")
    return country, subdiv or None


class HolidayCalendar:
    """Public holidays and working days of ``years``, as the ``holidays`` package gives them.

    Parameters
    ----------
    code : str
        ``"CN"``, ``"AU-VIC"``, ... (see :func:`parse_holiday_country`).
    years : tuple of int
        The years whose every day the calendar knows.
    names : dict
        ``date -> holiday name`` (several holidays on one day: joined by ``"; "``, as
        ``holidays`` does).
    non_working : frozenset of date
        Days of ``years`` that are not working days: holidays, and rest days that are not
        make-up working days.
    """

    __slots__ = ("_full", "_names", "_non_working", "code", "years")

    def __init__(self, code: str, years: tuple[int, ...], names: dict[date, str],
                 non_working: frozenset[date]) -> None:
        self.code = code
        self.years = years
        self._names = names
        self._non_working = non_working
        self._full = None  # the `holidays` object, loaded for a date outside `years`

    def _covers(self, key) -> bool:
        # exact type: a datetime (a date subclass) is left to `holidays`, which converts it
        return type(key) is date and key.year in self.years

    def _calendar(self):
        if self._full is None:
            self._full = _compute(self.code, self.years)
        return self._full

    def __contains__(self, key) -> bool:
        if self._covers(key):
            return key in self._names
        return key in self._calendar()

    def get(self, key, default=None):
        if self._covers(key):
            return self._names.get(key, default)
        return self._calendar().get(key, default)

    def items(self):
        """``(date, name)`` of the holidays known so far (those of ``years`` at least)."""
        if self._full is not None:
            return self._full.items()
        return self._names.items()

    def __iter__(self) -> Iterator[date]:
        return iter(dict(self.items()))

    def __len__(self) -> int:
        return len(dict(self.items()))

    def is_working_day(self, key) -> bool:
        if self._covers(key):
            return key not in self._non_working
        return self._calendar().is_working_day(key)

    def __repr__(self) -> str:
        return f"HolidayCalendar({self.code!r}, years={list(self.years)})"


def country_holidays(code: str, years: Iterable[int]) -> HolidayCalendar:
    """The calendar of ``code`` for ``years``; a ConfigError for an unknown code."""
    parse_holiday_country(code)  # a bad code fails here, before any cache is looked at
    return _cached(code.strip().upper(), tuple(sorted({int(y) for y in years})))


@lru_cache(maxsize=64)
def _cached(code: str, years: tuple[int, ...]) -> HolidayCalendar:
    path = _cache_path(code, years)
    if path is not None:
        found = _read(path, code, years)
        if found is not None:
            return found
    full = _compute(code, years)
    cal = _from_holidays(code, years, full)
    if path is not None:
        _write(path, cal)
    return cal


def _compute(code: str, years: tuple[int, ...]):
    """The ``holidays`` object of ``code`` for ``years`` (imported here: it is slow)."""
    import holidays

    country, subdiv = parse_holiday_country(code)
    try:
        return holidays.country_holidays(country, subdiv=subdiv, years=list(years))
    except NotImplementedError as exc:
        raise ConfigError(f"holiday country {code!r} is not known to the `holidays` package; "
                          "use an ISO 3166 code such as 'CN' or 'AU', or a country and "
                          f"subdivision such as 'AU-VIC' ({exc})") from exc


def _days(years: tuple[int, ...]) -> Iterator[date]:
    for y in years:
        d, end = date(y, 1, 1), date(y + 1, 1, 1)
        while d < end:
            yield d
            d += timedelta(days=1)


def _from_holidays(code: str, years: tuple[int, ...], full) -> HolidayCalendar:
    names = {d: full.get(d) for d in _days(years) if d in full}
    non_working = frozenset(d for d in _days(years) if not full.is_working_day(d))
    cal = HolidayCalendar(code, years, names, non_working)
    cal._full = full  # this process has it already: out-of-range dates need no reload
    return cal


def _holidays_stamp() -> str | None:
    """Identifies the installed ``holidays`` release without importing it (that is the slow
    part): size and modification time of its version file, which any install rewrites."""
    import importlib.util

    spec = importlib.util.find_spec("holidays")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent
    for name in ("version.py", "__init__.py"):
        try:
            st = (folder / name).stat()
        except OSError:
            continue
        return f"{st.st_size:x}{st.st_mtime_ns:x}"
    return None


def _cache_path(code: str, years: tuple[int, ...]) -> Path | None:
    if config.CACHE_DIR is None:
        return None
    stamp = _holidays_stamp()
    if stamp is None:
        return None
    span = "_".join(str(y) for y in years)
    return config.CACHE_DIR / "holidays" / f"{code}-{span}-{stamp}.json"


def _read(path: Path, code: str, years: tuple[int, ...]) -> HolidayCalendar | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if (data["format"] != _FORMAT or data["code"] != code
                or tuple(data["years"]) != years):
            return None
        names = {date.fromisoformat(d): str(n) for d, n in data["names"].items()}
        rest = frozenset(date.fromisoformat(d) for d in data["non_working"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # damaged: computed again
        log.debug("holiday cache %s unreadable (%s); recomputing", path, exc)
        return None
    return HolidayCalendar(code, years, names, rest)


def _write(path: Path, cal: HolidayCalendar) -> None:
    """Write the cache file atomically (temporary file, then rename): a concurrent process
    reads either no file or a whole one. A cache that cannot be written is only slower."""
    data = {"format": _FORMAT, "code": cal.code, "years": list(cal.years),
            "names": {d.isoformat(): n for d, n in sorted(cal._names.items())},
            "non_working": sorted(d.isoformat() for d in cal._non_working)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.debug("holiday cache %s not written (%s)", path, exc)
