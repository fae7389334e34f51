"""Measures, tests and change classes of one year against its baseline years.

:func:`compare_summaries` works on yearly summaries (one batch, or groups) and gives one row
per series with every measure and the p-value of its candidate change; :func:`finalize` runs
the population steps once over all rows: Benjamini-Hochberg q-values, significance, ranks.

Per series, on the like-with-like day pairs of :func:`griddiag.yoy.calendar.align_days`
(restricted to the compared period, each current day against the mean of its partners in the
baseline years), ``d_t = ln(current_t / baseline_t)`` is the daily log ratio. Candidate classes,
checked in this order, each with an effect-size threshold (``Thresholds``) *and* a test:

``data_quality``   coverage below ``min_coverage`` or down by ``coverage_drop``;
                   test: paired change of daily coverage.
``near_zero``      current level (or level after a step) below ``near_zero_ratio`` of baseline.
``step_change``    a single change of mean of ``d_t`` inside the year (CUSUM), jump at least
                   ``step_ratio``, moving away from the baseline; test: Kolmogorov p of the
                   CUSUM; ``change_date`` its first day.
``new_seasonal_pattern``  the temperature slope (degree-day regression) grew so much that it
                   adds ``seasonal_share`` of the baseline energy; test: z of the slope change.
``growth`` / ``decline``  mean of ``d_t`` (weather-normalised where temperature is known) beyond
                   ``growth_ratio``; test: paired change with AR(1)-corrected error.
``peak_shift``     the typical daily peak moved by ``peak_shift_h`` hours or more and the daily
                   shape changed; test: paired change of each day's peak-hour distance from
                   the baseline's typical peak hour.
``volatility``     day-to-day variability ratio beyond ``volatility_ratio``; test: paired
                   change of absolute deviations from a 7-day median.
``unchanged``      none of these; its p-value is the smallest of the tests (Bonferroni).

**Energy and levels.** Only interval energy (``schema.METRICS`` kind ``interval_energy``) whose
paired daily values are all positive is compared by ratio as above. Every other series (a
temperature, voltage, current, load, power factor, a metric not in the registry, or energy
with a negative day) is a *level*: ``d_t = current_t - baseline_t`` in the metric's unit, and
the growth/decline and step thresholds are absolute changes in that unit
(:func:`level_thresholds`): K for temperatures, a share of the baseline mean for voltage, an
absolute change for power factor, and for anything else ``growth_ratio`` / ``step_ratio`` of
the baseline's mean absolute daily level (the same effect as energy's for a positive load,
and still defined for a signed flow that crosses zero). ``near_zero`` and
``new_seasonal_pattern`` (degree-day energy) apply to energy only; a percentage change is
given only where the metric has a true zero and every paired day is positive.

A finding is ``significant`` when its class is not ``unchanged`` and its q-value is at most
the FDR level: effect size decides what is worth a technician's time, the test whether it is
more than noise.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from griddiag.schema import METRICS, YOY_SCHEMA
from griddiag.yoy.calendar import align_days, day_types

__all__ = ["MEASURES_EXTRA", "Thresholds", "compare_summaries", "finalize"]

# Extra per-row columns between compare_summaries and finalize (dropped by finalize).
MEASURES_EXTRA = ("_score",)


@dataclass(frozen=True)
class Thresholds:
    """Effect sizes worth reporting (each a documented engineering judgement)."""

    growth_ratio: float = 0.10        # |change| of daily energy: 10 %
    step_ratio: float = 0.15          # jump at a date: 15 %
    step_edge_days: int = 14          # a jump within this of the period's start is growth
    near_zero_ratio: float = 0.15     # below 15 % of baseline: vacant or stopped
    seasonal_share: float = 0.08      # new temperature-driven energy >= 8 % of baseline
    peak_shift_h: float = 2.0         # typical peak moved by >= 2 h
    shape_change: float = 0.05        # and the normalised daily profile changed
    volatility_ratio: float = 1.5
    min_coverage: float = 0.5
    coverage_drop: float = 0.2
    hdd_base_c: float = 16.0          # balance points calibrated on Victorian demand
    cdd_base_c: float = 19.5          # (data_samples/README.md, "Calibration")
    # level metrics (compared by difference, in the metric's unit; see ``level_thresholds``)
    temp_change_k: float = 2.0        # mean temperature moved by 2 K (oil ages faster with heat)
    temp_step_k: float = 3.0          # a jump of 3 K at a date
    voltage_share: float = 0.02       # mean voltage moved by 2 % of its baseline (~ nominal):
                                      # 4.6 V on 230 V, a fifth of EN 50160's +-10 % band
    power_factor_change: float = 0.05  # absolute change of mean power factor


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        cnt = np.isfinite(a).sum(axis=1)
        s = np.where(np.isfinite(a), a, 0.0).sum(axis=1)
        return np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)


def _arr(frame: pl.DataFrame, col: str) -> np.ndarray:
    return frame[col].to_numpy().astype(np.float64)


def _mat(frame: pl.DataFrame, col: str, fill: float = np.nan) -> np.ndarray:
    """An array column as a 2-D float matrix (one row per frame row; null rows ``fill``)."""
    s = frame[col]
    width = s.dtype.size
    present = s.is_not_null().to_numpy()
    if present.all():
        return np.asarray(s.to_numpy(), dtype=np.float64).reshape(-1, width)
    out = np.full((frame.height, width), fill)
    if present.any():
        out[present] = np.asarray(s.filter(pl.Series(present)).to_numpy(),
                                  dtype=np.float64).reshape(-1, width)
    return out


def _ragged(mat: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``mat`` where ``mask``, concatenated, with offsets (for the kernels)."""
    from griddiag.kernels._validate import offsets_from_lengths

    counts = mask.sum(axis=1)
    off = offsets_from_lengths(counts)
    return np.ascontiguousarray(mat[mask]), off


