"""Public-holiday calendars from the maintained ``holidays`` package, named by one code.

The code is an ISO 3166 country (``"CN"``) or a country and subdivision (``"AU-VIC"``): a
state's own holidays (Victoria's Melbourne Cup) are not national ones. The detectors' day types
and the year-over-year calendar pairing both read their calendar here, so a profile's
``holiday_country`` means the same in both.
"""

from __future__ import annotations

from collections.abc import Iterable

from griddiag.exceptions import ConfigError

__all__ = ["country_holidays", "parse_holiday_country"]


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


def country_holidays(code: str, years: Iterable[int]):
    """The ``holidays`` calendar of ``code`` for ``years``; a ConfigError for an unknown code."""
    import holidays  # imported here: `import griddiag` stays light

    country, subdiv = parse_holiday_country(code)
    try:
        return holidays.country_holidays(country, subdiv=subdiv, years=sorted(set(years)))
    except NotImplementedError as exc:
        raise ConfigError(f"holiday country {code!r} is not known to the `holidays` package; "
                          "use an ISO 3166 code such as 'CN' or 'AU', or a country and "
                          f"subdivision such as 'AU-VIC' ({exc})") from exc
