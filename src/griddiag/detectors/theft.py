"""Transformer-area energy balance (line loss) and per-customer theft risk.

Both detectors work on whole transformer areas (台区: a transformer and every meter whose
``parent_id`` is that transformer), which is why a batch of the inspection job holds whole
areas. Signatures are those of :mod:`griddiag.detectors.electrical`:
``detect_<name>(readings, assets, params) -> findings`` (``readings`` a frame or the batch's
sorted arrays), ``params`` the profile's
``[theft.<name>]`` table over :data:`DEFAULTS`.

Energy balance
--------------
Daily line-loss rate of an area (台区线损率) ``= (E_T - sum_m E_m) / E_T`` with ``E_T`` the
energy the transformer supplied and ``E_m`` its meters' energy, on the local day of the
transformer's ``tz``. The transformer's energy is taken from, in order: its own
``energy_kwh`` (a metering point on the LV side), ``active_power_kw`` x interval, or
``load_kva x |power_factor|`` x interval. A terminal reporting hourly sends one instantaneous
value per hour (State Grid's 24-point curves), so summing it over a day carries a sampling
error of several percent of a residential area's energy; griddiag therefore compares *like
with like* ("matched sampling"): each transformer value ``P(t)`` is compared with the
meters' energy of the interval containing ``t``, scaled to the transformer's interval, and a
day's rate uses only instants where the transformer and every meter of the area have a value
(a meter's gap would otherwise read as loss). With transformer interval energy the meters'
intervals inside each transformer interval are summed instead.

The rate is smoothed with a centred rolling median (``smooth_days``) so a single day of bad
meter data (a spike, a short gap) does not make a finding, and flagged when it is above
``high_limit_pct`` (State Grid treats 0-10 % as the reasonable range of an LV area), negative
(负损: meters read more than the transformer supplied: wrong meter-to-transformer mapping
(户变关系), CT ratio or clock), or ``rise_pct_points`` above the area's own normal level (its
``baseline_quantile`` over the batch). Meters whose registered share of the area's energy falls
when the loss rises, by an amount that explains a good part of the rise, are named as suspects.

Theft risk
----------
Per meter: the strongest downward level shift of its share of the energy the transformer
supplied (:func:`griddiag.kernels.level_shift` on daily values), and features at that onset:
the drop against its own history and against its peers (share), whether the area's loss rose
by about the energy the meter stopped registering (the signature of theft, as opposed to a
vacancy, where the transformer sees the drop too), zero consumption after normal use and the
loss of the weekly cycle. The rule on these features makes the finding; PyOD's ECOD and
IForest, fitted per area on (meter, month) feature rows, give a secondary multivariate score
(percentile within the area) reported in the reason with the features that stand out most.
Fitting per area keeps results independent of how areas are batched.
"""

from __future__ import annotations

import importlib
import math
import weakref

import numpy as np
import polars as pl

from griddiag.detectors.electrical import (
    Events,
    as_assets,
    day_start_us,
    empty_findings,
    findings_frame,
    number,
    resolve_params,
)
from griddiag.detectors.grid import sorted_readings
from griddiag.exceptions import ConfigError
from griddiag.kernels import change_index, flags_to_events, level_shift, rolling_median
from griddiag.kernels._validate import offsets_from_lengths
from griddiag.kernels.balance import (
    LATTICE_US,
    group_sum,
    local_day_sums,
    matched_day_sums,
    matched_sums,
    series_step,
)
from griddiag.row_blocks import block_rows

__all__ = ["DEFAULTS", "DETECTORS", "area_balance", "detect_energy_balance",
           "detect_theft_risk"]

_US_PER_DAY = 86_400_000_000
_US_PER_H = 3_600_000_000

DEFAULTS: dict[str, dict] = {
    "energy_balance": {
        # "auto": energy_kwh, else active_power_kw, else load_kva * |power_factor|
        "transformer_energy": "auto",
        "high_limit_pct": 10.0,
        "low_limit_pct": 0.0,
        # above the area's normal level; technical loss grows with the square of load, and a
        # heavily loaded area's summer rate runs a few points above its year-round level
        "rise_pct_points": 5.0,
        # once flagged, a run goes on until the smoothed rate is this far back inside the
        # limit: a 7-day median of daily rates wanders ~0.6 points (sample utility), and an
        # area hovering at the limit should read as one finding, not a dozen
        "hysteresis_pct_points": 1.5,
        "baseline_quantile": 0.2,  # the area's normal level: this quantile of its smoothed rate
        "baseline_min_days": 60,
        "smooth_days": 7,
        "min_day_coverage": 0.75,  # share of a day's instants with every meter present
        "min_days": 3,
        "max_gap_days": 14,
        "suspect_window_days": 28,
        "suspect_min_drop": 0.2,  # relative fall of the meter's share
        "suspect_min_explained": 0.3,  # share of the loss rise the meter's fall accounts for
        "max_suspects": 3,
        "tz": "UTC",
        "standard": "State Grid 同期线损 management practice: LV area (台区) loss rate "
                    "reasonable range 0-10 %",
    },
    "theft_risk": {
        "transformer_energy": "auto",
        "window_days": 28,  # each side of the onset
        "min_drop": 0.25,  # relative fall of the meter's share against its own level
        "min_loss_rise_pct_points": 1.0,
        "min_explained": 0.5,  # area loss rise / energy the meter stopped registering
        "max_explained": 2.0,
        # without an area balance (no transformer data) only a fall this deep is reported,
        # at severity info: theft cannot be told from a vacancy then
        "min_drop_without_balance": 0.6,
        "min_days": 30,  # the fall must last this long
        "max_gap_days": 7,
        "min_day_coverage": 0.75,
        "zero_kwh_per_day": 0.05,
        "random_state": 0,
        "n_estimators": 100,
        "tz": "UTC",
        "standard": "utility practice (State Grid anti-theft analysis: customer consumption "
                    "drop against own history and peers, confirmed by the area's line loss)",
    },
}


# --------------------------------------------------------------------------------------------
# area balance


def _areas(assets: pl.DataFrame) -> pl.DataFrame:
    """(meter_id, tx_id) for every meter with a parent."""
    if assets is None or assets.height == 0:
        return pl.DataFrame(schema={"meter_id": pl.String, "tx_id": pl.String})
    return (assets.filter((pl.col("kind") == "meter") & pl.col("parent_id").is_not_null())
            .select(pl.col("asset_id").alias("meter_id"), pl.col("parent_id").alias("tx_id")))


