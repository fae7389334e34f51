"""Slow, obviously-correct references for every kernel of :mod:`griddiag.kernels`.

Plain Python loops over series and slots, NumPy only for ``median``/``sort``; no numba, no
cleverness. Each function has the signature and the output of the kernel it checks, takes
``offsets`` as a list-like of ``n_series + 1`` ints, and follows the semantics written in the
kernel's docstring (a slot is valid when finite; invalid slots get NaN; windows are cut at the
series' ends).
"""

from __future__ import annotations

import numpy as np

MAD_TO_SIGMA = 1.482602218505602
MEANAD_TO_SIGMA = 1.2533141373155003


def _series(offsets, n):
    if offsets is None:
        offsets = [0, n]
    return [(int(offsets[i]), int(offsets[i + 1])) for i in range(len(offsets) - 1)]


def _valid(v) -> bool:
    return bool(np.isfinite(v))


# -- rolling --------------------------------------------------------------------------------

def rolling_stats(values, offsets, window, *, center=False, min_periods=None, min_scale=0.0,
                  mask_invalid=True):
    """(median, mad, z) of each slot's window: Hampel's robust z with the MeanAD fallback."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    mp = window // 2 + 1 if min_periods is None else min_periods
    lead = (window - 1) // 2 if center else 0
    back = window - 1 - lead
    med = np.full(n, np.nan)
    mad = np.full(n, np.nan)
    z = np.full(n, np.nan)
    for a, b in _series(offsets, n):
        for t in range(a, b):
            if mask_invalid and not _valid(x[t]):
                continue
            win = [v for v in x[max(a, t - back):min(b, t + lead + 1)] if _valid(v)]
            if len(win) < mp:
                continue
            win = np.array(win)
            m = np.median(win)
            d = np.median(np.abs(win - m))
            med[t], mad[t] = m, d
            if d > 0:
                scale = MAD_TO_SIGMA * d
            else:
                scale = MEANAD_TO_SIGMA * np.mean(np.abs(win - m))
            scale = max(scale, min_scale)
            z[t] = (x[t] - m) / scale if scale > 0 else 0.0
    return med, mad, z


# -- runs -----------------------------------------------------------------------------------

def mask_runs(mask, offsets=None):
    mask = np.asarray(mask, dtype=bool)
    out = np.zeros(len(mask), dtype=np.int64)
    for a, b in _series(offsets, len(mask)):
        t = a
        while t < b:
            if mask[t]:
                e = t
                while e < b and mask[e]:
                    e += 1
                out[t:e] = e - t
                t = e
            else:
                t += 1
    return out


def nan_runs(values, offsets=None):
    return mask_runs([not _valid(v) for v in values], offsets)


def zero_runs(values, offsets=None, tolerance=0.0):
    return mask_runs([_valid(v) and abs(v) <= tolerance for v in values], offsets)


def constant_runs(values, offsets=None, tolerance=0.0):
    """Greedy: a run grows from its first slot while max - min of its values <= tolerance."""
    x = np.asarray(values, dtype=float)
    out = np.zeros(len(x), dtype=np.int64)
    for a, b in _series(offsets, len(x)):
        t = a
        while t < b:
            if not _valid(x[t]):
                t += 1
                continue
            e = t + 1
            while e < b and _valid(x[e]) and max(x[t:e + 1]) - min(x[t:e + 1]) <= tolerance:
                e += 1
            out[t:e] = e - t
            t = e
    return out


def run_table(run_length, offsets=None, min_length=1):
    rows = []
    rl = np.asarray(run_length)
    for s, (a, b) in enumerate(_series(offsets, len(rl))):
        t = a
        while t < b:
            if rl[t] > 0:
                if rl[t] >= min_length:
                    rows.append((s, t, t + rl[t]))
                t += rl[t]
            else:
                t += 1
    return _cols(rows, 3)


def _cols(rows, k):
    if not rows:
        return tuple(np.zeros(0, dtype=np.int64) for _ in range(k))
    return tuple(np.array(c, dtype=np.int64) for c in zip(*rows))


# -- events ---------------------------------------------------------------------------------

def flags_to_events(flags, offsets=None, scores=None, max_gap=0, min_len=1):
    """Group flagged slots whose distance is <= max_gap + 1; peak = first max score."""
    flags = np.asarray(flags, dtype=bool)
    rows = []
    for s, (a, b) in enumerate(_series(offsets, len(flags))):
        idx = [t for t in range(a, b) if flags[t]]
        groups = []
        for t in idx:
            if groups and t - groups[-1][-1] - 1 <= max_gap:
                groups[-1].append(t)
            else:
                groups.append([t])
        for g in groups:
            start, end = g[0], g[-1] + 1
            if end - start < min_len:
                continue
            peak = g[0]
            if scores is not None:
                scored = [t for t in g if not np.isnan(scores[t])]
                if scored:
                    best = max(scores[t] for t in scored)
                    peak = next(t for t in scored if scores[t] == best)
            rows.append((s, start, end, peak))
    return _cols(rows, 4)


# -- register -------------------------------------------------------------------------------

def register_delta(values, offsets=None):
    x = np.asarray(values, dtype=float)
    out = np.full(len(x), np.nan)
    for a, b in _series(offsets, len(x)):
        prev = None
        for t in range(a, b):
            if _valid(x[t]):
                if prev is not None:
                    out[t] = x[t] - prev
                prev = x[t]
    return out


def typical_increment(values, offsets=None):
    x = np.asarray(values, dtype=float)
    out = []
    for a, b in _series(offsets, len(x)):
        valid = [t for t in range(a, b) if _valid(x[t])]
        inc = [(x[q] - x[p]) / (q - p) for p, q in zip(valid, valid[1:]) if x[q] > x[p]]
        out.append(float(np.median(inc)) if inc else 0.0)
    return np.array(out)


def classify_register(values, offsets=None, limit=np.nan, increment_factor=10.0,
                      reset_fraction=0.1, tolerance=0.0):
    x = np.asarray(values, dtype=float)
    series = _series(offsets, len(x))
    limits = np.broadcast_to(np.asarray(limit, dtype=float), (len(series),))
    typical = typical_increment(x, offsets)
    codes = np.full(len(x), -1, dtype=np.int8)
    cons = np.full(len(x), np.nan)
    for s, (a, b) in enumerate(series):
        lim = limits[s] if np.isfinite(limits[s]) else 0.0
        valid = [t for t in range(a, b) if _valid(x[t])]
        for i in range(1, len(valid)):
            p, t = valid[i - 1], valid[i]
            prev, cur = x[p], x[t]
            if cur - prev >= -tolerance:
                codes[t], cons[t] = 0, cur - prev
                continue
            wrapped = lim - prev + cur
            plausible = increment_factor * typical[s] * (t - p)
            if lim > 0 and prev < lim and cur < lim and 0 <= wrapped <= plausible:
                codes[t], cons[t] = 2, wrapped
                continue
            if cur <= reset_fraction * prev:
                if i + 1 < len(valid):
                    nxt = x[valid[i + 1]]
                    carries_on = cur - tolerance <= nxt < prev - tolerance
                else:
                    carries_on = True
                if carries_on:
                    codes[t], cons[t] = 3, np.nan
                    continue
            codes[t], cons[t] = 1, cur - prev
    return codes, cons


# -- seasonal -------------------------------------------------------------------------------

def seasonal_profile(values, offsets, slot, day_type, n_slots=96, n_history=4, min_history=2,
                     max_age=None):
    """Median of the last n_history earlier valid like values (those within max_age)."""
    x = np.asarray(values, dtype=float)
    out = np.full(len(x), np.nan)
    for a, b in _series(offsets, len(x)):
        for t in range(a, b):
            if not _valid(x[t]):
                continue
            like = [q for q in range(a, t)
                    if _valid(x[q]) and slot[q] == slot[t] and day_type[q] == day_type[t]]
            like = like[-n_history:]
            if max_age is not None:
                like = [q for q in like if t - q <= max_age]
            if len(like) >= min_history:
                out[t] = np.median(x[like])
    return out


def seasonal_residual_z(values, offsets, slot, day_type, n_slots=96, n_history=4,
                        min_history=2, max_age=None, window=7 * 96, min_periods=None,
                        min_scale=0.0):
    expected = seasonal_profile(values, offsets, slot, day_type, n_slots, n_history,
                                min_history, max_age)
    residual = np.asarray(values, dtype=float) - expected
    z = rolling_stats(residual, offsets, window, min_periods=min_periods,
                      min_scale=min_scale)[2]
    return expected, residual, z


# -- change point ---------------------------------------------------------------------------

def level_shift(values, offsets, window, min_periods=None, min_scale=0.0):
    x = np.asarray(values, dtype=float)
    mp = window // 2 + 1 if min_periods is None else min_periods
    shift = np.full(len(x), np.nan)
    score = np.full(len(x), np.nan)
    for a, b in _series(offsets, len(x)):
        for t in range(a, b):
            if not _valid(x[t]) or t - window < a or t + window > b:
                continue
            before = np.array([v for v in x[t - window:t] if _valid(v)])
            after = np.array([v for v in x[t:t + window] if _valid(v)])
            if len(before) < mp or len(after) < mp:
                continue
            mb, ma = np.median(before), np.median(after)
            sb = np.median(np.abs(before - mb))
            sa = np.median(np.abs(after - ma))
            sigma = max(MAD_TO_SIGMA * np.sqrt((sb ** 2 + sa ** 2) / 2), min_scale)
            shift[t] = ma - mb
            if sigma > 0:
                score[t] = abs(ma - mb) / sigma
            else:
                score[t] = 0.0 if ma == mb else np.inf
    return shift, score


def change_index(score, offsets=None):
    sc = np.asarray(score, dtype=float)
    out = []
    for a, b in _series(offsets, len(sc)):
        seg = sc[a:b]
        ok = ~np.isnan(seg)
        if not ok.any():
            out.append(-1)
            continue
        best = seg[ok].max()
        first = a + int(np.flatnonzero(seg == best)[0])
        last = first
        while last + 1 < b and sc[last + 1] == best:
            last += 1
        out.append((first + last) // 2)
    return np.array(out, dtype=np.int64)


# -- spike ----------------------------------------------------------------------------------

def daily_peak_ratio(values, offsets, day, rank=3, min_valid=3):
    x = np.asarray(values, dtype=float)
    out = np.full(len(x), np.nan)
    for a, b in _series(offsets, len(x)):
        for d in sorted(set(day[a:b])):
            idx = [t for t in range(a, b) if day[t] == d]
            valid = sorted((x[t] for t in idx if _valid(x[t])), reverse=True)
            if len(valid) < max(rank, min_valid) or valid[rank - 1] <= 0:
                continue
            for t in idx:
                if _valid(x[t]):
                    out[t] = x[t] / valid[rank - 1]
    return out


# -- sum check ------------------------------------------------------------------------------

def span_compare(observed_step, expected_step, excluded, anchor, offsets=None,
                 tolerance_fraction=0.01, tolerance_abs=0.0):
    """Sums of both accounts between consecutive anchors; a span with an excluded or
    infinite step is not compared."""
    o = np.asarray(observed_step, dtype=float)
    e = np.asarray(expected_step, dtype=float)
    n = len(o)
    out_o, out_e, score = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for a, b in _series(offsets, n):
        anchors = [t for t in range(a, b) if anchor[t]]
        for p, q in zip(anchors, anchors[1:]):
            span = range(p + 1, q + 1)
            if any(excluded[t] or np.isinf(o[t]) or np.isinf(e[t]) for t in span):
                continue
            so = sum(o[t] for t in span if not np.isnan(o[t]))
            se = sum(e[t] for t in span if not np.isnan(e[t]))
            out_o[q], out_e[q] = so, se
            tol = max(tolerance_fraction * abs(se), tolerance_abs)
            d = abs(so - se)
            score[q] = d / tol if tol > 0 else (0.0 if d == 0 else np.inf)
    return out_o, out_e, score


def bin_to_readings(values, offsets, t0_us, step_us, series_map, reading_t0_us,
                    reading_step_us, reading_offsets):
    """Each interval to the first register slot at or after its end."""
    x = np.asarray(values, dtype=float)
    n_slots = int(reading_offsets[-1])
    total = np.zeros(n_slots)
    missing = np.zeros(n_slots, dtype=np.int64)
    for i, (a, b) in enumerate(_series(offsets, len(x))):
        r = int(series_map[i])
        if r < 0:
            continue
        ra, rb = int(reading_offsets[r]), int(reading_offsets[r + 1])
        times = [int(reading_t0_us[r]) + k * int(reading_step_us[r]) for k in range(rb - ra)]
        for t in range(a, b):
            end = int(t0_us[i]) + (t - a + 1) * int(step_us[i])
            k = next((k for k, rt in enumerate(times) if rt >= end), None)
            if k is None:
                continue
            if _valid(x[t]):
                total[ra + k] += x[t]
            else:
                missing[ra + k] += 1
    return total, missing


# -- CUSUM ----------------------------------------------------------------------------------

def cusum(values, offsets, window=28, drift=1.0, threshold=10.0, clip=4.0, min_periods=None,
          min_scale=0.0):
    """Page's two-sided CUSUM on values standardised by the median/MAD of the window before
    the excursion's first slot; one alarm per change (see the kernel's docstring)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    mp = window // 2 + 1 if min_periods is None else min_periods
    stat, ref_out = np.full(n, np.nan), np.full(n, np.nan)
    change = np.full(n, -1, dtype=np.int64)

    def reference(a, r):
        win = [v for v in x[max(a, r - window):r] if _valid(v)]
        if len(win) < mp:
            return np.nan, np.nan
        m = float(np.median(win))
        return m, float(np.median(np.abs(np.array(win) - m)))

    for a, b in _series(offsets, n):
        sp = sm = 0.0
        r = rp = rm = a + window
        for t in range(a, b):
            if t < r or not _valid(x[t]):
                continue
            m, mad = reference(a, r)
            if np.isnan(m):
                r = rp = rm = t + 1
                continue
            sigma = max(MAD_TO_SIGMA * mad, min_scale)
            d = x[t] - m
            z = d / sigma if sigma > 0 else (0.0 if d == 0 else np.sign(d) * clip)
            z = min(max(z, -clip), clip)
            sp = max(0.0, sp + z - drift)
            sm = max(0.0, sm - z - drift)
            ref_out[t] = m
            stat[t] = sp if sp >= sm else -sm
            if sp > threshold or sm > threshold:
                change[t] = rp if sp >= sm else rm
                sp = sm = 0.0
                r = rp = rm = max(change[t] + window, t + 1)
                continue
            if sp == 0:
                rp = t + 1
            if sm == 0:
                rm = t + 1
            if sp == 0 and sm == 0:
                r = t + 1
    return stat, change, ref_out


