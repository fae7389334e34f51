"""Year-over-year statistics for a batch of series pairs: distribution shift, paired change,
single change point.

Each *pair* is series ``i`` of a current batch (``a_values[a_offsets[i]:a_offsets[i + 1]]``) and
series ``i`` of a baseline batch (``b_values``/``b_offsets``), e.g. the daily energy of one
meter on the compared dates of this year and of the baseline years. Invalid values (NaN, +-inf)
are dropped, as in every kernel of this package. The public functions check their arguments
and call numba kernels that run over chunks of pairs on threads (``launch_series``); the plain
references are ``baselines/yoy_scipy.py`` (scipy's ``ks_2samp``, ``wasserstein_distance``,
NumPy loops).

- :func:`distribution_shift`: two-sample Kolmogorov-Smirnov statistic with its asymptotic
  p-value, 1-Wasserstein distance, population stability index and quantile deltas, from one
  sort of each side (scipy needs one call, and two sorts, per statistic and pair).
- :func:`paired_change`: mean of aligned per-day differences (log ratios) with a standard error
  that accounts for day-to-day autocorrelation (AR(1) effective sample size, as in Wilks,
  *Statistical Methods in the Atmospheric Sciences*, 3rd ed., eq. 5.12), and its two-sided
  p-value.
- :func:`mean_shift`: the single change of mean of each series (CUSUM, Page 1954, Biometrika
  41:100), its location and p-value from the Kolmogorov distribution of the supremum of a
  Brownian bridge (the CUSUM's limit under no change), with the same AR(1) correction.

The yearly summary is built from readings by two more batch kernels, so that a year of
15-minute data of a thousand meters costs two passes over flat arrays instead of one Python
or polars step per asset:

- :func:`hourly_sums`: readings (sorted by time within each series) -> sum, count, max and min
  per local hour;
- :func:`day_summary`: hourly sums -> per local day of one year: value, coverage count, peak and
  its hour, night base load, and the month x weekday x hour profile (the yearly summary's
  arrays, see :mod:`griddiag.yoy.summary`);
- :func:`degree_day_fits`: the degree-day regression of every series at once;
- :func:`rolling_median`: the centred running median behind the volatility measure.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from griddiag.config import JIT
from griddiag.kernels._launch import launch_series
from griddiag.kernels._validate import (
    as_batch,
    as_int_array,
    check_positive_int,
    offsets_from_lengths,
)

__all__ = [
    "HOUR_US",
    "QUANTILES",
    "day_summary",
    "degree_day_fits",
    "distribution_shift",
    "hourly_sums",
    "kolmogorov_sf",
    "mean_shift",
    "paired_change",
    "rolling_median",
]

HOUR_US = 3_600_000_000

#: Quantiles whose change :func:`distribution_shift` reports (p5, p50, p95).
QUANTILES = (0.05, 0.5, 0.95)
#: Floor of a bin's share in the PSI, so an empty bin gives a large but finite term (the usual
#: convention of credit-scoring practice, Siddiqi 2006, *Credit Risk Scorecards*, ch. 8).
PSI_FLOOR = 1e-4
#: Largest lag-1 autocorrelation used in the effective sample size (beyond it n_eff collapses).
MAX_RHO = 0.95


@njit(**JIT)
def _kolmogorov_sf(x):
    """P(K > x) for the Kolmogorov distribution (sup of a Brownian bridge)."""
    if not x > 0.0:
        return 1.0
    if x < 1.0:
        # Jacobi theta form, converges fast for small x: P(K <= x)
        s = 0.0
        w = math.pi * math.pi / (8.0 * x * x)
        for k in range(1, 30):
            t = math.exp(-(2 * k - 1) * (2 * k - 1) * w)
            s += t
            if t < 1e-17:
                break
        return 1.0 - math.sqrt(2.0 * math.pi) / x * s
    s = 0.0
    sign = 1.0
    for k in range(1, 101):
        t = math.exp(-2.0 * k * k * x * x)
        s += sign * t
        sign = -sign
        if t < 1e-17:
            break
    p = 2.0 * s
    return min(max(p, 0.0), 1.0)


@njit(**JIT)
def _finite_sorted(values, a, b):
    out = _finite(values, a, b)
    out.sort()
    return out


@njit(**JIT)
def _quantile_sorted(x, q):
    """NumPy's default (linear, type 7) quantile of sorted ``x``."""
    pos = q * (x.shape[0] - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, x.shape[0] - 1)
    return x[lo] + (x[hi] - x[lo]) * (pos - lo)


