"""True consumption of customers: what flows through the meter, before the meter reports it.

Interval energy of meter *m* on day *d*, interval *s*::

    e = size_m / S * [ profile_m(daytype_d, s) * dayfactor_md
                       + heating_md * heating_shape(s) + cooling_md * cooling_shape(s) ]
          * exp(interval noise)

``dayfactor`` multiplies the weekend/holiday factor, the Spring Festival factor, the common
day-to-day shock (calibrated on Victoria) and the customer's own daily noise; heating and cooling
are the calibrated degree-day slopes times the class multiplier and a per-customer sensitivity.
Customer behaviour changes (growth, step change, peak shift, new cooling load, vacancy,
disconnection) change the *true* consumption here; meter faults and theft change only what the
meter reports (see ``meters.py``).
"""

from __future__ import annotations

import numpy as np

from griddiag.sample.calendar import DayCalendar, TimeAxis
from griddiag.sample.params import (
    CALIBRATED,
    CLASSES,
    ENERGY_QUANTUM_KWH,
    class_profile,
    hourly_to_steps,
)
from griddiag.sample.plan import AreaPlan, Injection, MeterPlan
from griddiag.sample.weather import Weather, ar1_noise

__all__ = ["BEHAVIOUR_KINDS", "common_daily_log_shock", "true_energy_kwh"]

BEHAVIOUR_KINDS = ("growth", "step_change", "peak_shift", "new_cooling_load", "vacancy",
                   "zero_run")


def common_daily_log_shock(axis: TimeAxis, rng: np.random.Generator) -> np.ndarray:
    """Day-to-day log shock shared by all customers (sd and AR(1) calibrated on Victoria)."""
    return ar1_noise(rng, (axis.n_days,), CALIBRATED["daily_log_resid_ar1"],
                     CALIBRATED["daily_log_resid_sd"])


def _day_factor(meter: MeterPlan, cal: DayCalendar, common_log: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    p = CLASSES[meter.customer_class]
    factor = np.where(cal.workday, 1.0, np.where(cal.holiday, p.holiday_factor,
                                                 p.offday_factor))
    own = ar1_noise(rng, (len(factor),), CALIBRATED["daily_log_resid_ar1"], p.daily_noise_sd)
    return factor * cal.spring_festival_factor(meter.customer_class) * np.exp(common_log + own)


def _weather_part(meter: MeterPlan, weather: Weather, steps: int, rng: np.random.Generator,
                  extra_cooling: np.ndarray) -> np.ndarray:
    """Heating and cooling energy per (day, interval), relative to the customer's size."""
    p = CLASSES[meter.customer_class]
    # Per-customer sensitivity: some homes run air conditioning all summer, some hardly.
    s_heat, s_cool = np.exp(0.35 * rng.standard_normal(2))
    heat = (CALIBRATED["heating_slope_per_k"] * p.heating_mult * s_heat
            * weather.heating_degrees(CALIBRATED["heating_balance_c"]))
    cool = ((CALIBRATED["cooling_slope_per_k"] * p.cooling_mult * s_cool + extra_cooling)
            * weather.cooling_degrees(CALIBRATED["cooling_balance_c"]))
    return (heat[:, None] * hourly_to_steps(p.heating_shape, steps)[None, :]
            + cool[:, None] * hourly_to_steps(p.cooling_shape, steps)[None, :])


def _meter_true(meter: MeterPlan, injections: list[Injection], axis: TimeAxis,
                cal: DayCalendar, weather: Weather, common_log: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    p = CLASSES[meter.customer_class]
    spd = axis.steps_per_day
    # Customers differ in how peaky and how early/late their day is.
    amp = CALIBRATED["profile_amplitude"] * rng.uniform(0.7, 1.3)
    shift = rng.uniform(-0.75, 0.75)
    work = class_profile(p, True, spd, amp, shift)
    off = class_profile(p, False, spd, amp, shift)
    day_factor = _day_factor(meter, cal, common_log, rng)
    extra_cooling = np.zeros(axis.n_days)
    for inj in injections:
        if inj.kind == "new_cooling_load":
            extra_cooling[inj.start_step // spd:] = inj.params["cooling_slope_per_k"]
    shape = (np.where(cal.workday[:, None], work[None, :], off[None, :]) * day_factor[:, None]
             + _weather_part(meter, weather, spd, rng, extra_cooling)
             * cal.spring_festival_factor(meter.customer_class)[:, None])
    for inj in injections:
        if inj.kind == "peak_shift":
            d0 = inj.start_step // spd
            roll = round(inj.params["shift_hours"] * 60 / axis.interval_minutes)
            shape[d0:] = np.roll(shape[d0:], roll, axis=1)
    mean_kwh = meter.daily_kwh / spd
    noise = ar1_noise(rng, (axis.n_steps,), p.interval_noise_ar1, p.interval_noise_sd)
    e = shape.ravel() * mean_kwh * np.exp(noise - p.interval_noise_sd ** 2 / 2)
    # Standby load (fridge, servers, lighting) keeps an occupied premises above zero, and above
    # one register quantum, so a clean meter never reports a zero by accident; the standby
    # level itself varies (compressor cycling) so quiet nights do not read as a stuck value.
    floor = max(1.05 * ENERGY_QUANTUM_KWH, 0.2 * mean_kwh)
    standby = floor * (1.0 + 0.5 * rng.random(axis.n_steps))
    np.maximum(e, standby, out=e)
    return _apply_behaviour(e, injections, spd, rng)


def _apply_behaviour(e: np.ndarray, injections: list[Injection], spd: int,
                     rng: np.random.Generator) -> np.ndarray:
    for inj in injections:
        s, t = inj.start_step, inj.end_step
        if inj.kind in ("growth", "step_change"):
            e[s:t] *= inj.params["factor"]
        elif inj.kind == "vacancy":
            standby = inj.params["standby_kwh_per_day"] / spd
            e[s:t] = standby * rng.uniform(0.5, 1.5, t - s)
        elif inj.kind == "zero_run":
            e[s:t] = 0.0
    return e


def true_energy_kwh(area: AreaPlan, axis: TimeAxis, cal: DayCalendar, weather: Weather,
                    common_log: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """True interval energy (kWh) of every meter of the area, shape (meters, steps).

    The area's random stream is consumed meter by meter in a fixed order.
    """
    out = np.empty((len(area.meters), axis.n_steps))
    for k, meter in enumerate(area.meters):
        own = [i for i in area.injections if i.asset_id == meter.asset_id
               and i.kind in BEHAVIOUR_KINDS]
        out[k] = _meter_true(meter, own, axis, cal, weather, common_log, rng)
    return out
