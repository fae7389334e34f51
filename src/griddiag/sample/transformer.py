"""Faults of a distribution transformer and its final, reported series.

Applies, in order: phase loss to the customers on the lost phase (before the load is summed),
voltage sag / swell / unbalance / phase loss to the voltages, currents from apparent power and
voltage, the top-oil temperature, measurement resolution, the reporting faults (a
communication gap, a stuck oil sensor) and the reporting period: a terminal that reports hourly
sends the instantaneous value at the top of each hour, as State Grid's 24-point curves do.

Truth rows are built from the *reported* series, so windows sit on the reporting grid and
magnitudes are what a detector can see. Overload is not injected: it is read from the data
after the deliberately undersized transformer has been rated.
"""

from __future__ import annotations

import numpy as np

from griddiag.sample.calendar import TimeAxis
from griddiag.sample.electrical import (
    TRANSFORMER_METRICS,
    Electrical,
    neutral_current_a,
    oil_temperature_c,
    overload_runs,
)
from griddiag.sample.params import OVERLOAD_MIN_HOURS, VOLTAGE_HIGH_V, VOLTAGE_LOW_V
from griddiag.sample.plan import AreaPlan, Injection
from griddiag.sample.truth import truth_row

__all__ = ["apply_phase_loss", "finish_transformer"]

_PHASES = "abc"
_M = {m: k for k, m in enumerate(TRANSFORMER_METRICS)}
# Reporting resolution of a transformer terminal (per metric, decimals).
_DECIMALS = {"voltage": 1, "current": 1, "active_power_kw": 2, "power_factor": 3,
             "load_kva": 2, "oil_temp_c": 1, "ambient_temp_c": 1}


def apply_phase_loss(area: AreaPlan, true_kwh: np.ndarray, phases: np.ndarray,
                     axis: TimeAxis) -> list[dict]:
    """Cut supply to customers on a lost phase (in place); truth rows for those meters.

    Single-phase customers on the lost phase get nothing; three-phase customers keep the two
    healthy phases' share (2/3) and are not listed.
    """
    rows: list[dict] = []
    for inj in area.injections_of("phase_loss"):
        ph = int(inj.params["phase"])
        s, t = inj.start_step, inj.end_step
        true_kwh[phases == ph, s:t] = 0.0
        true_kwh[phases < 0, s:t] *= 2.0 / 3.0
        hours = (t - s) * axis.interval_hours
        for k in np.flatnonzero(phases == ph):
            rows.append(truth_row(
                "supply_interruption", area.meters[k].asset_id, axis.to_datetime(s),
                axis.to_datetime(t), magnitude=hours,
                notes=f"phase {_PHASES[ph].upper()} of {area.transformer_id} lost"))
    return rows


def _voltage_faults(area: AreaPlan, v: np.ndarray, rng: np.random.Generator) -> None:
    """Sag, swell, unbalance and phase loss applied to the phase voltages in place."""
    for inj in area.injections:
        s, t = inj.start_step, inj.end_step
        if t <= s:
            continue
        win = v[:, s:t]
        if inj.kind == "voltage_sag":
            # the highest phase value in the window lands on the target (< 198 V)
            win *= inj.params["target_v"] / win.max()
        elif inj.kind == "voltage_swell":
            win *= inj.params["target_v"] / win.min()
        elif inj.kind == "voltage_unbalance":
            low = int(inj.params["low_phase"])
            # neutral shift: one phase well down, the next a little; none leaves 198-235.4 V
            win[low] *= max(0.915, (VOLTAGE_LOW_V + 1.0) / float(win[low].min()))
            win[(low + 1) % 3] *= 0.965
        elif inj.kind == "phase_loss":
            win[int(inj.params["phase"])] = np.abs(rng.normal(3.0, 1.5, t - s))


def _round(metric: str, x: np.ndarray) -> np.ndarray:
    key = metric.split("_")[0] if metric.startswith(("voltage", "current")) else metric
    return np.round(x, _DECIMALS[key])


def _series(area: AreaPlan, elec: Electrical, ambient_c: np.ndarray, axis: TimeAxis,
            rng: np.random.Generator) -> np.ndarray:
    """Reported-resolution values (metrics x steps) after voltage faults."""
    _voltage_faults(area, elec.voltage_v, rng)
    current = elec.s_kva * 1000.0 / np.maximum(elec.voltage_v, 1.0)
    for inj in area.injections_of("phase_loss"):
        current[int(inj.params["phase"]), inj.start_step:inj.end_step] = 0.0
    load = elec.load_kva
    series = {
        **{f"voltage_v_{p}": elec.voltage_v[k] for k, p in enumerate(_PHASES)},
        **{f"current_a_{p}": current[k] for k, p in enumerate(_PHASES)},
        "current_a_n": neutral_current_a(current),
        "active_power_kw": elec.p_kw.sum(axis=0),
        "power_factor": elec.pf,
        "load_kva": load,
        "oil_temp_c": oil_temperature_c(load / elec.rated_kva, ambient_c, axis.interval_hours,
                                        rng),
        "ambient_temp_c": ambient_c,
    }
    return np.vstack([_round(m, series[m]) for m in TRANSFORMER_METRICS])


def _reporting_faults(area: AreaPlan, values: np.ndarray, present: np.ndarray) -> None:
    oil = _M["oil_temp_c"]
    for inj in area.injections:
        s, t = inj.start_step, inj.end_step
        if inj.kind == "oil_flatline":
            values[oil, s:t] = values[oil, s - 1]
        elif inj.kind == "transformer_gap":
            present[:, s:t] = False