@njit(**JIT)
def _distribution_shift(first, end, a_values, a_offsets, b_values, b_offsets, n_bins, quantiles,
                        ks, ks_p, w1, psi, qdelta):
    for s in range(first, end):
        x = _finite_sorted(a_values, a_offsets[s], a_offsets[s + 1])
        y = _finite_sorted(b_values, b_offsets[s], b_offsets[s + 1])
        nx = x.shape[0]
        ny = y.shape[0]
        if nx == 0 or ny == 0:
            ks[s] = np.nan
            ks_p[s] = np.nan
            w1[s] = np.nan
            psi[s] = np.nan
            for k in range(quantiles.shape[0]):
                qdelta[s, k] = np.nan
            continue
        # one merge walk over both sorted samples: sup |Fx - Fy| and integral |Fx - Fy|
        i = 0
        j = 0
        d = 0.0
        area = 0.0
        prev = min(x[0], y[0])
        while i < nx or j < ny:
            if j >= ny or (i < nx and x[i] <= y[j]):
                v = x[i]
            else:
                v = y[j]
            area += abs(i / nx - j / ny) * (v - prev)
            while i < nx and x[i] == v:
                i += 1
            while j < ny and y[j] == v:
                j += 1
            gap = abs(i / nx - j / ny)
            if gap > d:
                d = gap
            prev = v
        ks[s] = d
        en = nx * ny / (nx + ny)
        ks_p[s] = _kolmogorov_sf(math.sqrt(en) * d)
        w1[s] = area
        # PSI on bins at the baseline's quantiles (equal-frequency bins of the baseline)
        total = 0.0
        ia = 0
        ib = 0
        for k in range(n_bins):
            if k == n_bins - 1:
                hi_edge = np.inf
            else:
                hi_edge = _quantile_sorted(y, (k + 1) / n_bins)
            ca = 0
            while ia < nx and (x[ia] <= hi_edge or k == n_bins - 1):
                ia += 1
                ca += 1
            cb = 0
            while ib < ny and (y[ib] <= hi_edge or k == n_bins - 1):
                ib += 1
                cb += 1
            pa = max(ca / nx, PSI_FLOOR)
            pb = max(cb / ny, PSI_FLOOR)
            total += (pa - pb) * math.log(pa / pb)
        psi[s] = total
        for k in range(quantiles.shape[0]):
            qdelta[s, k] = _quantile_sorted(x, quantiles[k]) - _quantile_sorted(y, quantiles[k])


def distribution_shift(a_values, a_offsets, b_values, b_offsets, *, n_bins: int = 10):
    """How the distribution of each current series differs from its baseline series.

    Parameters
    ----------
    a_values, a_offsets : array_like
        Current series, concatenated, with ``n_pairs + 1`` offsets (``None``: one series).
    b_values, b_offsets : array_like
        Baseline series, same number of series. NaN and +-inf are dropped on both sides.
    n_bins : int
        Bins of the population stability index, at the baseline's quantiles.

    Returns
    -------
    dict of numpy.ndarray
        ``ks_stat`` (sup of the difference of the empirical CDFs, as scipy's ``ks_2samp``),
        ``ks_p_value`` (asymptotic: Kolmogorov distribution of ``sqrt(n m / (n + m)) D``, which
        is scipy's ``method="asymp"`` up to its finite-n correction; use scipy's exact method
        for a few dozen values), ``wasserstein`` (in the unit of the values, as scipy's
        ``wasserstein_distance``), ``psi`` (sum over bins of ``(a - b) ln(a / b)``, shares
        floored at ``PSI_FLOOR``), ``quantile_delta`` (shape ``(n_pairs, 3)``: current minus
        baseline at ``QUANTILES``). NaN for a pair with an empty side.
    """
    av, ao = as_batch(a_values, a_offsets)
    bv, bo = as_batch(b_values, b_offsets)
    if ao.shape[0] != bo.shape[0]:
        raise_pairs(ao, bo)
    nb = check_positive_int(n_bins, "n_bins")
    n = ao.shape[0] - 1
    out = {k: np.empty(n) for k in ("ks_stat", "ks_p_value", "wasserstein", "psi")}
    out["quantile_delta"] = np.empty((n, len(QUANTILES)))
    launch_series(_distribution_shift, ao + bo, av, ao, bv, bo, nb,
                  np.asarray(QUANTILES, dtype=np.float64), out["ks_stat"], out["ks_p_value"],
                  out["wasserstein"], out["psi"], out["quantile_delta"])
    return out


