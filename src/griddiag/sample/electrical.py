"""A distribution transformer's LV-side measurements from its customers' true consumption.

The transformer terminal (TTU) measures at the LV busbar, so what it sees is the customers'
true demand plus the technical losses of the LV network (I^2 R in cables plus the meters' own
consumption), divided by the power factor for apparent power. Voltage falls with load along a
fixed LV impedance; the top-oil temperature follows IEC 60076-7's exponential model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from griddiag.sample.calendar import TimeAxis
from griddiag.sample.params import (
    CLASSES,
    CLEAN_RATING_MARGIN,
    CLEAN_VOLTAGE_BAND_V,
    OIL_EXPONENT,
    OIL_LOSS_RATIO,
    OIL_RATED_RISE_K,
    OIL_SENSOR_NOISE_K,
    OIL_TIME_CONSTANT_H,
    OVERLOAD_MIN_HOURS,
    STANDARD_KVA,
)
from griddiag.sample.plan import AreaPlan
from griddiag.sample.weather import Weather, ar1_noise

__all__ = ["TRANSFORMER_METRICS", "Electrical", "allocate_phases", "neutral_current_a",
           "oil_temperature_c", "overload_runs", "rate_transformer", "transformer_series"]

TRANSFORMER_METRICS = ("voltage_v_a", "voltage_v_b", "voltage_v_c", "current_a_a",
                       "current_a_b", "current_a_c", "current_a_n", "active_power_kw",
                       "power_factor", "load_kva", "oil_temp_c", "ambient_temp_c")

# LV network technical losses: ~3.5 % at mean load growing with the square of load (I^2 R),
# plus ~1.5 W per electronic meter: a technical loss of a few percent, typical of LV areas.
_LOSS_AT_MEAN = 0.035
_METER_SELF_KW = 0.0015
_NO_LOAD_V = 228.0  # tap at +3.6 %: keeps the far end of the LV feeder above 198 V
_DROP_V_AT_RATED = 7.0


@dataclass
class Electrical:
    """Per-phase and total quantities of one transformer, arrays over steps.

    ``p_kw`` / ``s_kva`` are (3, steps) per-phase busbar active / apparent power.
    """

    p_kw: np.ndarray
    pf: np.ndarray
    s_kva: np.ndarray
    voltage_v: np.ndarray
    current_a: np.ndarray
    rated_kva: float

    @property
    def load_kva(self) -> np.ndarray:
        return self.s_kva.sum(axis=0)


def allocate_phases(area: AreaPlan) -> np.ndarray:
    """Phase (0, 1, 2) of each single-phase meter, -1 for three-phase meters.

    Largest customers first onto the least-loaded phase, as a planner balancing an LV area
    would do; this keeps clean areas' current unbalance modest.
    """
    phases = np.full(len(area.meters), -1, dtype=np.int8)
    load = np.zeros(3)
    single = [k for k, m in enumerate(area.meters) if CLASSES[m.customer_class].phases == 1]
    for k in sorted(single, key=lambda k: -area.meters[k].daily_kwh):
        ph = int(load.argmin())
        phases[k] = ph
        load[ph] += area.meters[k].daily_kwh
    return phases


def _phase_power_kw(true_kwh: np.ndarray, phases: np.ndarray, interval_h: float) -> np.ndarray:
    weights = np.zeros((3, len(phases)))
    for ph in range(3):
        weights[ph, phases == ph] = 1.0
    weights[:, phases < 0] = 1.0 / 3.0
    return weights @ true_kwh / interval_h


def _with_losses(p_kw: np.ndarray, n_meters: int) -> np.ndarray:
    total = p_kw.sum(axis=0)
    mean = max(float(total.mean()), 1e-6)
    loss = _METER_SELF_KW * n_meters + _LOSS_AT_MEAN / mean * total ** 2
    share = np.divide(p_kw, total, out=np.full_like(p_kw, 1 / 3), where=total > 0)
    return p_kw + loss * share


def _power_factor(area: AreaPlan, total_kw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Power factor: the class mix's, a little lower at light load (transformer magnetising)."""
    weights = np.array([m.daily_kwh for m in area.meters])
    base = float(np.average([CLASSES[m.customer_class].power_factor for m in area.meters],
                            weights=weights)) + rng.uniform(-0.01, 0.01)
    rel = total_kw / max(float(np.quantile(total_kw, 0.99)), 1e-6)
    pf = base - 0.025 * (1.0 - np.clip(rel, 0, 1)) + ar1_noise(rng, total_kw.shape, 0.9, 0.004)
    # Clean areas stay above the 0.90 assessment threshold (capacitor banks switch in).
    return np.clip(pf, 0.905, 0.99)


