"""The plan of a sample utility: topology, customer sizes and which anomaly goes where and when.

Planning is cheap and global (one random stream); generating the data is expensive and done per
transformer area with the area's own random stream. Splitting the two is what makes the
batched iterator produce exactly the same data as the one-shot generator.

Anomaly windows are placed by *year index* (first, middle, last year of the run) and month, so
a three-year run has anomalies in every year and year-over-year changes between them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from griddiag.exceptions import ConfigError
from griddiag.sample.calendar import TimeAxis
from griddiag.sample.params import CLASSES, HEAT_WAVE_EXCESS_K
from griddiag.sample.weather import HeatWave

__all__ = ["AreaPlan", "Injection", "MeterPlan", "UtilityPlan", "plan_utility"]

# Area archetypes repeat in this order; the mix gives roughly the energy shares of an urban
# Chinese distribution network (many residential areas, some commercial, few industrial).
_ARCHETYPES = ("residential", "residential", "commercial", "residential", "industrial")
_ARCHETYPE_CN = {"residential": "居民区", "commercial": "商业区", "industrial": "工业区"}

# Meter-level kinds in assignment order (restrictive pools first) with eligible classes.
METER_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("theft", ("residential", "commercial")),
    ("peak_shift", ("residential",)),
    ("vacancy", ("residential",)),
    ("new_cooling_load", ("residential", "commercial")),
    ("rollover", ("residential", "commercial")),
    ("growth", ("residential", "commercial", "industrial")),
    ("step_change", ("residential", "commercial", "industrial")),
    ("zero_run", ("residential", "commercial", "industrial")),
    ("gap", ("residential", "commercial", "industrial")),
    ("spike", ("residential", "commercial", "industrial")),
    ("flatline", ("residential", "commercial", "industrial")),
    ("negative_energy", ("residential", "commercial", "industrial")),
    ("register_stuck", ("residential", "commercial", "industrial")),
    ("rollback", ("residential", "commercial", "industrial")),
    ("meter_exchange", ("residential", "commercial", "industrial")),
)
# Year-over-year kinds need a baseline year before the change.
_NEEDS_TWO_YEARS = {"growth", "peak_shift", "new_cooling_load"}

TRANSFORMER_KINDS = ("overload", "transformer_gap", "voltage_swell", "oil_flatline",
                     "phase_loss", "voltage_sag", "voltage_unbalance", "low_power_factor")


@dataclass(frozen=True)
class Injection:
    """One planned anomaly, event or change on one asset.

    ``start_step``/``end_step`` index the interval grid (end exclusive). Register kinds on a
    daily register are snapped to readings when applied. ``params`` holds the magnitude
    (factor, fraction, volts, ...) drawn at plan time.
    """

    kind: str
    asset_id: str
    start_step: int
    end_step: int
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MeterPlan:
    """A customer meter: id, class, size and register width."""

    asset_id: str
    customer_class: str
    daily_kwh: float
    register_digits: int


@dataclass
class AreaPlan:
    """A transformer area: the transformer, its meters and its injections."""

    index: int
    transformer_id: str
    transformer_name: str
    feeder_id: str
    archetype: str
    meters: list[MeterPlan]
    injections: list[Injection] = field(default_factory=list)
    undersized: bool = False

    def injections_of(self, kind: str) -> list[Injection]:
        return [i for i in self.injections if i.kind == kind]


@dataclass
class UtilityPlan:
    """Everything decided before any data is generated."""

    seed: int
    axis: TimeAxis
    substations: list[tuple[str, str]]  # (asset_id, name)
    feeders: list[tuple[str, str, str]]  # (asset_id, name, substation_id)
    areas: list[AreaPlan]
    heat_waves: tuple[HeatWave, ...]
    dirty_transformers: frozenset[str]

    @property
    def meter_count(self) -> int:
        return sum(len(a.meters) for a in self.areas)


def _area_sizes(meters: int, meters_per_transformer: int) -> list[tuple[str, int]]:
    """Archetype and meter count of each area, in order, summing to ``meters``."""
    out: list[tuple[str, int]] = []
    left = meters
    i = 0
    while left > 0:
        kind = _ARCHETYPES[i % len(_ARCHETYPES)]
        share = {"residential": 1.0, "commercial": 0.4, "industrial": 0.1}[kind]
        n = min(left, max(1, round(meters_per_transformer * share)))
        out.append((kind, n))
        left -= n
        i += 1
    return out


def _meter_classes(rng: np.random.Generator, archetype: str, n: int) -> list[str]:
    if archetype == "industrial":
        return ["industrial"] * n
    if archetype == "commercial":
        return ["commercial" if rng.random() < 0.8 else "residential" for _ in range(n)]
    # ground-floor shops in residential blocks
    return ["commercial" if rng.random() < 0.06 else "residential" for _ in range(n)]


def _daily_kwh(rng: np.random.Generator, cls: str, archetype: str) -> float:
    p = CLASSES[cls]
    v = p.daily_kwh_median * math.exp(p.daily_kwh_sigma * rng.standard_normal())
    if archetype == "residential" and cls == "commercial":
        v *= 0.25  # a corner shop, not a supermarket: residential areas stay residential-led
    return float(np.clip(v, *p.daily_kwh_range))


def _register_digits(daily_kwh: float, n_days: int, rollover: bool) -> int:
    """Register width: clean meters never roll over; a rollover meter rolls over exactly once."""
    total = daily_kwh * n_days * 1.6  # weather, growth and noise headroom
    if rollover:
        return max(4, math.ceil(math.log10(total * 1.2)))
    return max(6, math.ceil(math.log10(total * 10)))


class _Windows:
    """Random windows on the axis placed by year index, month range and local hour."""

    def __init__(self, axis: TimeAxis, rng: np.random.Generator):
        self.axis = axis
        self.rng = rng

    def year(self, index: int) -> int:
        ys = self.axis.years
        return ys[min(index, len(ys) - 1)] if index >= 0 else ys[index]

    def day(self, year_index: int, months: tuple[int, int]) -> dt.date:
        y = self.year(year_index)
        first = dt.date(y, months[0], 1)
        last = (dt.date(y, months[1], 28) if months[1] == 2 else
                dt.date(y + (months[1] == 12), months[1] % 12 + 1, 1) - dt.timedelta(days=1))
        return first + dt.timedelta(days=int(self.rng.integers(0, (last - first).days + 1)))

    def window(self, year_index: int, months: tuple[int, int], hours: tuple[float, float],
               duration_h: tuple[float, float]) -> tuple[int, int]:
        """(start_step, end_step) of a window starting between ``hours`` local time."""
        day = self.day(year_index, months)
        hour = float(self.rng.uniform(*hours))
        start = self.axis.day_of(day) * self.axis.steps_per_day + int(
            hour * 60 // self.axis.interval_minutes)
        steps = max(1, round(self.rng.uniform(*duration_h) * 60 / self.axis.interval_minutes))
        return start, min(start + steps, self.axis.n_steps)

    def from_date(self, date: dt.date) -> int:
        return self.axis.day_of(date) * self.axis.steps_per_day


def _meter_injections(kind: str, meter: MeterPlan, w: _Windows) -> list[Injection]:
    """Windows and magnitudes of one meter-level kind (see the module docstring)."""
    rng, axis, end = w.rng, w.axis, w.axis.n_steps
    mid = 1 if len(axis.years) > 1 else 0
    aid = meter.asset_id
    if kind == "gap":
        a = w.window(0, (3, 11), (0, 24), (6, 72))
        b = w.window(-1, (2, 10), (0, 24), (2, 12))
        return [Injection("gap", aid, *a, {"nan": 0.0}), Injection("gap", aid, *b, {"nan": 1.0})]
    if kind == "spike":
        out = []
        for yi in range(min(3, len(axis.years))):
            s, _ = w.window(yi, (1, 12), (0, 24), (0.25, 0.25))
            out.append(Injection("spike", aid, s, s + 1, {"factor": float(rng.uniform(30, 60))}))
        return out
    if kind == "flatline":
        return [Injection(kind, aid, *w.window(mid, (2, 11), (0, 24), (24, 72)))]
    if kind == "zero_run":
        return [Injection(kind, aid, *w.window(-1, (3, 10), (9, 17), (48, 168)))]
    if kind == "negative_energy":
        return [Injection(kind, aid, *w.window(0, (4, 10), (8, 20), (1, 4)))]
    if kind == "register_stuck":
        s, _ = w.window(mid, (3, 10), (0, 0), (1, 1))
        return [Injection(kind, aid, s, s, {"readings": float(rng.integers(4, 11))})]
    if kind == "rollback":
        s, _ = w.window(mid, (7, 11), (0, 0), (1, 1))
        return [Injection(kind, aid, s, end,
                          {"drop_kwh": round(float(rng.uniform(5, 15)) * meter.daily_kwh, 2)})]
    if kind == "rollover":
        s, _ = w.window(mid, (4, 9), (0, 24), (1, 1))
        return [Injection(kind, aid, s, s + 1)]
    if kind == "meter_exchange":
        s, _ = w.window(-1, (3, 6), (9, 16), (1, 1))
        return [Injection(kind, aid, s, s + 1,
                          {"new_register_kwh": round(float(rng.uniform(0, 3)), 2)})]
    if kind == "theft":
        yi, months = ((mid, (6, 12)) if rng.random() < 0.6 else (-1, (1, 3)))
        s, _ = w.window(yi, months, (0, 0), (1, 1))
        return [Injection(kind, aid, s, end, {"fraction": round(float(rng.uniform(0.3, 0.7)),
                                                                3)})]
    if kind == "growth":
        s = w.from_date(dt.date(w.year(-1), 1, 1))
        return [Injection(kind, aid, s, end, {"factor": round(float(rng.uniform(1.17, 1.23)),
                                                              3)})]
    if kind == "step_change":
        s, _ = w.window(mid, (3, 10), (0, 0), (1, 1))
        f = rng.uniform(1.4, 1.6) if rng.random() < 0.5 else rng.uniform(0.55, 0.7)
        return [Injection(kind, aid, s, end, {"factor": round(float(f), 3)})]
    if kind == "peak_shift":
        s = w.from_date(dt.date(w.year(-1), 1, 1))
        return [Injection(kind, aid, s, end, {"shift_hours": -6.0})]
    if kind == "new_cooling_load":
        s = w.from_date(dt.date(w.year(-1), 5, 1))
        return [Injection(kind, aid, s, end,
                          {"cooling_slope_per_k": round(float(rng.uniform(0.06, 0.10)), 3)})]
    if kind == "vacancy":
        s, _ = w.window(mid, (4, 10), (0, 0), (1, 1))
        return [Injection(kind, aid, s, end,
                          {"standby_kwh_per_day": round(float(rng.uniform(0.05, 0.15)), 3)})]
    raise AssertionError(kind)


def _transformer_injection(kind: str, tx_id: str, w: _Windows) -> list[Injection]:
    rng = w.rng
    mid = 1 if len(w.axis.years) > 1 else 0
    if kind == "transformer_gap":
        return [Injection(kind, tx_id, *w.window(0, (3, 6), (0, 24), (24, 48)))]
    if kind == "voltage_swell":
        return [Injection(kind, tx_id, *w.window(0, (8, 10), (1, 3), (2, 4)),
                          {"target_v": round(float(rng.uniform(238, 243)), 1)})]
    if kind == "oil_flatline":
        return [Injection(kind, tx_id, *w.window(0, (11, 12), (0, 24), (72, 144)))]
    if kind == "phase_loss":
        return [Injection(kind, tx_id, *w.window(mid, (1, 3), (8, 16), (2, 8)),
                          {"phase": float(rng.integers(0, 3))})]
    if kind == "voltage_sag":
        return [Injection(kind, tx_id, *w.window(mid, (7, 8), (18, 19), (3, 5)),
                          {"target_v": round(float(rng.uniform(186, 194)), 1)})]
    if kind == "voltage_unbalance":
        return [Injection(kind, tx_id, *w.window(mid, (10, 12), (0, 24), (120, 288)),
                          {"low_phase": float(rng.integers(0, 3))})]
    if kind == "low_power_factor":
        s = w.from_date(w.day(-1, (3, 3)))
        e = w.from_date(w.day(-1, (6, 6)))
        return [Injection(kind, tx_id, s, e, {"factor": round(float(rng.uniform(0.78, 0.83)),
                                                              3)})]
    if kind == "overload":
        return []  # derived from the data after the transformer is rated (see generator)
    raise AssertionError(kind)


def _heat_waves(w: _Windows) -> tuple[HeatWave, ...]:
    out = []
    for yi in range(len(w.axis.years)):
        day = dt.date(w.year(yi), 7, 15) + dt.timedelta(days=int(w.rng.integers(0, 22)))
        out.append(HeatWave(w.axis.day_of(day), int(w.rng.integers(5, 8)),
                            float(w.rng.uniform(*HEAT_WAVE_EXCESS_K))))
    return tuple(out)


def plan_utility(axis: TimeAxis, *, meters: int, meters_per_transformer: int, seed: int,
                 anomaly_rate: float) -> UtilityPlan:
    """Decide topology, customer sizes, anomaly placement and heat waves.

    Parameters
    ----------
    axis : TimeAxis
    meters : int
        Number of customer meters (>= 1).
    meters_per_transformer : int
        Typical meters in a residential area; commercial areas get 40 %, industrial 10 %.
    seed : int
    anomaly_rate : float
        Meters per anomaly kind as a share of all meters (at least one meter per kind while
        unused meters are left).
    """
    if meters < 1:
        raise ConfigError(f"meters={meters}; need at least 1")
    if meters_per_transformer < 1:
        raise ConfigError(f"meters_per_transformer={meters_per_transformer}; need at least 1")
    if not 0.0 <= anomaly_rate <= 0.1:
        raise ConfigError(f"anomaly_rate={anomaly_rate}; use 0 to 0.1 (share of meters per kind)")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    sizes = _area_sizes(meters, meters_per_transformer)
    n_tx = len(sizes)
    n_feeders = 1 if n_tx < 2 else max(2, math.ceil(n_tx / 8))
    n_subs = math.ceil(n_feeders / 20)
    substations = [(f"SS{s + 1:02d}", f"110kV城南{s + 1}号变") for s in range(n_subs)]
    feeders = [(f"{substations[f % n_subs][0]}-F{f + 1:02d}", f"10kV城南{f + 1}线",
                substations[f % n_subs][0]) for f in range(n_feeders)]
    areas: list[AreaPlan] = []
    meter_no = 0
    counts: dict[str, int] = {}
    for i, (arch, n) in enumerate(sizes):
        counts[arch] = counts.get(arch, 0) + 1
        ms = []
        for cls in _meter_classes(rng, arch, n):
            meter_no += 1
            ms.append(MeterPlan(f"M{meter_no:06d}", cls, _daily_kwh(rng, cls, arch), 0))
        areas.append(AreaPlan(i, f"TX{i + 1:04d}", f"{_ARCHETYPE_CN[arch]}{counts[arch]}号配变",
                              feeders[i % n_feeders][0], arch, ms))

    w = _Windows(axis, rng)
    heat_waves = _heat_waves(w)
    dirty = _assign_transformer_kinds(areas, w)
    _assign_meter_kinds(areas, w, dirty, anomaly_rate)
    return UtilityPlan(seed, axis, substations, feeders, areas, heat_waves, frozenset(dirty))


def _assign_transformer_kinds(areas: list[AreaPlan], w: _Windows) -> list[str]:
    """Spread transformer kinds over a 'dirty' two thirds; the rest stay clean."""
    n_tx = len(areas)
    if n_tx < 2:
        return []
    n_clean = max(1, n_tx // 3)
    order = [int(i) for i in w.rng.permutation(n_tx)]
    dirty_idx = order[: n_tx - n_clean]
    per_kind = max(1, round(n_tx * 0.08))
    cursor = 0
    for kind in TRANSFORMER_KINDS:
        for _ in range(per_kind):
            if kind == "overload":
                # The heat wave must drive the load over a standard rating: prefer areas with
                # strong cooling (commercial, then residential) and enough load for the
                # rating steps to matter, largest first.
                pref = {"commercial": 0, "residential": 1, "industrial": 2}
                cands = sorted((i for i in dirty_idx if not areas[i].undersized),
                               key=lambda i: (pref[areas[i].archetype],
                                              -sum(m.daily_kwh for m in areas[i].meters)))
                if not cands:
                    continue
                idx = cands[0]
                areas[idx].undersized = True
            else:
                idx = dirty_idx[cursor % len(dirty_idx)]
                areas[idx].injections += _transformer_injection(kind, areas[idx].transformer_id,
                                                                 w)
            cursor += 1
    return [areas[i].transformer_id for i in dirty_idx]


def _assign_meter_kinds(areas: list[AreaPlan], w: _Windows, dirty: list[str],
                        anomaly_rate: float) -> None:
    """Pick distinct meters per kind and fix register widths (rollover meters are narrow)."""
    n_meters = sum(len(a.meters) for a in areas)
    per_kind = max(1, round(n_meters * anomaly_rate)) if anomaly_rate > 0 else 0
    where = {m.asset_id: (a, k) for a in areas for k, m in enumerate(a.meters)}
    all_ids = list(where)
    order = [all_ids[int(i)] for i in w.rng.permutation(len(all_ids))]
    used: set[str] = set()
    kinds_of: dict[str, str] = {}
    dirty_set = set(dirty)
    area_kwh = [sum(m.daily_kwh for m in a.meters) for a in areas]
    for kind, classes in METER_KINDS:
        if kind in _NEEDS_TWO_YEARS and len(w.axis.years) < 2:
            continue
        picked = 0
        for aid in order:
            if picked >= per_kind:
                break
            area, k = where[aid]
            if aid in used or area.meters[k].customer_class not in classes:
                continue
            # theft must visibly raise the line loss of a transformer that is not a clean one:
            # a customer with at least 10 % of the area's energy
            if kind == "theft" and (area.transformer_id not in dirty_set or
                                    area.meters[k].daily_kwh < 0.1 * area_kwh[area.index]):
                continue
            used.add(aid)
            kinds_of[aid] = kind
            area.injections += _meter_injections(kind, area.meters[k], w)
            picked += 1
    for area in areas:
        area.meters = [
            MeterPlan(m.asset_id, m.customer_class, m.daily_kwh,
                      _register_digits(m.daily_kwh, w.axis.n_days,
                                       kinds_of.get(m.asset_id) == "rollover"))
            for m in area.meters
        ]