def raise_pairs(ao, bo):
    from griddiag.exceptions import ConfigError

    raise ConfigError(f"current and baseline batches must hold the same number of series: "
                      f"{ao.shape[0] - 1} and {bo.shape[0] - 1}")


@njit(**JIT)
def _rho_factor(r, n):
    """Variance inflation of a mean of ``n`` AR(1) values: ``(1 + rho) / (1 - rho)``, rho >= 0."""
    if n < 3 or not np.isfinite(r):
        return 1.0
    if r < 0.0:
        r = 0.0
    if r > MAX_RHO:
        r = MAX_RHO
    return (1.0 + r) / (1.0 - r)


@njit(**JIT)
def _lag1(x, mean):
    """Lag-1 autocorrelation of ``x`` about ``mean`` (NaN when undefined)."""
    n = x.shape[0]
    num = 0.0
    den = 0.0
    for i in range(n):
        den += (x[i] - mean) ** 2
        if i > 0:
            num += (x[i] - mean) * (x[i - 1] - mean)
    if den <= 0.0:
        return np.nan
    return num / den


@njit(**JIT)
def _finite(values, a, b):
    n = 0
    for i in range(a, b):
        if np.isfinite(values[i]):
            n += 1
    out = np.empty(n, dtype=np.float64)
    j = 0
    for i in range(a, b):
        if np.isfinite(values[i]):
            out[j] = values[i]
            j += 1
    return out


@njit(**JIT)
def _paired_change(first, end, values, offsets, mean, se, p):
    for s in range(first, end):
        x = _finite(values, offsets[s], offsets[s + 1])
        n = x.shape[0]
        if n < 2:
            mean[s] = x[0] if n == 1 else np.nan
            se[s] = np.nan
            p[s] = np.nan
            continue
        m = x.mean()
        var = 0.0
        for i in range(n):
            var += (x[i] - m) ** 2
        var /= n - 1
        f = _rho_factor(_lag1(x, m), n)
        mean[s] = m
        se[s] = math.sqrt(var * f / n)
        if se[s] > 0.0:
            p[s] = math.erfc(abs(m) / se[s] / math.sqrt(2.0))
        else:
            p[s] = 1.0 if m == 0.0 else 0.0


def paired_change(values, offsets=None):
    """Mean of each series of paired differences, its autocorrelation-aware standard error and
    two-sided p-value (normal approximation).

    The standard error is ``sqrt(s^2 / n * (1 + r) / (1 - r))`` with ``r`` the lag-1
    autocorrelation (floored at 0, capped at ``MAX_RHO``): consumption on consecutive days is
    not independent, and treating 365 days as 365 independent draws would make a warm spell a
    "significant" change. Invalid values are dropped first (the order of the rest is kept).

    Returns ``(mean, se, p_value)``, one value per series; NaN with fewer than 2 values (the
    mean of a one-value series is that value).
    """
    v, off = as_batch(values, offsets)
    n = off.shape[0] - 1
    mean, se, p = np.empty(n), np.empty(n), np.empty(n)
    launch_series(_paired_change, off, v, off, mean, se, p)
    return mean, se, p


