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
        # only the statistic is read: with one value on each side scipy's asymptotic p-value
        # divides by zero (its finite-n distribution with n = round(1 * 1 / 2) = 0)
        with np.errstate(divide="ignore"):
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


# -- summary kernels: plain loops ---------------------------------------------------------------

HOUR_US = 3_600_000_000


def hourly_sums(values, offsets, ts_us, shift_us):
    """Per series, a dict walk over its readings: ``(offsets, key, sum, count, max, min)``."""
    v = np.asarray(values, dtype=float)
    ts = np.asarray(ts_us, dtype=np.int64)
    keys, sums, counts, maxs, mins, off = [], [], [], [], [], [0]
    for s in range(len(offsets) - 1):
        hours: dict[int, list[float]] = {}
        for i in range(offsets[s], offsets[s + 1]):
            if np.isfinite(v[i]):
                hours.setdefault(int((ts[i] + shift_us[s]) // HOUR_US), []).append(v[i])
        for k in sorted(hours):
            x = hours[k]
            total = 0.0
            for y in x:  # in time order, as the kernel adds them
                total += y
            keys.append(k)
            sums.append(total)
            counts.append(len(x))
            maxs.append(max(x))
            mins.append(min(x))
        off.append(len(keys))
    return (np.array(off, dtype=np.int64), np.array(keys, dtype=np.int64), np.array(sums),
            np.array(counts, dtype=np.int64), np.array(maxs), np.array(mins))


def round_sig(x, digits=12):
    """``x`` to ``digits`` significant digits, as the kernel rounds an hour's sum."""
    if x == 0.0 or not np.isfinite(x):
        return x
    e = math.floor(math.log10(abs(x))) - (digits - 1)
    return round(x / 10.0 ** e) * 10.0 ** e if e >= 0 else round(x * 10.0 ** -e) / 10.0 ** -e


def day_summary(h_offsets, key, hsum, hcount, zone, is_energy, tables, *, n_days,
                min_coverage=0.5, night_hours=(0, 6)):
    """The yearly summary arrays of each series, one hour at a time (see
    ``griddiag.kernels.yoy.day_summary`` for the rules)."""
    start, doy_t, hour_t, slot_t = tables
    n = len(h_offsets) - 1
    out = {k: np.full((n, 366), np.nan) for k in
           ("day_value", "day_count", "day_peak", "day_peak_hour", "day_base")}
    out["profile_sum"] = np.zeros((n, 2016))
    out["profile_count"] = np.zeros((n, 2016))
    out["per_day"] = np.full(n, np.nan)
    out["has_year"] = np.zeros(n, dtype=bool)
    out["day_count"][:, :n_days] = 0.0
    for s in range(n):
        z = zone[s]
        rows = []
        for j in range(h_offsets[s], h_offsets[s + 1]):
            t = key[j] - start[z]
            if 0 <= t < doy_t.shape[1] and doy_t[z, t] >= 0:
                rows.append((doy_t[z, t], hour_t[z, t], slot_t[z, t], round_sig(hsum[j]),
                             hcount[j]))
        if not rows:
            continue
        out["has_year"][s] = True
        days: dict[int, list] = {}
        for r in rows:
            days.setdefault(r[0], []).append(r)
        counts = sorted(sum(r[4] for r in d) for d in days.values())
        pd = float(counts[int(np.floor((len(counts) - 1) * 0.9 + 0.5))])
        out["per_day"][s] = pd
        for d, hours in days.items():
            total = 0.0
            for r in hours:
                total += r[3]
            cnt = sum(r[4] for r in hours)
            out["day_count"][s, d] = cnt
            if cnt >= min_coverage * pd:
                out["day_value"][s, d] = total / cnt * pd if is_energy[s] else total / cnt
            levels = [(r[3] / r[4] * pd / 24.0 if is_energy[s] else r[3] / r[4], r[1], r[2])
                      for r in hours]
            if pd >= 24:
                best = max(range(len(levels)), key=lambda i: (levels[i][0], i))
                out["day_peak"][s, d] = levels[best][0]
                out["day_peak_hour"][s, d] = levels[best][1]
                night = [lv for lv, h, _ in levels if night_hours[0] <= h < night_hours[1]]
                if night:
                    out["day_base"][s, d] = min(night)
                for lv, h, sl in levels:
                    out["profile_sum"][s, sl + h] += lv
                    out["profile_count"][s, sl + h] += 1
    return out


def degree_day_fits(y, t, w, offsets, *, hdd_base_c, cdd_base_c, min_days=30):
    """``numpy.linalg.lstsq`` per series of ``[1, HDD, CDD, rest day]`` (regressors without
    spread left out), covariance inflated for the residuals' lag-1 autocorrelation."""
    n = len(offsets) - 1
    coef, cov, ok = np.zeros((n, 4)), np.zeros((n, 4, 4)), np.zeros(n, dtype=bool)
    for s in range(n):
        sl = slice(offsets[s], offsets[s + 1])
        yy, tt, ww = np.asarray(y[sl], float), np.asarray(t[sl], float), np.asarray(w[sl], float)
        m = np.isfinite(yy) & np.isfinite(tt)
        if m.sum() < min_days:
            continue
        x = np.column_stack([np.ones(m.sum()), np.maximum(hdd_base_c - tt[m], 0.0),
                             np.maximum(tt[m] - cdd_base_c, 0.0), ww[m]])
        keep = [0] + [k for k in (1, 2, 3) if np.ptp(x[:, k]) > 0]
        x = x[:, keep]
        c, *_ = np.linalg.lstsq(x, yy[m], rcond=None)
        r = yy[m] - x @ c
        s2 = float(r @ r) / max(m.sum() - len(keep), 1)
        rho = float(np.corrcoef(r[1:], r[:-1])[0, 1]) if r.size > 3 and r.std() > 0 else 0.0
        rho = min(max(rho, 0.0), MAX_RHO)
        try:
            inv = np.linalg.inv(x.T @ x)
        except np.linalg.LinAlgError:
            continue
        coef[s, keep] = c
        cov[s][np.ix_(keep, keep)] = inv * s2 * (1 + rho) / (1 - rho)
        ok[s] = True
    return coef, cov, ok