def _shape_change(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(1 - Pearson r) / 2 of two profiles per row: 0 same shape, 1 mirror image; NaN with
    fewer than 3 slots known in both or a flat profile. All rows at once."""
    ok = np.isfinite(p) & np.isfinite(q)
    n = ok.sum(axis=1)
    a = np.where(ok, p, 0.0)
    b = np.where(ok, q, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ca = np.where(ok, a - (a.sum(axis=1) / n)[:, None], 0.0)
        cb = np.where(ok, b - (b.sum(axis=1) / n)[:, None], 0.0)
        r = (ca * cb).sum(axis=1) / np.sqrt((ca * ca).sum(axis=1) * (cb * cb).sum(axis=1))
    # flat: max == min over the known slots (a variance test would see rounding noise)
    flat_a = np.where(ok, p, -np.inf).max(axis=1) <= np.where(ok, p, np.inf).min(axis=1)
    flat_b = np.where(ok, q, -np.inf).max(axis=1) <= np.where(ok, q, np.inf).min(axis=1)
    good = (n >= 3) & ~flat_a & ~flat_b
    return np.where(good, (1.0 - np.clip(r, -1.0, 1.0)) / 2.0, np.nan)


def _profiles(psum: np.ndarray, pcnt: np.ndarray, months: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Mean weekly (168) and daily (24) profiles over the given months."""
    s = psum.reshape(-1, 12, 168)[:, months].sum(axis=1)
    c = pcnt.reshape(-1, 12, 168)[:, months].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        week = np.where(c > 0, s / c, np.nan)
        day = np.where(c.reshape(-1, 7, 24).sum(axis=1) > 0,
                       s.reshape(-1, 7, 24).sum(axis=1) / c.reshape(-1, 7, 24).sum(axis=1),
                       np.nan)
    return week, day


def _circ_dist(a, b):
    d = np.abs(np.asarray(a) - np.asarray(b)) % 24
    return np.minimum(d, 24 - d)


def _degree_day_fit(y, t, w, th: Thresholds):
    """OLS of daily value on [1, HDD, CDD, rest day]; returns (coef, cov) or None.

    One series, in NumPy: the reference of :func:`griddiag.kernels.yoy.degree_day_fits`,
    which :func:`compare_summaries` runs over all series at once."""
    ok = np.isfinite(y) & np.isfinite(t)
    if ok.sum() < 30:
        return None
    hdd = np.maximum(th.hdd_base_c - t[ok], 0.0)
    cdd = np.maximum(t[ok] - th.cdd_base_c, 0.0)
    x = np.column_stack([np.ones(ok.sum()), hdd, cdd, w[ok]])
    keep = [0] + [k for k in (1, 2, 3) if np.ptp(x[:, k]) > 0]
    x = x[:, keep]
    coef, *_ = np.linalg.lstsq(x, y[ok], rcond=None)
    resid = y[ok] - x @ coef
    dof = max(ok.sum() - len(keep), 1)
    s2 = float(resid @ resid) / dof
    r = float(np.corrcoef(resid[1:], resid[:-1])[0, 1]) if resid.size > 3 and resid.std() > 0 \
        else 0.0
    infl = (1 + min(max(r, 0.0), 0.95)) / (1 - min(max(r, 0.0), 0.95))
    try:
        cov = np.linalg.inv(x.T @ x) * s2 * infl
    except np.linalg.LinAlgError:
        return None
    full = np.zeros(4)
    fcov = np.zeros((4, 4))
    full[keep] = coef
    fcov[np.ix_(keep, keep)] = cov
    return full, fcov


def _predict(coef, t, w, th: Thresholds):
    hdd = np.maximum(th.hdd_base_c - t, 0.0)
    cdd = np.maximum(t - th.cdd_base_c, 0.0)
    return coef[0] + coef[1] * hdd + coef[2] * cdd + coef[3] * w


#: What a level metric is called in a reason ("mean oil temperature fell by 9.4 degC").
_LEVEL_NOUNS = {
    "oil_temp_c": "mean oil temperature", "ambient_temp_c": "mean ambient temperature",
    "power_factor": "mean power factor", "load_kva": "mean load",
    "active_power_kw": "mean active power",
}


def _is_ratio_metric(metric: str) -> bool:
    m = METRICS.get(metric)
    return m is not None and m.kind == "interval_energy"


def metric_noun(metric: str) -> str:
    """The subject of a reason sentence: ``consumption`` for imported energy only."""
    if metric in _LEVEL_NOUNS:
        return _LEVEL_NOUNS[metric]
    m = METRICS.get(metric)
    if m is not None and m.kind == "interval_energy":
        return "exported energy" if "export" in metric else "consumption"
    if metric.startswith("voltage_v_"):
        return f"mean phase {metric.rsplit('_', 1)[1].upper()} voltage"
    if metric.startswith("current_a_"):
        return f"mean phase {metric.rsplit('_', 1)[1].upper()} current"
    return f"mean {m.description if m is not None else metric}"


def _amount(x: float, unit: str | None) -> str:
    """``9.4 degC``, ``0.05`` (dimensionless), ``1.07 (source unit)`` (no unit known)."""
    v = f"{abs(x):.3g}"
    if unit == "1":
        return v
    return f"{v} {unit}" if unit else f"{v} (source unit)"


def level_thresholds(metric: str, unit: str | None, scale: float, th: "Thresholds"
                     ) -> tuple[float, float]:
    """(growth/decline, step) thresholds of a level metric, in its unit.

    ``scale`` is the baseline's mean absolute daily level. Temperatures are on an interval
    scale (0 degC is not "no heat"), so only an absolute change in K means anything; a
    voltage is judged as a share of its (near-nominal) level; power factor is bounded by 1;
    loads, currents, powers and unknown metrics use energy's ratios of ``scale``."""
    if unit == "degC":
        return th.temp_change_k, th.temp_step_k
    if unit == "V" or metric.startswith("voltage_v"):
        return th.voltage_share * scale, th.voltage_share * scale
    if unit == "1" or metric == "power_factor":
        return th.power_factor_change, th.power_factor_change
    return th.growth_ratio * scale, th.step_ratio * scale


def compare_summaries(current: pl.DataFrame, baselines: pl.DataFrame, *, year: int,
                      baseline_years: list[int], period_end: date | None = None,
                      group_by: str = "asset", holiday_country: str | None = "CN",
                      findings: pl.DataFrame | None = None, n_members: pl.DataFrame | None = None,
                      thresholds: Thresholds | None = None) -> pl.DataFrame:
    """Every measure of each current series against its baseline series (one batch).

    Parameters
    ----------
    current : polars.DataFrame
        Yearly summaries of ``year`` (:func:`griddiag.yoy.summary.yearly_summary`), one row per
        (asset or group, metric).
    baselines : polars.DataFrame
        Yearly summaries of ``baseline_years`` for the same series.
    period_end : datetime.date, optional
        First local date *not* compared (a partial current year); default 1 January of the
        next year. The same dates of the baseline years are compared.
    findings : polars.DataFrame, optional
        Detector findings; their count per asset in the compared period of each year.
    n_members : polars.DataFrame, optional
        ``asset_id, n_members`` for groups.

    Returns
    -------
    polars.DataFrame
        ``YOY_SCHEMA`` columns with ``q_value``, ``significant`` and ``rank`` still null (see
        :func:`finalize`), plus ``MEASURES_EXTRA``.
    """
    from griddiag.kernels.yoy import distribution_shift, mean_shift, paired_change

    th = thresholds or Thresholds()
    if current.height == 0:
        return _empty_measures()
    cur = current.sort("asset_id", "metric")
    keys = cur.select("asset_id", "metric")
    n = cur.height
    n_days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    end_idx = (n_days if period_end is None
               else max(0, min(n_days, (period_end - date(year, 1, 1)).days)))
    cv = _mat(cur, "day_value")
    cc = _mat(cur, "day_count")
    cpk = _mat(cur, "day_peak")
    cph = _mat(cur, "day_peak_hour")
    cbl = _mat(cur, "day_base")
    ctp = _mat(cur, "day_temp")
    per_day = _arr(cur, "per_day")
    kinds, _ = day_types(year, holiday_country)
    rest_c = np.zeros(N := cv.shape[1])
    rest_c[:n_days] = (kinds != 0).astype(float)

    # baseline values on the current calendar: mean over baseline years of the paired days
    shape = (n, N)
    bsum = np.zeros(shape)
    bcnt = np.zeros(shape)
    bcov = np.zeros(shape)
    bcov_n = np.zeros(shape)
    bph_list, bval_list, btp_list, bwk_list = [], [], [], []
    bpk = np.full(n, np.nan)
    bbl = []
    b_pairs_all = []
    for by in baseline_years:
        b = baselines.filter(pl.col("year") == by)
        b = keys.join(b, on=["asset_id", "metric"], how="left", maintain_order="left")
        ci, bi = align_days(year, by, holiday_country)
        sel = ci < end_idx
        ci, bi = ci[sel], bi[sel]
        b_pairs_all.append((by, ci, bi))
        if b["day_value"].null_count() == b.height:
            continue
        bv = _mat(b, "day_value")
        bc = _mat(b, "day_count", 0.0)
        bp = _mat(b, "day_peak")
        bh = _mat(b, "day_peak_hour")
        bb = _mat(b, "day_base")
        bt = _mat(b, "day_temp")
        on = np.full(shape, np.nan)
        on[:, ci] = bv[:, bi]
        ok = np.isfinite(on)
        bsum += np.where(ok, on, 0.0)
        bcnt += ok
        cov = np.full(shape, np.nan)
        bpd = _arr(b, "per_day")
        with np.errstate(invalid="ignore", divide="ignore"):
            cov[:, ci] = bc[:, bi] / bpd[:, None]
        bcov += np.nan_to_num(cov)
        bcov_n[:, ci] += 1
        x = np.full(shape, np.nan)
        x[:, ci] = bh[:, bi]
        bph_list.append(x)
        x = np.full(shape, np.nan)
        x[:, ci] = bt[:, bi]
        btp_list.append(x)
        vv = np.full(shape, np.nan)
        vv[:, ci] = bv[:, bi]
        bval_list.append(vv)
        pk = np.nanmax(np.where(np.isfinite(bp[:, bi]), bp[:, bi], -np.inf), axis=1)
        pk = np.where(np.isfinite(pk), pk, np.nan)
        bpk = np.fmax(bpk, pk)
        with warnings.catch_warnings():  # an asset without a baseline value: NaN, silently
            warnings.simplefilter("ignore", RuntimeWarning)
            bbl.append(np.nanmedian(np.where(np.isfinite(bb[:, bi]), bb[:, bi], np.nan),
                                    axis=1) if bi.size else np.full(n, np.nan))
        months = np.unique([(date(by, 1, 1) + timedelta(days=int(j))).month - 1 for j in bi])
        bwk_list.append((_mat(b, "profile_sum") if b["profile_sum"].null_count() == 0
                         else None, _mat(b, "profile_count")
                         if b["profile_count"].null_count() == 0 else None, months))
    with np.errstate(invalid="ignore", divide="ignore"):
        base = np.where(bcnt > 0, bsum / np.maximum(bcnt, 1), np.nan)
        base_cov = np.where(bcov_n > 0, bcov / np.maximum(bcov_n, 1), np.nan)
    in_period = np.zeros(N, dtype=bool)
    in_period[:end_idx] = True
    paired = in_period[None, :] & (bcov_n > 0)
    cur_ok = np.isfinite(cv) & paired
    both = cur_ok & np.isfinite(base)
    with np.errstate(invalid="ignore", divide="ignore"):
        cur_cov = np.where(paired, cc / per_day[:, None], np.nan)
    coverage = _nanmean_rows(np.where(paired, cur_cov, np.nan))
    coverage_b = _nanmean_rows(np.where(paired, base_cov, np.nan))

    energy_c = np.where(both, cv, 0.0).sum(axis=1)
    energy_b = np.where(both, base, 0.0).sum(axis=1)
    has_pairs = both.any(axis=1)
    energy_c = np.where(has_pairs, energy_c, np.nan)
    energy_b = np.where(has_pairs, energy_b, np.nan)
    metric_list = cur["metric"].to_list()
    units = [METRICS[m].unit if m in METRICS else None for m in metric_list]
    is_energy = np.array([_is_ratio_metric(m) for m in metric_list], dtype=bool)
    n_both = both.sum(axis=1)
    # for non-energy metrics the "total" is the mean daily level
    energy_c = np.where(is_energy, energy_c, energy_c / np.maximum(n_both, 1))
    energy_b = np.where(is_energy, energy_b, energy_b / np.maximum(n_both, 1))
    # ratio scale: a true zero (not degC) and no paired day below zero on either side (a
    # vacant day of zero energy is fine: the log ratio has a floor, the percentage uses sums);
    # energy on a ratio scale is compared by ratio, everything else by difference (a "level")
    min_pair = np.fmin(np.where(both, cv, np.inf).min(axis=1, initial=np.inf),
                       np.where(both, base, np.inf).min(axis=1, initial=np.inf))
    ratio_scale = np.array([u != "degC" for u in units], dtype=bool) & (min_pair >= 0)
    # energy with a negative day (a signed net flow) is a level too
    is_level = ~(is_energy & (ratio_scale | ~has_pairs))
    with np.errstate(invalid="ignore", divide="ignore"):
        change = energy_c - energy_b
        change_pct = np.where(ratio_scale, 100.0 * change / energy_b, np.nan)
        scale = _nanmean_rows(np.abs(np.where(both, base, np.nan)))
    lv_thr = np.full(n, np.nan)
    lv_step = np.full(n, np.nan)
    for i in np.flatnonzero(is_level):
        lv_thr[i], lv_step[i] = level_thresholds(metric_list[i], units[i], scale[i], th)

    # daily log ratios (energy can be zero: a small floor keeps vacant days finite)
    floor = 1e-3 * np.nanmax(np.abs(np.where(both, base, np.nan)), axis=1, initial=0.0)[:, None]
    floor = np.where(floor > 0, floor, 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(both, np.log(np.maximum(cv, floor) / np.maximum(base, floor)), np.nan)
    # levels: daily differences in the metric's unit (a log ratio of a Celsius level or of a
    # flow that crosses zero means nothing)
    d = np.where(is_level[:, None] & both, cv - base, d)
    dv, doff = _ragged(d, both)
    m_d, se_d, p_growth = paired_change(dv, doff)

    # distribution shift: current days against all paired baseline days
    bv_all = np.concatenate(bval_list, axis=1) if bval_list else np.full((n, 0), np.nan)
    bmask = np.isfinite(bv_all) & np.tile(in_period, len(bval_list))[None, :] \
        if bval_list else np.zeros((n, 0), dtype=bool)
    av, ao = _ragged(cv, cur_ok)
    bvv, bo = _ragged(bv_all, bmask)
    dist = distribution_shift(av, ao, bvv, bo)

    # weather normalisation: degree-day model of the baseline, applied to this year's weather
    bt_mean = _nanmean_rows_3d(btp_list, shape)
    weather_pct = np.full(n, np.nan)
    seasonal_share = np.full(n, np.nan)
    seasonal_p = np.full(n, np.nan)
    d_w = np.full(shape, np.nan)
    # degree-day normalisation is an energy model (log ratios, percentages): energy rows only
    _weather(np.flatnonzero(((np.isfinite(ctp) & both).sum(axis=1) >= 30) & ~is_level)
             if bval_list else np.arange(0), bt_mean, bval_list, btp_list, rest_c, in_period,
             both, cv, ctp, floor, th, weather_pct, seasonal_share, seasonal_p, d_w)
    has_w = np.isfinite(weather_pct)
    # step search on the weather-normalised ratios where known (less weather noise)
    d_step = np.where(has_w[:, None], d_w, d)
    shift = mean_shift(d_step.ravel(), np.arange(0, (n + 1) * N, N), min_segment=14)
    step_idx = np.where(shift["index"] >= 0, shift["index"] - np.arange(n) * N, -1)
    persist = _persistence(d_step, step_idx, shift["before"], shift["after"])
    dwv, dwo = _ragged(np.where(np.isfinite(d_w), d_w, np.nan), np.isfinite(d_w))
    m_dw, _, p_growth_w = paired_change(dwv, dwo)

    # peak, load factor, base load, profiles
    cpk_p = np.where(in_period[None, :], cpk, np.nan)
    peak_c = np.nanmax(np.where(np.isfinite(cpk_p), cpk_p, -np.inf), axis=1)
    peak_c = np.where(np.isfinite(peak_c), peak_c, np.nan)
    peak_day = np.argmax(np.where(np.isfinite(cpk_p), cpk_p, -np.inf), axis=1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as meant
        base_c = np.nanmedian(cbl[:, in_period], axis=1) if end_idx else np.full(n, np.nan)
    base_b = np.nanmean(np.stack(bbl), axis=0) if bbl and np.isfinite(np.stack(bbl)).any() \
        else np.full(n, np.nan)
    months_c = np.unique([(date(year, 1, 1) + timedelta(days=int(j))).month - 1
                          for j in range(end_idx)]) if end_idx else np.arange(0)
    wk_c, dy_c = _profiles(_mat(cur, "profile_sum"), _mat(cur, "profile_count"), months_c)
    wk_b = np.zeros_like(wk_c)
    n_wk = 0
    for ps, pc, months in bwk_list:
        if ps is None:
            continue
        w, _ = _profiles(ps, pc, months)
        wk_b = wk_b + np.nan_to_num(w)
        n_wk += 1
    wk_b = wk_b / n_wk if n_wk else np.full_like(wk_c, np.nan)
    dy_b = wk_b.reshape(-1, 7, 24).mean(axis=1)
    ok_day = np.isfinite(dy_c).all(axis=1) & np.isfinite(dy_b).all(axis=1)
    peak_hour_c = np.where(ok_day, np.argmax(np.nan_to_num(dy_c, nan=-np.inf), axis=1), np.nan)
    peak_hour_b = np.where(ok_day, np.argmax(np.nan_to_num(dy_b, nan=-np.inf), axis=1), np.nan)
    daily_shape = _shape_change(dy_c, dy_b)
    weekly_shape = _shape_change(wk_c, wk_b)
    mean_c = np.where(both, cv, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        hours_level = np.where(is_energy, _nanmean_rows(mean_c) / 24.0, _nanmean_rows(mean_c))
        lf_c = hours_level / peak_c
        mb = np.where(both, base, np.nan)
        lf_b = np.where(is_energy, _nanmean_rows(mb) / 24.0, _nanmean_rows(mb)) / bpk
    # peak-hour test: each day's distance from the baseline's typical peak hour
    bph = _nanmean_rows_3d(bph_list, shape)
    dist_c = _circ_dist(cph, peak_hour_b[:, None])
    dist_b = _circ_dist(bph, peak_hour_b[:, None])
    ph = np.where(both & np.isfinite(dist_c) & np.isfinite(dist_b), dist_c - dist_b, np.nan)
    phv, pho = _ragged(ph, np.isfinite(ph))
    _, _, p_peak = paired_change(phv, pho)
    # volatility: deviations from a 7-day running median of log values
    dev_c = _abs_dev(np.where(cur_ok, cv, np.nan), floor, is_level)
    dev_b = _abs_dev(np.where(both, base, np.nan), floor, is_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        vol_ratio = _nanmean_rows(dev_c) / _nanmean_rows(dev_b)
    vd = np.where(np.isfinite(dev_c) & np.isfinite(dev_b), dev_c - dev_b, np.nan)
    vv, vo = _ragged(vd, np.isfinite(vd))
    _, _, p_vol = paired_change(vv, vo)
    covd = np.where(paired & np.isfinite(cur_cov) & np.isfinite(base_cov), cur_cov - base_cov,
                    np.nan)
    cvv, cvo = _ragged(covd, np.isfinite(covd))
    _, _, p_cov = paired_change(cvv, cvo)

    # anomaly counts
    a_c, a_b = _anomaly_counts(findings, keys, year, baseline_years, end_idx, cur["tz"])

    # classification
    rows_class, rows_p, rows_eff, rows_date, rows_reason = [], [], [], [], []
    ids = keys["asset_id"].to_list()
    for i in range(n):
        if is_level[i]:
            cls, p, eff, when, why = _classify_level(
                i, has_pairs=has_pairs, coverage=coverage, coverage_b=coverage_b, th=th,
                p_cov=p_cov, m_d=m_d, p_growth=p_growth, shift=shift, step_idx=step_idx,
                persist=persist, thr=lv_thr[i], step_thr=lv_step[i], year=year,
                noun=metric_noun(metric_list[i]), unit=units[i], level_c=energy_c[i],
                level_b=energy_b[i], peak_hour_c=peak_hour_c, peak_hour_b=peak_hour_b,
                daily_shape=daily_shape, vol_ratio=vol_ratio, p_peak=p_peak, p_vol=p_vol,
                baseline_years=baseline_years)
            rows_class.append(cls)
            rows_p.append(float(p) if np.isfinite(p) else 1.0)
            rows_eff.append(float(eff) if np.isfinite(eff) else None)
            rows_date.append(when)
            rows_reason.append(f"{ids[i]} {metric_list[i]}: {why}")
            continue
        growth_m = m_dw[i] if has_w[i] and np.isfinite(m_dw[i]) else m_d[i]
        growth_p = p_growth_w[i] if has_w[i] and np.isfinite(p_growth_w[i]) else p_growth[i]
        before, after = shift["before"][i], shift["after"][i]
        k = int(step_idx[i])
        jump = after - before if k >= 0 else np.nan
        step_ok = (k >= 0 and np.isfinite(jump) and abs(jump) >= math.log1p(th.step_ratio)
                   and abs(after) > abs(before) and k >= th.step_edge_days
                   and shift["p_value"][i] < 0.05 and persist[i] >= 0.5)
        level_after = math.exp(after) if k >= 0 and np.isfinite(after) else np.nan
        ratio_all = energy_c[i] / energy_b[i] if energy_b[i] else np.nan
        cls, p, eff, when, why = "unchanged", np.nan, np.nan, None, ""
        if not has_pairs[i]:
            cls, p, why = "data_quality", 0.0, "no readings on the compared days of this year"
            eff = 1.0
        elif (coverage[i] < th.min_coverage
              or (np.isfinite(coverage_b[i]) and coverage_b[i] - coverage[i] >= th.coverage_drop)):
            cls, p = "data_quality", p_cov[i]
            eff = (coverage_b[i] - coverage[i]) if np.isfinite(coverage_b[i]) else 1 - coverage[i]
            why = (f"data coverage fell from {coverage_b[i]:.0%} to {coverage[i]:.0%} of the "
                   "expected intervals")
        elif is_energy[i] and (ratio_all < th.near_zero_ratio
                               or (step_ok and level_after < th.near_zero_ratio)):
            cls = "near_zero"
            if step_ok and level_after < th.near_zero_ratio:
                p, eff, when = shift["p_value"][i], -jump, _date_of(year, k)
                why = (f"consumption fell to {level_after:.0%} of the baseline from {when}: "
                       "premises vacant or supply stopped")
            else:
                p, eff = p_growth[i], -m_d[i]
                why = (f"consumption is {ratio_all:.0%} of the baseline all period: premises "
                       "vacant or supply stopped")
        elif step_ok:
            cls, p, eff, when = "step_change", shift["p_value"][i], jump, _date_of(year, k)
            why = (f"level stepped {'up' if jump > 0 else 'down'} by {math.expm1(jump):+.0%} on "
                   f"{when} (new load, meter exchange or theft onset) and stayed there")
        elif (np.isfinite(seasonal_share[i]) and abs(seasonal_share[i]) >= th.seasonal_share
              and seasonal_p[i] < 0.01):
            cls, p, eff = "new_seasonal_pattern", seasonal_p[i], seasonal_share[i]
            why = (f"temperature-driven consumption {'grew' if eff > 0 else 'fell'} by "
                   f"{eff:+.0%} of the baseline energy (degree-day slopes changed: e.g. a new "
                   "cooling or heating load)")
        elif np.isfinite(growth_m) and abs(growth_m) >= math.log1p(th.growth_ratio):
            cls = "growth" if growth_m > 0 else "decline"
            p, eff = growth_p, growth_m
            noun = metric_noun(metric_list[i])
            word = "rose" if growth_m > 0 else "fell"
            if has_w[i]:
                # the class follows the weather-normalised change: say so, with its figure
                why = (f"{noun} {word} uniformly after weather normalisation: "
                       f"{weather_pct[i]:+.1f} % ({change_pct[i]:+.1f} % before) against the "
                       f"same days of {_years(baseline_years)}")
            else:
                why = (f"{noun} {word} uniformly: {change_pct[i]:+.1f} % against the same "
                       f"days of {_years(baseline_years)}")
        elif (np.isfinite(peak_hour_c[i]) and np.isfinite(peak_hour_b[i])
              and _circ_dist(peak_hour_c[i], peak_hour_b[i]) >= th.peak_shift_h
              and daily_shape[i] >= th.shape_change):
            cls, p = "peak_shift", p_peak[i]
            eff = float(_circ_dist(peak_hour_c[i], peak_hour_b[i]))
            why = (f"typical daily peak moved from {int(peak_hour_b[i]):02d}:00 to "
                   f"{int(peak_hour_c[i]):02d}:00 local time (daily shape change "
                   f"{daily_shape[i]:.2f})")
        elif np.isfinite(vol_ratio[i]) and vol_ratio[i] >= th.volatility_ratio:
            cls, p, eff = "volatility", p_vol[i], math.log(vol_ratio[i])
            why = f"day-to-day variability is {vol_ratio[i]:.1f}x that of the baseline"
        else:
            tests = [x for x in (p_growth[i], shift["p_value"][i], p_peak[i], p_vol[i])
                     if np.isfinite(x)]
            p = min(1.0, len(tests) * min(tests)) if tests else np.nan
            eff = growth_m
            why = (f"no change beyond the thresholds: {change_pct[i]:+.1f} % energy against "
                   f"the same days of {_years(baseline_years)}")
        if not np.isfinite(p):
            p = 1.0
        rows_class.append(cls)
        rows_p.append(float(p))
        rows_eff.append(float(eff) if np.isfinite(eff) else None)
        rows_date.append(when)
        rows_reason.append(f"{ids[i]} {metric_list[i]}: {why}")

    peak_ts = _peak_ts_all(year, peak_day, cph[np.arange(n), peak_day],
                           np.isfinite(peak_c), cur["tz"])
    members = (keys.join(n_members, on="asset_id", how="left",
                         maintain_order="left")["n_members"].fill_null(1)
               if n_members is not None else pl.Series([1] * n))
    ps = dist["quantile_delta"]
    out = pl.DataFrame({
        "asset_id": keys["asset_id"], "group_by": [group_by] * n, "metric": keys["metric"],
        "unit": units, "year": [year] * n, "baseline_years": [_years(baseline_years)] * n,
        "period_start": [date(year, 1, 1)] * n,
        "period_end": [date(year, 1, 1) + timedelta(days=end_idx)] * n,
        "n_members": members, "energy_kwh": energy_c, "energy_baseline_kwh": energy_b,
        "energy_change_kwh": change, "energy_change_pct": change_pct,
        "energy_change_weather_pct": weather_pct, "peak_kw": peak_c, "peak_baseline_kw": bpk,
        "peak_ts": peak_ts, "peak_hour": peak_hour_c, "peak_hour_baseline": peak_hour_b,
        "load_factor": lf_c, "load_factor_baseline": lf_b, "base_load_kw": base_c,
        "base_load_baseline_kw": base_b, "daily_shape_change": daily_shape,
        "weekly_shape_change": weekly_shape, "ks_stat": dist["ks_stat"],
        "ks_p_value": dist["ks_p_value"], "wasserstein": dist["wasserstein"],
        "psi": dist["psi"], "p5_delta": ps[:, 0], "p50_delta": ps[:, 1], "p95_delta": ps[:, 2],
        "volatility_ratio": vol_ratio, "coverage": coverage, "coverage_baseline": coverage_b,
        "anomaly_count": a_c, "anomaly_count_baseline": a_b, "effect_size": rows_eff,
        "change_class": rows_class, "change_date": rows_date, "p_value": rows_p,
        "q_value": [None] * n, "significant": [None] * n, "rank": [None] * n,
        "reason": rows_reason,
    }, strict=False)
    out = out.with_columns(
        [pl.col(c).fill_nan(None) for c, t in YOY_SCHEMA.items() if t == pl.Float64()])
    out = out.select([pl.col(c).cast(t) for c, t in YOY_SCHEMA.items()])
    score = np.abs(np.array([e if e is not None else 0.0 for e in rows_eff]))
    return out.with_columns(pl.Series("_score", score))


def _classify_level(i, *, has_pairs, coverage, coverage_b, th: Thresholds, p_cov, m_d,
                    p_growth, shift, step_idx, persist, thr, step_thr, year, noun, unit,
                    level_c, level_b, peak_hour_c, peak_hour_b, daily_shape, vol_ratio,
                    p_peak, p_vol, baseline_years):
    """Change class of level series ``i`` (compared by daily difference ``d_t``, in its unit):
    the energy classes' order without ``near_zero`` and ``new_seasonal_pattern``; effect size
    = the change in the metric's unit (mean difference, or the step's jump)."""
    when = None
    if not has_pairs[i]:
        return "data_quality", 0.0, 1.0, None, "no readings on the compared days of this year"
    if (coverage[i] < th.min_coverage
            or (np.isfinite(coverage_b[i]) and coverage_b[i] - coverage[i] >= th.coverage_drop)):
        eff = (coverage_b[i] - coverage[i]) if np.isfinite(coverage_b[i]) else 1 - coverage[i]
        return ("data_quality", p_cov[i], eff, None,
                f"data coverage fell from {coverage_b[i]:.0%} to {coverage[i]:.0%} of the "
                "expected intervals")
    before, after = shift["before"][i], shift["after"][i]
    k = int(step_idx[i])
    jump = after - before if k >= 0 else np.nan
    step_ok = (k >= 0 and np.isfinite(jump) and np.isfinite(step_thr)
               and abs(jump) >= step_thr and abs(after) > abs(before)
               and k >= th.step_edge_days and shift["p_value"][i] < 0.05 and persist[i] >= 0.5)
    years = _years(baseline_years)
    if step_ok:
        when = _date_of(year, k)
        return ("step_change", shift["p_value"][i], jump, when,
                f"{noun} stepped {'up' if jump > 0 else 'down'} by {_amount(jump, unit)} on "
                f"{when} and stayed there")
    growth_m = m_d[i]
    if np.isfinite(growth_m) and np.isfinite(thr) and abs(growth_m) >= thr and growth_m != 0:
        return ("growth" if growth_m > 0 else "decline", p_growth[i], growth_m, None,
                f"{noun} {'rose' if growth_m > 0 else 'fell'} by {_amount(growth_m, unit)} "
                f"({_num(level_b)} -> {_num(level_c)}) against the same days of {years}")
    if (np.isfinite(peak_hour_c[i]) and np.isfinite(peak_hour_b[i])
            and _circ_dist(peak_hour_c[i], peak_hour_b[i]) >= th.peak_shift_h
            and daily_shape[i] >= th.shape_change):
        return ("peak_shift", p_peak[i], float(_circ_dist(peak_hour_c[i], peak_hour_b[i])),
                None, f"typical daily maximum of the {noun.removeprefix('mean ')} moved from "
                f"{int(peak_hour_b[i]):02d}:00 to {int(peak_hour_c[i]):02d}:00 local time "
                f"(daily shape change {daily_shape[i]:.2f})")
    if np.isfinite(vol_ratio[i]) and vol_ratio[i] >= th.volatility_ratio:
        return ("volatility", p_vol[i], math.log(vol_ratio[i]), None,
                f"day-to-day variability of the {noun.removeprefix('mean ')} is "
                f"{vol_ratio[i]:.1f}x that of the baseline")
    tests = [x for x in (p_growth[i], shift["p_value"][i], p_peak[i], p_vol[i])
             if np.isfinite(x)]
    p = min(1.0, len(tests) * min(tests)) if tests else np.nan
    change = level_c - level_b
    moved = "rose" if change > 0 else "fell" if change < 0 else "moved"
    return ("unchanged", p, growth_m, None,
            f"no change beyond the thresholds: {noun} {moved} by {_amount(change, unit)} "
            f"({_num(level_b)} -> {_num(level_c)}) against the same days of {years}")


def _num(x: float) -> str:
    return f"{x:.4g}" if np.isfinite(x) else "n/a"


def _weather(rows, bt_mean, bval_list, btp_list, rest_c, in_period, both, cv, ctp, floor,
             th: Thresholds, weather_pct, seasonal_share, seasonal_p, d_w) -> None:
    """Weather normalisation of the series ``rows`` (those with 30 or more compared days of
    known temperature), all at once: a degree-day model of the baseline days (each baseline
    year's own temperature) predicts this year's days from this year's weather; a model of
    this year tells whether the temperature slopes themselves changed (new cooling or heating
    load). Fills the output arrays in place."""
    from griddiag.kernels.yoy import degree_day_fits

    rows = rows[np.isfinite(bt_mean[rows]).any(axis=1)] if rows.size else rows
    if rows.size == 0:
        return
    k = len(bval_list)
    width = rest_c.shape[0]
    mb = np.tile(in_period, k)
    yb = np.where(mb[None, :], np.concatenate([v[rows] for v in bval_list], axis=1), np.nan)
    tb = np.concatenate([t[rows] for t in btp_list], axis=1)
    wb = np.broadcast_to(np.tile(rest_c, k), yb.shape)
    m = rows.size
    kw = dict(hdd_base_c=th.hdd_base_c, cdd_base_c=th.cdd_base_c, min_days=30)
    fb, fb_cov, fb_ok = degree_day_fits(yb.ravel(), tb.ravel(), np.ascontiguousarray(wb).ravel(),
                                        np.arange(m + 1, dtype=np.int64) * width * k, **kw)
    yc = np.where(both[rows], cv[rows], np.nan)
    tc = ctp[rows]
    wc = np.broadcast_to(rest_c, yc.shape)
    fc, fc_cov, fc_ok = degree_day_fits(yc.ravel(), tc.ravel(), np.ascontiguousarray(wc).ravel(),
                                        np.arange(m + 1, dtype=np.int64) * width, **kw)
    hdd = np.maximum(th.hdd_base_c - tc, 0.0)
    cdd = np.maximum(tc - th.cdd_base_c, 0.0)
    pred = fb[:, [0]] + fb[:, [1]] * hdd + fb[:, [2]] * cdd + fb[:, [3]] * rest_c[None, :]
    with np.errstate(invalid="ignore"):
        ok = both[rows] & np.isfinite(pred) & (pred > 0) & fb_ok[:, None]
    n_ok = ok.sum(axis=1)
    sel = n_ok >= 30
    cur_sum = np.where(ok, cv[rows], 0.0).sum(axis=1)
    pred_sum = np.where(ok, pred, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weather_pct[rows[sel]] = (100.0 * (cur_sum - pred_sum) / pred_sum)[sel]
        fl = floor[rows]
        dw = np.log(np.maximum(cv[rows], fl) / np.maximum(pred, fl))
    dw_rows = d_w[rows]
    put = ok & sel[:, None]
    dw_rows[put] = dw[put]
    d_w[rows] = dw_rows
    # energy the change of temperature slopes adds over this year's degree days
    t_ok = both[rows] & np.isfinite(tc)
    hdd_s = np.where(t_ok, hdd, 0.0).sum(axis=1)
    cdd_s = np.where(t_ok, cdd, 0.0).sum(axis=1)
    extra = (fc[:, 1] - fb[:, 1]) * hdd_s + (fc[:, 2] - fb[:, 2]) * cdd_s
    var = ((fc_cov[:, 1, 1] + fb_cov[:, 1, 1]) * hdd_s ** 2
           + (fc_cov[:, 2, 2] + fb_cov[:, 2, 2]) * cdd_s ** 2)
    total_b = np.where(t_ok, pred, 0.0).sum(axis=1)
    both_fit = fb_ok & fc_ok & (total_b > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = extra / total_b
        p = np.where(var > 0,
                     np.array([math.erfc(x) for x in
                               (np.abs(extra) / np.sqrt(np.where(var > 0, var, 1.0))
                                / math.sqrt(2.0))]) if m else np.empty(0),
                     np.where(extra != 0, 0.0, 1.0))
    seasonal_share[rows[both_fit]] = share[both_fit]
    seasonal_p[rows[both_fit]] = p[both_fit]


def _persistence(d_step: np.ndarray, step_idx: np.ndarray, before: np.ndarray,
                 after: np.ndarray) -> np.ndarray:
    """How much of a step is still there at the end: the mean of the last 60 known daily log
    ratios from the step on, as a share of the jump (1 = kept, 0 = back to the old level)."""
    n, width = d_step.shape
    fin = np.isfinite(d_step)
    k = step_idx[:, None]
    cols = np.arange(width)[None, :]
    after_k = fin & (cols >= k) & (k >= 0)
    from_right = np.cumsum(after_k[:, ::-1], axis=1)[:, ::-1]
    tail = after_k & (from_right <= 60)
    cnt = tail.sum(axis=1)
    jump = after - before
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(tail, d_step, 0.0).sum(axis=1) / cnt
        out = (mean - before) / jump
    return np.where((step_idx >= 0) & (cnt > 0) & (jump != 0) & np.isfinite(jump), out, np.nan)


def _nanmean_rows_3d(mats: list[np.ndarray], shape) -> np.ndarray:
    if not mats:
        return np.full(shape, np.nan)
    st = np.stack(mats)
    with np.errstate(invalid="ignore"):
        cnt = np.isfinite(st).sum(axis=0)
        return np.where(cnt > 0, np.nansum(st, axis=0) / np.maximum(cnt, 1), np.nan)


def _abs_dev(x: np.ndarray, floor: np.ndarray, is_level: np.ndarray | None = None
             ) -> np.ndarray:
    """|deviation| of each day from its 7-day running median: of log values for energy (so
    the ratio of two years' mean deviations is a ratio of relative variability), of the
    values themselves for levels (``is_level`` rows)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lx = np.log(np.maximum(x, floor))
    if is_level is not None:
        lx = np.where(is_level[:, None], x, lx)
    lx = np.where(np.isfinite(x), lx, np.nan)
    return np.abs(lx - _rolling_median7(lx))


def _rolling_median7(x: np.ndarray, min_known: int = 4) -> np.ndarray:
    """Centred 7-day running median of each row over its known values (windows cut at the
    ends), NaN with fewer than ``min_known`` known: all rows in one kernel call."""
    from griddiag.kernels.yoy import rolling_median

    n, width = x.shape
    off = np.arange(n + 1, dtype=np.int64) * width
    return rolling_median(np.ascontiguousarray(x).ravel(), off, window=7,
                          min_known=min_known).reshape(n, width)


def _date_of(year: int, k: int) -> date:
    return date(year, 1, 1) + timedelta(days=int(k))


def _years(years: list[int]) -> str:
    return ",".join(str(y) for y in years)


def _peak_ts(year: int, day: int, hour: float, tz: str) -> datetime | None:
    if not np.isfinite(hour):
        return None
    from datetime import UTC

    local = datetime(year, 1, 1, int(hour), tzinfo=ZoneInfo(tz)) + timedelta(days=day)
    return local.astimezone(UTC)


def _peak_ts_all(year: int, day: np.ndarray, hour: np.ndarray, ok: np.ndarray,
                 tz: pl.Series) -> pl.Series:
    """UTC start of each series' peak hour (local ``hour`` on day ``day`` of ``year``), zone
    by zone; null where there is no peak. A nonexistent local hour (DST gap) is moved
    forward and an ambiguous one takes its first occurrence, as ``zoneinfo`` does."""
    good = ok & np.isfinite(hour)
    local = (pl.Series(np.datetime64(date(year, 1, 1), "us")
                       + (np.asarray(day, dtype=np.int64) * 24
                          + np.where(good, hour, 0).astype(np.int64)) * 3_600_000_000)
             .cast(pl.Datetime("us")))
    frame = pl.DataFrame({"local": local, "tz": tz, "ok": good}).with_row_index("_i")
    out = []
    for (zone,), part in frame.partition_by("tz", as_dict=True).items():
        out.append(part.select("_i", pl.col("local").dt.replace_time_zone(
            zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
            .alias("peak_ts"), "ok"))
    res = pl.concat(out).sort("_i").select(
        pl.when(pl.col("ok")).then(pl.col("peak_ts"))).to_series().alias("peak_ts")
    gap = np.flatnonzero(good & res.is_null().to_numpy())
    if gap.size:  # a local hour in a DST gap: zoneinfo reads it with the earlier offset
        vals = res.to_list()
        tzs = tz.to_list()
        for i in gap:
            vals[i] = _peak_ts(year, int(day[i]), float(hour[i]), tzs[i])
        res = pl.Series("peak_ts", vals, dtype=pl.Datetime("us", "UTC"))
    return res


def _anomaly_counts(findings, keys, year, baseline_years, end_idx, tzs):
    n = keys.height
    if findings is None:
        return [None] * n, [None] * n
    tz = tzs[0] if len(tzs) else "UTC"
    f = findings.with_columns(pl.col("start").dt.convert_time_zone(tz).dt.date().alias("_d"))
    f = f.filter((pl.col("_d").dt.ordinal_day() - 1) < end_idx)
    counts = f.group_by("asset_id", pl.col("_d").dt.year().alias("_y")).len()
    cur = keys.join(counts.filter(pl.col("_y") == year), on="asset_id", how="left",
                    maintain_order="left")
    base = keys.join(counts.filter(pl.col("_y").is_in(baseline_years))
                     .group_by("asset_id").agg(pl.col("len").sum()), on="asset_id", how="left",
                     maintain_order="left")
    nb = max(len(baseline_years), 1)
    return (cur["len"].fill_null(0).cast(pl.Int64).to_list(),
            (base["len"].fill_null(0) / nb).round().cast(pl.Int64).to_list())


def _empty_measures() -> pl.DataFrame:
    return pl.DataFrame(schema={**YOY_SCHEMA, "_score": pl.Float64})


def finalize(measures: pl.DataFrame | list[pl.DataFrame], *, fdr: float = 0.05
             ) -> pl.DataFrame:
    """Population steps over every batch's measures: q-values, significance, ranks.

    Benjamini-Hochberg (1995, JRSS B 57:289) q-values over all rows of the same ``group_by``
    and ``metric`` (the population tested together); ``significant`` = a change class other
    than ``unchanged`` with ``q_value <= fdr``; ``rank`` 1 = the largest significant effect
    (then the rest by effect), within ``group_by`` and ``metric``. Row order and results do
    not depend on how the rows were batched.
    """
    if isinstance(measures, list):
        measures = pl.concat(measures) if measures else _empty_measures()
    if measures.height == 0:
        return pl.DataFrame(schema=YOY_SCHEMA)
    m = measures.sort("group_by", "metric", "asset_id")
    parts = []
    for _, part in m.group_by("group_by", "metric", maintain_order=True):
        p = part["p_value"].fill_null(1.0).to_numpy()
        q = bh_qvalues(p)
        sig = (q <= fdr) & (part["change_class"] != "unchanged").to_numpy()
        part = part.with_columns(pl.Series("q_value", q), pl.Series("significant", sig))
        order = part.with_row_index("_i").sort(["significant", "_score", "asset_id"],
                                               descending=[True, True, False])
        rank = np.empty(part.height, dtype=np.int32)
        rank[order["_i"].to_numpy()] = np.arange(1, part.height + 1, dtype=np.int32)
        parts.append(part.with_columns(pl.Series("rank", rank)))
    out = pl.concat(parts)
    return out.select([pl.col(c).cast(t) for c, t in YOY_SCHEMA.items()]).sort(
        "group_by", "metric", "rank")


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), as ``statsmodels``' ``fdr_bh``."""
    p = np.asarray(p, dtype=float)
    n = p.size
    if n == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out