@njit(**JIT)
def _mean_shift(first, end, values, offsets, min_segment, index, stat, p, before, after):
    for s in range(first, end):
        a = offsets[s]
        b = offsets[s + 1]
        n = 0
        for i in range(a, b):
            if np.isfinite(values[i]):
                n += 1
        if n < 2 * min_segment:
            index[s] = -1
            stat[s] = np.nan
            p[s] = np.nan
            before[s] = np.nan
            after[s] = np.nan
            continue
        pos = np.empty(n, dtype=np.int64)
        x = np.empty(n, dtype=np.float64)
        j = 0
        for i in range(a, b):
            if np.isfinite(values[i]):
                pos[j] = i
                x[j] = values[i]
                j += 1
        m = x.mean()
        if x.min() == x.max():  # constant: no change (rounding must not invent one)
            index[s] = -1
            stat[s] = 0.0
            p[s] = 1.0
            before[s] = m
            after[s] = m
            continue
        # S_k = sum_{i < k} (x_i - mean); the change is at the k maximising |S_k|
        # The size of the CUSUM (max |S_k|) tests for a change; its location is the argmax of
        # |S_k| / sqrt(k (n - k)), the likelihood-ratio split of a mean change with known
        # variance, which does not pull a change near either end towards the middle.
        best = -1.0
        best_w = -1.0
        k_best = -1
        c = 0.0
        for k in range(1, n):
            c += x[k - 1] - m
            if k >= min_segment and n - k >= min_segment:
                if abs(c) > best:
                    best = abs(c)
                w = abs(c) / math.sqrt(k * (n - k))
                if w > best_w:
                    best_w = w
                    k_best = k
        m1 = x[:k_best].mean()
        m2 = x[k_best:].mean()
        # spread and autocorrelation of the residuals about the two segment means
        r = np.empty(n, dtype=np.float64)
        for i in range(n):
            r[i] = x[i] - (m1 if i < k_best else m2)
        var = 0.0
        for i in range(n):
            var += r[i] * r[i]
        var /= n - 2
        f = _rho_factor(_lag1(r, 0.0), n)
        sigma = math.sqrt(var * f)
        index[s] = pos[k_best]
        before[s] = m1
        after[s] = m2
        if sigma > 0.0:
            stat[s] = best / (sigma * math.sqrt(n))
            p[s] = _kolmogorov_sf(stat[s])
        else:
            stat[s] = 0.0 if best == 0.0 else np.inf
            p[s] = 1.0 if best == 0.0 else 0.0


def mean_shift(values, offsets=None, *, min_segment: int = 7):
    """The strongest single change of mean in each series, and how sure it is.

    Parameters
    ----------
    values, offsets : array_like
        Series concatenated (e.g. log daily energy over baseline and current year, in time
        order); invalid values are skipped.
    min_segment : int
        Fewest valid values on each side of the change.

    Returns
    -------
    dict of numpy.ndarray
        ``index`` (int64, into the concatenated ``values``: the first slot after the change,
        at the split maximising ``|S_k| / sqrt(k (n - k))``;
        -1 when a series has fewer than ``2 * min_segment`` valid values or is constant), ``stat``
        (``max_k |S_k| / (sigma sqrt(n))``, ``S_k`` the CUSUM about the overall mean, ``sigma``
        the residual spread about the two segment means inflated for lag-1 autocorrelation),
        ``p_value`` (Kolmogorov survival function of ``stat``), ``before``/``after`` (segment
        means).
    """
    v, off = as_batch(values, offsets)
    ms = check_positive_int(min_segment, "min_segment")
    n = off.shape[0] - 1
    out = {"index": np.empty(n, dtype=np.int64)}
    for k in ("stat", "p_value", "before", "after"):
        out[k] = np.empty(n)
    launch_series(_mean_shift, off, v, off, ms, out["index"], out["stat"], out["p_value"],
                  out["before"], out["after"])
    return out


def kolmogorov_sf(x) -> np.ndarray:
    """Survival function of the Kolmogorov distribution (``scipy.stats.kstwobign.sf``)."""
    arr = np.atleast_1d(np.asarray(x, dtype=np.float64))
    return np.array([_kolmogorov_sf(float(v)) for v in arr])


# -- hourly sums and the day summary -----------------------------------------------------------

@njit(**JIT)
def _hour_key(ts, shift):
    # floor division (numba's // floors like Python's, also before 1970)
    return (ts + shift) // HOUR_US


@njit(**JIT)
def _count_hours(first, end, offsets, ts_us, values, shift_us, n_hours):
    for s in range(first, end):
        n = 0
        sh = shift_us[s]
        edge = np.int64(0)  # start of the next hour: times ascend, so one division an hour
        for i in range(offsets[s], offsets[s + 1]):
            if not np.isfinite(values[i]):
                continue
            if n == 0 or ts_us[i] >= edge:
                k = _hour_key(ts_us[i], sh)
                edge = (k + 1) * HOUR_US - sh
                n += 1
        n_hours[s] = n


