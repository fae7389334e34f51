"""Electrical rules for distribution transformers (and any asset reporting phase quantities).

Every detector is a function ``detect_<name>(readings, assets, params) -> findings`` over one
batch of whole transformer areas: ``readings`` is the canonical long frame or the batch's
sorted arrays (:class:`griddiag.detectors.grid.SortedReadings`, what ``griddiag.detect``
passes), ``assets`` the assets frame (``nominal_voltage_v``, ``rated_kva``, ``tz`` are
used), ``params`` the profile's ``[electrical.<name>]`` table; keys left out take the
values of :data:`DEFAULTS`, so ``params={}`` works. Each returns
:data:`griddiag.schema.FINDINGS_SCHEMA` rows (``run_id`` and ``status`` null).

=====================  ==================================  =======================================
detector               finding kinds                       rule (defaults)
=====================  ==================================  =======================================
voltage_deviation      ``voltage_deviation``               GB/T 12325-2008 §4.1-4.3 per phase
voltage_unbalance      ``voltage_unbalance``               GB/T 15543-2008 §4.1: 2 % / 4 %
phase_loss             ``phase_loss``, ``voltage_loss``,   one phase < 60 % / 78 % of nominal while
                       ``current_loss``                    another is healthy; one phase ~0 A
                                                           while another carries load
current_unbalance      ``current_unbalance``               (Imax - Imin) / Imax > 15 % under load
transformer_load       ``heavy_load``, ``overload``        > 80 % / > 100 % of rated kVA for 2 h
low_power_factor       ``low_power_factor``                daily sum(P) / sum(S) < 0.90
=====================  ==================================  =======================================

Time and events
---------------
Each asset's readings are laid on a regular grid: its interval is the median step between its
timestamps, slot ``k`` holds the readings of ``[t0 + k * step, t0 + (k + 1) * step)`` (their
mean when an irregular source puts several there) and a slot without a reading is NaN, never
filled. A value stands for its whole slot (a State Grid terminal's hourly value for that hour),
so an event covering ``n`` slots lasts ``n * step``; its ``end`` is exclusive. Missing slots
(at most ``max_gap_hours`` of them) between two flagged slots are bridged, valid in-limit
values never are; ``coverage`` is the share of the event's slots holding a value.

Voltage classes (GB/T 12325-2008 clause 4) are picked from ``nominal_voltage_v``, the nominal
of the asset's own voltage metrics: up to 250 V it is an LV phase-to-neutral (220 V) value and
§4.3 applies (+7 % / -10 %); up to 20 kV, §4.2 (+/-7 %); above, §4.1 (the sum of the absolute
deviations may not exceed 10 %; how the 10 % splits between up and down is the utility's
choice, +/-5 % by default). The rated phase current of a transformer is
``rated_kva / (3 * V_phase)`` with ``V_phase`` the nominal when it is phase-to-neutral (<= 1 kV),
else ``nominal / sqrt(3)``.

Standards that are cited from clause-level knowledge of the text are given with their clause;
rules that come from State Grid operating practice rather than a national standard say so
(``standard`` column). Values a utility tunes (minimum durations, load gates) are engineering
choices of griddiag and are marked as such in :data:`DEFAULTS`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.kernels import flags_to_events
from griddiag.kernels._validate import offsets_from_lengths
from griddiag.schema import FINDINGS_SCHEMA, empty_assets, empty_findings

if TYPE_CHECKING:
    from griddiag.detectors.grid import SortedReadings

__all__ = [
    "DEFAULTS",
    "DETECTORS",
    "detect_current_unbalance",
    "detect_low_power_factor",
    "detect_phase_loss",
    "detect_transformer_load",
    "detect_voltage_deviation",
    "detect_voltage_unbalance",
]

_PHASES = ("a", "b", "c")
_US_PER_MIN = 60_000_000
_US_PER_DAY = 86_400_000_000

#: Default parameters of every detector of this module (the profile's ``[electrical.<name>]``
#: tables override them key by key; nested tables key by key too).
DEFAULTS: dict[str, dict] = {
    "voltage_deviation": {
        "asset_kinds": ["transformer", "meter", "feeder", "substation"],
        "min_hours": 1.0,  # griddiag choice: one hourly value, four 15-min values
        "max_gap_hours": 1.0,  # missing slots bridged inside an event
        # below this share of nominal a phase is lost, not deviating: left to phase_loss and
        # left out of the compliance statistic (GB/T 12325 counts supply time only)
        "exclude_below_pct": 60.0,
        "critical_excess_pct": 3.0,  # points beyond the limit that make a finding critical
        "lv_single_phase": {
            "voltage_class": "220 V single-phase (LV phase-to-neutral)",
            "max_nominal_v": 250.0,
            "upper_pct": 7.0,
            "lower_pct": -10.0,
            "standard": "GB/T 12325-2008 §4.3",
        },
        "three_phase_20kv": {
            "voltage_class": "20 kV and below, three-phase",
            "max_nominal_v": 20000.0,
            "upper_pct": 7.0,
            "lower_pct": -7.0,
            "standard": "GB/T 12325-2008 §4.2",
        },
        "hv_35kv": {
            "voltage_class": "35 kV and above",
            # the standard bounds |upper| + |lower| <= 10 %; the split is the utility's choice
            "upper_pct": 5.0,
            "lower_pct": -5.0,
            "standard": "GB/T 12325-2008 §4.1",
        },
        "compliance_standard": "GB/T 12325-2008 Annex A (voltage compliance rate)",
    },
    "voltage_unbalance": {
        "asset_kinds": ["transformer", "feeder", "substation"],
        # "nema_lvur": max |V_i - mean| / mean of the three magnitudes (NEMA MG 1 / IEEE
        # 1159 LVUR); "gbt15543_magnitudes": GB/T 15543-2008 Annex A formula from three
        # magnitudes, exact for line-to-line magnitudes (no zero sequence), an approximation
        # for phase-to-neutral ones
        "method": "nema_lvur",
        "limit_pct": 2.0,  # normal operation
        "short_time_limit_pct": 4.0,  # short-time: critical
        "min_hours": 1.0,  # griddiag choice
        "max_gap_hours": 1.0,
        "exclude_below_pct": 60.0,  # a lost phase is phase_loss's business
        "standard": "GB/T 15543-2008 §4.1",
        "voltage_class": "all (limits at the point of common coupling)",
    },
    "phase_loss": {
        "asset_kinds": ["transformer", "meter"],
        # event thresholds of State Grid smart-meter / terminal specifications (Q/GDW
        # 1354-2013, informative Annex D: event setpoint ranges and their defaults; the annex
        # is named in the standard's contents, the values are the commonly configured
        # defaults): phase break below 60 % Un with no current, loss of voltage below
        # 78 % Un with current flowing, recovery (a "healthy" phase) from 85 % Un; loss of
        # current at >= 70 % Un with < 0.5 % Ib on the phase and > 5 % Ib on another
        "break_pct": 60.0,
        "voltage_loss_pct": 78.0,
        "healthy_pct": 85.0,
        "current_loss_min_voltage_pct": 70.0,
        "zero_current_pct": 0.5,  # % of rated phase current
        "zero_current_min_a": 0.1,  # floor: one digit of a terminal's 0.1 A resolution
        "load_current_pct": 5.0,  # % of rated current another phase must carry
        "min_hours": 1.0,  # griddiag choice (the meter spec uses 60 s)
        "max_gap_hours": 1.0,
        "standard": "Q/GDW 1354-2013 Annex D event setpoint defaults (State Grid practice)",
        "voltage_class": "LV 220/380 V",
    },
    "current_unbalance": {
        "asset_kinds": ["transformer"],
        "limit_pct": 15.0,  # (Imax - Imin) / Imax
        "critical_pct": 30.0,  # griddiag choice
        # only judged while the most loaded phase carries this share of rated current: at
        # light load a few single-phase customers make any ratio (utility practice)
        "min_load_pct": 60.0,
        "min_hours": 2.0,
        "max_gap_hours": 1.0,
        "exclude_below_pct": 60.0,  # phase loss is reported by phase_loss
        "standard": "Q/GDW 1519-2014 / DL/T 1102-2009 (State Grid operating practice: "
                    "unbalance (Imax - Imin) / Imax <= 15 %)",
        "voltage_class": "LV side of distribution transformers",
    },
    "transformer_load": {
        "asset_kinds": ["transformer"],
        "heavy_pct": 80.0,
        "overload_pct": 100.0,
        "min_hours": 2.0,
        "max_gap_hours": 0.0,  # a missing hour ends a run (as the load-rate statistics do)
        "standard": "State Grid distribution operation practice (配变重过载: load rate > 80 % "
                    "heavy, > 100 % overload, for >= 2 h); overload capability IEC 60076-7 / "
                    "GB/T 1094.7",
        "voltage_class": "distribution transformers 10(20)/0.4 kV",
    },
    "low_power_factor": {
        "asset_kinds": ["transformer"],
        "limit": 0.90,
        "critical_below": 0.80,  # griddiag choice
        "min_days": 3,  # griddiag choice: the assessment itself is monthly
        "max_gap_days": 3,
        "min_day_coverage": 0.5,  # share of a day's slots needed for its daily value
        "tz": "UTC",  # local day when the asset has no `tz`
        "standard": "功率因数调整电费办法 (1983) assessment standard 0.90; Q/GDW 1212-2015 "
                    "(State Grid reactive-power compensation practice)",
        "voltage_class": "distribution transformers 10(20)/0.4 kV",
    },
}


# --------------------------------------------------------------------------------------------
# parameters


def resolve_params(module: str, name: str, params: dict | None,
                   defaults: dict[str, dict]) -> dict:
    """Defaults overridden by ``params`` (nested tables key by key); unknown keys refused."""
    base = defaults[name]
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise ConfigError(f"[{module}.{name}] must be a table of parameters, got "
                          f"{type(params).__name__}")
    unknown = sorted(set(params) - set(base) - {"enabled"})
    if unknown:
        raise ConfigError(f"[{module}.{name}] has unknown key(s) {unknown}; valid keys are "
                          f"{sorted(base)} (see griddiag.detectors.{module}.DEFAULTS)")
    out = copy.deepcopy(base)
    for key, value in params.items():
        if key == "enabled":
            continue
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"[{module}.{name}.{key}] must be a table, got {value!r}")
            bad = sorted(set(value) - set(base[key]))
            if bad:
                raise ConfigError(f"[{module}.{name}.{key}] has unknown key(s) {bad}; valid "
                                  f"keys are {sorted(base[key])}")
            out[key].update(value)
        else:
            out[key] = value
    return out


def as_assets(assets: pl.DataFrame | None) -> pl.DataFrame:
    """The assets frame, or an empty one for ``None`` (no attributes known)."""
    return empty_assets() if assets is None else assets


def number(p: dict, key: str, *, low: float = -math.inf, high: float = math.inf,
           where: str = "") -> float:
    """``p[key]`` as a float in ``[low, high]`` or a ConfigError naming the key."""
    try:
        v = float(p[key])
    except (TypeError, ValueError):
        raise ConfigError(f"{where}{key} must be a number, got {p[key]!r}") from None
    if not (low <= v <= high):
        raise ConfigError(f"{where}{key} must lie in [{low}, {high}], got {v}")
    return v


# --------------------------------------------------------------------------------------------
# grid and events


@dataclass(frozen=True)
class Grid:
    """Series of several metrics per asset on that asset's regular grid.

    ``offsets`` delimit the assets (series ``i`` is ``[offsets[i], offsets[i + 1])``);
    ``ts_us`` is each slot's start in microseconds since the epoch (UTC); ``values[m]`` holds
    metric ``m`` per slot (NaN where the asset has no reading of it).
    """

    asset_id: np.ndarray
    offsets: np.ndarray
    step_us: np.ndarray
    ts_us: np.ndarray
    series: np.ndarray
    values: dict[str, np.ndarray]

    @property
    def n_series(self) -> int:
        return len(self.asset_id)

    def has(self, metric: str) -> np.ndarray:
        """Per series: whether the metric has at least one valid value."""
        v = np.isfinite(self.values[metric]).astype(np.int64)
        return per_series_sum(v, self.offsets) > 0


def per_series_sum(x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum of ``x`` within each series (0 for empty series)."""
    c = np.concatenate([[0], np.cumsum(x, dtype=np.float64 if x.dtype.kind == "f" else
                                       np.int64)])
    return c[offsets[1:]] - c[offsets[:-1]]


