"""Detector profiles: which detectors run on which assets and metrics, with which thresholds.

A profile is a TOML file (``detectors/default.toml`` in the repository, shipped in the wheel as
``griddiag/profiles``). Sections are ``[<family>.<label>]``:

- families ``meter`` and ``statistical`` hold the detector classes of :mod:`.meter` and
  :mod:`.statistical`. ``label`` is the name in the findings' ``detector`` column; the class
  is ``detector = "<name>"`` (default: the label), so one class can run twice with different
  thresholds (``[meter.flatline_register] detector = "flatline"``). Reserved keys:
  ``enabled`` (default true), ``asset_kinds`` and ``metrics`` (lists; default: every asset
  kind, every metric of a kind the detector applies to); all other keys are the detector's
  parameters, checked against its fields.
- families ``electrical`` and ``theft`` name functions ``detect_<label>(readings, assets,
  params)`` of :mod:`griddiag.detectors.electrical` / ``theft``, called on each batch of whole
  transformer areas with the section (minus ``enabled``) as ``params``.

``[profile]`` holds ``name``, ``holiday_country`` (ISO code for the ``holidays`` package) and
``history_days`` (readings before the period the electrical and theft checks see; a meter
detector that needs history of its own, such as ``usage_last_year``, says how much through
its ``history_days`` and gets it on a grid of its own);
``[intervals]`` declares the interval of a metric in minutes (others are inferred per series).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from griddiag.detectors.base import Detector
from griddiag.exceptions import ConfigError
from griddiag.schema import METRICS

__all__ = ["DETECTORS", "DetectorSpec", "ExternalSpec", "Profile", "load_profile",
           "profile_path"]


def _registry() -> dict[str, type[Detector]]:
    from griddiag.detectors import meter, statistical

    classes = [getattr(m, n) for m in (meter, statistical) for n in m.__all__]
    return {c.name: c for c in classes}


#: detector name -> class, for ``meter`` and ``statistical`` sections
DETECTORS: dict[str, type[Detector]] = _registry()
_RESERVED = ("enabled", "detector", "asset_kinds", "metrics")
_EXTERNAL = ("electrical", "theft")


@dataclass(frozen=True)
class DetectorSpec:
    """One configured detector: where it applies and its parameters."""

    label: str
    family: str
    detector: Detector
    asset_kinds: tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None

    def applies(self, metric: str) -> bool:
        if self.metrics is not None:
            return metric in self.metrics
        return self.detector.applies_to(metric)

    @property
    def joint(self) -> bool:
        """Whether the detector compares metrics of one asset (the sum check): the pipeline
        then gives it one grid holding every metric it applies to."""
        return bool(getattr(self.detector, "joint", False))

    @property
    def history_days(self) -> float:
        """Days of readings before the period the detector needs (same period last year);
        0 for those that judge the period on its own."""
        return float(getattr(self.detector, "history_days", 0.0))


@dataclass(frozen=True)
class ExternalSpec:
    """An electrical or theft check: ``griddiag.detectors.<family>.detect_<name>``."""

    family: str
    name: str
    params: dict[str, object] = field(default_factory=dict)

    def module(self):
        """The check's module, ``griddiag.detectors.<family>``."""
        import importlib

        try:
            return importlib.import_module(f"griddiag.detectors.{self.family}")
        except ModuleNotFoundError as exc:
            raise ConfigError(f"profile section [{self.family}.{self.name}]: this griddiag "
                              f"has no griddiag.detectors.{self.family} module") from exc

    def function(self):
        module = self.module()
        fn = getattr(module, f"detect_{self.name}", None)
        if fn is None:
            names = sorted(n[7:] for n in dir(module) if n.startswith("detect_"))
            raise ConfigError(f"profile section [{self.family}.{self.name}]: no detector "
                              f"{self.name!r} in {self.family}; known: {names}")
        return fn

    def lazy_imports(self) -> tuple[str, ...]:
        """Modules the check's module imports only at a check's first use (its
        ``LAZY_IMPORTS``, where it has them: the theft checks' PyOD models)."""
        return tuple(getattr(self.module(), "LAZY_IMPORTS", ()))

    def warm_up(self) -> None:
        """Import :meth:`lazy_imports` now, ahead of the check."""
        import importlib

        for name in self.lazy_imports():
            importlib.import_module(name)