@njit(**JIT)
def _fill_hours(first, end, offsets, ts_us, values, shift_us, out_off, key, hsum, hcnt, hmax,
                hmin):
    for s in range(first, end):
        j = out_off[s] - 1
        sh = shift_us[s]
        edge = np.int64(0)
        no_hour_yet = True
        for i in range(offsets[s], offsets[s + 1]):
            v = values[i]
            if not np.isfinite(v):
                continue
            if no_hour_yet or ts_us[i] >= edge:
                k = _hour_key(ts_us[i], sh)
                edge = (k + 1) * HOUR_US - sh
                j += 1
                no_hour_yet = False
                key[j] = k
                hsum[j] = v
                hcnt[j] = 1
                hmax[j] = v
                hmin[j] = v
            else:
                hsum[j] += v
                hcnt[j] += 1
                if v > hmax[j]:
                    hmax[j] = v
                if v < hmin[j]:
                    hmin[j] = v


def hourly_sums(values, offsets, ts_us, shift_us):
    """Sum, count, max and min of each series' readings per hour.

    Parameters
    ----------
    values, offsets : array_like
        Readings of each series, concatenated; invalid values (NaN, +-inf) are dropped.
    ts_us : array_like of int64
        Each reading's UTC time in microseconds, non-decreasing within a series.
    shift_us : array_like of int64
        Per series, the zone's UTC offset modulo one hour (0 for whole-hour zones, 1,800,000,000
        for India's +05:30): the local hour holding ``ts`` has key
        ``(ts + shift) // HOUR_US`` and starts at UTC ``key * HOUR_US - shift``.

    Returns
    -------
    tuple
        ``(offsets, key, sum, count, max, min)``: per series its hours in time order.
    """
    v, off = as_batch(values, offsets)
    n_series = off.shape[0] - 1
    ts = as_int_array(ts_us, "ts_us", length=v.shape[0])
    sh = as_int_array(shift_us, "shift_us", length=n_series)
    if v.shape[0] > 1:
        back = np.diff(ts) < 0
        inner = off[1:-1]
        inner = inner[(inner > 0) & (inner < v.shape[0])]
        back[inner - 1] = False  # a new series may start earlier
        if back.any():
            from griddiag.exceptions import ConfigError

            i = int(np.flatnonzero(back)[0]) + 1
            raise ConfigError(f"ts_us must not decrease within a series: position {i} "
                              f"({int(ts[i])}) is before position {i - 1} ({int(ts[i - 1])}); "
                              "sort each series by time first")
    n_hours = np.empty(n_series, dtype=np.int64)
    launch_series(_count_hours, off, off, ts, v, sh, n_hours)
    out_off = offsets_from_lengths(n_hours)
    m = int(out_off[-1])
    key = np.empty(m, dtype=np.int64)
    hsum, hmax, hmin = np.empty(m), np.empty(m), np.empty(m)
    hcnt = np.empty(m, dtype=np.int64)
    launch_series(_fill_hours, off, off, ts, v, sh, out_off, key, hsum, hcnt, hmax, hmin)
    return out_off, key, hsum, hcnt, hmax, hmin


#: Slots of the day arrays (day of the local year - 1; the last is empty in a common year).
N_DAYS = 366
#: Slots of the profile: month x weekday x local hour.
N_PROFILE = 12 * 7 * 24


#: Significant digits an hour's sum is rounded to before a summary uses it. Readings are
#: quantised (a meter's 0.01 kWh), so equal hours and days are common, and the order in
#: which a store adds an hour's readings (SQL, a lazy scan, this package's kernel) moves
#: their sum by an ulp: unrounded, that would break or make ties and change a KS statistic,
#: a quantile or a peak hour with where the data were aggregated. 12 digits is far beyond
#: any meter's resolution and far above rounding noise.
SUM_DIGITS = 12


@njit(**JIT)
def _round_sig(x):
    """``x`` rounded to ``SUM_DIGITS`` significant digits (0, NaN and inf unchanged)."""
    if x == 0.0 or not np.isfinite(x):
        return x
    e = math.floor(math.log10(abs(x))) - (SUM_DIGITS - 1)
    if e >= 0:
        q = 10.0 ** e
        return round(x / q) * q
    q = 10.0 ** (-e)
    return round(x * q) / q