def build_grid(readings: pl.DataFrame | SortedReadings, metrics: list[str],
               asset_ids: list[str] | None = None) -> Grid:
    """Lay ``metrics`` of the given assets on each asset's regular grid (see module doc).

    Built from the batch's sorted arrays (:func:`griddiag.detectors.grid.sorted_readings`,
    no string work per reading) and kept on them: checks asking for the same series share
    one grid, whose arrays are read-only so no check can change another's input.
    """
    from griddiag.detectors.grid import sorted_readings

    sr = sorted_readings(readings)
    sel = sr.series(metrics, asset_ids)  # by asset code (= id order), then metric
    names = list(dict.fromkeys(metrics))
    if sel.size == 0:
        e = np.empty(0, dtype=np.int64)
        return Grid(np.empty(0, dtype=object), np.zeros(1, dtype=np.int64), e, e, e,
                    {m: np.empty(0) for m in names})
    return sr.shared(("electrical.build_grid", tuple(metrics), sel.tobytes()),
                     lambda: _grid_of(sr, sel, names))


def _grid_of(sr, sel: np.ndarray, names: list[str]) -> Grid:
    """:func:`build_grid` of the series ``sel`` (non-empty) of the batch's sorted arrays
    ``sr``, with the metrics ``names``."""
    from griddiag.kernels.slots import group_grids

    position = {m: j for j, m in enumerate(names)}
    column = np.array([position.get(m, -1) for m in sr.metrics.to_list()],
                      dtype=np.int64)[sr.series_metric[sel]]
    asset = sr.series_asset[sel]
    first = np.flatnonzero(np.diff(asset, prepend=-1))
    group_offsets = np.append(first, sel.size).astype(np.int64)
    t0, step, offsets, slots = group_grids(sr.t, sr.value, sr.row_offsets, sel, column,
                                           group_offsets, len(names), 3_600_000_000)
    series = np.repeat(np.arange(first.size, dtype=np.int64), np.diff(offsets))
    ts_us = t0[series] + (np.arange(offsets[-1], dtype=np.int64) - offsets[series]) * \
        step[series]
    slots.flags.writeable = False
    for arr in (offsets, step, ts_us, series):
        arr.flags.writeable = False
    return Grid(sr.ids.gather(asset[first]).to_numpy(), offsets, step, ts_us, series,
                {m: slots[j] for j, m in enumerate(names)})


def asset_column(grid: Grid, assets: pl.DataFrame, column: str, default=None) -> np.ndarray:
    """One attribute per series of the grid (``default`` where absent or null)."""
    ids = pl.DataFrame({"asset_id": pl.Series(grid.asset_id, dtype=pl.String)})
    if column in assets.columns:
        col = ids.join(assets.select("asset_id", column), on="asset_id", how="left")[column]
    else:
        col = pl.Series(column, [None] * grid.n_series)
    if default is not None:
        col = col.fill_null(default)
    return col.to_numpy()