def overload_runs(load_kva: np.ndarray, rated_kva: float,
                  merge_steps: int) -> list[tuple[int, int]]:
    """(start, end) step runs with load above rating, merging runs closer than ``merge_steps``."""
    over = np.flatnonzero(load_kva > rated_kva)
    if over.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(over) > merge_steps)
    starts = np.concatenate([[over[0]], over[breaks + 1]])
    ends = np.concatenate([over[breaks], [over[-1]]]) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def rate_transformer(load_kva: np.ndarray, undersized: bool, peak_window: slice | None,
                     steps_per_hour: int) -> float:
    """Rated kVA from China's standard series.

    Clean: the smallest rating with ``CLEAN_RATING_MARGIN`` headroom over the highest load.
    Undersized: the largest rating that the load in ``peak_window`` (the last heat wave)
    exceeds for at least ``OVERLOAD_MIN_HOURS`` in a row (the usual utility practice of calling
    a transformer overloaded when above 100 % for about 2 h); the largest such rating keeps
    other summer excursions few.
    """
    sizes = np.array(STANDARD_KVA, dtype=float)
    if undersized and peak_window is not None:
        window = load_kva[peak_window]
        for size in sizes[::-1]:
            runs = overload_runs(window, float(size), steps_per_hour)
            if any(t - s >= OVERLOAD_MIN_HOURS * steps_per_hour for s, t in runs):
                return float(size)
        return float(sizes[0])
    need = float(load_kva.max()) * CLEAN_RATING_MARGIN
    ok = sizes[sizes >= need]
    return float(ok.min()) if ok.size else float(np.ceil(need / 500.0) * 500.0)


def _voltage_v(axis: TimeAxis, s_kva: np.ndarray, rated_kva: float,
               rng: np.random.Generator) -> np.ndarray:
    """Phase voltages: no-load tap voltage + MV-side variation - drop proportional to load."""
    n = axis.n_steps
    spd = axis.steps_per_day
    area_offset = rng.uniform(-1.5, 1.5)
    phase_offset = rng.uniform(-0.8, 0.8, 3)
    mv_daily = ar1_noise(rng, (axis.n_days,), 0.8, 0.4)
    mv = np.interp(np.arange(n), np.arange(axis.n_days) * spd + spd / 2, mv_daily)
    # MV voltage is lowest at the system's evening peak
    mv -= 1.2 * np.cos(2 * np.pi * (axis.local_hour - 19.0) / 24.0)
    k_phase = s_kva / (rated_kva / 3.0)
    noise = ar1_noise(rng, (3, n), 0.3, 0.35)
    v = (_NO_LOAD_V + area_offset + phase_offset[:, None] + mv[None, :]
         - _DROP_V_AT_RATED * k_phase + noise)
    return np.clip(v, *CLEAN_VOLTAGE_BAND_V)


def neutral_current_a(i_abc: np.ndarray) -> np.ndarray:
    """Neutral current of three phase currents 120 degrees apart with equal power factor."""
    a, b, c = i_abc
    return np.sqrt(np.maximum(a * a + b * b + c * c - a * b - b * c - c * a, 0.0))


def oil_temperature_c(load_ratio: np.ndarray, ambient_c: np.ndarray, interval_h: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Top-oil temperature by the exponential-equation method of IEC 60076-7.

    ``tau_o d(theta_o)/dt = theta_a + dtheta_or * ((1 + R K^2) / (1 + R))^x - theta_o``: the oil
    approaches ambient plus the steady-state rise with time constant ``tau_o``, so both the
    load cycle and the ambient cycle reach the oil damped and delayed. The discrete first-order
    lag is exact for inputs constant over an interval.
    """
    rise_ss = OIL_RATED_RISE_K * ((1 + OIL_LOSS_RATIO * load_ratio ** 2)
                                  / (1 + OIL_LOSS_RATIO)) ** OIL_EXPONENT
    target = ambient_c + rise_ss
    a = np.exp(-interval_h / OIL_TIME_CONSTANT_H)
    oil, _ = lfilter([1 - a], [1, -a], target, zi=[a * target[0]])
    noise = np.clip(rng.standard_normal(len(oil)), -3, 3) * OIL_SENSOR_NOISE_K
    return oil + noise


def transformer_series(area: AreaPlan, true_kwh: np.ndarray, phases: np.ndarray,
                       axis: TimeAxis, weather: Weather, rng: np.random.Generator,
                       peak_window: slice | None) -> tuple[Electrical, dict[str, np.ndarray]]:
    """Clean LV-side series of the area's transformer, before injected transformer faults.

    Returns the electrical state (for the fault injections, which recompute currents) and the
    metric arrays; voltages, currents and oil temperature are recomputed by the caller after
    faults change them.
    """
    p_kw = _with_losses(_phase_power_kw(true_kwh, phases, axis.interval_hours), len(phases))
    pf = _power_factor(area, p_kw.sum(axis=0), rng)
    for inj in area.injections_of("low_power_factor"):
        pf[inj.start_step:inj.end_step] *= inj.params["factor"]
    s_kva = p_kw / pf[None, :]
    rated = rate_transformer(s_kva.sum(axis=0), area.undersized, peak_window,
                             60 // axis.interval_minutes)
    v = _voltage_v(axis, s_kva, rated, rng)
    ambient = (weather.ambient_c + rng.uniform(-0.5, 0.5)
               + np.clip(rng.standard_normal(axis.n_steps), -3, 3) * 0.2)
    elec = Electrical(p_kw, pf, s_kva, v, s_kva * 1000.0 / v, rated)
    return elec, {"ambient_temp_c": ambient}