@njit(**JIT)
def _day_summary(first, end, h_off, key, hsum, hcnt, zone, is_energy, tab_start, tab_doy, tab_hour,
                 tab_slot, n_days, min_cov, night_lo, night_hi, per_day, has_year,
                 d_value, d_count, d_peak, d_peak_hour, d_base, p_sum, p_count):
    n_tab = tab_doy.shape[1]
    for s in range(first, end):
        z = zone[s]
        t0 = tab_start[z]
        dsum = np.zeros(N_DAYS)
        dn = np.zeros(N_DAYS, dtype=np.int64)
        seen = np.zeros(N_DAYS, dtype=np.bool_)
        n_seen = 0
        for j in range(h_off[s], h_off[s + 1]):
            t = key[j] - t0
            if t < 0 or t >= n_tab:
                continue
            d = tab_doy[z, t]
            if d < 0:
                continue
            dsum[d] += _round_sig(hsum[j])
            dn[d] += hcnt[j]
            if not seen[d]:
                seen[d] = True
                n_seen += 1
        for d in range(N_DAYS):
            d_value[s, d] = np.nan
            d_peak[s, d] = np.nan
            d_peak_hour[s, d] = np.nan
            d_base[s, d] = np.nan
            d_count[s, d] = 0.0 if d < n_days else np.nan
        for k in range(p_sum.shape[1]):
            p_sum[s, k] = 0.0
            p_count[s, k] = 0.0
        if n_seen == 0:
            per_day[s] = np.nan
            has_year[s] = False
            continue
        has_year[s] = True
        # readings a day holds: the 90th percentile ("nearest") of the daily counts
        counts = np.empty(n_seen, dtype=np.int64)
        i = 0
        for d in range(N_DAYS):
            if seen[d]:
                counts[i] = dn[d]
                i += 1
        counts.sort()
        pd = float(counts[int(math.floor((n_seen - 1) * 0.9 + 0.5))])
        per_day[s] = pd
        hourly_ok = pd >= 24.0
        energy = is_energy[s]
        peak = np.full(N_DAYS, -np.inf)
        peak_h = np.full(N_DAYS, -1.0)
        base = np.full(N_DAYS, np.inf)
        for j in range(h_off[s], h_off[s + 1]):
            t = key[j] - t0
            if t < 0 or t >= n_tab:
                continue
            d = tab_doy[z, t]
            if d < 0:
                continue
            hs = _round_sig(hsum[j])
            if energy:
                level = hs / hcnt[j] * pd / 24.0
            else:
                level = hs / hcnt[j]
            h = tab_hour[z, t]
            if level >= peak[d]:  # ties: the later hour, as a stable sort's last
                peak[d] = level
                peak_h[d] = h
            if night_lo <= h < night_hi and level < base[d]:
                base[d] = level
            if hourly_ok:
                slot = tab_slot[z, t] + h
                p_sum[s, slot] += level
                p_count[s, slot] += 1.0
        for d in range(N_DAYS):
            if not seen[d]:
                continue
            n = dn[d]
            d_count[s, d] = float(n)
            if not n < min_cov * pd:
                if energy:
                    d_value[s, d] = dsum[d] / n * pd
                else:
                    d_value[s, d] = dsum[d] / n
            if hourly_ok:
                d_peak[s, d] = peak[d]
                d_peak_hour[s, d] = peak_h[d]
                if base[d] < np.inf:
                    d_base[s, d] = base[d]


