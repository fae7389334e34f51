"""Numeric kernels: pure functions on float64 arrays, for a batch of series at once.

No polars, no I/O, no classes. Every function takes ``values`` (all series concatenated,
NaN = missing slot of a regular grid) and ``offsets`` (``n_series + 1`` int64; series ``i`` is
``values[offsets[i]:offsets[i + 1]]``; ``None`` = one series). Each public function checks its
arguments and calls a private numba kernel that trusts them (``rolling_mad`` ->
``_rolling_stats``). Kernels with real work per slot (rolling statistics, seasonal profile,
register classification) run over chunks of series on threads (``launch_series`` in
:mod:`._launch`, not numba's ``prange``, whose parallel regions cost seconds each to compile);
most of those doing O(1) work per slot are memory-bound and run on one thread (the energy
balance's, with integer divisions a reading, gain from threads and use them; the run lengths
of :mod:`.runs` use them from ``config.MEMORY_BOUND_MIN_VALUES`` values). Batches below
``config.PARALLEL_MIN_VALUES`` values run on the calling thread.

One compiled version per helper: numba compiles a jitted function once per argument *type*,
and an int literal is a type of its own (``Literal[int](0)``). A helper called with a
literal, or with a counter initialised to one (``n = 0`` then ``n += 1``: type inference
first sees the literal), is compiled twice, each time in full. Counters and indices handed to
jitted helpers therefore start as ``np.int64(0)``, and kernels use the helpers of
:mod:`._order` (selection, medians, a heapsort) rather than numba's ``np.sort`` and
``np.median``, which compile a generic sort for every dtype (seconds each at a cold start).

Shared semantics:

- a slot is *valid* when its value is finite; NaN and +-inf are both invalid (no meter reports
  inf: it is corrupt data, treated like a missing reading);
- per-slot outputs have the input's length; an invalid slot never gets a score or statistic
  (NaN), nor does a slot whose window holds too little data;
- scores grow with how anomalous a slot is (robust z keeps its sign: a sag is negative;
  detectors use ``|z|`` or ``-z``); thresholds live in the detectors and profiles;
- runs and events never cross from one series into the next; their tables index the
  concatenated array.

Modules: :mod:`.rolling` (median, MAD, robust z), :mod:`.runs` (gaps, flat and zero runs),
:mod:`.register` (rollback, rollover, meter exchange), :mod:`.seasonal` (time-of-day x
day-type profile), :mod:`.changepoint` (level shift), :mod:`.spike` (daily max vs 3rd max),
:mod:`.events` (flags to events, the numbers of each event), :mod:`.calendar` (local day,
slot of day and day type of a grid's slots), :mod:`.sumcheck` (interval energy vs register,
tiers vs total), :mod:`.lastyear` (same period last year), :mod:`.balance` (transformer-area energy
balance: meters matched to their transformer's instants), :mod:`.slots` (readings of a group
of series into one grid of slots: the electrical checks' three-phase grid);
:mod:`.changepoint` also holds the robust CUSUM.
"""

from __future__ import annotations

from griddiag.kernels.changepoint import change_index, cusum, level_shift
from griddiag.kernels.events import flags_to_events
from griddiag.kernels.lastyear import last_year_baseline
from griddiag.kernels.register import classify_register, register_delta, typical_increment
from griddiag.kernels.rolling import (
    rolling_mad,
    rolling_median,
    rolling_robust_stats,
    rolling_robust_stats_at,
    rolling_robust_z,
)
from griddiag.kernels.runs import constant_runs, mask_runs, nan_runs, run_table, zero_runs
from griddiag.kernels.seasonal import seasonal_profile, seasonal_residual_z
from griddiag.kernels.spike import daily_peak_ratio
from griddiag.kernels.sumcheck import bin_to_readings, span_compare

__all__ = [
    "bin_to_readings",
    "change_index",
    "classify_register",
    "constant_runs",
    "cusum",
    "daily_peak_ratio",
    "flags_to_events",
    "last_year_baseline",
    "level_shift",
    "mask_runs",
    "nan_runs",
    "register_delta",
    "rolling_mad",
    "rolling_median",
    "rolling_robust_stats",
    "rolling_robust_stats_at",
    "rolling_robust_z",
    "run_table",
    "seasonal_profile",
    "seasonal_residual_z",
    "span_compare",
    "typical_increment",
    "zero_runs",
]
