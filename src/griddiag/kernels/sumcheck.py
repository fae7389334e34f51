"""Sum check: two accounts of the same energy compared over the same span.

The "sum check" of meter-data VEE rule sets (Oracle Utilities MDM's *Sum Check*, algorithm
D2-SUM-CHK: "whether consumption ... is within a tolerance of the sum of the consumption during
the same period" of related measuring components) compares

- the interval channel's energy summed over a period with the register's advance over it, and
- the sum of the time-of-use tier registers' advances with the total register's advance.

Both are the same computation once the two accounts are on one axis of *readings* (the
slots of the register series): every slot carries the quantity each account adds in the step
that ends at it (``observed_step``, ``expected_step``), whether the step can be trusted
(``excluded``), and whether the slot closes a comparison span (``anchor``). A span runs from
one anchor to the next; both accounts are summed over it, so a missing register reading in
the middle of a span costs nothing (a register's next reading covers the gap; its step
telescopes), while one excluded step (a missing interval, a rollover, a meter exchange, a
rollback) leaves the whole span unjudged: the check never fires on gaps it cannot account for.

:func:`bin_to_readings` puts the interval channel onto the register's axis: each interval
belongs to the first register reading at or after its end (a register read at 00:00 closes
the day whose last interval ended then).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.exceptions import ConfigError
from griddiag.kernels._launch import launch
from griddiag.kernels._validate import (
    as_batch,
    as_bool_array,
    as_float_array,
    as_int_array,
    check_nonnegative,
    check_offsets,
)

__all__ = ["bin_to_readings", "span_compare"]


@njit(**JIT)
def _span_compare(obs_step, exp_step, excluded, anchor, offsets, frac, abs_tol,
                  out_obs, out_exp, out_score):
    """O(1) per slot, memory-bound: one thread (:func:`griddiag.kernels._launch.launch`)."""
    for s in range(offsets.shape[0] - 1):
        acc_o = 0.0
        acc_e = 0.0
        bad = False
        opened = False
        for t in range(offsets[s], offsets[s + 1]):
            o = obs_step[t]
            e = exp_step[t]
            # +-inf is corrupt data: the span cannot be judged; NaN adds nothing
            if excluded[t] or np.isinf(o) or np.isinf(e):
                bad = True
            if o == o and not np.isinf(o):
                acc_o += o
            if e == e and not np.isinf(e):
                acc_e += e
            out_obs[t] = np.nan
            out_exp[t] = np.nan
            out_score[t] = np.nan
            if not anchor[t]:
                continue
            if opened and not bad:
                out_obs[t] = acc_o
                out_exp[t] = acc_e
                d = abs(acc_o - acc_e)
                tol = frac * abs(acc_e)
                if tol < abs_tol:
                    tol = abs_tol
                if tol > 0.0:
                    out_score[t] = d / tol
                else:
                    out_score[t] = 0.0 if d == 0.0 else np.inf
            acc_o = 0.0
            acc_e = 0.0
            bad = False
            opened = True


def span_compare(observed_step, expected_step, excluded, anchor, offsets=None, *,
                 tolerance_fraction: float = 0.01, tolerance_abs: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compare two accounts summed over the spans between consecutive anchors.

    Parameters
    ----------
    observed_step, expected_step : array_like of float, shape (n,)
        What each account adds in the step ending at each slot (the interval energy binned
        to the reading, the register's consumption since its previous reading); NaN adds
        nothing (a slot without a reading), +-inf makes the span unjudgeable.
    excluded : array_like of bool, shape (n,)
        Steps that cannot be trusted (missing intervals, rollover, reset, rollback): a span
        holding one is not compared.
    anchor : array_like of bool, shape (n,)
        Slots that close one span and open the next (a valid reading of both accounts). The
        first anchor of a series only opens.
    offsets : array_like of int, shape (n_series + 1,), optional
    tolerance_fraction, tolerance_abs : float
        The span passes when ``|observed - expected| <= max(tolerance_fraction * |expected|,
        tolerance_abs)``.

    Returns
    -------
    observed, expected : numpy.ndarray of float64, shape (n,)
        The two sums of the span closed at each anchor; NaN at other slots and where the span
        was not compared.
    score : numpy.ndarray of float64, shape (n,)
        ``|observed - expected| / tolerance`` (> 1: the check fails); ``inf`` for a mismatch
        with a zero tolerance; NaN where nothing was compared.
    """
    obs, off = as_batch(observed_step, offsets)
    n = obs.shape[0]
    exp = as_float_array(expected_step, "expected_step", length=n)
    exc = as_bool_array(excluded, "excluded")
    anc = as_bool_array(anchor, "anchor")
    for name, a in (("excluded", exc), ("anchor", anc)):
        if a.shape[0] != n:
            raise ConfigError(f"{name} has {a.shape[0]} elements, expected {n} (one per value)")
    frac = check_nonnegative(tolerance_fraction, "tolerance_fraction")
    tol = check_nonnegative(tolerance_abs, "tolerance_abs")
    out = [np.empty(n, dtype=np.float64) for _ in range(3)]
    launch(_span_compare, obs, exp, exc, anc, off, frac, tol, *out)
    return out[0], out[1], out[2]


