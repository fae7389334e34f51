"""What a customer's meter reports: quantised interval energy, a cumulative register, faults.

A meter counts energy in whole quanta (0.01 kWh, DL/T 645). Interval energy is the difference
of that internal count between interval boundaries, and the register reading is the count at a
reading instant (daily freeze at local midnight by default), wrapped at ``10**digits`` kWh. The
two therefore agree exactly: register difference == sum of interval energy between readings.

Faults change what is reported, never what flowed (the transformer sees the true load):

- theft: the meter counts only ``1 - fraction`` of the true energy (interval and register);
- interval data errors (spike, flatline, negative sign, gap) touch interval values only;
- register faults (stuck, rollback) and events (rollover, meter exchange) touch readings only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from griddiag.sample.calendar import TimeAxis
from griddiag.sample.params import ENERGY_QUANTUM_KWH
from griddiag.sample.plan import Injection, MeterPlan
from griddiag.sample.truth import truth_row

__all__ = ["MeterReport", "report_meter"]

_REGISTER_KINDS = ("register_stuck", "rollback", "rollover", "meter_exchange")


@dataclass
class MeterReport:
    """Reported series of one meter.

    Attributes
    ----------
    energy_kwh, energy_present : ndarray
        Interval energy per step (NaN where a gap is reported as NaN) and row presence.
    register_kwh, register_present : ndarray
        Register readings at ``read_steps`` and their presence.
    counted_kwh : ndarray
        Energy the meter actually counted per step (after theft), for line-loss accounting.
    truth : list of dict
    """

    energy_kwh: np.ndarray
    energy_present: np.ndarray
    register_kwh: np.ndarray
    register_present: np.ndarray
    counted_kwh: np.ndarray
    truth: list[dict] = field(default_factory=list)


class _Clock:
    """Step and reading indices -> UTC datetimes for truth rows."""

    def __init__(self, axis: TimeAxis, read_steps: np.ndarray):
        self.axis = axis
        self.read_steps = read_steps
        self.read_every = int(read_steps[1] - read_steps[0]) if len(read_steps) > 1 else 1

    def at(self, step: int) -> dt.datetime:
        return self.axis.to_datetime(step)

    def read_at(self, k: int) -> dt.datetime:
        return self.axis.to_datetime(int(k) * self.read_every)

    def first_read(self, step: int) -> int:
        return int(np.searchsorted(self.read_steps, step, side="left"))

    def reads_in(self, start: int, end: int) -> slice:
        return slice(self.first_read(start), self.first_read(end))


def _counted(true_kwh: np.ndarray, injections: list[Injection]) -> np.ndarray:
    counted = true_kwh.copy()
    for inj in injections:
        if inj.kind == "theft":
            counted[inj.start_step:inj.end_step] *= 1.0 - inj.params["fraction"]
    return counted


def _initial_count(meter: MeterPlan, cum: np.ndarray, injections: list[Injection],
                   rng: np.random.Generator) -> int:
    """Register count at the first instant: far from the wrap for clean meters."""
    capacity = 10 ** meter.register_digits * round(1 / ENERGY_QUANTUM_KWH)
    for inj in injections:
        if inj.kind == "rollover":
            # one quantum short of the wrap just before the planned interval
            return int(capacity - cum[inj.start_step] - 1)
    init = int(rng.uniform(0.02, 0.3) * (capacity - cum[-1]))
    for inj in injections:
        if inj.kind == "rollback":
            init = max(init, int(inj.params["drop_kwh"] / ENERGY_QUANTUM_KWH) * 2)
    return init


def _registers(meter: MeterPlan, cum: np.ndarray, injections: list[Injection],
               clock: _Clock, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Register readings (kWh) with register events and faults applied, and their truth."""
    q = round(1 / ENERGY_QUANTUM_KWH)
    capacity = 10 ** meter.register_digits * q
    steps = clock.read_steps
    reg = _initial_count(meter, cum, injections, rng) + cum[steps]
    truth: list[dict] = []
    aid = meter.asset_id
    for inj in injections:
        if inj.kind == "meter_exchange":
            t = inj.start_step
            old_final = (reg[steps <= t][-1] % capacity) / q if (steps <= t).any() else 0.0
            new = int(inj.params["new_register_kwh"] * q)
            after = steps > t
            reg[after] = new + cum[steps[after]] - cum[t + 1]
            truth.append(truth_row("meter_exchange", aid, clock.at(t), clock.at(t + 1),
                                   magnitude=round(old_final, 2),
                                   notes=f"old meter's last reading {old_final:.2f} kWh; new "
                                         f"register starts at {new / q:.2f} kWh after this "
                                         "interval"))
        elif inj.kind == "rollback":
            k0 = clock.first_read(inj.start_step)
            drop = int(inj.params["drop_kwh"] * q)
            reg[k0:] -= drop
            truth.append(truth_row("rollback", aid, clock.read_at(k0), clock.read_at(k0 + 1),
                                   magnitude=drop / q))
        elif inj.kind == "register_stuck":
            k0 = max(1, clock.first_read(inj.start_step))
            n = min(int(inj.params["readings"]), len(steps) - k0)
            reg[k0:k0 + n] = reg[k0 - 1]
            truth.append(truth_row("register_stuck", aid, clock.read_at(k0),
                                   clock.read_at(k0 + n), magnitude=n,
                                   notes=f"{n} readings frozen at the previous value; the next "
                                         "reading catches up"))
        elif inj.kind == "rollover":
            t = inj.start_step
            truth.append(truth_row("rollover", aid, clock.at(t), clock.at(t + 1),
                                   magnitude=capacity / q,
                                   notes=f"register passes {capacity / q - 0.01:.2f} -> 0.00 "
                                         f"({meter.register_digits} digits) in this interval"))
    return np.round((reg % capacity) / q, 2), truth