class _Grid:
    """Base steps <-> reported samples (every ``every``-th step)."""

    def __init__(self, axis: TimeAxis, every: int):
        self.axis = axis
        self.every = every

    def window(self, inj: Injection) -> tuple[int, int]:
        """Sample indices [ks, ke) inside the injection window (may be empty)."""
        return -(-inj.start_step // self.every), -(-inj.end_step // self.every)

    def at(self, k: int):
        return self.axis.to_datetime(k * self.every)

    @property
    def hours(self) -> float:
        return self.every * self.axis.interval_hours


def _fault_truth(area: AreaPlan, values: np.ndarray, grid: _Grid) -> list[dict]:
    rows: list[dict] = []
    tx = area.transformer_id
    for inj in area.injections:
        ks, ke = grid.window(inj)
        if ke <= ks or inj.asset_id != tx:
            continue
        start, end = grid.at(ks), grid.at(ke)
        v = values[[_M["voltage_v_a"], _M["voltage_v_b"], _M["voltage_v_c"]], ks:ke]
        if inj.kind == "voltage_sag":
            rows += [truth_row("voltage_sag", tx, start, end, magnitude=float(v[p].min()),
                               metric=f"voltage_v_{_PHASES[p]}",
                               notes=f"below {VOLTAGE_LOW_V:.1f} V (GB/T 12325: 220 V -10 %); "
                                     "minimum shown") for p in range(3)]
        elif inj.kind == "voltage_swell":
            rows += [truth_row("voltage_swell", tx, start, end, magnitude=float(v[p].max()),
                               metric=f"voltage_v_{_PHASES[p]}",
                               notes=f"above {VOLTAGE_HIGH_V:.1f} V (GB/T 12325: 220 V +7 %); "
                                     "maximum shown") for p in range(3)]
        elif inj.kind == "voltage_unbalance":
            low = int(inj.params["low_phase"])
            mean = v.mean(axis=0)
            lvur = np.abs(v - mean).max(axis=0) / mean * 100.0
            rows.append(truth_row(
                "voltage_unbalance", tx, start, end, magnitude=round(float(lvur.mean()), 2),
                metric=f"voltage_v_{_PHASES[low]}",
                notes="max deviation from the three-phase mean / mean (NEMA LVUR), mean over "
                      f"the window; phase {_PHASES[low].upper()} low; GB/T 15543 limit 2 %"))
        elif inj.kind == "phase_loss":
            ph = int(inj.params["phase"])
            rows.append(truth_row(
                "phase_loss", tx, start, end, magnitude=round(float(v[ph].mean()), 1),
                metric=f"voltage_v_{_PHASES[ph]}",
                notes=f"phase {_PHASES[ph].upper()} voltage near 0 V and current_a_"
                      f"{_PHASES[ph]} 0 A (blown fuse); mean voltage shown"))
        elif inj.kind == "low_power_factor":
            rows.append(truth_row(
                "low_power_factor", tx, start, end,
                magnitude=round(float(values[_M["power_factor"], ks:ke].mean()), 3),
                notes="capacitor bank out of service; mean power factor shown (assessment "
                      "threshold 0.90)"))
        elif inj.kind == "oil_flatline":
            stuck = float(values[_M["oil_temp_c"], ks])
            rows.append(truth_row("oil_flatline", tx, start, end, magnitude=stuck,
                                  notes=f"oil temperature stuck at {stuck:.1f} degC for "
                                        f"{ke - ks} readings"))
        elif inj.kind == "transformer_gap":
            rows += [truth_row("transformer_gap", tx, start, end, magnitude=ke - ks, metric=m,
                               notes=f"{ke - ks} readings absent (communication loss)")
                     for m in TRANSFORMER_METRICS]
    return rows


def _overload_truth(area: AreaPlan, values: np.ndarray, present: np.ndarray, rated_kva: float,
                    grid: _Grid) -> list[dict]:
    """Runs above the rating (merged when less than 1 h apart).

    Runs of at least ``OVERLOAD_MIN_HOURS`` are ``overload`` anomalies; shorter ones are
    ``overload_brief`` events, which a detector may report but is not required to.
    """
    rows: list[dict] = []
    load = np.where(present[_M["load_kva"]], values[_M["load_kva"]], np.nan)
    merge = max(1, round(1.0 / grid.hours))
    for ks, ke in overload_runs(load, rated_kva, merge):
        hours = (ke - ks) * grid.hours
        kind = "overload" if hours >= OVERLOAD_MIN_HOURS else "overload_brief"
        rows.append(truth_row(kind, area.transformer_id, grid.at(ks), grid.at(ke),
                              magnitude=round(float(np.nanmax(load[ks:ke])) / rated_kva, 3),
                              notes=f"{hours:.2f} h above {rated_kva:.0f} kVA rated; "
                                    "peak/rated shown"))
    return rows


def finish_transformer(area: AreaPlan, elec: Electrical, ambient_c: np.ndarray,
                       axis: TimeAxis, rng: np.random.Generator, every: int = 1
                       ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Reported transformer series and their truth.

    Parameters
    ----------
    every : int
        Report every ``every``-th interval's value (1: every interval).

    Returns
    -------
    values, present : ndarray
        (metrics, reported samples); rows follow ``TRANSFORMER_METRICS``.
    truth : list of dict
    """
    values = _series(area, elec, ambient_c, axis, rng)
    present = np.ones(values.shape, dtype=bool)
    _reporting_faults(area, values, present)
    values, present = values[:, ::every], present[:, ::every]
    grid = _Grid(axis, every)
    truth = _fault_truth(area, values, grid)
    truth += _overload_truth(area, values, present, elec.rated_kva, grid)
    return values, present, truth
