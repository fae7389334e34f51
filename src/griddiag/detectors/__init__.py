"""Detectors: thin classes over :mod:`griddiag.kernels` that turn readings into findings.

- :mod:`.grid` puts readings on each series' regular interval grid (NaN = missing, never
  filled) and builds the local calendar (days, day types with public holidays);
- :mod:`.base` holds the :class:`~.base.Detector` base class (parameters, applicability,
  scores apart from thresholds) and the flags -> events -> findings step;
- :mod:`.meter` the meter-data validation (VEE) checks, :mod:`.statistical` the robust
  statistical ones; electrical and theft/loss checks live in :mod:`.electrical` and
  :mod:`.theft` as batch functions;
- :mod:`.profile` reads the TOML profiles that choose detectors and thresholds.
"""

from __future__ import annotations

from griddiag.detectors.base import Detector, Evaluation, merge_findings
from griddiag.detectors.grid import Grid, build_calendar, daily_totals, to_grid
from griddiag.detectors.meter import (
    FlatlineDetector,
    GapDetector,
    NegativeEnergyDetector,
    RegisterDetector,
    ReverseEnergyDetector,
    SpikeDetector,
    SumCheckDetector,
    UsageDetector,
    UsageLastYearDetector,
    ZeroRunDetector,
)
from griddiag.detectors.profile import DETECTORS, Profile, load_profile
from griddiag.detectors.statistical import (
    CusumDetector,
    LevelShiftDetector,
    RobustZDetector,
    SeasonalResidualDetector,
)

__all__ = [
    "DETECTORS",
    "CusumDetector",
    "Detector",
    "Evaluation",
    "FlatlineDetector",
    "GapDetector",
    "Grid",
    "LevelShiftDetector",
    "NegativeEnergyDetector",
    "Profile",
    "RegisterDetector",
    "ReverseEnergyDetector",
    "RobustZDetector",
    "SeasonalResidualDetector",
    "SpikeDetector",
    "SumCheckDetector",
    "UsageDetector",
    "UsageLastYearDetector",
    "ZeroRunDetector",
    "build_calendar",
    "daily_totals",
    "load_profile",
    "merge_findings",
    "to_grid",
]