# -- same period last year ------------------------------------------------------------------

def last_year_baseline(values, offsets, day, day_type, lag_days=364, half_window_days=7,
                       min_days=3):
    """Median of the valid like days within half_window_days of day - lag_days."""
    x = np.asarray(values, dtype=float)
    out = np.full(len(x), np.nan)
    for a, b in _series(offsets, len(x)):
        for t in range(a, b):
            if not _valid(x[t]):
                continue
            like = [x[u] for u in range(a, b)
                    if abs(day[u] - (day[t] - lag_days)) <= half_window_days
                    and day_type[u] == day_type[t] and _valid(x[u])]
            if len(like) >= min_days:
                out[t] = np.median(like)
    return out


# -- test data ------------------------------------------------------------------------------

def random_batch(rng, n_series=5, max_len=60, *, nan=0.15, inf=0.03, quantized=None):
    """A batch with the awkward cases mixed in: empty and one-point series, NaN and +-inf,
    repeated values and flat runs. Returns ``(values, offsets)``."""
    lengths = rng.integers(0, max_len + 1, n_series)
    if n_series >= 3:
        lengths[rng.integers(n_series)] = 0
        lengths[rng.integers(n_series)] = 1
    parts = []
    for n in lengths:
        q = rng.random() < 0.5 if quantized is None else quantized
        x = rng.integers(0, 6, n).astype(float) if q else rng.normal(220.0, 3.0, n)
        if n > 8 and rng.random() < 0.5:  # a flat run
            s = rng.integers(0, n - 4)
            x[s:s + rng.integers(2, 8)] = x[s]
        x[rng.random(n) < nan] = np.nan
        r = rng.random(n) < inf
        x[r] = np.where(rng.random(r.sum()) < 0.5, np.inf, -np.inf)
        parts.append(x)
    values = np.concatenate(parts) if parts else np.zeros(0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return values, offsets


# -- grid placement and per-series medians --------------------------------------------------

def place_on_grid(t_us, value, row_start, t0_us, step_us, offsets):
    """Readings into their segment's slots, one reading at a time; a slot hit twice is NaN and
    every reading in it counts as a collision."""
    n_seg = len(offsets) - 1
    n = int(offsets[-1])
    values = np.full(n, np.nan)
    ts = np.zeros(n, dtype=np.int64)
    counts = np.zeros((n_seg, 3), dtype=np.int64)
    ends = list(row_start[1:]) + [len(t_us)]
    for g in range(n_seg):
        a, b = int(offsets[g]), int(offsets[g + 1])
        for k in range(a, b):
            ts[k] = t0_us[g] + (k - a) * step_us[g]
        hits = {}
        for r in range(int(row_start[g]), int(ends[g])):
            rel = int(t_us[r]) - int(t0_us[g])
            pos = a + rel // int(step_us[g])
            counts[g, 1] += rel % int(step_us[g]) != 0
            hits.setdefault(pos, []).append(value[r])
        for pos, vs in hits.items():
            values[pos] = vs[0] if len(vs) == 1 else np.nan
            counts[g, 2] += len(vs) if len(vs) > 1 else 0
        counts[g, 0] = int(np.isfinite(values[a:b]).sum())
    return values, ts, counts


def series_median(values, offsets=None):
    x = np.asarray(values, dtype=float)
    out = []
    for a, b in _series(offsets, len(x)):
        v = x[a:b][np.isfinite(x[a:b])]
        out.append(np.median(v) if v.size else np.nan)
    return np.array(out)


# -- local calendar and run durations -------------------------------------------------------

def local_calendar(ts_us, offsets, step_us, *, transitions_us, utc_offsets_us, day_types,
                   first_day, series_zone=None, zone_offsets=None):
    """Each slot on its own: the zone's last transition at or before it gives its offset,
    the local time's day number, its time since local midnight over the step, its day type."""
    day_us = 86_400_000_000
    ts = [int(t) for t in ts_us]
    n_series = len(offsets) - 1
    zone = [0] * n_series if series_zone is None else [int(z) for z in series_zone]
    zoff = [0, len(transitions_us)] if zone_offsets is None else [int(z) for z in zone_offsets]
    day, slot, kind = [], [], []
    for s, (a, b) in enumerate(_series(offsets, len(ts))):
        za, zb = zoff[zone[s]], zoff[zone[s] + 1]
        for t in ts[a:b]:
            j = max(i for i in range(za, zb) if int(transitions_us[i]) <= t)
            local = t + int(utc_offsets_us[j])
            d = local // day_us
            day.append(d)
            slot.append((local - d * day_us) // int(step_us[s]))
            kind.append(int(day_types[d - first_day]))
    return (np.array(day, dtype=np.int64), np.array(slot, dtype=np.int64),
            np.array(kind, dtype=np.int64), max(slot, default=0) + 1)


def run_hours(run_length, offsets, interval_us, empty=0.0):
    out = np.full(len(run_length), empty)
    for s, (a, b) in enumerate(_series(offsets, len(run_length))):
        step = int(np.broadcast_to(interval_us, (len(offsets) - 1,))[s])
        for t in range(a, b):
            if run_length[t] > 0:
                out[t] = int(run_length[t]) * step / 3.6e9
    return out


def event_stats(values, start, end, window_start, window_end):
    """Per event, from its own slots: the finite values' sum (left to right) and count,
    ``np.fmin``/``np.fmax`` of its values (NaN when empty or all NaN), and the finite values
    of its window."""
    x = np.asarray(values, dtype=float)
    out = []
    for a, b, wa, wb in zip(start, end, window_start, window_end):
        seg = x[a:b]
        total = 0.0
        for v in seg[np.isfinite(seg)]:
            total += v
        lo = np.fmin.reduce(seg) if seg.size else np.nan
        hi = np.fmax.reduce(seg) if seg.size else np.nan
        out.append((total, int(np.isfinite(seg).sum()), lo, hi,
                    int(np.isfinite(x[wa:wb]).sum())))
    cols = list(zip(*out)) if out else [(), (), (), (), ()]
    return (np.array(cols[0], dtype=float), np.array(cols[1], dtype=np.int64),
            np.array(cols[2], dtype=float), np.array(cols[3], dtype=float),
            np.array(cols[4], dtype=np.int64))
