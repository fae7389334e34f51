"""Synthetic weather of a Yangtze-delta city: daily mean temperature and its diurnal cycle.

Daily mean = climate normal (annual harmonic, judgement: roughly Shanghai) + AR(1) anomaly with
the lag-1 correlation and spread calibrated on Melbourne's 2012-2014 record + injected heat
waves. Within a day the temperature follows a first-harmonic cycle whose range and peak hour
are also calibrated on Melbourne; daily means are interpolated between day centres so the
series has no steps at midnight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.signal import lfilter

from griddiag.sample.calendar import DayCalendar, TimeAxis
from griddiag.sample.params import (
    CALIBRATED,
    CLIMATE_AMPLITUDE_K,
    CLIMATE_MEAN_C,
    CLIMATE_WARMEST_DOY,
)

__all__ = ["HeatWave", "Weather", "ar1_noise", "generate_weather"]


@dataclass(frozen=True)
class HeatWave:
    """An injected heat wave: ``days`` local days from day index ``start_day``."""

    start_day: int
    days: int
    excess_k: float


@dataclass(frozen=True)
class Weather:
    """Weather of the sample city.

    Attributes
    ----------
    temp_mean_c, temp_min_c, temp_max_c : ndarray
        Per local day.
    ambient_c : ndarray
        Per step (interval mean air temperature).
    heat_waves : tuple of HeatWave
    """

    temp_mean_c: np.ndarray
    temp_min_c: np.ndarray
    temp_max_c: np.ndarray
    ambient_c: np.ndarray
    heat_waves: tuple[HeatWave, ...]

    def heating_degrees(self, balance_c: float) -> np.ndarray:
        """Daily heating degrees (K) below ``balance_c``."""
        return np.maximum(0.0, balance_c - self.temp_mean_c)

    def cooling_degrees(self, balance_c: float) -> np.ndarray:
        """Daily cooling degrees (K) above ``balance_c``."""
        return np.maximum(0.0, self.temp_mean_c - balance_c)

    def frame(self, axis: TimeAxis, calendar: DayCalendar) -> pl.DataFrame:
        """Daily weather and calendar as a frame (one row per local date)."""
        hw = np.zeros(axis.n_days, dtype=bool)
        for w in self.heat_waves:
            hw[w.start_day:w.start_day + w.days] = True
        return pl.DataFrame({
            "date": axis.dates,
            "temp_mean_c": np.round(self.temp_mean_c, 2),
            "temp_min_c": np.round(self.temp_min_c, 2),
            "temp_max_c": np.round(self.temp_max_c, 2),
            "heat_wave": hw,
            "workday": calendar.workday,
            "holiday_name": pl.Series(calendar.holiday_name, dtype=pl.String),
            "days_from_spring_festival": calendar.days_from_spring_festival,
        })


def ar1_noise(rng: np.random.Generator, shape: tuple[int, ...], phi: float, sd: float,
              clip_sd: float | None = 3.0) -> np.ndarray:
    """Stationary AR(1) noise along the last axis with marginal standard deviation ``sd``.

    Innovations are clipped at ``clip_sd`` standard deviations so that no single draw can
    produce a spike-like outlier in data that is meant to be clean.
    """
    eps = rng.standard_normal(shape)
    if clip_sd is not None:
        np.clip(eps, -clip_sd, clip_sd, out=eps)
    eps *= sd * np.sqrt(1.0 - phi * phi)
    # Start in the stationary distribution: the first value carries the full variance.
    eps[..., 0] /= np.sqrt(1.0 - phi * phi)
    return lfilter([1.0], [1.0, -phi], eps, axis=-1)


def _climate_c(axis: TimeAxis) -> np.ndarray:
    doy = (axis.dates - axis.dates.astype("datetime64[Y]")).astype(int) + 1
    return CLIMATE_MEAN_C + CLIMATE_AMPLITUDE_K * np.cos(
        2 * np.pi * (doy - CLIMATE_WARMEST_DOY) / 365.25)


def generate_weather(axis: TimeAxis, rng: np.random.Generator,
                     heat_waves: tuple[HeatWave, ...] = ()) -> Weather:
    """Daily and per-step temperature for the axis.

    Parameters
    ----------
    axis : TimeAxis
    rng : numpy.random.Generator
        Consumed in a fixed order, so equal seeds give equal weather.
    heat_waves : tuple of HeatWave
        Added to the daily mean as a smooth bump (full excess on the middle days).
    """
    n = axis.n_days
    mean_c = _climate_c(axis) + ar1_noise(rng, (n,), CALIBRATED["temp_anomaly_ar1"],
                                          CALIBRATED["temp_anomaly_sd_k"])
    for w in heat_waves:
        bump = np.sin(np.linspace(0, np.pi, w.days + 2)[1:-1]) ** 0.5 * w.excess_k
        mean_c[w.start_day:w.start_day + w.days] += bump[: max(0, n - w.start_day)]
    # Diurnal range varies day to day (cloud cover); summer nights in the delta are humid, so
    # the range is a bit smaller in July than in winter.
    season = np.cos(2 * np.pi * (np.arange(n) % 365.25 - CLIMATE_WARMEST_DOY) / 365.25)
    range_k = CALIBRATED["diurnal_range_k"] * (1.0 - 0.1 * season) * rng.uniform(0.6, 1.3, n)
    spd = axis.steps_per_day
    centres = np.arange(n) * spd + (spd - 1) / 2
    steps = np.arange(axis.n_steps)
    mean_steps = np.interp(steps, centres, mean_c)
    range_steps = np.interp(steps, centres, range_k)
    hour = axis.local_hour + axis.interval_hours / 2
    cycle = np.cos(2 * np.pi * (hour - CALIBRATED["diurnal_peak_hour"]) / 24.0)
    ambient = mean_steps + range_steps / 2 * cycle
    daily = ambient.reshape(n, spd)
    return Weather(mean_c, daily.min(axis=1), daily.max(axis=1), ambient, tuple(heat_waves))