def _interval_errors(energy: np.ndarray, present: np.ndarray, reg: np.ndarray,
                     reg_present: np.ndarray, meter: MeterPlan, injections: list[Injection],
                     clock: _Clock, mean_kwh: float) -> list[dict]:
    """Apply spikes, flatlines, negative signs and gaps in place; return their truth rows."""
    truth: list[dict] = []
    aid = meter.asset_id
    for inj in injections:
        s, t = inj.start_step, inj.end_step
        start, end = clock.at(s), clock.at(t)
        if inj.kind == "spike":
            true_v = energy[s]
            energy[s] = round(max(true_v, mean_kwh) * inj.params["factor"], 2)
            truth.append(truth_row("spike", aid, start, end, magnitude=energy[s],
                                   notes=f"reported {energy[s]:.2f} kWh, counted {true_v:.2f} kWh; "
                                         "register unaffected"))
        elif inj.kind == "flatline":
            energy[s:t] = energy[s - 1]
            truth.append(truth_row("flatline", aid, start, end, magnitude=energy[s - 1],
                                   notes=f"{t - s} intervals repeat {energy[s - 1]:.2f} kWh; "
                                         "register unaffected"))
        elif inj.kind == "negative_energy":
            energy[s:t] = -energy[s:t]
            truth.append(truth_row("negative_energy", aid, start, end,
                                   magnitude=float(energy[s:t].sum()),
                                   notes=f"{t - s} intervals with reversed sign (sum shown); "
                                         "register unaffected"))
        elif inj.kind == "gap":
            as_nan = inj.params.get("nan", 0.0) > 0
            reads = clock.reads_in(s, t)
            how = "present with value NaN" if as_nan else "rows absent"
            if as_nan:
                energy[s:t] = np.nan
                reg[reads] = np.nan
            else:
                present[s:t] = False
                reg_present[reads] = False
            truth.append(truth_row("gap", aid, start, end, magnitude=t - s,
                                   notes=f"{t - s} intervals {how}"))
            n_reads = reads.stop - reads.start
            if n_reads:
                truth.append(truth_row("gap", aid, clock.read_at(reads.start),
                                       clock.read_at(reads.stop), magnitude=n_reads,
                                       metric="register_kwh",
                                       notes=f"{n_reads} register readings {how}"))
    return truth


def _behaviour_truth(meter: MeterPlan, injections: list[Injection],
                     clock: _Clock) -> list[dict]:
    """Truth rows of consumption changes and theft (applied in ``load.py`` / ``_counted``)."""
    rows = []
    for inj in injections:
        start, end = clock.at(inj.start_step), clock.at(inj.end_step)
        p = inj.params
        if inj.kind in ("growth", "step_change"):
            rows.append(truth_row(inj.kind, meter.asset_id, start, end, magnitude=p["factor"]))
        elif inj.kind == "peak_shift":
            rows.append(truth_row(inj.kind, meter.asset_id, start, end,
                                  magnitude=p["shift_hours"]))
        elif inj.kind == "new_cooling_load":
            rows.append(truth_row(inj.kind, meter.asset_id, start, end,
                                  magnitude=p["cooling_slope_per_k"]))
        elif inj.kind == "vacancy":
            rows.append(truth_row(inj.kind, meter.asset_id, start, end,
                                  magnitude=p["standby_kwh_per_day"]))
        elif inj.kind == "zero_run":
            hours = (inj.end_step - inj.start_step) * clock.axis.interval_hours
            rows.append(truth_row(inj.kind, meter.asset_id, start, end, magnitude=hours))
        elif inj.kind == "theft":
            rows.append(truth_row(inj.kind, meter.asset_id, start, end, magnitude=p["fraction"],
                                  notes=f"meter counts {1 - p['fraction']:.0%} of the true "
                                        "energy (interval and register) from start"))
    return rows


def report_meter(meter: MeterPlan, true_kwh: np.ndarray, injections: list[Injection],
                 axis: TimeAxis, read_steps: np.ndarray,
                 rng: np.random.Generator) -> MeterReport:
    """Quantise, register and fault one meter's true energy.

    Parameters
    ----------
    meter : MeterPlan
    true_kwh : ndarray
        True interval energy (kWh) per step.
    injections : list of Injection
        This meter's injections (all kinds; the behavioural ones only yield truth rows here).
    axis : TimeAxis
    read_steps : ndarray of int
        Steps at whose start the register is read.
    rng : numpy.random.Generator
    """
    q = ENERGY_QUANTUM_KWH
    counted = _counted(true_kwh, injections)
    # Integer quanta avoid float drift: 3 years of an industrial meter is ~1e8 quanta.
    cum = np.concatenate([[0], np.floor(np.cumsum(counted) / q + 1e-9).astype(np.int64)])
    energy = np.round(np.diff(cum) * q, 2)
    present = np.ones(axis.n_steps, dtype=bool)
    clock = _Clock(axis, read_steps)
    reg, truth = _registers(meter, cum, [i for i in injections if i.kind in _REGISTER_KINDS],
                            clock, rng)
    reg_present = np.ones(len(reg), dtype=bool)
    truth += _interval_errors(energy, present, reg, reg_present, meter, injections, clock,
                              float(np.mean(true_kwh)))
    truth += _behaviour_truth(meter, injections, clock)
    return MeterReport(energy, present, reg, reg_present, counted, truth)