def day_summary(h_offsets, key, hsum, hcount, zone, is_energy, tables, *, n_days: int,
                min_coverage: float = 0.5, night_hours=(0, 6)):
    """Per series and local day of one year, from :func:`hourly_sums`.

    Parameters
    ----------
    h_offsets, key, hsum, hcount : numpy.ndarray
        Hours of each series (``hourly_sums`` output), in time order.
    zone : numpy.ndarray of int
        Per series, its row of ``tables``.
    is_energy : numpy.ndarray of bool
        Per series: interval energy (an hour's level is its mean reading times the readings a
        day holds over 24, i.e. kWh in the hour; a day's value is the day's energy) or a level
        metric (means).
    tables : tuple
        ``(start, doy, hour, slot)``: per zone (row), hour keys ``start .. start + n`` mapped to
        the local day of the year (``-1`` outside it), local hour and the profile slot of the
        local date (``month * 168 + weekday * 24``).

    Returns
    -------
    dict of numpy.ndarray
        ``per_day`` (the 90th percentile of daily counts: readings a full day holds;
        hour sums enter rounded to ``SUM_DIGITS`` significant digits),
        ``has_year`` (any reading in the year), ``day_value`` (NaN when fewer than
        ``min_coverage`` of ``per_day`` are present), ``day_count``, ``day_peak``,
        ``day_peak_hour``, ``day_base`` (minimum hourly level over ``night_hours``; these three
        only with hourly data, ``per_day >= 24``), ``profile_sum``, ``profile_count``.
    """
    n = h_offsets.shape[0] - 1
    out = {"per_day": np.empty(n), "has_year": np.empty(n, dtype=np.bool_)}
    for k in ("day_value", "day_count", "day_peak", "day_peak_hour", "day_base"):
        out[k] = np.empty((n, N_DAYS))
    out["profile_sum"] = np.empty((n, N_PROFILE))
    out["profile_count"] = np.empty((n, N_PROFILE))
    start, doy, hour, slot = tables
    h_off = np.ascontiguousarray(h_offsets, dtype=np.int64)
    launch_series(_day_summary, h_off, h_off,
                  np.ascontiguousarray(key, dtype=np.int64), np.ascontiguousarray(hsum, np.float64),
                  np.ascontiguousarray(hcount, dtype=np.int64),
                  np.ascontiguousarray(zone, dtype=np.int64),
                  np.ascontiguousarray(is_energy, dtype=np.bool_),
                  np.ascontiguousarray(start, dtype=np.int64), np.ascontiguousarray(doy, np.int64),
                  np.ascontiguousarray(hour, np.int64), np.ascontiguousarray(slot, np.int64),
                  int(n_days), float(min_coverage), int(night_hours[0]), int(night_hours[1]),
                  out["per_day"], out["has_year"], out["day_value"], out["day_count"],
                  out["day_peak"], out["day_peak_hour"], out["day_base"], out["profile_sum"],
                  out["profile_count"])
    return out


# -- degree-day regressions --------------------------------------------------------------------

@njit(**JIT)
def _degree_day_fits(first, end, y, t, w, offsets, hdd_base, cdd_base, min_days, coef, cov, ok_out):
    for s in range(first, end):
        a = offsets[s]
        b = offsets[s + 1]
        for k in range(4):
            coef[s, k] = 0.0
            for m in range(4):
                cov[s, k, m] = 0.0
        ok_out[s] = False
        n = 0
        for i in range(a, b):
            if np.isfinite(y[i]) and np.isfinite(t[i]):
                n += 1
        if n < min_days:
            continue
        x = np.empty((n, 4))
        yy = np.empty(n)
        j = 0
        for i in range(a, b):
            if np.isfinite(y[i]) and np.isfinite(t[i]):
                x[j, 0] = 1.0
                x[j, 1] = max(hdd_base - t[i], 0.0)
                x[j, 2] = max(t[i] - cdd_base, 0.0)
                x[j, 3] = w[i]
                yy[j] = y[i]
                j += 1
        # a regressor without spread (no cooling days, no rest days) is left out
        keep = np.zeros(4, dtype=np.int64)
        nk = 1
        for k in range(1, 4):
            lo = x[0, k]
            hi = x[0, k]
            for i in range(n):
                lo = min(lo, x[i, k])
                hi = max(hi, x[i, k])
            if hi - lo > 0.0:
                keep[nk] = k
                nk += 1
        xk = np.empty((n, nk))
        for i in range(n):
            for k in range(nk):
                xk[i, k] = x[i, keep[k]]
        c, _, _, _ = np.linalg.lstsq(xk, yy)
        r = yy - xk @ c
        dof = max(n - nk, 1)
        s2 = 0.0
        for i in range(n):
            s2 += r[i] * r[i]
        s2 /= dof
        # lag-1 correlation of the residuals (np.corrcoef of r[1:] and r[:-1])
        rho = 0.0
        if n > 3:
            sd = r.std()
            if sd > 0.0:
                u = r[1:]
                v = r[:-1]
                mu = u.mean()
                mv = v.mean()
                suv = 0.0
                suu = 0.0
                svv = 0.0
                for i in range(n - 1):
                    suv += (u[i] - mu) * (v[i] - mv)
                    suu += (u[i] - mu) ** 2
                    svv += (v[i] - mv) ** 2
                rho = suv / math.sqrt(suu * svv) if suu > 0.0 and svv > 0.0 else np.nan
        rr = min(max(rho, 0.0), MAX_RHO) if np.isfinite(rho) else np.nan
        infl = (1.0 + rr) / (1.0 - rr)
        xtx = xk.T @ xk
        if np.linalg.matrix_rank(xtx) < nk:
            continue
        inv = np.linalg.inv(xtx)
        for k in range(nk):
            coef[s, keep[k]] = c[k]
            for m in range(nk):
                cov[s, keep[k], keep[m]] = inv[k, m] * s2 * infl
        ok_out[s] = True