def _transformer_energy(readings: pl.DataFrame, tx_ids: list[str], source: str
                        ) -> pl.DataFrame:
    """Per transformer and instant, sorted by ``tx_id, t``: ``tx_id, t, tx_kwh`` (energy of
    ``[t, t + step)``; null where the transformer sent no value), ``step``, ``source`` and
    ``mode`` (``energy``: interval energy, ``power``: a sample).

    Each source is read for the transformers no earlier source covered, straight from the
    batch's sorted arrays with integer keys (a transformer's code is the rank of its id):
    only a series with two readings at one instant, or the two metrics of ``load_kva_pf``,
    needs a group-by (the mean of the instant's values, as a pivot would take).
    """
    if source not in ("auto", "energy_kwh", "active_power_kw", "load_kva_pf"):
        raise ConfigError(f"transformer_energy must be 'auto', 'energy_kwh', 'active_power_kw' "
                          f"or 'load_kva_pf', got {source!r}")
    sr = sorted_readings(readings)
    order = {"auto": ["energy_kwh", "active_power_kw", "load_kva_pf"],
             "energy_kwh": ["energy_kwh"], "active_power_kw": ["active_power_kw"],
             "load_kva_pf": ["load_kva_pf"]}[source]
    out = []
    todo = list(tx_ids)
    for src in order:
        if not todo:
            break
        pair = src == "load_kva_pf"
        s = sr.series(["load_kva", "power_factor"] if pair else [src], todo)
        if s.size == 0:
            continue
        n = sr.row_offsets[s + 1] - sr.row_offsets[s]
        rows = sr.rows(s)
        c, t = np.repeat(sr.series_asset[s], n), sr.t[rows]
        part = pl.DataFrame({"c": c, "t": t, "v": sr.value[rows]}).with_columns(
            pl.col("v").fill_nan(None))
        if pair:
            m = pl.Series(np.repeat(sr.series_metric[s], n))
            names = sr.metrics.to_list()
            load, pf = (names.index(x) if x in names else -1
                        for x in ("load_kva", "power_factor"))
            part = (part.with_columns(m=m).group_by("c", "t")
                    .agg(v=pl.col("v").filter(pl.col("m") == load).mean()
                         * pl.col("v").filter(pl.col("m") == pf).mean().abs())
                    .sort("c", "t"))
        elif t.size > 1 and ((t[1:] == t[:-1]) & (c[1:] == c[:-1])).any():
            part = part.group_by("c", "t").agg(pl.col("v").mean()).sort("c", "t")
        # transformers with a value from this source
        c = part["c"].to_numpy()
        has = np.unique(c[part["v"].is_not_null().to_numpy()])
        if has.size == 0:
            continue
        part = part.filter(pl.Series(np.isin(c, has)))
        c, t = part["c"].to_numpy(), part["t"].to_numpy()
        first = np.flatnonzero(np.append(True, c[1:] != c[:-1]))
        step, _ = series_step(t, np.zeros(t.shape[0]), first, np.append(first[1:], t.shape[0]),
                              default_us=_US_PER_H)
        part = part.with_columns(step=pl.Series(np.repeat(step, np.diff(
            np.append(first, t.shape[0])))))
        if src == "energy_kwh":
            part = part.with_columns(tx_kwh=pl.col("v"), mode=pl.lit("energy"))
        else:
            part = part.with_columns(tx_kwh=pl.col("v") * pl.col("step") / _US_PER_H,
                                     mode=pl.lit("power"))
        out.append(part.select("c", "t", "tx_kwh", "step", "mode", source=pl.lit(src)))
        done = set(sr.ids.gather(has).to_list())
        todo = [x for x in todo if x not in done]
    if not out:
        return pl.DataFrame(schema={"tx_id": pl.String, "t": pl.Int64, "tx_kwh": pl.Float64,
                                    "step": pl.Int64, "mode": pl.String, "source": pl.String})
    # each source's transformers are sorted; the concatenation of several needs a sort
    res = pl.concat(out) if len(out) == 1 else pl.concat(out).sort("c", "t")
    return res.select(tx_id=sr.ids.gather(res["c"]), t="t", tx_kwh="tx_kwh", step="step",
                      mode="mode", source="source")