@njit(**JIT)
def _bin_to_readings(values, offsets, t0, step, smap, r_t0, r_step, r_off, total, missing):
    """O(1) per interval, so one thread; and two interval series (segments of one meter's
    channel) may feed the same register series. Series are walked in batch order, so each
    slot's sum adds its intervals in the same order as a ``np.bincount`` over the batch.

    Series with ``smap < 0`` (not interval series, or without a register) cost nothing: the
    caller may pass a whole grid and mark the interval series, instead of copying them out.
    """
    for i in range(offsets.shape[0] - 1):
        r = smap[i]
        if r < 0:
            continue
        base = r_off[r]
        n_r = r_off[r + 1] - base
        # k: the first register slot at or after the interval's end, ceil((end - t0_r) /
        # step_r) for the first interval, then walked forward (ends only increase)
        k = max(-((r_t0[r] - (t0[i] + step[i])) // r_step[r]), 0)
        k_time = r_t0[r] + k * r_step[r]
        for p in range(offsets[i + 1] - offsets[i]):
            end = t0[i] + (p + 1) * step[i]
            while k_time < end:
                k += 1
                k_time += r_step[r]
            if k >= n_r:
                break  # later intervals end later still: all past the last reading
            v = values[offsets[i] + p]
            if np.isfinite(v):
                total[base + k] += v
            else:
                missing[base + k] += 1


def bin_to_readings(values, offsets, t0_us, step_us, series_map, reading_t0_us,
                    reading_step_us, reading_offsets) -> tuple[np.ndarray, np.ndarray]:
    """Interval values binned to the register reading that closes them.

    Interval ``[ts, ts + step)`` of series ``i`` belongs to the first slot of register series
    ``series_map[i]`` whose time is at or after ``ts + step``; intervals after the last
    register slot are dropped, those before the first go to it (its step is never compared:
    it has no previous reading).

    Parameters
    ----------
    values, offsets
        The interval batch (NaN = missing interval).
    t0_us, step_us : array_like of int, shape (n_series,)
        Grid start and step of each interval series (microseconds).
    series_map : array_like of int, shape (n_series,)
        The register series each interval series is compared with; -1 = none.
    reading_t0_us, reading_step_us : array_like of int, shape (n_register_series,)
        Grid start and step of each register series.
    reading_offsets : array_like of int, shape (n_register_series + 1,)

    Returns
    -------
    total : numpy.ndarray of float64, one per register slot
        Sum of the valid intervals binned to the slot (0 where none).
    missing : numpy.ndarray of int64, one per register slot
        Invalid (NaN or +-inf) intervals binned to the slot.
    """
    vals, off = as_batch(values, offsets)
    n_series = off.shape[0] - 1
    r_off = check_offsets(reading_offsets, int(np.asarray(reading_offsets)[-1])
                          if np.size(reading_offsets) else 0)
    n_reg = r_off.shape[0] - 1
    t0 = as_int_array(t0_us, "t0_us", length=n_series)
    step = as_int_array(step_us, "step_us", length=n_series, low=1)
    smap = as_int_array(series_map, "series_map", length=n_series, low=-1, high=n_reg)
    r_t0 = as_int_array(reading_t0_us, "reading_t0_us", length=n_reg)
    r_step = as_int_array(reading_step_us, "reading_step_us", length=n_reg, low=1)
    n_slots = int(r_off[-1])
    total = np.zeros(n_slots, dtype=np.float64)
    missing = np.zeros(n_slots, dtype=np.int64)
    _bin_to_readings(vals, off, t0, step, smap, r_t0, r_step, r_off, total, missing)
    return total, missing