def assets_of_kinds(assets: pl.DataFrame, kinds: list[str]) -> list[str] | None:
    """Asset ids of the given kinds; ``None`` (no filter) when the assets frame is empty."""
    if assets is None or assets.height == 0 or "kind" not in assets.columns:
        return None
    return assets.filter(pl.col("kind").is_in(list(kinds)))["asset_id"].to_list()


def bridge_missing(flags: np.ndarray, valid: np.ndarray, grid: Grid,
                   max_gap_minutes: float) -> np.ndarray:
    """``flags`` plus the missing slots lying in a gap of at most ``max_gap_minutes`` between
    two flagged slots of the same series (valid in-limit slots are never bridged).

    Read off the pairs of consecutive valid slots: the slots between a pair of one series
    are exactly one run of missing ones, so only the (few) bridged runs are written.
    """
    n = flags.shape[0]
    if n == 0 or max_gap_minutes <= 0:
        return flags
    at = np.flatnonzero(valid)
    k = np.flatnonzero(np.diff(at) > 1)  # a valid slot followed by missing ones
    a, b = at[k], at[k + 1]
    gap = b - a - 1
    ser = grid.series[a]
    max_slots = np.floor(max_gap_minutes * _US_PER_MIN / grid.step_us[ser])
    ok = (gap <= max_slots) & (grid.series[b] == ser) & flags[a] & flags[b]
    if not ok.any():
        return flags
    from griddiag.row_blocks import block_rows

    out = flags.copy()
    out[block_rows(a[ok] + 1, gap[ok])] = True
    return out


@dataclass(frozen=True)
class Events:
    """Events on a grid: indices into the grid's slots (``end`` exclusive)."""

    series: np.ndarray
    start: np.ndarray
    end: np.ndarray
    peak: np.ndarray

    def __len__(self) -> int:
        return len(self.series)

    def take(self, mask: np.ndarray) -> Events:
        return Events(self.series[mask], self.start[mask], self.end[mask], self.peak[mask])


def find_events(grid: Grid, flags: np.ndarray, scores: np.ndarray, valid: np.ndarray,
                max_gap_minutes: float, min_duration_minutes: float) -> Events:
    """Flags -> events (missing slots bridged), kept when they last ``min_duration``."""
    f = bridge_missing(flags, valid, grid, max_gap_minutes)
    sc = np.where(flags, scores, np.nan)
    ser, st, en, pk = flags_to_events(f, grid.offsets, sc)
    dur_us = (en - st) * grid.step_us[ser]
    keep = dur_us >= min_duration_minutes * _US_PER_MIN - 1
    return Events(ser[keep], st[keep], en[keep], pk[keep])


def window_stat(x: np.ndarray, ev: Events, how: str) -> np.ndarray:
    """``nanmin``/``nanmax``/``nanmean``/``count`` of ``x`` over each event's slots."""
    out = np.full(len(ev), np.nan)
    fn = {"min": np.nanmin, "max": np.nanmax, "mean": np.nanmean}.get(how)
    for i in range(len(ev)):  # one iteration per event, not per reading
        w = x[ev.start[i]:ev.end[i]]
        if how == "count":
            out[i] = np.isfinite(w).sum()
        elif np.isfinite(w).any():
            out[i] = fn(w)
    return out


def coverage(valid: np.ndarray, ev: Events) -> np.ndarray:
    c = np.concatenate([[0], np.cumsum(valid.astype(np.int64))])
    return (c[ev.end] - c[ev.start]) / np.maximum(ev.end - ev.start, 1)


def end_us(grid: Grid, ev: Events) -> np.ndarray:
    return grid.ts_us[ev.end - 1] + grid.step_us[ev.series]


def findings_frame(n: int, **cols) -> pl.DataFrame:
    """A findings frame of ``n`` rows: scalars are repeated, timestamps are int64 microseconds
    since the epoch (UTC), absent columns are null."""
    data = {}
    for name, dtype in FINDINGS_SCHEMA.items():
        v = cols.pop(name, None)
        if v is None or (np.ndim(v) == 0 and not isinstance(v, (list, np.ndarray))):
            s = pl.Series(name, [v] * n)
        else:
            s = pl.Series(name, list(v) if not isinstance(v, np.ndarray) else v)
        if dtype == FINDINGS_SCHEMA["start"]:
            s = s.cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        elif isinstance(dtype, pl.Float64):
            s = s.cast(pl.Float64).fill_nan(None) if s.dtype != pl.Null else s.cast(pl.Float64)
        data[name] = s.cast(dtype)
    if cols:
        raise ValueError(f"not finding columns: {sorted(cols)}")
    return pl.DataFrame(data, schema=FINDINGS_SCHEMA)


