"""Like-with-like day alignment between a year and a baseline year.

Each local date of the current year is paired with at most one date of the baseline year:

- **ordinary days** go to the baseline date with the same weekday nearest to the same day of
  the year (this is ISO-week alignment, and it stays defined at year ends and around 29
  February: the day-of-year offset, not the month and day, is carried over), and only when
  both have the same day type (workday or rest day; China's make-up working weekends are
  workdays, from the ``holidays`` package; ``holiday_country`` is ``"CC"`` or
  ``"CC-SUBDIV"``, e.g. ``"AU-VIC"`` for Victoria's own holidays such as Melbourne Cup day);
- **public holidays** pair by holiday name and day number within that holiday
  ("National Day" day 3 with "National Day" day 3), whatever their weekday;
- for China, the **Spring Festival season** (``SPRING_FESTIVAL_DAYS`` around the first day
  of the lunar year, when industry and commerce slow down for about two weeks) pairs by days
  from the festival, so a festival on 22 January is compared with one on 10 February, never
  with an ordinary January week.

Days left without a partner are not compared (on either side). ``CALENDAR_VERSION`` names these
rules: summaries cached under another version are recomputed.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from griddiag.exceptions import ConfigError
from griddiag.holiday_calendar import country_holidays

__all__ = ["CALENDAR_VERSION", "SPRING_FESTIVAL_DAYS", "align_days", "day_types"]

CALENDAR_VERSION = "1"
#: Days from the first day of the lunar new year that form its season (-7 .. +20).
SPRING_FESTIVAL_DAYS = (-7, 20)
_SF_NAMES = ("Chinese New Year", "Spring Festival")


@lru_cache(maxsize=64)
def _calendar(country: str | None, year: int):
    if country is None:
        return None
    return country_holidays(country, [year - 1, year, year + 1])


def _spring_festival(cal, year: int) -> date | None:
    if cal is None:
        return None
    days = sorted(d for d, name in cal.items()
                  if d.year == year and any(n in name for n in _SF_NAMES))
    return days[0] if days else None


@lru_cache(maxsize=64)
def day_types(year: int, country: str | None) -> tuple[np.ndarray, tuple]:
    """Per day of ``year``: type (0 workday, 1 rest day, 2 holiday, 3 Spring Festival season)
    and a pairing key (``None`` for ordinary days)."""
    cal = _calendar(country, year)
    first = date(year, 1, 1)
    n = (date(year + 1, 1, 1) - first).days
    kind = np.zeros(n, dtype=np.int8)
    keys: list = [None] * n
    sf = _spring_festival(cal, year)
    seen: dict[str, int] = {}
    for i in range(n):
        d = first + timedelta(days=i)
        if sf is not None and SPRING_FESTIVAL_DAYS[0] <= (d - sf).days <= SPRING_FESTIVAL_DAYS[1]:
            kind[i] = 3
            keys[i] = ("spring_festival", (d - sf).days)
        elif cal is not None and d in cal:
            name = cal.get(d)
            seen[name] = seen.get(name, 0) + 1
            kind[i] = 2
            keys[i] = (name, seen[name])
        elif cal is not None and hasattr(cal, "is_working_day"):
            kind[i] = 0 if cal.is_working_day(d) else 1
        else:
            kind[i] = 1 if d.weekday() >= 5 else 0
    return kind, tuple(keys)


@lru_cache(maxsize=256)
def align_days(year: int, baseline_year: int, country: str | None = "CN"
               ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(current day index, baseline day index)`` (0 = 1 January) of like days.

    See the module docstring for the rules. Each baseline day is used at most once.
    """
    if baseline_year == year:
        raise ConfigError(f"baseline year {baseline_year} is the compared year itself")
    kind_c, keys_c = day_types(year, country)
    kind_b, keys_b = day_types(baseline_year, country)
    n_b = kind_b.shape[0]
    by_key = {k: i for i, k in enumerate(keys_b) if k is not None}
    used = np.zeros(n_b, dtype=bool)
    cur, base = [], []
    first_c = date(year, 1, 1)
    first_b = date(baseline_year, 1, 1)
    for i, key in enumerate(keys_c):
        if key is not None:
            j = by_key.get(key)
        else:
            target = first_b + timedelta(days=i)
            shift = (first_c + timedelta(days=i)).weekday() - target.weekday()
            shift = (shift + 3) % 7 - 3  # nearest same weekday: -3 .. +3 days
            j = i + shift
            if not (0 <= j < n_b) or kind_b[j] != kind_c[i]:
                j = None
        if j is not None and not used[j]:
            used[j] = True
            cur.append(i)
            base.append(j)
    return np.array(cur, dtype=np.int64), np.array(base, dtype=np.int64)
