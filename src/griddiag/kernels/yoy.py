"""Year-over-year statistics for a batch of series pairs: distribution shift, paired change,
single change point.

Each *pair* is series ``i`` of a current batch (``a_values[a_offsets[i]:a_offsets[i + 1]]``) and
series ``i`` of a baseline batch (``b_values``/``b_offsets``), e.g. the daily energy of one
meter on the compared dates of this year and of the baseline years. Invalid values (NaN, +-inf)
are dropped, as in every kernel of this package. The public functions check their arguments
and call numba kernels that run over pairs in parallel (``prange``); the plain references are
``baselines/yoy_scipy.py`` (scipy's ``ks_2samp``, ``wasserstein_distance``, NumPy loops).

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
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from griddiag.config import JIT, JIT_SERIAL
from griddiag.kernels._launch import launch
from griddiag.kernels._validate import as_batch, check_positive_int

__all__ = [
    "QUANTILES",
    "distribution_shift",
    "kolmogorov_sf",
    "mean_shift",
    "paired_change",
]

#: Quantiles whose change :func:`distribution_shift` reports (p5, p50, p95).
QUANTILES = (0.05, 0.5, 0.95)
#: Floor of a bin's share in the PSI, so an empty bin gives a large but finite term (the usual
#: convention of credit-scoring practice, Siddiqi 2006, *Credit Risk Scorecards*, ch. 8).
PSI_FLOOR = 1e-4
#: Largest lag-1 autocorrelation used in the effective sample size (beyond it n_eff collapses).
MAX_RHO = 0.95


@njit(**JIT_SERIAL)
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


@njit(**JIT_SERIAL)
def _finite_sorted(values, a, b):
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
    out.sort()
    return out


@njit(**JIT_SERIAL)
def _quantile_sorted(x, q):
    """NumPy's default (linear, type 7) quantile of sorted ``x``."""
    pos = q * (x.shape[0] - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, x.shape[0] - 1)
    return x[lo] + (x[hi] - x[lo]) * (pos - lo)


@njit(**JIT)
def _distribution_shift(a_values, a_offsets, b_values, b_offsets, n_bins, quantiles,
                        ks, ks_p, w1, psi, qdelta):
    n_pairs = a_offsets.shape[0] - 1
    for s in prange(n_pairs):
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
    launch(_distribution_shift, av.shape[0] + bv.shape[0], av, ao, bv, bo, nb,
           np.asarray(QUANTILES, dtype=np.float64), out["ks_stat"], out["ks_p_value"],
           out["wasserstein"], out["psi"], out["quantile_delta"])
    return out


def raise_pairs(ao, bo):
    from griddiag.exceptions import ConfigError

    raise ConfigError(f"current and baseline batches must hold the same number of series: "
                      f"{ao.shape[0] - 1} and {bo.shape[0] - 1}")


@njit(**JIT_SERIAL)
def _rho_factor(r, n):
    """Variance inflation of a mean of ``n`` AR(1) values: ``(1 + rho) / (1 - rho)``, rho >= 0."""
    if n < 3 or not np.isfinite(r):
        return 1.0
    if r < 0.0:
        r = 0.0
    if r > MAX_RHO:
        r = MAX_RHO
    return (1.0 + r) / (1.0 - r)


@njit(**JIT_SERIAL)
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


@njit(**JIT_SERIAL)
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
def _paired_change(values, offsets, mean, se, p):
    for s in prange(offsets.shape[0] - 1):
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
    launch(_paired_change, v.shape[0], v, off, mean, se, p)
    return mean, se, p


@njit(**JIT)
def _mean_shift(values, offsets, min_segment, index, stat, p, before, after):
    for s in prange(offsets.shape[0] - 1):
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
    launch(_mean_shift, v.shape[0], v, off, ms, out["index"], out["stat"], out["p_value"],
           out["before"], out["after"])
    return out


def kolmogorov_sf(x) -> np.ndarray:
    """Survival function of the Kolmogorov distribution (``scipy.stats.kstwobign.sf``)."""
    arr = np.atleast_1d(np.asarray(x, dtype=np.float64))
    return np.array([_kolmogorov_sf(float(v)) for v in arr])
