"""``griddiag.toml``: settings a scheduled job would otherwise repeat on every command line.

Looked up as ``--config FILE``, else ``$GRIDDIAG_CONFIG``, else ``./griddiag.toml`` when it
exists. Options given on the command line win over the file. Example::

    # griddiag.toml
    store = "postgresql://griddiag@/griddiag?host=/var/run/postgresql"
    tz = "Asia/Shanghai"           # time zone of assets that have none
    holiday_country = "CN"         # calendar of workdays, holidays and make-up working days
    profile = "default"            # detector profile: a shipped name or a TOML file

    [inspect]
    out = "/var/lib/griddiag/reports/{year}"   # {year} is replaced by the inspected year
    lang = "zh-CN"
    baseline = [2023, 2024]        # default: the two years before the inspected one
    fail_on = "critical"
    batch_assets = 500

A relative ``profile`` or ``out`` path in the file is read relative to the file's folder, so
the job does not depend on the directory cron starts it in.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from griddiag.exceptions import ConfigError

__all__ = ["CONFIG_NAME", "Config", "load_config"]

CONFIG_NAME = "griddiag.toml"

_TOP = {"store": str, "tz": str, "holiday_country": str, "profile": str}
_INSPECT = {"out": str, "lang": str, "baseline": list, "fail_on": str, "batch_assets": int,
            "year": (int, str), "executor": str, "scheduler": str, "workers": int}


@dataclass
class Config:
    """Settings read from a config file (all optional)."""

    path: Path | None = None
    store: str | None = None
    tz: str | None = None
    holiday_country: str | None = None
    profile: str | None = None
    inspect: dict[str, Any] = field(default_factory=dict)


def _check(table: dict[str, Any], allowed: dict[str, Any], where: str) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {sorted(allowed)}")
        if isinstance(value, bool) or not isinstance(value, allowed[key]):
            raise ConfigError(f"{where}: {key} = {value!r} has the wrong type")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the config file (see the module docstring); an empty :class:`Config` when none is
    named and ``./griddiag.toml`` does not exist."""
    explicit = path is not None or bool(os.environ.get("GRIDDIAG_CONFIG"))
    p = Path(path if path is not None else os.environ.get("GRIDDIAG_CONFIG") or CONFIG_NAME)
    if not p.is_file():
        if explicit:
            raise ConfigError(f"config file {str(p)!r} does not exist")
        return Config()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {str(p)!r} cannot be read: {exc}") from exc
    inspect = data.pop("inspect", {})
    if not isinstance(inspect, dict):
        raise ConfigError(f"{p}: [inspect] must be a table")
    _check(data, _TOP, str(p))
    _check(inspect, _INSPECT, f"{p} [inspect]")
    base = p.resolve().parent
    profile = data.get("profile")
    if profile is not None and (profile.endswith(".toml") or "/" in profile):
        profile = str(base / profile)
    if "out" in inspect:
        inspect["out"] = str(base / inspect["out"])
    if "baseline" in inspect and not all(isinstance(y, int) for y in inspect["baseline"]):
        raise ConfigError(f"{p} [inspect]: baseline must be a list of years")
    return Config(p, data.get("store"), data.get("tz"), data.get("holiday_country"), profile,
                  inspect)
