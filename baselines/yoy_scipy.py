"""Plain references for :mod:`griddiag.kernels.yoy`: scipy per pair, NumPy loops.

What the year-over-year kernels must agree with (tests/test_yoy_kernels.py) and what the
benchmark races (benchmarks/bench_yoy.py): one scipy call per asset and statistic, the way an
analyst would write it. Invalid values (NaN, +-inf) are dropped first, as the kernels do.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

PSI_FLOOR = 1e-4
MAX_RHO = 0.95
QUANTILES = (0.05, 0.5, 0.95)


def _pairs(a_values, a_offsets, b_values, b_offsets):
    a = np.asarray(a_values, dtype=float)
    b = np.asarray(b_values, dtype=float)
    for i in range(len(a_offsets) - 1):
        x = a[a_offsets[i]:a_offsets[i + 1]]
        y = b[b_offsets[i]:b_offsets[i + 1]]
        yield x[np.isfinite(x)], y[np.isfinite(y)]


def psi(x, y, n_bins=10):
    """Population stability index with bins at the baseline's (``y``) quantiles."""
    edges = np.quantile(y, np.arange(1, n_bins) / n_bins)
    ca = np.bincount(np.searchsorted(edges, x, side="left"), minlength=n_bins)
    cb = np.bincount(np.searchsorted(edges, y, side="left"), minlength=n_bins)
    pa = np.maximum(ca / len(x), PSI_FLOOR)
    pb = np.maximum(cb / len(y), PSI_FLOOR)
    return float(np.sum((pa - pb) * np.log(pa / pb)))


def distribution_shift(a_values, a_offsets, b_values, b_offsets, *, n_bins=10,
                       ks_method="asymp"):
    """Per pair: scipy's ``ks_2samp``, ``kstwobign`` p-value, ``wasserstein_distance``, PSI and
    NumPy quantile deltas."""
    rows = []
    for x, y in _pairs(a_values, a_offsets, b_values, b_offsets):
        if len(x) == 0 or len(y) == 0:
            rows.append((np.nan,) * 4 + (np.full(3, np.nan),))
            continue
        d = stats.ks_2samp(x, y, method=ks_method).statistic
        en = len(x) * len(y) / (len(x) + len(y))
        p = stats.kstwobign.sf(math.sqrt(en) * d)
        w = stats.wasserstein_distance(x, y)
        q = np.quantile(x, QUANTILES) - np.quantile(y, QUANTILES)
        rows.append((d, p, w, psi(x, y, n_bins), q))
    n = len(rows)
    return {
        "ks_stat": np.array([r[0] for r in rows], dtype=float).reshape(n),
        "ks_p_value": np.array([r[1] for r in rows], dtype=float).reshape(n),
        "wasserstein": np.array([r[2] for r in rows], dtype=float).reshape(n),
        "psi": np.array([r[3] for r in rows], dtype=float).reshape(n),
        "quantile_delta": np.array([r[4] for r in rows], dtype=float).reshape(n, 3),
    }


def ks_loop(a_values, a_offsets, b_values, b_offsets, *, method="auto"):
    """The benchmark's baseline: ``scipy.stats.ks_2samp`` once per asset."""
    out = np.full((len(a_offsets) - 1, 2), np.nan)
    for i, (x, y) in enumerate(_pairs(a_values, a_offsets, b_values, b_offsets)):
        if len(x) and len(y):
            r = stats.ks_2samp(x, y, method=method)
            out[i] = r.statistic, r.pvalue
    return out


def _rho_factor(x, mean):
    n = len(x)
    if n < 3:
        return 1.0
    den = np.sum((x - mean) ** 2)
    if den <= 0:
        return 1.0
    r = np.sum((x[1:] - mean) * (x[:-1] - mean)) / den
    r = min(max(r, 0.0), MAX_RHO)
    return (1 + r) / (1 - r)


def paired_change(values, offsets):
    v = np.asarray(values, dtype=float)
    mean, se, p = [], [], []
    for i in range(len(offsets) - 1):
        x = v[offsets[i]:offsets[i + 1]]
        x = x[np.isfinite(x)]
        if len(x) < 2:
            mean.append(x[0] if len(x) == 1 else np.nan)
            se.append(np.nan)
            p.append(np.nan)
            continue
        m = x.mean()
        s = math.sqrt(np.var(x, ddof=1) * _rho_factor(x, m) / len(x))
        mean.append(m)
        se.append(s)
        p.append(2 * stats.norm.sf(abs(m) / s) if s > 0 else (1.0 if m == 0 else 0.0))
    return np.array(mean), np.array(se), np.array(p)


def mean_shift(values, offsets, *, min_segment=7):
    """Brute force: every split, CUSUM about the overall mean, Kolmogorov p-value."""
    v = np.asarray(values, dtype=float)
    out = {"index": [], "stat": [], "p_value": [], "before": [], "after": []}
    for i in range(len(offsets) - 1):
        seg = v[offsets[i]:offsets[i + 1]]
        pos = np.flatnonzero(np.isfinite(seg)) + offsets[i]
        x = v[pos]
        n = len(x)
        if n < 2 * min_segment:
            for k, fill in zip(out, (-1, np.nan, np.nan, np.nan, np.nan), strict=True):
                out[k].append(fill)
            continue
        m = x.mean()
        if x.min() == x.max():
            for k, fill in zip(out, (-1, 0.0, 1.0, m, m), strict=True):
                out[k].append(fill)
            continue
        best, best_w, k_best = -1.0, -1.0, -1
        for k in range(min_segment, n - min_segment + 1):
            c = abs(np.sum(x[:k] - m))
            best = max(best, c)
            w = c / math.sqrt(k * (n - k))
            if w > best_w:
                best_w, k_best = w, k
        m1, m2 = x[:k_best].mean(), x[k_best:].mean()
        r = np.where(np.arange(n) < k_best, x - m1, x - m2)
        sigma = math.sqrt(np.sum(r * r) / (n - 2) * _rho_factor(r, 0.0))
        stat = best / (sigma * math.sqrt(n)) if sigma > 0 else (0.0 if best == 0 else np.inf)
        out["index"].append(int(pos[k_best]))
        out["stat"].append(stat)
        out["p_value"].append(float(stats.kstwobign.sf(stat)))
        out["before"].append(m1)
        out["after"].append(m2)
    return {k: np.array(val, dtype=np.int64 if k == "index" else float)
            for k, val in out.items()}