@dataclass(frozen=True)
class Profile:
    name: str
    source: str
    holiday_country: str | None
    intervals: dict[str, float]
    detectors: tuple[DetectorSpec, ...]
    external: tuple[ExternalSpec, ...]
    #: days of readings before the period that the electrical and theft checks also read
    #: (their findings are then kept where they overlap the period)
    history_days: float = 365.0

    def lazy_imports(self) -> list[str]:
        """What the profile's checks import only at their first use
        (:meth:`ExternalSpec.lazy_imports`), each once."""
        return list(dict.fromkeys(m for e in self.external for m in e.lazy_imports()))

    @property
    def needs_calendar(self) -> bool:
        return any(s.detector.needs_calendar for s in self.detectors)

    @property
    def detector_history_days(self) -> float:
        """The most history before the period any meter/statistical detector needs."""
        return max((s.history_days for s in self.detectors), default=0.0)

    @property
    def read_history_days(self) -> float:
        """Days before the period that reading a store must include: the external checks'
        history and the longest a meter/statistical detector asks for."""
        return max(self.history_days if self.external else 0.0, self.detector_history_days)


def profile_path(name: str) -> Path:
    """Path of a profile: a file path, or the name of a profile shipped with griddiag."""
    p = Path(name)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise ConfigError(f"profile file {str(p)!r} does not exist")
        return p
    shipped = [resources.files("griddiag") / "profiles",
               Path(__file__).resolve().parents[3] / "detectors"]  # source checkout
    for folder in shipped:
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return Path(str(candidate))
    raise ConfigError(f"unknown profile {name!r}: pass a .toml file path or a shipped "
                      "profile name such as 'default'")


def _spec(family: str, label: str, table: dict, where: str) -> DetectorSpec | None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table of detector settings")
    if not table.get("enabled", True):
        return None
    cls_name = table.get("detector", label)
    cls = DETECTORS.get(cls_name)
    if cls is None:
        raise ConfigError(f"{where}: unknown detector {cls_name!r}; known: {sorted(DETECTORS)}")
    params = {k: v for k, v in table.items() if k not in _RESERVED}
    det = cls.from_params(params, where=where)
    metrics = table.get("metrics")
    if metrics is not None:
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ConfigError(f"{where}: unknown metric(s) {unknown}")
        bad = [m for m in metrics if not det.applies_to(m)]
        if bad:
            raise ConfigError(f"{where}: {cls_name} does not apply to {bad} (it takes metrics "
                              f"of kind {list(cls.metric_kinds)})")
    kinds = table.get("asset_kinds")
    return DetectorSpec(label, family, det, tuple(kinds) if kinds is not None else None,
                        tuple(metrics) if metrics is not None else None)


def load_profile(profile: str | Path | Profile = "default") -> Profile:
    """Read and check a profile (a shipped name, a TOML path, or a loaded :class:`Profile`)."""
    if isinstance(profile, Profile):
        return profile
    path = profile_path(str(profile))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"profile {str(path)!r} cannot be read: {exc}") from exc
    head = data.pop("profile", {})
    intervals = {str(k): float(v) for k, v in data.pop("intervals", {}).items()}
    specs: list[DetectorSpec] = []
    external: list[ExternalSpec] = []
    for family, sections in data.items():
        if family not in ("meter", "statistical", *_EXTERNAL):
            raise ConfigError(f"profile {str(path)!r}: unknown section [{family}]; expected "
                              "profile, intervals, meter, statistical, electrical, theft")
        for label, table in sections.items():
            where = f"profile {path.name} [{family}.{label}]"
            if family in _EXTERNAL:
                if table.get("enabled", True):
                    external.append(ExternalSpec(family, label, {
                        k: v for k, v in table.items() if k != "enabled"}))
                continue
            spec = _spec(family, label, table, where)
            if spec is not None:
                specs.append(spec)
    history = head.get("history_days", 365.0)
    if isinstance(history, bool) or not isinstance(history, int | float) or history < 0:
        raise ConfigError(f"profile {str(path)!r}: [profile] history_days must be a number of "
                          f"days >= 0, got {history!r}")
    return Profile(str(head.get("name", path.stem)), str(path),
                   head.get("holiday_country", "CN"), intervals, tuple(specs),
                   tuple(external), float(history))