def degree_day_fits(y, t, w, offsets=None, *, hdd_base_c: float, cdd_base_c: float,
                    min_days: int = 30):
    """Least squares of daily value on ``[1, HDD, CDD, rest day]`` for every series at once.

    ``HDD = max(hdd_base_c - t, 0)`` and ``CDD = max(t - cdd_base_c, 0)`` are the day's heating
    and cooling degrees (ASHRAE's variable-base degree-day method with fixed balance points);
    ``w`` is 1 on rest days. Days where ``y`` or ``t`` is invalid are dropped; a regressor
    without spread is left out (its coefficient 0). The covariance is ``(X'X)^-1 s^2``
    inflated by ``(1 + r) / (1 - r)`` for the lag-1 autocorrelation ``r`` of the residuals.

    Returns ``(coef, cov, ok)``: shapes ``(n, 4)``, ``(n, 4, 4)``, ``(n,)``; ``ok`` is False
    (and the fit zero) with fewer than ``min_days`` days or a singular design.
    """
    yv, off = as_batch(y, offsets)
    tv = np.ascontiguousarray(np.asarray(t, dtype=np.float64))
    wv = np.ascontiguousarray(np.asarray(w, dtype=np.float64))
    if tv.shape != yv.shape or wv.shape != yv.shape:
        from griddiag.exceptions import ConfigError

        raise ConfigError(f"y, t and w must have the same length, got {yv.shape[0]}, "
                          f"{tv.shape[0]} and {wv.shape[0]}")
    n = off.shape[0] - 1
    coef, cov = np.empty((n, 4)), np.empty((n, 4, 4))
    ok = np.empty(n, dtype=np.bool_)
    launch_series(_degree_day_fits, off, yv, tv, wv, off, float(hdd_base_c), float(cdd_base_c),
                  check_positive_int(min_days, "min_days"), coef, cov, ok)
    return coef, cov, ok


# -- running median ----------------------------------------------------------------------------

@njit(**JIT)
def _rolling_median(first, end, values, offsets, half, min_known, out):
    w = 2 * half + 1
    for s in range(first, end):
        a = offsets[s]
        b = offsets[s + 1]
        buf = np.empty(w)
        for i in range(a, b):
            m = 0
            for j in range(max(a, i - half), min(b, i + half + 1)):
                v = values[j]
                if np.isfinite(v):
                    # insertion sort: the window holds at most 2 * half + 1 values
                    k = m
                    while k > 0 and buf[k - 1] > v:
                        buf[k] = buf[k - 1]
                        k -= 1
                    buf[k] = v
                    m += 1
            if m < min_known or m == 0:
                out[i] = np.nan
            elif m % 2 == 1:
                out[i] = buf[m // 2]
            else:
                out[i] = 0.5 * (buf[m // 2 - 1] + buf[m // 2])


def rolling_median(values, offsets=None, *, window: int = 7, min_known: int = 4):
    """Centred running median of each series over its valid values (windows cut at the
    series' ends), NaN where fewer than ``min_known`` are valid: what polars'
    ``rolling_median(window, min_samples=min_known, center=True)`` gives on nulls."""
    v, off = as_batch(values, offsets)
    w = check_positive_int(window, "window")
    if w % 2 == 0:
        from griddiag.exceptions import ConfigError

        raise ConfigError(f"window must be odd (centred), got {window}")
    out = np.empty(v.shape[0])
    launch_series(_rolling_median, off, v, off, w // 2,
                  check_positive_int(min_known, "min_known"), out)
    return out
