"""Time axis and day calendar of a sample utility: intervals, local days, Chinese holidays.

Every array here is indexed either by *step* (one interval, ``ts`` = interval start in UTC) or
by *day* (one local calendar day in Asia/Shanghai). Step ``i`` belongs to day
``i // steps_per_day`` because the local offset is a constant +08:00.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from griddiag.exceptions import ConfigError
from griddiag.sample.params import CLASSES, UTC_OFFSET_HOURS

__all__ = ["DayCalendar", "TimeAxis", "build_time_axis", "day_calendar",
           "spring_festival_dates"]

_US_PER_MINUTE = 60_000_000
_ALLOWED_INTERVALS = (5, 10, 15, 30, 60)


@dataclass(frozen=True)
class TimeAxis:
    """Regular interval grid covering whole local calendar years.

    Attributes
    ----------
    years : tuple of int
        Contiguous calendar years (local time).
    interval_minutes : int
        Length of one interval.
    start_utc_us : int
        Microseconds since the epoch (UTC) of the first interval start (local Jan 1 00:00).
    n_days : int
        Number of local days covered.
    """

    years: tuple[int, ...]
    interval_minutes: int
    start_utc_us: int
    n_days: int

    @property
    def steps_per_day(self) -> int:
        return 1440 // self.interval_minutes

    @property
    def n_steps(self) -> int:
        return self.n_days * self.steps_per_day

    @property
    def interval_hours(self) -> float:
        return self.interval_minutes / 60.0

    @property
    def step_us(self) -> int:
        return self.interval_minutes * _US_PER_MINUTE

    @cached_property
    def ts_us(self) -> np.ndarray:
        """Interval starts, microseconds since the epoch (UTC), int64."""
        return self.start_utc_us + np.arange(self.n_steps, dtype=np.int64) * self.step_us

    @cached_property
    def dates(self) -> np.ndarray:
        """Local calendar date of each day, ``datetime64[D]``."""
        first = np.datetime64(f"{self.years[0]}-01-01", "D")
        return first + np.arange(self.n_days)

    @cached_property
    def local_hour(self) -> np.ndarray:
        """Local hour of day (fractional, interval start) of each step."""
        per_day = np.arange(self.steps_per_day) * (self.interval_minutes / 60.0)
        return np.tile(per_day, self.n_days)

    def step_of(self, when: dt.datetime) -> int:
        """Index of the step whose interval contains ``when`` (aware, or naive = local time)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone(dt.timedelta(hours=UTC_OFFSET_HOURS)))
        us = int(when.timestamp() * 1_000_000)
        return int((us - self.start_utc_us) // self.step_us)

    def day_of(self, date: dt.date) -> int:
        """Index of a local date."""
        return int((np.datetime64(date, "D") - self.dates[0]).astype(int))

    def to_datetime(self, step: int) -> dt.datetime:
        """Aware UTC datetime of the start of ``step`` (``step == n_steps`` gives the end)."""
        us = self.start_utc_us + int(step) * self.step_us
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)


def build_time_axis(years: tuple[int, ...] | list[int], interval_minutes: int) -> TimeAxis:
    """Validate ``years`` and ``interval_minutes`` and build the grid.

    Raises
    ------
    ConfigError
        If the years are not contiguous and ascending, or the interval does not divide a day.
    """
    ys = tuple(int(y) for y in years)
    if not ys:
        raise ConfigError("years is empty; give at least one calendar year, e.g. (2024,)")
    if list(ys) != list(range(ys[0], ys[0] + len(ys))):
        raise ConfigError(f"years must be contiguous and ascending, got {ys}")
    if ys[0] < 1990 or ys[-1] > 2100:
        raise ConfigError(f"years {ys} outside the supported 1990-2100")
    if interval_minutes not in _ALLOWED_INTERVALS:
        raise ConfigError(
            f"interval_minutes={interval_minutes} not supported; use one of {_ALLOWED_INTERVALS}"
        )
    first = dt.date(ys[0], 1, 1)
    n_days = (dt.date(ys[-1] + 1, 1, 1) - first).days
    local_midnight = dt.datetime(ys[0], 1, 1, tzinfo=dt.timezone(
        dt.timedelta(hours=UTC_OFFSET_HOURS)))
    start_us = int(local_midnight.timestamp()) * 1_000_000
    return TimeAxis(ys, interval_minutes, start_us, n_days)


def spring_festival_dates(years: tuple[int, ...]) -> dict[int, dt.date]:
    """Chinese New Year's day (first day of the lunar year) for each year.

    Taken from the ``holidays`` package so the lunar calendar is not re-implemented here.
    """
    import holidays

    cn = holidays.country_holidays("CN", years=list(years), language="en_US")
    out: dict[int, dt.date] = {}
    for day, name in sorted(cn.items()):
        if name.startswith("Chinese New Year (Spring Festival)") and day.year not in out:
            out[day.year] = day
    return out


@dataclass(frozen=True)
class DayCalendar:
    """Per-day calendar arrays (length ``n_days``).

    Attributes
    ----------
    weekday : ndarray of int
        0 = Monday ... 6 = Sunday.
    workday : ndarray of bool
        Official working day: Monday-Friday unless a public holiday, plus the make-up working
        weekends China declares around long holidays.
    holiday : ndarray of bool
        Public holiday or a substituted day off.
    holiday_name : list of str or None
    days_from_spring_festival : ndarray of int
        Signed days to the nearest Chinese New Year's day.
    """

    weekday: np.ndarray
    workday: np.ndarray
    holiday: np.ndarray
    holiday_name: list[str | None]
    days_from_spring_festival: np.ndarray

    def spring_festival_factor(self, customer_class: str) -> np.ndarray:
        """The class's extra daily factor around Chinese New Year (1.0 elsewhere)."""
        knots = CLASSES[customer_class].spring_festival
        x = np.array([k for k, _ in knots], dtype=float)
        y = np.array([v for _, v in knots], dtype=float)
        return np.interp(self.days_from_spring_festival, x, y, left=1.0, right=1.0)


def day_calendar(axis: TimeAxis) -> DayCalendar:
    """Weekdays, working days and holidays of China for the axis' days."""
    import holidays

    # One year either side so the Spring Festival nearest to early/late days is known.
    years = (axis.years[0] - 1, *axis.years, axis.years[-1] + 1)
    cn = holidays.country_holidays("CN", years=list(years), language="en_US")
    dates = [d.astype(dt.date) for d in axis.dates]
    weekday = np.array([d.weekday() for d in dates], dtype=np.int8)
    workday = np.array([cn.is_working_day(d) for d in dates], dtype=bool)
    names = [cn.get(d) for d in dates]
    holiday = np.array([n is not None for n in names], dtype=bool)
    sf = np.array(sorted(spring_festival_dates(years).values()), dtype="datetime64[D]")
    diff = (axis.dates[:, None] - sf[None, :]).astype(int)
    nearest = diff[np.arange(len(dates)), np.abs(diff).argmin(axis=1)]
    return DayCalendar(weekday, workday, holiday, names, nearest.astype(np.int32))