def rated_phase_current_a(rated_kva: np.ndarray, nominal_v: np.ndarray) -> np.ndarray:
    """Rated phase current of a three-phase transformer from its rating and the nominal of its
    voltage metrics (phase-to-neutral up to 1 kV, line-to-line above)."""
    v_phase = np.where(nominal_v <= 1000.0, nominal_v, nominal_v / math.sqrt(3.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return rated_kva * 1000.0 / (3.0 * v_phase)


def _three_phase(readings: pl.DataFrame, assets: pl.DataFrame, kinds: list[str],
                 extra: tuple[str, ...] = ()):
    """Phase voltages and currents on one grid, with each series' nominal voltage and rated
    phase current; ``None`` when no asset of ``kinds`` has any of the metrics.

    Returns ``(grid, v, i, nominal_v, rated_a)``: ``v`` and ``i`` are (3, slots) arrays in
    phase order a, b, c; ``nominal_v`` and ``rated_a`` are per series (index with
    ``grid.series`` for per-slot values).
    """
    vm = [f"voltage_v_{ph}" for ph in _PHASES]
    im = [f"current_a_{ph}" for ph in _PHASES]
    grid = build_grid(readings, vm + im + list(extra), assets_of_kinds(assets, kinds))
    if grid.n_series == 0:
        return None
    nominal_v = asset_column(grid, assets, "nominal_voltage_v").astype(np.float64)
    rated_a = rated_phase_current_a(
        asset_column(grid, assets, "rated_kva").astype(np.float64), nominal_v)
    v = np.vstack([grid.values[m] for m in vm])
    i = np.vstack([grid.values[m] for m in im])
    return grid, v, i, nominal_v, rated_a


def _fmt_h(minutes: float) -> str:
    h = minutes / 60.0
    return f"{h:.1f} h" if h < 48 else f"{h / 24.0:.1f} days"


def _duration_min(grid: Grid, ev: Events) -> np.ndarray:
    return (end_us(grid, ev) - grid.ts_us[ev.start]) / _US_PER_MIN


# --------------------------------------------------------------------------------------------
# voltage deviation


def _voltage_class(nominal: float, p: dict) -> dict:
    if nominal <= float(p["lv_single_phase"]["max_nominal_v"]):
        return p["lv_single_phase"]
    if nominal <= float(p["three_phase_20kv"]["max_nominal_v"]):
        return p["three_phase_20kv"]
    return p["hv_35kv"]


def detect_voltage_deviation(readings: pl.DataFrame, assets: pl.DataFrame,
                             params: dict | None = None) -> pl.DataFrame:
    """Supply voltage deviation per phase against GB/T 12325-2008 clause 4.

    Deviation ``(V - Un) / Un`` of each phase value; limits by voltage class (module doc):
    220 V single-phase +7 % / -10 % (§4.3), 20 kV and below three-phase +/-7 % (§4.2),
    35 kV and above +/-5 % by default (§4.1 bounds the sum of the absolute deviations at 10 %).
    Runs of values beyond a limit lasting ``min_hours`` become one finding per phase
    and direction (a sag and a swell are two findings). Values below ``exclude_below_pct`` of
    nominal are a lost phase, left to :func:`detect_phase_loss`.

    Each finding also gives the standard's statistic for its phase over the batch: the voltage
    compliance rate (电压合格率, GB/T 12325-2008 Annex A) = share of the monitored values
    within the limits (time-weighted, as every slot lasts one interval).

    ``observed`` is the extreme voltage (V), ``expected`` the nominal, ``magnitude`` their
    difference; ``score`` the excess beyond the limit in percentage points.
    """
    p = resolve_params("electrical", "voltage_deviation", params, DEFAULTS)
    assets = as_assets(assets)
    where = "[electrical.voltage_deviation] "
    min_dur = number(p, "min_hours", low=0, where=where) * 60.0
    max_gap = number(p, "max_gap_hours", low=0, where=where) * 60.0
    excl = number(p, "exclude_below_pct", low=0, high=100, where=where)
    crit = number(p, "critical_excess_pct", low=0, where=where)
    for key in ("lv_single_phase", "three_phase_20kv", "hv_35kv"):
        number(p[key], "upper_pct", low=0, where=f"[electrical.voltage_deviation.{key}] ")
        number(p[key], "lower_pct", high=0, where=f"[electrical.voltage_deviation.{key}] ")
    metrics = [f"voltage_v_{ph}" for ph in _PHASES]
    grid = build_grid(readings, metrics, assets_of_kinds(assets, p["asset_kinds"]))
    if grid.n_series == 0:
        return empty_findings()
    nominal = asset_column(grid, assets, "nominal_voltage_v").astype(np.float64)
    known = np.isfinite(nominal) & (nominal > 0)
    classes = [_voltage_class(float(v), p) if ok else None for v, ok in zip(nominal, known)]
    upper = np.array([c["upper_pct"] if c else np.nan for c in classes], dtype=float)
    lower = np.array([c["lower_pct"] if c else np.nan for c in classes], dtype=float)
    un = nominal[grid.series]
    frames = []
    for metric in metrics:
        v = grid.values[metric]
        with np.errstate(invalid="ignore", divide="ignore"):
            dev = (v - un) / un * 100.0
        valid = np.isfinite(dev) & (v >= excl / 100.0 * un)
        up = upper[grid.series]
        lo = lower[grid.series]
        # 1e-9 points of slack: 235.4 V is +7 % exactly, not +7.000000000000003 %
        high = valid & (dev > up + 1e-9)
        low = valid & (dev < lo - 1e-9)
        inside = valid & ~high & ~low
        n_ok = per_series_sum(inside.astype(np.int64), grid.offsets)
        n_all = per_series_sum(valid.astype(np.int64), grid.offsets)
        for flags, excess, sign in ((low, lo - dev, -1), (high, dev - up, 1)):
            ev = find_events(grid, flags, excess, np.isfinite(v), max_gap, min_dur)
            if not len(ev):
                continue
            s = ev.series
            extreme = window_stat(np.where(flags, v, np.nan), ev, "min" if sign < 0 else "max")
            exc = excess[ev.peak]
            dur = _duration_min(grid, ev)
            cls = [classes[i] for i in s]
            limit_v = np.where(sign < 0, lo[ev.start], up[ev.start]) / 100.0 * nominal[s] + \
                nominal[s]
            rate = n_ok[s] / np.maximum(n_all[s], 1) * 100.0
            word = "below" if sign < 0 else "above"
            reasons = [
                f"phase {metric[-1].upper()} {word} the {c['voltage_class']} limit "
                f"{lim:.1f} V ({(c['lower_pct'] if sign < 0 else c['upper_pct']):+g} % of "
                f"{un_:.0f} V) for {_fmt_h(d)}; extreme {x:.1f} V ({(x - un_) / un_ * 100:+.1f} %"
                f"); compliance rate of this phase {r:.2f} % of {int(na)} values within "
                f"limits ({p['compliance_standard']})"
                for c, lim, un_, d, x, r, na in zip(cls, limit_v, nominal[s], dur, extreme, rate,
                                                    n_all[s])
            ]
            action = ("check the transformer tap position (raise it), LV feeder length and "
                      "load; measure at the far-end customers" if sign < 0 else
                      "check the MV bus voltage and the transformer tap (lower it), capacitor "
                      "switching at light load")
            frames.append(findings_frame(
                len(ev), asset_id=grid.asset_id[s], metric=metric, kind="voltage_deviation",
                detector="electrical.voltage_deviation", start=grid.ts_us[ev.start],
                end=end_us(grid, ev), peak_ts=grid.ts_us[ev.peak],
                severity=np.where(exc >= crit, "critical", "warning"), score=exc,
                observed=extreme, expected=nominal[s], unit="V",
                magnitude=extreme - nominal[s], coverage=coverage(np.isfinite(v), ev),
                rule=[f"V {'<' if sign < 0 else '>'} {lim:.1f} V for >= {min_dur / 60:g} h"
                      for lim in limit_v],
                standard=[c["standard"] for c in cls], reason=reasons, action=action))
    return _concat(frames)


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return empty_findings()
    return pl.concat(frames).sort("asset_id", "start", "metric", "kind")


# --------------------------------------------------------------------------------------------
# voltage unbalance


def voltage_unbalance_pct(va: np.ndarray, vb: np.ndarray, vc: np.ndarray,
                          method: str = "nema_lvur") -> np.ndarray:
    """Voltage unbalance (%) from three voltage magnitudes.

    ``nema_lvur``: ``max |V_i - V_avg| / V_avg`` (NEMA MG 1 line-voltage unbalance rate, also
    IEEE 1159's definition); about the negative-sequence factor for small unbalance, and the
    usual approximation when phase angles are not measured.

    ``gbt15543_magnitudes``: GB/T 15543-2008 Annex A (IEC 61000-4-30) from three magnitudes,
    ``sqrt((1 - sqrt(3 - 6 L)) / (1 + sqrt(3 - 6 L)))`` with
    ``L = (a^4 + b^4 + c^4) / (a^2 + b^2 + c^2)^2``: exact for line-to-line magnitudes (no
    zero sequence); applied to phase-to-neutral magnitudes it ignores the zero sequence.
    """
    if method == "nema_lvur":
        m = (va + vb + vc) / 3.0
        dev = np.maximum(np.maximum(np.abs(va - m), np.abs(vb - m)), np.abs(vc - m))
        with np.errstate(invalid="ignore", divide="ignore"):
            return dev / m * 100.0
    if method == "gbt15543_magnitudes":
        with np.errstate(invalid="ignore", divide="ignore"):
            s2 = va * va + vb * vb + vc * vc
            el = (va ** 4 + vb ** 4 + vc ** 4) / (s2 * s2)
            r = np.sqrt(np.clip(3.0 - 6.0 * el, 0.0, None))
            return np.sqrt(np.clip((1.0 - r) / (1.0 + r), 0.0, None)) * 100.0
    raise ConfigError(f"[electrical.voltage_unbalance] method must be 'nema_lvur' or "
                      f"'gbt15543_magnitudes', got {method!r}")


def detect_voltage_unbalance(readings: pl.DataFrame, assets: pl.DataFrame,
                             params: dict | None = None) -> pl.DataFrame:
    """Three-phase voltage unbalance against GB/T 15543-2008 §4.1 (2 % normal, 4 % short-time).

    Only magnitudes are measured, so the negative-sequence unbalance is approximated
    (:func:`voltage_unbalance_pct`; default NEMA LVUR, max deviation from the mean / mean).
    Runs above ``limit_pct`` for ``min_hours`` are findings; above
    ``short_time_limit_pct`` at any time they are critical. Slots with a phase below
    ``exclude_below_pct`` of nominal are a lost phase (:func:`detect_phase_loss`).

    The reason gives the standard's statistics over the batch for the asset: the 95th
    percentile of the unbalance (against 2 %) and its maximum (against 4 %). The standard
    states them for 10-min values over a week; with hourly values they are an approximation.
    ``metric`` is the phase furthest from the mean at the peak.
    """
    p = resolve_params("electrical", "voltage_unbalance", params, DEFAULTS)
    assets = as_assets(assets)
    where = "[electrical.voltage_unbalance] "
    lim = number(p, "limit_pct", low=0, where=where)
    short = number(p, "short_time_limit_pct", low=0, where=where)
    min_dur = number(p, "min_hours", low=0, where=where) * 60.0
    max_gap = number(p, "max_gap_hours", low=0, where=where) * 60.0
    excl = number(p, "exclude_below_pct", low=0, high=100, where=where)
    metrics = [f"voltage_v_{ph}" for ph in _PHASES]
    grid = build_grid(readings, metrics, assets_of_kinds(assets, p["asset_kinds"]))
    if grid.n_series == 0:
        return empty_findings()
    va, vb, vc = (grid.values[m] for m in metrics)
    u = voltage_unbalance_pct(va, vb, vc, p["method"])
    nominal = asset_column(grid, assets, "nominal_voltage_v").astype(np.float64)[grid.series]
    floor = np.where(np.isfinite(nominal), excl / 100.0 * nominal, 0.0)
    with np.errstate(invalid="ignore"):
        lost = (va < floor) | (vb < floor) | (vc < floor)
    valid = np.isfinite(u) & ~lost
    flags = valid & (u > lim)
    ev = find_events(grid, flags, u, np.isfinite(u), max_gap, min_dur)
    if not len(ev):
        return empty_findings()
    s = ev.series
    # per asset statistics of the standard (over valid slots)
    uu = np.where(valid, u, np.nan)
    p95 = np.full(grid.n_series, np.nan)
    umax = np.full(grid.n_series, np.nan)
    for i in np.unique(s):  # per asset with a finding
        w = uu[grid.offsets[i]:grid.offsets[i + 1]]
        if np.isfinite(w).any():
            p95[i] = np.nanpercentile(w, 95)
            umax[i] = np.nanmax(w)
    peak_u = u[ev.peak]
    mean_u = window_stat(np.where(flags, u, np.nan), ev, "mean")
    m3 = np.vstack([va, vb, vc])[:, ev.peak]
    far = np.argmax(np.abs(m3 - m3.mean(axis=0)), axis=0)
    low_phase = np.argmin(m3, axis=0)
    dur = _duration_min(grid, ev)
    method = ("max deviation from the three-phase mean / mean (NEMA LVUR approximation of "
              "the negative-sequence unbalance from magnitudes)" if p["method"] == "nema_lvur"
              else "GB/T 15543-2008 Annex A formula on the three magnitudes (zero sequence "
                   "ignored)")
    reasons = [
        f"voltage unbalance above {lim:g} % for {_fmt_h(d)}: mean {mu:.2f} %, peak {pk:.2f} % "
        f"(phase {_PHASES[lp].upper()} lowest); asset's 95th percentile {q:.2f} % (limit "
        f"{lim:g} %), maximum {mx:.2f} % (short-time limit {short:g} %); unbalance = {method}"
        for d, mu, pk, lp, q, mx in zip(dur, mean_u, peak_u, low_phase, p95[s], umax[s])
    ]
    return findings_frame(
        len(ev), asset_id=grid.asset_id[s], metric=[f"voltage_v_{_PHASES[k]}" for k in far],
        kind="voltage_unbalance", detector="electrical.voltage_unbalance",
        start=grid.ts_us[ev.start], end=end_us(grid, ev), peak_ts=grid.ts_us[ev.peak],
        severity=np.where(peak_u > short, "critical", "warning"), score=peak_u,
        observed=mean_u, expected=lim, unit="%", magnitude=mean_u,
        coverage=coverage(np.isfinite(u), ev),
        rule=f"unbalance > {lim:g} % for >= {min_dur / 60:g} h (critical > {short:g} %)",
        standard=p["standard"], reason=reasons,
        action="check single-phase load distribution and neutral connection (a floating or "
               "high-resistance neutral shifts the phase voltages); rebalance customers "
               "across phases")


# --------------------------------------------------------------------------------------------
# loss of voltage / phase break / loss of current


def detect_phase_loss(readings: pl.DataFrame, assets: pl.DataFrame,
                      params: dict | None = None) -> pl.DataFrame:
    """One phase without voltage or without current while another phase is healthy.

    Per phase ``x`` and slot, with ``Un`` the nominal and ``Ir`` the rated phase current:

    - ``phase_loss`` (断相, phase break: blown fuse, broken conductor): ``V_x < break_pct``
      of ``Un``, the phase current ~0 (or not measured) and another phase at
      ``>= healthy_pct`` of ``Un``;
    - ``voltage_loss`` (失压, loss of voltage with load flowing: the terminal's or meter's
      voltage circuit is open): ``V_x < voltage_loss_pct`` of ``Un`` while the phase still
      carries current and another phase is healthy;
    - ``current_loss`` (失流, loss of current: CT circuit open or shorted, bypass):
      ``V_x >= current_loss_min_voltage_pct`` of ``Un``, ``I_x`` ~0 and another phase carrying
      ``>= load_current_pct`` of ``Ir``. Only judged where ``Ir`` is known (``rated_kva``).

    "~0" is ``<= max(zero_current_pct of Ir, zero_current_min_a)``. Thresholds are the default
    event thresholds of State Grid smart-meter specifications (Q/GDW 1354-2013), used here on
    transformer-terminal data as State Grid practice does.
    """
    p = resolve_params("electrical", "phase_loss", params, DEFAULTS)
    assets = as_assets(assets)
    where = "[electrical.phase_loss] "
    brk = number(p, "break_pct", low=0, high=100, where=where) / 100.0
    vloss = number(p, "voltage_loss_pct", low=0, high=100, where=where) / 100.0
    healthy = number(p, "healthy_pct", low=0, where=where) / 100.0
    cl_v = number(p, "current_loss_min_voltage_pct", low=0, where=where) / 100.0
    zero_pct = number(p, "zero_current_pct", low=0, where=where) / 100.0
    zero_a = number(p, "zero_current_min_a", low=0, where=where)
    load_pct = number(p, "load_current_pct", low=0, where=where) / 100.0
    min_dur = number(p, "min_hours", low=0, where=where) * 60.0
    max_gap = number(p, "max_gap_hours", low=0, where=where) * 60.0
    vm = [f"voltage_v_{ph}" for ph in _PHASES]
    im = [f"current_a_{ph}" for ph in _PHASES]
    phases = _three_phase(readings, assets, p["asset_kinds"])
    if phases is None:
        return empty_findings()
    grid, v, i, un_s, ir_s = phases
    un = un_s[grid.series]
    ir = ir_s[grid.series]
    zero_i = np.where(np.isfinite(ir), np.maximum(zero_pct * ir, zero_a), zero_a)
    with np.errstate(invalid="ignore"):
        v_ok = v >= healthy * un
        i_zero = i <= zero_i
        i_flow = i > zero_i
        i_load = i >= load_pct * ir
    frames = []
    for k, ph in enumerate(_PHASES):
        others = [j for j in range(3) if j != k]
        other_healthy = v_ok[others[0]] | v_ok[others[1]]
        other_load = i_load[others[0]] | i_load[others[1]]
        vk, ik = v[k], i[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            depth = 1.0 - vk / un  # score: how far the voltage fell
        no_current = i_zero[k] | ~np.isfinite(ik)
        cases = (
            ("phase_loss", vm[k], np.isfinite(vk) & (vk < brk * un) & no_current &
             other_healthy, depth, np.isfinite(vk)),
            ("voltage_loss", vm[k], np.isfinite(vk) & (vk < vloss * un) & i_flow[k] &
             other_healthy, depth, np.isfinite(vk)),
            ("current_loss", im[k], np.isfinite(vk) & (vk >= cl_v * un) & i_zero[k] &
             other_load & np.isfinite(ir), np.nan_to_num(
                 np.maximum(i[others[0]], i[others[1]]) / ir, nan=0.0), np.isfinite(ik)),
        )
        for kind, metric, flags, score, valid in cases:
            ev = find_events(grid, flags, score, valid, max_gap, min_dur)
            if not len(ev):
                continue
            s = ev.series
            dur = _duration_min(grid, ev)
            mean_v = window_stat(np.where(flags, vk, np.nan), ev, "mean")
            mean_i = window_stat(np.where(flags, ik, np.nan), ev, "mean")
            other_i = window_stat(np.where(flags, np.fmax(i[others[0]], i[others[1]]), np.nan),
                                  ev, "mean")
            other_v = window_stat(np.where(flags, np.fmax(v[others[0]], v[others[1]]), np.nan),
                                  ev, "mean")
            if kind == "phase_loss":
                obs, exp, unit = mean_v, un_s[s], "V"
                reasons = [
                    f"phase {ph.upper()} voltage {mv:.1f} V ({mv / u * 100:.0f} % of {u:.0f} V, "
                    f"below {brk * 100:g} %) with "
                    f"{f'{mi:.1f} A' if np.isfinite(mi) else 'no current measured'}"
                    f" for {_fmt_h(d)} while another phase is at {ov:.1f} V: phase break "
                    f"(断相), e.g. a blown fuse or broken conductor"
                    for mv, u, mi, d, ov in zip(mean_v, un_s[s], mean_i, dur, other_v)]
                action = ("restore the phase: check the LV fuse/breaker and the conductor of "
                          f"phase {ph.upper()}; single-phase customers on it are without supply")
                rule = f"V < {brk * 100:g} % Un, I ~0, another phase >= {healthy * 100:g} % Un"
                sev = "critical"
            elif kind == "voltage_loss":
                obs, exp, unit = mean_v, un_s[s], "V"
                reasons = [
                    f"phase {ph.upper()} voltage {mv:.1f} V (below {vloss * 100:g} % of "
                    f"{u:.0f} V) while it carries {mi:.1f} A, for {_fmt_h(d)}: loss of voltage "
                    f"(失压) in the measuring circuit (voltage connection of the terminal or "
                    f"meter), energy of this phase is not recorded"
                    for mv, u, mi, d in zip(mean_v, un_s[s], mean_i, dur)]
                action = (f"check the voltage connection (terminal block, fuse, wiring) of "
                          f"phase {ph.upper()} at the metering point")
                rule = (f"V < {vloss * 100:g} % Un with current flowing, another phase >= "
                        f"{healthy * 100:g} % Un")
                sev = "critical"
            else:
                obs, exp, unit = mean_i, ir_s[s], "A"
                reasons = [
                    f"phase {ph.upper()} current {mi:.2f} A (~0) at {mv:.1f} V while another "
                    f"phase carries {oi:.1f} A ({oi / r * 100:.0f} % of rated {r:.1f} A), for "
                    f"{_fmt_h(d)}: loss of current (失流) - CT open/short circuit, wiring "
                    f"fault or bypass"
                    for mi, mv, oi, r, d in zip(mean_i, mean_v, other_i, ir_s[s], dur)]
                action = (f"check the current transformer and secondary wiring of phase "
                          f"{ph.upper()}; look for a bypass (possible theft)")
                rule = (f"I <= max({zero_pct * 100:g} % Ir, {zero_a:g} A) at V >= "
                        f"{cl_v * 100:g} % Un, another phase >= {load_pct * 100:g} % Ir")
                sev = "critical"
            frames.append(findings_frame(
                len(ev), asset_id=grid.asset_id[s], metric=metric, kind=kind,
                detector="electrical.phase_loss", start=grid.ts_us[ev.start],
                end=end_us(grid, ev), peak_ts=grid.ts_us[ev.peak], severity=sev,
                score=score[ev.peak], observed=obs, expected=exp, unit=unit,
                magnitude=obs - exp, coverage=coverage(valid, ev), rule=rule,
                standard=p["standard"], reason=reasons, action=action))
    return _concat(frames)


# --------------------------------------------------------------------------------------------
# current unbalance


def detect_current_unbalance(readings: pl.DataFrame, assets: pl.DataFrame,
                             params: dict | None = None) -> pl.DataFrame:
    """Three-phase load-current unbalance of distribution transformers.

    ``(I_max - I_min) / I_max`` (the unbalance degree of State Grid's distribution operating
    rules, limit 15 %), judged only while the most loaded phase carries at least
    ``min_load_pct`` of the rated phase current: on a lightly loaded residential transformer a
    handful of single-phase customers makes any ratio, and the rule is about winding and
    neutral heating under load. Slots with a lost phase are left to :func:`detect_phase_loss`.
    The reason also gives the neutral current against the rated current (DL/T 572-2010 caps
    it at 25 % for Yyn0 and 40 % for Dyn11 transformers).
    """
    p = resolve_params("electrical", "current_unbalance", params, DEFAULTS)
    assets = as_assets(assets)
    where = "[electrical.current_unbalance] "
    lim = number(p, "limit_pct", low=0, high=100, where=where)
    crit = number(p, "critical_pct", low=0, where=where)
    min_load = number(p, "min_load_pct", low=0, where=where) / 100.0
    min_dur = number(p, "min_hours", low=0, where=where) * 60.0
    max_gap = number(p, "max_gap_hours", low=0, where=where) * 60.0
    excl = number(p, "exclude_below_pct", low=0, high=100, where=where) / 100.0
    im = [f"current_a_{ph}" for ph in _PHASES]
    phases = _three_phase(readings, assets, p["asset_kinds"], extra=("current_a_n",))
    if phases is None:
        return empty_findings()
    grid, v, i, un_s, ir_s = phases
    ir = ir_s[grid.series]
    un = un_s[grid.series]
    imax = i.max(axis=0)  # NaN if any phase is missing
    imin = i.min(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (imax - imin) / imax * 100.0
        lost = (v < excl * un).any(axis=0)
        loaded = imax >= min_load * ir
    valid = np.isfinite(ratio) & ~lost
    flags = valid & loaded & (ratio > lim)
    ev = find_events(grid, flags, ratio, np.isfinite(ratio), max_gap, min_dur)
    if not len(ev):
        return empty_findings()
    s = ev.series
    mean_r = window_stat(np.where(flags, ratio, np.nan), ev, "mean")
    peak_r = ratio[ev.peak]
    inn = grid.values["current_a_n"]
    n_max = window_stat(np.where(flags, inn, np.nan), ev, "max")
    load_max = window_stat(np.where(flags, imax, np.nan), ev, "max")
    dur = _duration_min(grid, ev)
    heavy = np.argmax(i[:, ev.peak], axis=0)
    light = np.argmin(i[:, ev.peak], axis=0)
    reasons = [
        f"current unbalance (Imax - Imin) / Imax {mr:.0f} % on average (peak {pr:.0f} %) for "
        f"{_fmt_h(d)} while loaded up to {lm:.0f} A = {lm / r * 100:.0f} % of rated {r:.0f} A; "
        f"phase {_PHASES[h].upper()} heaviest, {_PHASES[lt].upper()} lightest; "
        + (f"neutral current up to {nm:.0f} A = {nm / r * 100:.0f} % of rated (DL/T 572-2010 "
           f"limit 25 % Yyn0, 40 % Dyn11)" if np.isfinite(nm) else "neutral current not "
                                                                   "measured")
        for mr, pr, d, lm, r, h, lt, nm in zip(mean_r, peak_r, dur, load_max, ir_s[s], heavy,
                                               light, n_max)]
    return findings_frame(
        len(ev), asset_id=grid.asset_id[s], metric=[im[h] for h in heavy],
        kind="current_unbalance", detector="electrical.current_unbalance",
        start=grid.ts_us[ev.start], end=end_us(grid, ev), peak_ts=grid.ts_us[ev.peak],
        severity=np.where(peak_r >= crit, "critical", "warning"), score=peak_r,
        observed=mean_r, expected=lim, unit="%", magnitude=mean_r - lim,
        coverage=coverage(np.isfinite(ratio), ev),
        rule=f"(Imax - Imin) / Imax > {lim:g} % while Imax >= {min_load * 100:g} % of rated, "
             f"for >= {min_dur / 60:g} h",
        standard=p["standard"], reason=reasons,
        action="move single-phase customers from the heaviest to the lightest phase; check "
               "the neutral conductor and its connections")


# --------------------------------------------------------------------------------------------
# heavy load and overload


def detect_transformer_load(readings: pl.DataFrame, assets: pl.DataFrame,
                            params: dict | None = None) -> pl.DataFrame:
    """Transformer heavy load (> 80 %) and overload (> 100 % of ``rated_kva``), sustained.

    Load rate = ``load_kva / rated_kva`` (where ``load_kva`` is missing:
    ``sum(V_x * I_x) / 1000``). A run of slots above ``overload_pct`` lasting
    ``min_hours`` is an ``overload`` finding (critical); a run above ``heavy_pct``
    that long which contains no overload finding is a ``heavy_load`` finding (warning) - the
    overload finding's reason gives the heavy-load span around it, so one excursion reads as one
    event. Transformers without ``rated_kva`` are skipped.
    """
    p = resolve_params("electrical", "transformer_load", params, DEFAULTS)
    assets = as_assets(assets)
    where = "[electrical.transformer_load] "
    heavy = number(p, "heavy_pct", low=0, where=where) / 100.0
    over = number(p, "overload_pct", low=0, where=where) / 100.0
    min_dur = number(p, "min_hours", low=0, where=where) * 60.0
    max_gap = number(p, "max_gap_hours", low=0, where=where) * 60.0
    metrics = ["load_kva", "oil_temp_c"] + [f"voltage_v_{ph}" for ph in _PHASES] + \
        [f"current_a_{ph}" for ph in _PHASES]
    grid = build_grid(readings, metrics, assets_of_kinds(assets, p["asset_kinds"]))
    if grid.n_series == 0:
        return empty_findings()
    rated_s = asset_column(grid, assets, "rated_kva").astype(np.float64)
    rated = rated_s[grid.series]
    load = grid.values["load_kva"]
    vi = sum(grid.values[f"voltage_v_{ph}"] * grid.values[f"current_a_{ph}"]
             for ph in _PHASES) / 1000.0
    derived = ~np.isfinite(load) & np.isfinite(vi)
    load = np.where(derived, vi, load)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = load / rated
    valid = np.isfinite(rate)
    frames = []
    f_over = valid & (rate > over)
    f_heavy = valid & (rate > heavy)
    ev_o = find_events(grid, f_over, rate, valid, max_gap, min_dur)
    ev_h = find_events(grid, f_heavy, rate, valid, max_gap, min_dur)
    # heavy-load runs holding an overload finding are told by that finding
    hs = np.repeat(-1, grid.ts_us.shape[0])
    for k in range(len(ev_h)):
        hs[ev_h.start[k]:ev_h.end[k]] = k
    has_over = np.zeros(len(ev_h), dtype=bool)
    span = np.full(len(ev_o), -1)
    for k in range(len(ev_o)):
        j = hs[ev_o.start[k]]
        if j >= 0:
            has_over[j] = True
            span[k] = j
    oil = grid.values["oil_temp_c"]
    for kind, ev in (("overload", ev_o), ("heavy_load", ev_h.take(~has_over))):
        if not len(ev):
            continue
        s = ev.series
        peak = load[ev.peak]
        dur = _duration_min(grid, ev)
        mean_rate = window_stat(rate, ev, "mean")
        oil_max = window_stat(oil, ev, "max")
        src = ["; load from V x I (load_kva missing)" if derived[ev.start[k]:ev.end[k]].any()
               else "" for k in range(len(ev))]
        if kind == "overload":
            hspan = [(_fmt_h(((grid.ts_us[ev_h.end[j] - 1] + grid.step_us[ev_h.series[j]])
                              - grid.ts_us[ev_h.start[j]]) / _US_PER_MIN)) if j >= 0 else None
                     for j in span]
            reasons = [
                f"load above {over * 100:g} % of the {r:g} kVA rating for {_fmt_h(d)}: peak "
                f"{pk:.1f} kVA ({pk / r * 100:.0f} %), mean {mr * 100:.0f} %"
                + (f"; above {heavy * 100:g} % for {hs_} around it" if hs_ else "")
                + (f"; top-oil up to {om:.1f} degC" if np.isfinite(om) else "") + sr
                for r, d, pk, mr, hs_, om, sr in zip(rated_s[s], dur, peak, mean_rate, hspan,
                                                    oil_max, src)]
            sev, lim = "critical", over
            action = ("shift load or add capacity (a larger or second transformer); check "
                      "top-oil/winding temperature against IEC 60076-7 loading limits")
        else:
            reasons = [
                f"load above {heavy * 100:g} % of the {r:g} kVA rating for {_fmt_h(d)}: peak "
                f"{pk:.1f} kVA ({pk / r * 100:.0f} %), mean {mr * 100:.0f} %"
                + (f"; top-oil up to {om:.1f} degC" if np.isfinite(om) else "") + sr
                for r, d, pk, mr, om, sr in zip(rated_s[s], dur, peak, mean_rate, oil_max, src)]
            sev, lim = "warning", heavy
            action = "plan capacity (load growth); watch for overload in the next peak season"
        frames.append(findings_frame(
            len(ev), asset_id=grid.asset_id[s], metric="load_kva", kind=kind,
            detector="electrical.transformer_load", start=grid.ts_us[ev.start],
            end=end_us(grid, ev), peak_ts=grid.ts_us[ev.peak], severity=sev,
            score=rate[ev.peak], observed=peak, expected=rated_s[s], unit="kVA",
            magnitude=peak - rated_s[s], coverage=coverage(valid, ev),
            rule=f"load_kva > {lim * 100:g} % of rated_kva for >= {min_dur / 60:g} h",
            standard=p["standard"], reason=reasons, action=action))
    return _concat(frames)


# --------------------------------------------------------------------------------------------
# low power factor


def local_day_index(ts_us: np.ndarray, tz) -> np.ndarray:
    """Days since 1970-01-01 of each instant (UTC microseconds) in its local time zone.

    ``tz`` is one zone name or an array of one zone per instant. Every zone's UTC offset
    changes only on a quarter hour, so the offset is looked up on a 15-minute lattice over the
    instants' span (one conversion per lattice point, then one index per reading).
    """
    ts_us = np.asarray(ts_us, dtype=np.int64)
    out = np.empty(ts_us.shape[0], dtype=np.int64)
    if isinstance(tz, str):
        groups = [(tz, slice(None))]
    else:
        tz = np.asarray(tz).astype(str)
        groups = [(z, tz == z) for z in np.unique(tz)]
    from griddiag.detectors.grid import _utc_offsets_us

    for zone, sel in groups:  # one pass per distinct zone
        t = ts_us[sel]
        if t.size == 0:
            continue
        try:  # the zone's UTC offset on a 15-minute lattice: one conversion per lattice point
            first, offset = _utc_offsets_us(str(zone), int(t.min()), int(t.max()))
        except Exception as exc:  # polars raises ComputeError for unknown zones
            raise ConfigError(f"unknown time zone {zone!r} (asset tz or params tz); use an "
                              f"IANA name such as 'Asia/Shanghai'") from exc
        out[sel] = (t + offset[(t - first) // 900_000_000]) // _US_PER_DAY
    return out


def day_start_us(day: np.ndarray, tz: np.ndarray) -> np.ndarray:
    """UTC microseconds of local midnight of ``day`` (days since epoch) in zone ``tz``."""
    out = np.empty(day.shape[0], dtype=np.int64)
    for zone in np.unique(tz):
        sel = tz == zone
        s = (pl.Series(day[sel].astype(np.int32)).cast(pl.Date).cast(pl.Datetime("us"))
             .dt.replace_time_zone(str(zone), ambiguous="earliest", non_existent="null")
             .dt.convert_time_zone("UTC").dt.epoch("us"))
        out[sel] = s.to_numpy()
    return out


def detect_low_power_factor(readings: pl.DataFrame, assets: pl.DataFrame,
                            params: dict | None = None) -> pl.DataFrame:
    """Sustained low power factor: energy-weighted daily power factor below ``limit``.

    The daily value is ``sum(P) / sum(S)`` over the local day (``active_power_kw`` and
    ``load_kva``; where either is missing, the mean of ``|power_factor|``): the ratio of
    active to apparent energy, which is what the monthly assessment of the power-factor
    adjustment rules (功率因数调整电费办法, standard 0.90) measures, so light-load hours with a
    naturally lower factor weigh little. Consecutive low days (gaps up to ``max_gap_days``
    bridged) lasting ``min_days`` are one finding. Local days follow the asset's ``tz`` (else
    ``params["tz"]``).
    """
    p = resolve_params("electrical", "low_power_factor", params, DEFAULTS)
    assets = as_assets(assets)
    where = "[electrical.low_power_factor] "
    lim = number(p, "limit", low=0, high=1, where=where)
    crit = number(p, "critical_below", low=0, high=1, where=where)
    min_days = number(p, "min_days", low=1, where=where)
    max_gap = number(p, "max_gap_days", low=0, where=where)
    min_cov = number(p, "min_day_coverage", low=0, high=1, where=where)
    grid = build_grid(readings, ["power_factor", "active_power_kw", "load_kva"],
                      assets_of_kinds(assets, p["asset_kinds"]))
    if grid.n_series == 0:
        return empty_findings()
    tz_s = asset_column(grid, assets, "tz", default=p["tz"]).astype(str)
    zones = np.unique(tz_s)  # one zone per batch, usually: no zone name per slot then
    day = local_day_index(grid.ts_us, str(zones[0]) if zones.size == 1 else tz_s[grid.series])
    pf = np.abs(grid.values["power_factor"])
    pw = np.abs(grid.values["active_power_kw"])
    sv = grid.values["load_kva"]
    both = np.isfinite(pw) & np.isfinite(sv)
    df = pl.DataFrame({
        "series": grid.series, "day": day, "pf": pf,
        "p": np.where(both, pw, np.nan), "s": np.where(both, sv, np.nan),
        "step": grid.step_us[grid.series],
    }).with_columns(pl.col("pf", "p", "s").fill_nan(None))
    daily = (df.group_by("series", "day").agg(
        p=pl.col("p").sum(), s=pl.col("s").sum(), n_ps=pl.col("p").count(),
        pf=pl.col("pf").mean(), n_pf=pl.col("pf").count(), step=pl.col("step").first())
        .sort("series", "day"))
    expected = (_US_PER_DAY / daily["step"].to_numpy())
    n_ps = daily["n_ps"].to_numpy()
    n_pf = daily["n_pf"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = (daily["p"].cast(pl.Float64).to_numpy()
                    / daily["s"].cast(pl.Float64).to_numpy())
    use_w = n_ps >= np.maximum(n_pf, 1) * 0.9
    value = np.where(use_w, weighted, daily["pf"].cast(pl.Float64).fill_null(np.nan).to_numpy())
    cov = np.where(use_w, n_ps, n_pf) / expected
    ser_d = daily["series"].to_numpy()
    value = np.where(cov >= min_cov, value, np.nan)
    # days on a regular daily grid per series
    dday = daily["day"].to_numpy()
    first = np.full(grid.n_series, np.iinfo(np.int64).max)
    last = np.full(grid.n_series, np.iinfo(np.int64).min)
    np.minimum.at(first, ser_d, dday)
    np.maximum.at(last, ser_d, dday)
    present = first <= last
    n_days = np.where(present, last - first + 1, 0)
    off = offsets_from_lengths(n_days)
    dser = np.repeat(np.arange(grid.n_series), n_days)
    dval = np.full(off[-1], np.nan)
    dval[off[ser_d] + dday - first[ser_d]] = value
    dweighted = np.zeros(off[-1], dtype=bool)
    dweighted[off[ser_d] + dday - first[ser_d]] = use_w
    ddays = first[dser] + np.arange(off[-1]) - off[dser]
    dgrid = Grid(grid.asset_id, off, np.full(grid.n_series, _US_PER_DAY), ddays * _US_PER_DAY,
                 dser, {"pf": dval})
    valid = np.isfinite(dval)
    flags = valid & (dval < lim)
    ev = find_events(dgrid, flags, lim - dval, valid, max_gap * 1440.0, min_days * 1440.0)
    if not len(ev):
        return empty_findings()
    s = ev.series
    tz_e = tz_s[s]
    start = day_start_us(ddays[ev.start], tz_e)
    end = day_start_us(ddays[ev.end - 1] + 1, tz_e)
    peak = day_start_us(ddays[ev.peak], tz_e)
    mean_pf = window_stat(np.where(flags, dval, np.nan), ev, "mean")
    min_pf = dval[ev.peak]
    n_low = window_stat(np.where(flags, 1.0, np.nan), ev, "count")
    reasons = [
        f"power factor below {lim:.2f} on {int(nl)} days over {int(e - st)} days: mean daily "
        f"{m:.3f}, lowest {mn:.3f} ("
        + ("energy-weighted: daily sum(P) / sum(S)" if w else "daily mean of |power_factor|")
        + f"); the power-factor assessment standard is {lim:.2f}"
        for nl, e, st, m, mn, w in zip(n_low, ev.end, ev.start, mean_pf, min_pf,
                                       dweighted[ev.peak])]
    return findings_frame(
        len(ev), asset_id=grid.asset_id[s], metric="power_factor", kind="low_power_factor",
        detector="electrical.low_power_factor", start=start, end=end, peak_ts=peak,
        severity=np.where(mean_pf < crit, "critical", "warning"), score=lim - mean_pf,
        observed=mean_pf, expected=lim, unit="1", magnitude=mean_pf - lim,
        coverage=coverage(valid, ev),
        rule=f"daily sum(P)/sum(S) < {lim:.2f} for >= {min_days:g} days",
        standard=p["standard"], reason=reasons,
        action="check the reactive compensation (capacitor bank: fuses, contactors, controller "
               "setting) and for new inductive load")


#: Detector functions of this module by profile name (``[electrical.<name>]``).
DETECTORS = {
    "voltage_deviation": detect_voltage_deviation,
    "voltage_unbalance": detect_voltage_unbalance,
    "phase_loss": detect_phase_loss,
    "current_unbalance": detect_current_unbalance,
    "transformer_load": detect_transformer_load,
    "low_power_factor": detect_low_power_factor,
}