def area_balance(readings: pl.DataFrame, assets: pl.DataFrame, *,
                 transformer_energy: str = "auto", tz: str = "UTC",
                 min_day_coverage: float = 0.75) -> dict[str, pl.DataFrame]:
    """Daily energy balance of every transformer area in the batch.

    Returns a dict of frames:

    ``area``
        ``tx_id, day`` (days since epoch, local), ``tx_kwh, meters_kwh`` (over the day's
        complete instants), ``n_complete, expected, coverage, rate_pct`` (null when coverage
        is below ``min_day_coverage`` or the supply is not positive), ``source``.
    ``meter``
        ``tx_id, meter_id, day, meter_kwh`` on the same complete instants (matched sampling).
    ``meter_full``
        ``tx_id, meter_id, day, full_kwh`` every interval of the day summed, ``coverage``
        (share of the day's intervals present).
    ``members``
        ``tx_id, meter_id, has_data``.

    The meters' readings (most of a batch) never leave the batch's sorted arrays: the
    kernels of :mod:`griddiag.kernels.balance` walk each meter's rows beside its
    transformer's instants, so no (instant, meter) pair, lookup key or per-reading day is
    materialised; only per-instant and per-day results are. ``tests/reference_theft.py``
    keeps the relational formulation this reproduces (to the last bit: the kernels sum as
    polars does).
    """
    assets = as_assets(assets)
    links = _areas(assets)
    tz_map = {}
    if assets is not None and "tz" in assets.columns:
        tz_map = dict(zip(assets["asset_id"].to_list(), assets["tz"].to_list()))
    sr = sorted_readings(readings)
    sel = sr.series(["energy_kwh"], links["meter_id"].to_list())
    if sel.size == 0:
        return _empty_balance(links)
    # meters by code (rank of the id); meter c's readings are rows [starts[c], ends[c]) of sr
    ids = sr.ids.gather(sr.series_asset[sel])
    starts, ends = sr.row_offsets[sel], sr.row_offsets[sel + 1]
    m_step, n_valid = series_step(sr.t, sr.value, starts, ends, default_us=_US_PER_H)
    stats = pl.DataFrame({"meter_id": ids, "n": n_valid})
    members = links.join(stats, on="meter_id", how="left").with_columns(
        has_data=pl.col("n").fill_null(0) > 0).select("tx_id", "meter_id", "has_data")
    live = members.filter(pl.col("has_data")).sort("tx_id", "meter_id")
    if live.height == 0:
        # no meter of an area has a value (all NaN): nothing to balance
        return _empty_balance(links, members)
    tx_ids = live["tx_id"].unique().sort()
    n_tx = tx_ids.len()
    tx = _transformer_energy(readings, tx_ids.to_list(), transformer_energy)  # sorted
    # live meters of each transformer, in (tx_id, meter_id) order: the order of every sum
    live_code = live["meter_id"].cast(pl.Enum(ids)).to_physical().cast(pl.Int64).to_numpy()
    live_tx = live["tx_id"].cast(pl.Enum(tx_ids)).to_physical().cast(pl.Int64).to_numpy()
    mem_off = np.searchsorted(live_tx, np.arange(n_tx + 1))
    zones = sorted({str(tz_map.get(x) or tz) for x in tx_ids.to_list()})
    zone_of_tx = np.array([zones.index(str(tz_map.get(x) or tz)) for x in tx_ids.to_list()],
                          dtype=np.int64)

    # -- transformer instants x their meters (matched sampling) ------------------------------
    i_tx = tx["tx_id"].cast(pl.Enum(tx_ids)).to_physical().cast(pl.Int64).to_numpy()
    i_t = tx["t"].to_numpy()
    i_step = tx["step"].to_numpy()
    i_kwh = tx["tx_kwh"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    i_power = (tx["mode"] == "power").to_numpy()
    inst_off = np.searchsorted(i_tx, np.arange(n_tx + 1))
    # step and mode are per transformer (one source each); one without instants has neither
    has_inst = inst_off[1:] > inst_off[:-1]
    first = np.minimum(inst_off[:-1], max(i_t.shape[0] - 1, 0))
    tx_step = np.where(has_inst, i_step[first] if i_t.size else 1, 1)
    tx_power = has_inst & (i_power[first] if i_t.size else False)
    rows = (sr.t, sr.value, starts, ends, m_step, i_t, inst_off, tx_step, tx_power,
            live_code, mem_off)
    meters_kwh, n_ok = matched_sums(*rows)
    complete = (n_ok == np.diff(mem_off)[i_tx]) & np.isfinite(i_kwh)
    lattice = _zone_lattices(zones, zone_of_tx, i_t, i_tx, sr.t[starts[live_code]],
                             sr.t[ends[live_code] - 1], live_tx)
    i_day = _lattice_day(i_t, zone_of_tx[i_tx], *lattice)

    # -- per area and day ----------------------------------------------------------------------
    brk = np.ones(i_t.shape[0], dtype=bool)
    brk[1:] = (i_tx[1:] != i_tx[:-1]) | (i_day[1:] != i_day[:-1])
    g0 = np.flatnonzero(brk)
    g_off = np.append(g0, i_t.shape[0])
    n_complete = np.add.reduceat(complete.astype(np.int64), g0) if g0.size else \
        np.zeros(0, dtype=np.int64)
    area = pl.DataFrame({
        "tx_id": tx_ids.gather(i_tx[g0]), "day": i_day[g0],
        "tx_kwh": group_sum(np.where(complete, i_kwh, 0.0), g_off),
        "meters_kwh": group_sum(np.where(complete, meters_kwh, 0.0), g_off),
        "n_complete": n_complete.astype(np.uint32),
        "step": i_step[g0], "source": tx["source"].gather(g0)}) \
        .with_columns(expected=_US_PER_DAY / pl.col("step")) \
        .with_columns(coverage=pl.col("n_complete") / pl.col("expected")) \
        .with_columns(rate_pct=pl.when((pl.col("coverage") >= min_day_coverage)
                                       & (pl.col("tx_kwh") > 0))
                      .then((pl.col("tx_kwh") - pl.col("meters_kwh")) / pl.col("tx_kwh") * 100)
                      .otherwise(None))
    # -- per meter and day on the complete instants --------------------------------------------
    ck = np.flatnonzero(complete)
    if ck.size:
        # each transformer's distinct days with a complete instant, in order: every member
        # gets one sum per such day
        d0 = int(i_day[ck].min())
        span = int(i_day[ck].max()) - d0 + 1
        days, slot = np.unique(i_tx[ck] * span + (i_day[ck] - d0), return_inverse=True)
        n_days = np.bincount(days // span, minlength=n_tx)
        first_day = np.cumsum(n_days) - n_days
        day_slot = np.full(i_t.shape[0], -1, dtype=np.int64)
        day_slot[ck] = slot.reshape(-1) - first_day[i_tx[ck]]
        per_member = n_days[live_tx]
        out_off = offsets_from_lengths(per_member)
        mk = matched_day_sums(*rows, day_slot, out_off)
        j = np.repeat(np.arange(live_tx.shape[0]), per_member)
        dk = days[first_day[live_tx[j]] + np.arange(j.shape[0]) - out_off[j]]
        meter = pl.DataFrame({"tx_id": tx_ids.gather(live_tx[j]),
                              "meter_id": ids.gather(live_code[j]), "day": dk % span + d0,
                              "meter_kwh": mk})
    else:
        meter = _empty_balance(links)["meter"]
    # -- every interval of each live meter's day -----------------------------------------------
    f_off, f_day, f_kwh, f_n = local_day_sums(sr.t, sr.value, starts[live_code],
                                              ends[live_code], zone_of_tx[live_tx], *lattice)
    j = np.repeat(np.arange(live_code.shape[0]), np.diff(f_off))
    full = pl.DataFrame({
        "tx_id": tx_ids.gather(live_tx[j]), "meter_id": ids.gather(live_code[j]),
        "day": f_day, "full_kwh": f_kwh, "n": f_n, "m_step": m_step[live_code[j]]}).select(
        "tx_id", "meter_id", "day", "full_kwh",
        coverage=pl.col("n") * pl.col("m_step") / _US_PER_DAY)  # polars' division, as before
    return {"area": area.sort("tx_id", "day"), "meter": meter.sort("tx_id", "meter_id", "day"),
            "meter_full": full.sort("tx_id", "meter_id", "day"), "members": members}


def _zone_lattices(zones: list[str], zone_of_tx: np.ndarray, i_t: np.ndarray,
                   i_tx: np.ndarray, m_first: np.ndarray, m_last: np.ndarray,
                   m_tx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTC offset of each zone on the 15-minute lattice over its transformers' instants and
    meters' readings (:func:`griddiag.kernels.balance.local_day_sums`): one time-zone
    conversion per lattice point, then a local day costs one index per reading."""
    from griddiag.detectors.grid import _utc_offsets_us

    i_zone, m_zone = zone_of_tx[i_tx], zone_of_tx[m_tx]
    firsts, parts = [], []
    for z, zone in enumerate(zones):
        ends = [x for x in (i_t[i_zone == z], m_first[m_zone == z], m_last[m_zone == z])
                if x.size]
        lo = min(int(x.min()) for x in ends) if ends else 0
        hi = max(int(x.max()) for x in ends) if ends else 0
        try:
            first, offset = _utc_offsets_us(zone, lo, hi)
        except Exception as exc:  # polars raises ComputeError for unknown zones
            raise ConfigError(f"unknown time zone {zone!r} (asset tz or params tz); use an "
                              f"IANA name such as 'Asia/Shanghai'") from exc
        firsts.append(first)
        parts.append(offset.astype(np.int64))
    off = offsets_from_lengths([p.shape[0] for p in parts])
    return np.array(firsts, dtype=np.int64), off, np.concatenate(parts)


def _lattice_day(t: np.ndarray, zone: np.ndarray, first: np.ndarray, off: np.ndarray,
                 utc_offset: np.ndarray) -> np.ndarray:
    """Local day of each instant from :func:`_zone_lattices` (as the kernels compute it)."""
    return (t + utc_offset[off[zone] + (t - first[zone]) // LATTICE_US]) // _US_PER_DAY


def _empty_balance(links: pl.DataFrame, members: pl.DataFrame | None = None
                   ) -> dict[str, pl.DataFrame]:
    return {
        "area": pl.DataFrame(schema={
            "tx_id": pl.String, "day": pl.Int64, "tx_kwh": pl.Float64,
            "meters_kwh": pl.Float64, "n_complete": pl.UInt32, "step": pl.Int64,
            "source": pl.String, "expected": pl.Float64, "coverage": pl.Float64,
            "rate_pct": pl.Float64}),
        "meter": pl.DataFrame(schema={"tx_id": pl.String, "meter_id": pl.String,
                                      "day": pl.Int64, "meter_kwh": pl.Float64}),
        "meter_full": pl.DataFrame(schema={"tx_id": pl.String, "meter_id": pl.String,
                                           "day": pl.Int64, "full_kwh": pl.Float64,
                                           "coverage": pl.Float64}),
        "members": (members if members is not None
                    else links.with_columns(has_data=pl.lit(False))),
    }


_LAST_BALANCE: tuple | None = None


def _balance(readings: pl.DataFrame, assets: pl.DataFrame, **kw) -> dict[str, pl.DataFrame]:
    """:func:`area_balance`, reusing the last result for the very same frames and options
    (both detectors of this module need it; frames are immutable, and weak references make
    sure an equal ``id`` of a new frame is never mistaken for the old one)."""
    global _LAST_BALANCE
    last = _LAST_BALANCE
    if (last is not None and last[0]() is readings and last[1]() is assets
            and last[2] == kw):
        return last[3]
    out = area_balance(readings, assets, **kw)
    try:
        _LAST_BALANCE = (weakref.ref(readings), weakref.ref(assets), kw, out)
    except TypeError:  # not weak-referenceable: no caching
        _LAST_BALANCE = None
    return out


# --------------------------------------------------------------------------------------------
# daily grids


def _day_grid(frame: pl.DataFrame, keys: list[str], cols: list[str]
              ) -> tuple[pl.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """Regular daily grid per key group: (groups frame with first/n, offsets, arrays)."""
    if frame.height == 0:
        return (pl.DataFrame(schema={**{k: pl.String for k in keys}, "first": pl.Int64,
                                     "n": pl.Int64}),
                np.zeros(1, dtype=np.int64), {c: np.empty(0) for c in cols})
    groups = (frame.group_by(keys, maintain_order=True)
              .agg(first=pl.col("day").min(), last=pl.col("day").max())
              .sort(keys)
              .with_columns(n=(pl.col("last") - pl.col("first") + 1).cast(pl.Int64))
              .with_columns(gi=pl.int_range(pl.len())))
    n = groups["n"].to_numpy()
    off = offsets_from_lengths(n)
    groups = groups.with_columns(off=pl.Series(off[:-1]))
    j = frame.join(groups.select(*keys, "first", "off"), on=keys)
    idx = (j["off"] + j["day"] - j["first"]).to_numpy()
    arrays = {}
    for c in cols:
        a = np.full(off[-1], np.nan)
        a[idx] = j[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
        arrays[c] = a
    return groups, off, arrays


def _col_nanmedian(x: np.ndarray) -> np.ndarray:
    """Median of each column ignoring NaN (NaN for an all-NaN column, silently)."""
    x = np.asarray(x, dtype=np.float64)
    return np.array([_nanmedian(x[:, k]) for k in range(x.shape[1])])


def _nanmedian(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


# --------------------------------------------------------------------------------------------
# energy balance


def _onset_stats(rate: np.ndarray, tx_kwh: np.ndarray, shares: dict[str, np.ndarray],
                 onset: int, stop: int, window: int) -> dict:
    """Medians before ``[onset - window, onset)`` and after ``[onset, min(stop, onset +
    window))`` of the area rate and of each meter's share of the supplied energy."""
    b0, a1 = max(0, onset - window), min(stop, onset + window)
    before, after = slice(b0, onset), slice(onset, a1)
    out = {"rate_before": _nanmedian(rate[before]), "rate_after": _nanmedian(rate[after]),
           "tx_after": _nanmedian(tx_kwh[after]), "meters": {},
           "days_before": int(np.isfinite(rate[before]).sum())}
    for mid, sh in shares.items():
        sb, sa = _nanmedian(sh[before]), _nanmedian(sh[after])
        seg = slice(b0, a1)
        x, y = sh[seg], rate[seg]
        ok = np.isfinite(x) & np.isfinite(y)
        corr = (float(np.corrcoef(x[ok], y[ok])[0, 1])
                if ok.sum() >= 5 and np.std(x[ok]) > 0 and np.std(y[ok]) > 0 else math.nan)
        out["meters"][mid] = (sb, sa, corr)
    return out


def _suspects(st: dict, p: dict, negative: bool) -> list[tuple[str, float, float, float, float]]:
    """(meter, relative fall of share, kWh/day not registered, share of the loss change
    explained, correlation of share with loss rate) of the suspects, best first."""
    rise = st["rate_after"] - st["rate_before"]
    t_after = st["tx_after"]
    if not (np.isfinite(rise) and np.isfinite(t_after)) or rise == 0:
        return []
    loss_kwh = rise / 100.0 * t_after
    rows = []
    for mid, (sb, sa, corr) in st["meters"].items():
        if not (np.isfinite(sb) and np.isfinite(sa)) or sb <= 0:
            continue
        shortfall = (sb - sa) * t_after  # kWh/day the meter no longer registers
        rel = (sb - sa) / sb
        expl = shortfall / loss_kwh
        if negative:
            ok = rel <= -p["suspect_min_drop"] and expl >= p["suspect_min_explained"]
        else:
            ok = rel >= p["suspect_min_drop"] and expl >= p["suspect_min_explained"]
        if ok:
            rows.append((mid, rel, shortfall, expl, corr))
    rows.sort(key=lambda r: -r[3])
    return rows[:int(p["max_suspects"])]


def _hysteresis(hard: np.ndarray, soft: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Runs of ``soft`` days (per series) that hold at least one ``hard`` day."""
    out = np.zeros(hard.shape[0], dtype=bool)
    ser, st, en, _ = flags_to_events(soft | hard, offsets)
    c = np.concatenate([[0], np.cumsum(hard.astype(np.int64))])
    for a, b in zip(st[c[en] > c[st]], en[c[en] > c[st]]):  # per run, not per day
        out[a:b] = True
    return out


def detect_energy_balance(readings: pl.DataFrame, assets: pl.DataFrame,
                          params: dict | None = None) -> pl.DataFrame:
    """Transformer-area line loss: daily loss rate above the limit, risen, or negative.

    See the module docstring for the balance. Findings are per transformer
    (``kind="line_loss"``, ``metric`` the transformer quantity the supply came from): one per
    run of flagged days (smoothed rate above ``high_limit_pct``, or ``rise_pct_points`` above
    the area's normal level, or below ``low_limit_pct``; once flagged, days stay flagged until
    the smoothed rate is ``hysteresis_pct_points`` back inside), gaps up to ``max_gap_days``
    bridged, lasting ``min_days``. ``observed`` is the median daily rate over the run (%),
    ``expected`` the area's normal level, ``magnitude`` their difference (percentage points).
    The reason names the suspect meters: those whose share of the supplied energy fell (rose,
    for a negative loss) at the run's start by an amount explaining at least
    ``suspect_min_explained`` of the change in loss, with the correlation of their daily share
    with the daily loss rate around the onset (negative for a thief).
    """
    p = resolve_params("theft", "energy_balance", params, DEFAULTS)
    assets = as_assets(assets)
    where = "[theft.energy_balance] "
    high = number(p, "high_limit_pct", where=where)
    low = number(p, "low_limit_pct", where=where)
    rise = number(p, "rise_pct_points", low=0, where=where)
    hyst = number(p, "hysteresis_pct_points", low=0, where=where)
    q = number(p, "baseline_quantile", low=0, high=1, where=where)
    base_min = number(p, "baseline_min_days", low=1, where=where)
    smooth = int(number(p, "smooth_days", low=1, where=where))
    min_days = int(number(p, "min_days", low=1, where=where))
    max_gap = int(number(p, "max_gap_days", low=0, where=where))
    window = int(number(p, "suspect_window_days", low=2, where=where))
    for k in ("suspect_min_drop", "suspect_min_explained"):
        number(p, k, where=where)
    bal = _balance(readings, assets, transformer_energy=p["transformer_energy"],
                       tz=p["tz"], min_day_coverage=number(p, "min_day_coverage", low=0,
                                                           high=1, where=where))
    area = bal["area"]
    if area.height == 0:
        return empty_findings()
    groups, off, arr = _day_grid(area, ["tx_id"], ["rate_pct", "tx_kwh", "coverage"])
    rate, tx_kwh = arr["rate_pct"], arr["tx_kwh"]
    sm = rolling_median(rate, off, window=smooth, center=True,
                        min_periods=smooth // 2 + 1)
    n_g = groups.height
    base = np.full(n_g, np.nan)
    for g in range(n_g):  # per area
        w = sm[off[g]:off[g + 1]]
        if np.isfinite(w).sum() >= base_min:
            base[g] = np.nanquantile(w, q)
    ser = np.repeat(np.arange(n_g), np.diff(off))
    with np.errstate(invalid="ignore"):
        f_high = _hysteresis((sm > high) | (sm - base[ser] >= rise),
                             (sm > high - hyst) | (sm - base[ser] >= rise - hyst), off)
        f_neg = _hysteresis(sm < low, sm < low + hyst, off)
    meter = bal["meter"]
    tx_ids = groups["tx_id"].to_list()
    first = groups["first"].to_numpy()
    sources = dict(zip(area["tx_id"].to_list(), area["source"].to_list()))
    tz_map = {}
    if "tz" in assets.columns:
        tz_map = dict(zip(assets["asset_id"].to_list(), assets["tz"].to_list()))
    members = bal["members"]
    rows = []
    for negative, flags in ((False, f_high), (True, f_neg)):
        ser_e, st_e, en_e, pk_e = flags_to_events(flags, off, np.where(flags, np.abs(sm), np.nan),
                                                  max_gap=max_gap)
        keep = (en_e - st_e) >= min_days
        ev = Events(ser_e[keep], st_e[keep], en_e[keep], pk_e[keep])
        for k in range(len(ev)):  # per event
            g = int(ev.series[k])
            tx = tx_ids[g]
            a, b = off[g], off[g + 1]
            onset, stop = int(ev.start[k] - a), int(ev.end[k] - a)
            r_area, t_area = rate[a:b], tx_kwh[a:b]
            shares = {}
            mt = meter.filter(pl.col("tx_id") == tx)
            if mt.height:
                mg, moff, marr = _day_grid(mt, ["meter_id"], ["meter_kwh"])
                for i, mid in enumerate(mg["meter_id"].to_list()):
                    sh = np.full(b - a, np.nan)
                    d0 = int(mg["first"][i] - first[g])
                    vals = marr["meter_kwh"][moff[i]:moff[i + 1]]
                    lo_, hi_ = max(d0, 0), min(d0 + len(vals), b - a)
                    if hi_ > lo_:
                        with np.errstate(invalid="ignore", divide="ignore"):
                            sh[lo_:hi_] = vals[lo_ - d0:hi_ - d0] / t_area[lo_:hi_]
                    shares[mid] = sh
            stt = _onset_stats(r_area, t_area, shares, onset, stop, window)
            sus = _suspects(stt, p, negative)
            obs = _nanmedian(r_area[onset:stop])
            exp_ = base[g] if np.isfinite(base[g]) else (low if negative else high)
            n_days = stop - onset
            cov = float(np.isfinite(r_area[onset:stop]).mean())
            no_data = members.filter((pl.col("tx_id") == tx) & ~pl.col("has_data"))[
                "meter_id"].to_list()
            if negative:
                head = (f"negative line loss (负损): median daily rate {obs:.1f} % over "
                        f"{n_days} days (limit {low:g} %); meters registered more than the "
                        f"transformer supplied")
            else:
                head = (f"line-loss rate median {obs:.1f} % over {n_days} days (limit "
                        f"{high:g} %"
                        + (f"; area's normal level {base[g]:.1f} %, +{obs - base[g]:.1f} "
                           f"points" if np.isfinite(base[g]) else "") + ")")
            if np.isfinite(stt["rate_before"]) and np.isfinite(stt["rate_after"]):
                head += (f"; {window} days before/after onset: {stt['rate_before']:.1f} % -> "
                         f"{stt['rate_after']:.1f} %")
            if sus:
                word = "rose" if negative else "fell"
                head += "; suspects: " + ", ".join(
                    f"{mid} (share {word} {abs(rel) * 100:.0f} %, {abs(sf):.1f} kWh/day, "
                    f"explains {ex * 100:.0f} % of the change"
                    + (f", r = {c:+.2f} with loss rate" if np.isfinite(c) else "") + ")"
                    for mid, rel, sf, ex, c in sus)
            elif stt["days_before"] < window // 2:
                head += (f"; the run starts with the data (fewer than {window // 2} days "
                         f"before it): suspects need readings from before the onset")
            else:
                head += "; no single meter's fall explains the change"
            head += (f"; supply from {sources.get(tx)} (matched sampling)"
                     if sources.get(tx) != "energy_kwh" else "; supply from energy_kwh")
            if no_data:
                head += f"; meters without data in the batch (left out): {', '.join(no_data)}"
            zone = str(tz_map.get(tx) or p["tz"])
            d_start = first[g] + onset
            rows.append({
                "asset_id": tx, "metric": sources.get(tx) if sources.get(tx) != "load_kva_pf"
                else "load_kva",
                "start": int(day_start_us(np.array([d_start]), np.array([zone]))[0]),
                "end": int(day_start_us(np.array([first[g] + stop]), np.array([zone]))[0]),
                "peak_ts": int(day_start_us(np.array([first[g] + int(ev.peak[k] - a)]),
                                            np.array([zone]))[0]),
                "severity": "critical" if (obs > high or obs < low) else "warning",
                "score": abs(obs - exp_), "observed": obs, "expected": exp_,
                "magnitude": obs - exp_, "coverage": cov, "reason": head,
                "suspects": [s[0] for s in sus], "negative": negative,
            })
    if not rows:
        return empty_findings()
    rule_hi = (f"smoothed daily loss rate > {high:g} % or >= {rise:g} points above the area's "
               f"normal level, for >= {min_days} days")
    rule_lo = f"smoothed daily loss rate < {low:g} % for >= {min_days} days"
    return findings_frame(
        len(rows), asset_id=[r["asset_id"] for r in rows], metric=[r["metric"] for r in rows],
        kind="line_loss", detector="theft.energy_balance", start=[r["start"] for r in rows],
        end=[r["end"] for r in rows], peak_ts=[r["peak_ts"] for r in rows],
        severity=[r["severity"] for r in rows], score=[r["score"] for r in rows],
        observed=[r["observed"] for r in rows], expected=[r["expected"] for r in rows],
        unit="%", magnitude=[r["magnitude"] for r in rows],
        coverage=[r["coverage"] for r in rows],
        rule=[rule_lo if r["negative"] else rule_hi for r in rows], standard=p["standard"],
        reason=[r["reason"] for r in rows],
        action=["check the meter-to-transformer mapping (户变关系), CT ratios and meter clocks; "
                "look for double-counted or misassigned meters" if r["negative"] else
                ("inspect the suspect meters on site (seals, wiring, bypass), then the LV "
                 "network for unmetered connections" if r["suspects"] else
                 "walk the LV network for unmetered connections (illegal taps, unregistered "
                 "customers, street lighting) and check the area's mapping")
                for r in rows]).sort("asset_id", "start")


# --------------------------------------------------------------------------------------------
# theft risk


def _acf7(x: np.ndarray) -> float:
    """Lag-7 autocorrelation of a daily series (the weekly cycle), NaN-tolerant."""
    if x.size < 15:
        return math.nan
    a, b = x[:-7], x[7:]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 8 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return math.nan
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


_FEATURE_TEXT = {
    "share_ratio": "share of the area's supply against its usual share",
    "own_ratio": "consumption against its own usual level",
    "area_loss_excess": "area loss rate above its usual level (points)",
    "zero_days": "share of zero-consumption days",
    "weekly_acf": "weekly periodicity (lag-7 autocorrelation)",
}


#: Modules this module's checks import at their first use (:func:`pyod_models`), not with the
#: module: PyOD imports scikit-learn, scipy.stats, pandas and matplotlib, about 3 s in a fresh
#: process. ``ExternalSpec.warm_up`` imports them ahead of the checks (``griddiag.detect``,
#: beside a large batch's sort), and the inspection's fork server once for all its batch
#: processes (``griddiag.inspection.executor.ProcessExecutor``).
LAZY_IMPORTS = ("pyod.models.ecod", "pyod.models.iforest")


def pyod_models() -> tuple[type, type]:
    """PyOD's ``ECOD`` and ``IForest`` (:data:`LAZY_IMPORTS`)."""
    ecod, iforest = (importlib.import_module(m) for m in LAZY_IMPORTS)
    return ecod.ECOD, iforest.IForest


def _secondary(meter_rows: pl.DataFrame, p: dict) -> pl.DataFrame:
    """ECOD and IForest percentile scores of (meter, month) feature rows of one area.

    The models are fitted once and only their ``decision_scores_`` (scores of the fitted
    rows) are read: nothing is called on them after ``fit``.
    """
    ECOD, IForest = pyod_models()
    feats = list(_FEATURE_TEXT)
    x = meter_rows.select(feats).to_numpy().astype(np.float64)
    med = _col_nanmedian(x)
    med = np.where(np.isfinite(med), med, 0.0)
    x = np.where(np.isfinite(x), x, med)
    n = x.shape[0]
    ecod = ECOD().fit(x)
    iforest = IForest(n_estimators=int(p["n_estimators"]),
                      random_state=int(p["random_state"])).fit(x)

    def pct(s):
        return (np.argsort(np.argsort(s, kind="stable"), kind="stable") + 1) / n

    return meter_rows.with_columns(ecod_pct=pl.Series(pct(ecod.decision_scores_)),
                                   iforest_pct=pl.Series(pct(iforest.decision_scores_)))


def detect_theft_risk(readings: pl.DataFrame, assets: pl.DataFrame,
                      params: dict | None = None) -> pl.DataFrame:
    """Per-meter theft risk: a lasting fall of the meter's share that the area's loss absorbs.

    For each meter with daily data: ``share`` = its energy / the energy the transformer
    supplied on the same instants (without transformer data: / its peers' energy, or its own
    energy when alone). The onset is the strongest downward level shift of the share
    (:func:`griddiag.kernels.level_shift`, ``window_days`` each side). At the onset, with
    medians over ``window_days`` each side:

    - ``drop`` = relative fall of the share (against its peers and supply: weather and
      season cancel);
    - ``loss_rise`` = rise of the area's loss rate (points); ``explained`` = that rise in kWh
      / the energy the meter stopped registering (about 1 for theft: the stolen energy still
      passes the transformer; about 0 for a vacancy);
    - ``own_drop``, ``zero_after_normal`` (share of zero days after the onset),
      ``weekly_acf_before/after`` (loss of the weekly cycle).

    A finding when ``drop >= min_drop``, ``loss_rise >= min_loss_rise_pct_points``,
    ``min_explained <= explained <= max_explained`` and the fall lasts ``min_days``
    (``score`` = ``drop * min(explained, 1)``). Without an area balance only a fall of
    ``min_drop_without_balance`` is reported, at severity info. The reason gives the primary
    features and the secondary PyOD score (ECOD and IForest percentile of the meter's months
    since the onset among the area's meter-months) with the monthly features that stand out
    most (robust z against the area's meter-months).
    """
    p = resolve_params("theft", "theft_risk", params, DEFAULTS)
    assets = as_assets(assets)
    where = "[theft.theft_risk] "
    window = int(number(p, "window_days", low=3, where=where))
    min_drop = number(p, "min_drop", low=0, high=1, where=where)
    min_rise = number(p, "min_loss_rise_pct_points", where=where)
    min_expl = number(p, "min_explained", where=where)
    max_expl = number(p, "max_explained", where=where)
    min_drop_nb = number(p, "min_drop_without_balance", low=0, high=1, where=where)
    min_days = int(number(p, "min_days", low=1, where=where))
    max_gap = int(number(p, "max_gap_days", low=0, where=where))
    zero_kwh = number(p, "zero_kwh_per_day", low=0, where=where)
    bal = _balance(readings, assets, transformer_energy=p["transformer_energy"],
                       tz=p["tz"], min_day_coverage=number(p, "min_day_coverage", low=0,
                                                           high=1, where=where))
    full = bal["meter_full"]
    if full.height == 0:
        return empty_findings()
    min_cov = float(p["min_day_coverage"])
    full = full.with_columns(full_kwh=pl.when(pl.col("coverage") >= min_cov)
                             .then(pl.col("full_kwh")).otherwise(None))
    area = bal["area"]
    balanced = set(area.filter(pl.col("rate_pct").is_not_null())["tx_id"].unique().to_list())
    # daily share per meter
    with_bal = (bal["meter"].filter(pl.col("tx_id").is_in(list(balanced)))
                .join(area.select("tx_id", "day", "tx_kwh", "rate_pct"), on=["tx_id", "day"])
                .with_columns(share=pl.when(pl.col("rate_pct").is_not_null())
                              .then(pl.col("meter_kwh") / pl.col("tx_kwh")).otherwise(None))
                .select("tx_id", "meter_id", "day", "share", "rate_pct"))
    no_bal = full.filter(~pl.col("tx_id").is_in(list(balanced)))
    if no_bal.height:
        peers = no_bal.group_by("tx_id", "day").agg(total=pl.col("full_kwh").sum(),
                                                    n=pl.col("full_kwh").count())
        no_bal = (no_bal.join(peers, on=["tx_id", "day"])
                  .with_columns(share=pl.when(pl.col("n") > 1)
                                .then(pl.col("full_kwh") / (pl.col("total") - pl.col("full_kwh")))
                                .otherwise(pl.col("full_kwh")),
                                rate_pct=pl.lit(None, pl.Float64))
                  .select("tx_id", "meter_id", "day", "share", "rate_pct"))
        daily = pl.concat([with_bal, no_bal])
    else:
        daily = with_bal
    daily = daily.join(full.select("tx_id", "meter_id", "day", "full_kwh"),
                       on=["tx_id", "meter_id", "day"], how="full", coalesce=True)
    groups, off, arr = _day_grid(daily, ["tx_id", "meter_id"],
                                 ["share", "rate_pct", "full_kwh"])
    if groups.height == 0:
        return empty_findings()
    share, rate, kwh = arr["share"], arr["rate_pct"], arr["full_kwh"]
    shift, score = level_shift(share, off, window=window, min_periods=window // 2 + 1)
    down = np.where(shift < 0, score, np.nan)
    onset_idx = change_index(down, off)
    sm = rolling_median(share, off, window=7, center=True, min_periods=4)
    tx_ids = groups["tx_id"].to_list()
    meter_ids = groups["meter_id"].to_list()
    first = groups["first"].to_numpy()
    tz_map = {}
    if assets is not None and "tz" in assets.columns:
        tz_map = dict(zip(assets["asset_id"].to_list(), assets["tz"].to_list()))
    found = []
    for g in range(groups.height):  # per meter: a handful of medians
        i0 = onset_idx[g]
        if i0 < 0:
            continue
        a, b = off[g], off[g + 1]
        t = int(i0 - a)
        bef, aft = slice(a + max(0, t - window), a + t), slice(a + t, a + min(b - a, t + window))
        sb, sa = _nanmedian(share[bef]), _nanmedian(share[aft])
        if not (np.isfinite(sb) and np.isfinite(sa)) or sb <= 0:
            continue
        drop = (sb - sa) / sb
        has_bal = tx_ids[g] in balanced
        rb, ra = _nanmedian(rate[bef]), _nanmedian(rate[aft])
        loss_rise = ra - rb if has_bal else math.nan
        explained = (loss_rise / 100.0) / (sb - sa) if has_bal and sb > sa else math.nan
        # the windowed medians place a clean step within a day or two: put the onset where
        # a two-level split of the surrounding fortnight misclassifies the fewest days
        mid = (sb + sa) / 2.0
        t = _refine_onset(share[a:b], t, mid, 7)
        below = sm[a + t:b] < mid
        _, st_r, en_r, _ = flags_to_events(below, None, None, max_gap=max_gap)
        length = int(en_r[0] - st_r[0]) if len(st_r) and st_r[0] <= max_gap else 0
        if length < min_days:
            continue
        if has_bal:
            ok = (drop >= min_drop and loss_rise >= min_rise
                  and min_expl <= explained <= max_expl)
        else:
            ok = drop >= min_drop_nb
        if not ok:
            continue
        start_d = int(first[g] + t + (st_r[0] if len(st_r) else 0))
        end_d = int(first[g] + t + en_r[0])
        kb, ka = _nanmedian(kwh[bef]), _nanmedian(kwh[aft])
        after_all = kwh[a + t:a + t + length]
        zero_after = (float(np.nanmean(np.where(np.isfinite(after_all),
                                                after_all <= zero_kwh, np.nan)))
                      if np.isfinite(after_all).any() and kb > zero_kwh else math.nan)
        acf_b = _acf7(kwh[a + max(0, t - 2 * window):a + t])
        acf_a = _acf7(kwh[a + t:a + min(b - a, t + 2 * window)])
        found.append({
            "g": g, "tx": tx_ids[g], "meter": meter_ids[g], "start_d": start_d,
            "end_d": end_d, "drop": drop, "loss_rise": loss_rise, "explained": explained,
            "own_before": kb, "own_after": ka, "zero_after": zero_after, "acf_b": acf_b,
            "acf_a": acf_a, "has_bal": has_bal, "rate_b": rb, "rate_a": ra,
            "score": drop * (min(explained, 1.0) if has_bal else 1.0),
            "coverage": float(np.isfinite(share[a + t:a + t + length]).mean()),
        })
    if not found:
        return empty_findings()
    sec = _secondary_scores(found, groups, off, arr, first, p, zero_kwh)
    rows = []
    for f in found:
        zone = str(tz_map.get(f["tx"]) or p["tz"])
        start = int(day_start_us(np.array([f["start_d"]]), np.array([zone]))[0])
        end = int(day_start_us(np.array([f["end_d"]]), np.array([zone]))[0])
        expected = f["own_before"]
        parts = [f"registered share of the area's supply fell {f['drop'] * 100:.0f} % from "
                 f"{_day_str(f['start_d'])} for {f['end_d'] - f['start_d']} days"]
        if f["has_bal"]:
            parts.append(f"area loss rate {f['rate_b']:.1f} % -> {f['rate_a']:.1f} % "
                         f"(+{f['loss_rise']:.1f} points), explaining "
                         f"{f['explained'] * 100:.0f} % of the energy the meter stopped "
                         f"registering")
        else:
            parts.append("no area balance (transformer data missing): theft cannot be told "
                         "from a vacancy")
        parts.append(f"consumption {f['own_before']:.2f} -> {f['own_after']:.2f} kWh/day")
        if np.isfinite(f["zero_after"]) and f["zero_after"] > 0:
            parts.append(f"zero-consumption days after onset {f['zero_after'] * 100:.0f} %")
        if np.isfinite(f["acf_b"]) and np.isfinite(f["acf_a"]):
            parts.append(f"weekly periodicity {f['acf_b']:.2f} -> {f['acf_a']:.2f}")
        s = sec.get(f["meter"])
        if s is not None:
            parts.append(
                f"secondary score {s['score']:.2f} (ECOD {s['ecod']:.2f}, IForest "
                f"{s['iforest']:.2f}: percentile of its months since onset among the area's "
                f"meter-months); top features: " + ", ".join(
                    f"{_FEATURE_TEXT[k]} {v:.2f} (z {z:+.1f})" for k, v, z in s["top"]))
        rows.append({**f, "start": start, "end": end, "expected": expected,
                     "reason": "; ".join(parts),
                     "severity": ("info" if not f["has_bal"] else
                                  "critical" if f["score"] >= 0.5 else "warning")})
    return findings_frame(
        len(rows), asset_id=[r["meter"] for r in rows], metric="energy_kwh", kind="theft_risk",
        detector="theft.theft_risk", start=[r["start"] for r in rows],
        end=[r["end"] for r in rows], peak_ts=[r["start"] for r in rows],
        severity=[r["severity"] for r in rows], score=[r["score"] for r in rows],
        observed=[r["own_after"] for r in rows], expected=[r["expected"] for r in rows],
        unit="kWh/day", magnitude=[r["own_after"] - r["own_before"] for r in rows],
        coverage=[r["coverage"] for r in rows],
        rule=(f"share drop >= {min_drop:g} lasting >= {min_days} days with area loss rise >= "
              f"{min_rise:g} points explaining {min_expl:g}-{max_expl:g} of it"),
        standard=p["standard"], reason=[r["reason"] for r in rows],
        action="on-site inspection of the meter: seals, terminal cover, wiring and CT "
               "connections, bypass; compare with a portable reference meter").sort(
        "asset_id", "start")


def _refine_onset(share: np.ndarray, t: int, mid: float, half: int) -> int:
    """Day in ``[t - half, t + half]`` best splitting ``share`` into high before / low after
    (fewest days on the wrong side of ``mid`` within ``half`` days each side; earliest on
    ties)."""
    n = share.shape[0]
    c = np.arange(max(1, t - half), min(n - 1, t + half) + 1)  # 2 * half + 1 candidates
    if c.size == 0:
        return t
    # days below mid before c and at or above it from c on, from prefix counts (NaN is
    # neither); np.argmin takes the earliest of equal counts
    with np.errstate(invalid="ignore"):
        low = np.concatenate(([0], np.cumsum(share < mid)))
        high = np.concatenate(([0], np.cumsum(share >= mid)))
    wrong = (low[c] - low[np.maximum(c - half, 0)]) + (high[np.minimum(c + half, n)] - high[c])
    return int(c[np.argmin(wrong)])


def _group_nanmedian(x: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group (``group``: one index per value, ``0 .. n_groups - 1``): the median of its
    finite values, NaN when it has none; equal to :func:`_nanmedian` of each group's values
    (the middle value, or the mean of the middle two), in one sort."""
    ok = np.isfinite(x)
    xs, gs = x[ok], group[ok]
    order = np.lexsort((xs, gs))
    xs = xs[order]
    count = np.bincount(gs, minlength=n_groups)
    mid = np.cumsum(count) - count + count // 2
    out = np.full(n_groups, np.nan)
    odd = count % 2 == 1
    out[odd] = xs[mid[odd]]
    even = (count > 0) & ~odd
    out[even] = (xs[mid[even] - 1] + xs[mid[even]]) / 2.0
    return out


def _month_features(gs: np.ndarray, off: np.ndarray, first: np.ndarray,
                    arr: dict[str, np.ndarray], zero_kwh: float) -> pl.DataFrame:
    """The secondary score's features of each (meter, calendar month) of the groups ``gs``
    with at least 14 days of consumption, in (group, month) order: the month's median share
    and consumption against the meter's usual (median) ones, the area's median loss rate,
    the share of zero days and the weekly cycle (:func:`_acf7`)."""
    lens = off[gs + 1] - off[gs]
    rows = block_rows(off[gs], lens)
    meter = np.repeat(np.arange(gs.size), lens)
    day = first[gs][meter] + (rows - off[gs][meter])  # days since 1970-01-01
    month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    share, rate, kwh = arr["share"][rows], arr["rate_pct"][rows], arr["full_kwh"][rows]
    # a meter's days are in time order: its months are consecutive runs of rows
    new = np.ones(rows.size, dtype=bool)
    new[1:] = (meter[1:] != meter[:-1]) | (month[1:] != month[:-1])
    start = np.flatnonzero(new)
    end = np.append(start[1:], rows.size)
    run = np.cumsum(new) - 1
    n_runs = start.size
    run_meter = meter[start]
    finite_kwh = np.isfinite(kwh)
    n_kwh = np.bincount(run, weights=finite_kwh, minlength=n_runs)
    zero = np.bincount(run, weights=finite_kwh & (kwh <= zero_kwh), minlength=n_runs)
    usual_share = _group_nanmedian(share, meter, gs.size)[run_meter]
    usual_kwh = _group_nanmedian(kwh, meter, gs.size)[run_meter]
    with np.errstate(invalid="ignore", divide="ignore"):
        share_ratio = np.where(usual_share > 0, _group_nanmedian(share, run, n_runs)
                               / usual_share, np.nan)
        own_ratio = np.where(usual_kwh > 0, _group_nanmedian(kwh, run, n_runs) / usual_kwh,
                             np.nan)
        zero_days = zero / n_kwh
    keep = np.flatnonzero(n_kwh >= 14)
    return pl.DataFrame({
        "g": gs[run_meter[keep]].astype(np.int64),
        "month": month[start[keep]],
        "share_ratio": share_ratio[keep],
        "own_ratio": own_ratio[keep],
        "area_loss": _group_nanmedian(rate, run, n_runs)[keep],
        "zero_days": zero_days[keep],
        "weekly_acf": np.array([_acf7(kwh[start[k]:end[k]]) for k in keep], dtype=np.float64),
    })


def _day_str(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _secondary_scores(found: list[dict], groups: pl.DataFrame, off: np.ndarray,
                      arr: dict[str, np.ndarray], first: np.ndarray, p: dict,
                      zero_kwh: float) -> dict[str, dict]:
    """PyOD scores of the flagged meters' months (areas with a flagged meter only)."""
    out: dict[str, dict] = {}
    tx_of = np.array(groups["tx_id"].to_list(), dtype=object)
    areas = sorted({f["tx"] for f in found})  # per area with a finding
    wanted = set(areas)
    gs = np.array([g for g, tx in enumerate(tx_of) if tx in wanted], dtype=np.int64)
    months = _month_features(gs, off, first, arr, zero_kwh)
    month_tx = tx_of[months["g"].to_numpy()]
    for tx in areas:
        df = months.filter(pl.Series(month_tx == tx))
        if df.height < 10:
            continue
        usual_loss = df["area_loss"].drop_nans().drop_nulls().median()
        df = df.with_columns(area_loss_excess=pl.col("area_loss") - (usual_loss or 0.0))
        scored = _secondary(df.fill_nan(None).with_columns(
            pl.col(list(_FEATURE_TEXT)).fill_null(np.nan)), p)
        x = scored.select(list(_FEATURE_TEXT)).to_numpy()
        med = _col_nanmedian(x)
        mad = _col_nanmedian(np.abs(x - med)) * 1.482602218505602
        for f in (f for f in found if f["tx"] == tx):
            m0 = np.datetime64(int(f["start_d"]), "D").astype("datetime64[M]").astype(np.int64)
            m1 = np.datetime64(int(f["end_d"]) - 1, "D").astype("datetime64[M]").astype(
                np.int64)
            mine = scored.filter((pl.col("g") == f["g"]) & (pl.col("month") >= m0)
                                 & (pl.col("month") <= m1))
            if mine.height == 0:
                continue
            e, i = float(mine["ecod_pct"].mean()), float(mine["iforest_pct"].mean())
            xm = _col_nanmedian(mine.select(list(_FEATURE_TEXT)).to_numpy())
            with np.errstate(invalid="ignore", divide="ignore"):
                z = (xm - med) / np.where(mad > 0, mad, np.nan)
            order = np.argsort(-np.nan_to_num(np.abs(z), nan=-1.0))[:3]
            top = [(list(_FEATURE_TEXT)[k], float(xm[k]), float(z[k])) for k in order
                   if np.isfinite(z[k])]
            out[f["meter"]] = {"ecod": e, "iforest": i, "score": (e + i) / 2.0, "top": top}
    return out


#: Detector functions of this module by profile name (``[theft.<name>]``).
DETECTORS = {
    "energy_balance": detect_energy_balance,
    "theft_risk": detect_theft_risk,
}
