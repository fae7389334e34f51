"""Chart data for the report, computed per batch while its readings are in memory.

The report never reads a store (``griddiag.report``): the inspection job hands it three small
frames (:class:`griddiag.report.ReportCharts`). Only the serious findings and the assets with
the largest year-over-year changes get charts, so each frame is kept as a running top ``N``
over the batches (:class:`ChartCollector`) and memory does not grow with the store.

- ``finding_windows``: the readings around a finding and the band the series normally stays
  in at that time of day: median +- 3 sigma (1.4826 x MAD) of the same local slot over the
  surrounding ``REF_DAYS`` days on each side, the finding's own interval left out so the
  anomaly does not widen its own band.
- ``yoy_monthly``: monthly totals (interval energy) or means (other metrics) per local
  calendar month of the inspected and baseline years.
- ``yoy_profile``: the mean value of each local time-of-day slot (hour as a fraction, 0-24)
  per year: the typical daily profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from griddiag.config import MAD_TO_SIGMA
from griddiag.schema import METRICS, SEVERITIES, TS_DTYPE

__all__ = [
    "BAND_SIGMAS",
    "ChartCandidates",
    "ChartCollector",
    "REF_DAYS",
    "by_seriousness",
    "chart_candidates",
    "expected_band",
    "finding_windows",
    "local_wall_us",
    "yoy_monthly",
    "yoy_profile",
]

#: days on each side of a window day whose same-slot readings make the expected band
REF_DAYS = 7
#: half-width of the expected band in robust standard deviations
BAND_SIGMAS = 3.0
#: context shown before and after a finding's interval
PAD = timedelta(days=1)
#: longest window drawn; a longer finding is shown around its peak
MAX_WINDOW = timedelta(days=7)

_DAY_US = 86_400_000_000

WINDOW_SCHEMA = {"finding_key": pl.String(), "ts": TS_DTYPE, "value": pl.Float64(),
                 "expected_low": pl.Float64(), "expected_high": pl.Float64()}
MONTHLY_SCHEMA = {"asset_id": pl.String(), "metric": pl.String(), "year": pl.Int32(),
                  "month": pl.Int8(), "value": pl.Float64()}
PROFILE_SCHEMA = {"asset_id": pl.String(), "metric": pl.String(), "year": pl.Int32(),
                  "hour": pl.Float64(), "value": pl.Float64()}


def by_seriousness(findings: pl.DataFrame) -> pl.DataFrame:
    """Findings most serious first, each distinct problem once before any repeat.

    A problem is an asset and a finding kind. Its events are ordered by severity (critical,
    warning, info), then score (NaN last); then the first event of every problem comes before
    the second event of any, in that same order. A transformer whose current unbalance fires
    on twenty summer afternoons is one problem for a technician, and twenty cards of it would
    push every other problem off the top of the report. Asset and start break ties, so every
    run orders the same way.
    """
    rank = pl.col("severity").replace_strict({s: i for i, s in enumerate(SEVERITIES)},
                                             default=-1, return_dtype=pl.Int8)
    keys = ["_sev", "_score", "asset_id", "metric", "kind", "start"]
    desc = [True, True, False, False, False, False]
    return (findings.with_columns(_sev=rank, _score=pl.col("score").fill_nan(None))
            .sort(keys, descending=desc, nulls_last=True)
            .with_columns(_occ=pl.int_range(pl.len()).over("asset_id", "kind"))
            .sort(["_occ", *keys], descending=[False, *desc], nulls_last=True,
                  maintain_order=True)
            .drop("_sev", "_score", "_occ"))


def expected_band(days: np.ndarray, window_days: np.ndarray, ref_days: int = REF_DAYS,
                  sigmas: float = BAND_SIGMAS) -> tuple[np.ndarray, np.ndarray]:
    """Band of each slot of ``window_days`` from the same slot of the days around it.

    Parameters
    ----------
    days : ndarray, shape (n_days, n_slots)
        Reference values by local day and slot (NaN = missing or left out).
    window_days : ndarray of int
        Row indices of ``days`` to compute the band for.

    Returns
    -------
    low, high : ndarray, shape (len(window_days), n_slots)
        ``median -+ sigmas * MAD_TO_SIGMA * MAD`` over rows ``d - ref_days .. d + ref_days``;
        NaN where no reference value exists.
    """
    # every window day's reference rows at once: ``days`` padded with ref_days NaN rows on
    # each side, so the rows d - ref_days .. d + ref_days are padded rows d .. d + 2 ref_days
    # (NaN is ignored by the median, so the padding changes nothing at the edges)
    window_days = np.asarray(window_days, dtype=np.int64)
    pad = np.full((ref_days, days.shape[1]), np.nan)
    padded = np.concatenate([pad, np.asarray(days, dtype=np.float64), pad])
    ref = padded[window_days[:, None] + np.arange(2 * ref_days + 1)[None, :]]
    med = _nanmedian_rows(ref)
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, ignored like a missing value
        mad = _nanmedian_rows(np.abs(ref - med[:, None, :]))
    half = sigmas * MAD_TO_SIGMA * mad
    return med - half, med + half


def _nanmedian_rows(x: np.ndarray) -> np.ndarray:
    """``np.nanmedian(x, axis=1)`` of a 3-d array, NaN (no warning) where all are NaN.

    ``np.nanmedian`` over small axes goes through masked arrays, one window day at a time;
    sorting once (NaN sorts last) and taking the middle of each column's valid values is the
    same median for every column in one step."""
    s = np.sort(x, axis=1)
    n = np.count_nonzero(~np.isnan(x), axis=1)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[:, None, :], axis=1)[:, 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[:, None, :], axis=1)[:, 0]
    with np.errstate(invalid="ignore", over="ignore"):
        med = np.where(n % 2 == 1, lo, (lo + hi) / 2.0)
    return np.where(n > 0, med, np.nan)


def _window(start, end, peak):
    lo, hi = start - PAD, end + PAD
    if hi - lo > MAX_WINDOW:
        centre = peak if peak is not None else start
        lo, hi = centre - MAX_WINDOW / 2, centre + MAX_WINDOW / 2
    return lo, hi


def _step_us(ts_us: np.ndarray) -> int:
    """The series' interval: its most common step between readings."""
    if ts_us.size < 2:
        return _DAY_US
    steps, counts = np.unique(np.diff(ts_us), return_counts=True)
    steps, counts = steps[steps > 0], counts[steps > 0]
    return int(steps[np.argmax(counts)]) if steps.size else _DAY_US


def finding_windows(readings: pl.DataFrame, findings: pl.DataFrame, keys: Sequence[str],
                    tz_of: dict[str, str]) -> pl.DataFrame:
    """``WINDOW_SCHEMA`` rows for ``findings`` (``keys`` their finding keys), from ``readings``
    (one batch, all of these findings' assets). Findings without readings of their metric get
    no rows (the report then shows no chart for them).

    Only the readings a window and its reference days need are taken out of the batch (one
    range join over every finding, not a scan of each finding's whole multi-year series)."""
    if findings.height == 0 or readings.height == 0:
        return pl.DataFrame(schema=WINDOW_SCHEMA)
    margin = timedelta(days=REF_DAYS + 1)
    spans = []
    for i, f in enumerate(findings.select("asset_id", "metric", "start", "end", "peak_ts")
                          .iter_rows(named=True)):
        lo, hi = _window(f["start"], f["end"], f["peak_ts"])
        spans.append((i, f["asset_id"], f["metric"], lo - margin, hi + margin))
    span = pl.DataFrame(spans, schema={"_f": pl.Int64, "asset_id": pl.String,
                                       "metric": pl.String, "_lo": TS_DTYPE, "_hi": TS_DTYPE},
                        orient="row")
    # overlapping spans of one series are merged first, so a reading is taken out once
    merged = (span.sort("asset_id", "metric", "_lo")
              .with_columns(_run=(pl.col("_lo") > pl.col("_hi").cum_max().shift(1)
                                  .over("asset_id", "metric")).fill_null(True).cum_sum())
              .group_by("asset_id", "metric", "_run")
              .agg(pl.col("_lo").min(), pl.col("_hi").max()))
    # the findings' series and time range first (a mask, then a copy of those rows only):
    # joining the whole batch would copy every reading of every asset with a finding
    near = (readings.select("asset_id", "metric", "ts", "value")
            .filter(pl.col("asset_id").is_in(merged["asset_id"].unique().implode())
                    & pl.col("metric").is_in(merged["metric"].unique().implode())
                    & (pl.col("ts") >= merged["_lo"].min())
                    & (pl.col("ts") < merged["_hi"].max()))
            .join(merged, on=["asset_id", "metric"], how="inner")
            .filter((pl.col("ts") >= pl.col("_lo")) & (pl.col("ts") < pl.col("_hi")))
            .select("asset_id", "metric", "ts", "value")
            .sort("asset_id", "metric", "ts"))
    # local wall-clock time once per zone, not once per finding
    ts_us = near["ts"].dt.epoch("us").to_numpy()
    zone = near["asset_id"].replace_strict(tz_of, default="UTC", return_dtype=pl.String)
    local = np.empty_like(ts_us)
    for z in zone.unique().to_list():
        sel = (zone == z).to_numpy()
        local[sel] = local_wall_us(ts_us[sel], z or "UTC")
    near = near.with_columns(_local=local)
    by_pair = {k: (p["ts"].dt.epoch("us").to_numpy(), p["_local"].to_numpy(),
                   p["value"].to_numpy().astype(np.float64))
               for k, p in near.partition_by("asset_id", "metric", as_dict=True).items()}
    which, parts = [], []
    for i, f in enumerate(findings.iter_rows(named=True)):
        series = by_pair.get((f["asset_id"], f["metric"]))
        if series is None:
            continue
        w = _one_window(*series, f)
        if w is not None:
            which.append(np.full(w[0].size, i, dtype=np.int64))
            parts.append(w)
    if not parts:
        return pl.DataFrame(schema=WINDOW_SCHEMA)
    win_ts, value, low, high = (np.concatenate(c) for c in zip(*parts, strict=True))
    return pl.DataFrame({
        "finding_key": pl.Series(list(keys), dtype=pl.String).gather(np.concatenate(which)),
        "ts": pl.Series(win_ts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "value": value, "expected_low": low, "expected_high": high,
    }, schema=WINDOW_SCHEMA)


def _one_window(ts_all: np.ndarray, local_all: np.ndarray, values_all: np.ndarray, f: dict
                ) -> tuple[np.ndarray, ...] | None:
    """``(ts, value, expected_low, expected_high)`` of one finding's window from its series
    (``ts_all`` sorted UTC microseconds, ``local_all`` the same instants' local wall-clock
    microseconds); None when it has no readings near the window."""
    lo, hi = _window(f["start"], f["end"], f["peak_ts"])
    margin = timedelta(days=REF_DAYS + 1)
    a, b = np.searchsorted(ts_all, [_us(lo - margin), _us(hi + margin)])
    if b <= a:
        return None
    ts_us, local_us, values = ts_all[a:b], local_all[a:b], values_all[a:b]
    step = _step_us(ts_us)
    # local wall-clock microseconds: the same slot of each local day is compared
    offset = local_us - ts_us
    day0 = (local_us.min() // _DAY_US)
    day = local_us // _DAY_US - day0
    slots_per_day = max(_DAY_US // step, 1)
    slot = np.minimum((local_us % _DAY_US) // step, slots_per_day - 1)
    grid = np.full((int(day.max()) + 1, int(slots_per_day)), np.nan)
    grid[day, slot] = values
    # the finding's own interval says nothing about what is normal there
    own = (ts_us >= _us(f["start"])) & (ts_us < max(_us(f["end"]), _us(f["start"]) + 1))
    reference = grid.copy()
    reference[day[own], slot[own]] = np.nan
    # window slots: every slot of the regular grid from lo to hi, readings or not
    first = _us(lo) - (_us(lo) - int(ts_us[0])) % step
    win_ts = np.arange(first, _us(hi), step, dtype=np.int64)
    if win_ts.size == 0:
        return None
    # a window slot's local time: the offset of the nearest reading (exact for fixed zones)
    near = np.clip(np.searchsorted(ts_us, win_ts), 0, ts_us.size - 1)
    win_local = win_ts + offset[near]
    win_day = win_local // _DAY_US - day0
    win_slot = np.minimum((win_local % _DAY_US) // step, slots_per_day - 1)
    inside = (win_day >= 0) & (win_day < grid.shape[0])
    value = np.full(win_ts.size, np.nan)
    value[inside] = grid[win_day[inside], win_slot[inside]]
    low = np.full(win_ts.size, np.nan)
    high = low.copy()
    uniq = np.unique(win_day[inside])
    if uniq.size:
        b_lo, b_hi = expected_band(reference, uniq)
        row = np.searchsorted(uniq, win_day[inside])
        low[inside] = b_lo[row, win_slot[inside]]
        high[inside] = b_hi[row, win_slot[inside]]
    return win_ts, value, low, high


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: the grid on which :func:`local_wall_us` looks up a zone's UTC offset
_OFFSET_STEP_US = 900_000_000


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _zone_local_us(ts_us: np.ndarray, zone: str) -> np.ndarray:
    return (pl.Series(ts_us, dtype=pl.Int64).cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
            .dt.replace_time_zone(None).dt.epoch("us").to_numpy())


def local_wall_us(ts_us: np.ndarray, zone: str) -> np.ndarray:
    """Local wall-clock time in ``zone`` (naive microseconds since 1970) of the UTC instants
    ``ts_us`` (microseconds since 1970).

    Converting every reading through the time zone database costs about as much as the rest
    of the chart data together; a zone's UTC offset only changes at its transitions, so it is
    looked up once per 15 minutes of the readings' span and added, and the readings of the
    rare 15-minute cells in which the offset changes are converted one by one: exact for any
    zone and any timestamps.
    """
    ts_us = np.asarray(ts_us, dtype=np.int64)
    if ts_us.size == 0 or zone == "UTC":
        return ts_us.copy()
    cell = ts_us // _OFFSET_STEP_US
    c0, c1 = int(cell.min()), int(cell.max())
    if c1 - c0 + 2 >= ts_us.size:  # sparse readings over a long span: convert them directly
        return _zone_local_us(ts_us, zone)
    edges = np.arange(c0, c1 + 2, dtype=np.int64) * _OFFSET_STEP_US
    offset = _zone_local_us(edges, zone) - edges
    i = cell - c0
    out = ts_us + offset[i]
    moving = offset[i] != offset[i + 1]
    if moving.any():
        out[moving] = _zone_local_us(ts_us[moving], zone)
    return out


def _is_energy(metric: str) -> bool:
    m = METRICS.get(metric)
    return m is not None and m.kind == "interval_energy"


@dataclass
class _PairRows:
    """Readings of some (asset, metric) series as arrays: ``pairs`` (sorted, one row per
    series), and per reading its series' row in ``pairs``, local wall-clock microseconds and
    value."""

    pairs: pl.DataFrame
    pair: np.ndarray
    local_us: np.ndarray
    value: np.ndarray

    def frame(self, index: np.ndarray, columns: dict[str, object], schema) -> pl.DataFrame:
        idx = pl.Series(index.astype(np.int64))
        return pl.DataFrame({"asset_id": self.pairs["asset_id"].gather(idx),
                             "metric": self.pairs["metric"].gather(idx), **columns}
                            ).cast(schema)


def _pair_rows(readings: pl.DataFrame, pairs: pl.DataFrame, tz_of: dict[str, str],
               years: Sequence[int]) -> _PairRows | None:
    """The readings of ``pairs`` near the local ``years`` (a day's margin either side covers
    any UTC offset; the exact local year is taken later)."""
    p = pairs.select("asset_id", "metric").unique().sort("asset_id", "metric")
    if not len(years) or readings.height == 0 or p.height == 0:
        return None
    lo = datetime(min(years), 1, 1, tzinfo=UTC) - timedelta(days=1)
    hi = datetime(max(years) + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)
    near = (readings.select("asset_id", "metric", "ts", "value")
            .filter((pl.col("ts") >= lo) & (pl.col("ts") < hi)))
    if near.height == 0:
        return None
    # A batch comes grouped by series: each run of rows of one (asset, metric) is looked up
    # once, instead of joining every row on two strings. Any order works (a series in several
    # runs is just looked up several times); rows mixed up row by row fall back to the join.
    new = (near.select((pl.col("asset_id") != pl.col("asset_id").shift(1))
                       | (pl.col("metric") != pl.col("metric").shift(1)))
           .to_series().fill_null(True).to_numpy())
    starts = np.flatnonzero(new)
    if starts.size * 16 <= near.height:
        index = {k: i for i, k in enumerate(p.rows())}
        run_pair = np.array([index.get(k, -1) for k in near[starts].select(
            "asset_id", "metric").rows()], dtype=np.int64)
        pair = run_pair[np.cumsum(new) - 1]
        mine = pair >= 0
        if not mine.all():
            near, pair = near.filter(pl.Series(mine)), pair[mine]
    else:
        near = near.join(p.with_row_index("_pair"), on=["asset_id", "metric"], how="inner")
        pair = near["_pair"].to_numpy().astype(np.int64)
    if near.height == 0:
        return None
    ts_us = near["ts"].dt.epoch("us").to_numpy()
    zones = [tz_of.get(a) or "UTC" for a in p["asset_id"].to_list()]
    names = sorted(set(zones))
    if len(names) == 1:
        local = local_wall_us(ts_us, names[0])
    else:
        code = np.array([names.index(z) for z in zones], dtype=np.int64)[pair]
        local = np.empty_like(ts_us)
        for c, zone in enumerate(names):
            sel = code == c
            local[sel] = local_wall_us(ts_us[sel], zone)
    return _PairRows(p, pair, local, near["value"].to_numpy().astype(np.float64))


def _months(local_us: np.ndarray) -> np.ndarray:
    """Calendar month of local wall-clock microseconds, as months since 1970-01."""
    day = local_us // _DAY_US
    d0 = int(day.min())
    table = (np.arange(d0, int(day.max()) + 1).astype("datetime64[D]")
             .astype("datetime64[M]").astype(np.int64))
    return table[day - d0]


def _group_sums(key: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """Keys present, and their sums and counts (NaN and inf propagate, as in a polars sum)."""
    counts = np.bincount(key, minlength=n)
    sums = np.bincount(key, weights=values, minlength=n)
    present = np.flatnonzero(counts)
    return present, sums[present], counts[present]


def yoy_monthly(readings: pl.DataFrame, pairs: pl.DataFrame, years: Sequence[int],
                tz_of: dict[str, str]) -> pl.DataFrame:
    """Monthly totals (interval energy) or means (other metrics) of the ``pairs`` (asset_id,
    metric) in each local calendar year of ``years``."""
    return _monthly(_pair_rows(readings, pairs, tz_of, years), years)


def yoy_profile(readings: pl.DataFrame, pairs: pl.DataFrame, years: Sequence[int],
                tz_of: dict[str, str]) -> pl.DataFrame:
    """Mean value per local time-of-day slot (``hour`` = hour + minute / 60) and year."""
    return _profile(_pair_rows(readings, pairs, tz_of, years), years)


def _yoy_frames(readings: pl.DataFrame, pairs: pl.DataFrame, years: Sequence[int],
                tz_of: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`yoy_monthly` and :func:`yoy_profile` from one pass over the readings."""
    r = _pair_rows(readings, pairs, tz_of, years)
    return _monthly(r, years), _profile(r, years)


def _monthly(r: _PairRows | None, years: Sequence[int]) -> pl.DataFrame:
    if r is None:
        return pl.DataFrame(schema=MONTHLY_SCHEMA)
    month = _months(r.local_us)
    keep = np.isin(month // 12 + 1970, np.asarray(list(years), dtype=np.int64))
    if not keep.any():
        return pl.DataFrame(schema=MONTHLY_SCHEMA)
    month, pair = month[keep], r.pair[keep]
    m0 = int(month.min())
    n_months = int(month.max()) - m0 + 1
    key, sums, counts = _group_sums(pair * n_months + (month - m0), r.value[keep],
                                    r.pairs.height * n_months)
    pair, month = key // n_months, key % n_months + m0
    energy = np.array([_is_energy(m) for m in r.pairs["metric"].to_list()])[pair]
    return r.frame(pair, {"year": month // 12 + 1970, "month": month % 12 + 1,
                          "value": np.where(energy, sums, sums / counts)}, MONTHLY_SCHEMA)


def _profile(r: _PairRows | None, years: Sequence[int]) -> pl.DataFrame:
    if r is None:
        return pl.DataFrame(schema=PROFILE_SCHEMA)
    year = _months(r.local_us) // 12 + 1970
    keep = np.isin(year, np.asarray(list(years), dtype=np.int64))
    if not keep.any():
        return pl.DataFrame(schema=PROFILE_SCHEMA)
    year, pair = year[keep], r.pair[keep]
    minute = (r.local_us[keep] % _DAY_US) // 60_000_000
    y0 = int(year.min())
    n_years = int(year.max()) - y0 + 1
    key, sums, counts = _group_sums((pair * n_years + (year - y0)) * 1440 + minute,
                                    r.value[keep], r.pairs.height * n_years * 1440)
    minute, rest = key % 1440, key // 1440
    hour = (minute // 60).astype(np.float64) + (minute % 60).astype(np.float64) / 60.0
    return r.frame(rest // n_years, {"year": rest % n_years + y0, "hour": hour,
                                     "value": sums / counts}, PROFILE_SCHEMA)


_YOY_ORDER = ["p_value", "_effect", "asset_id", "metric"]
_YOY_DESC = [False, True, False, False]


@dataclass
class ChartCandidates:
    """One batch's chart candidates: its own top ``n`` serious findings (with ``_key``) and
    their windows, its own top ``2 n`` year-over-year asset rows and their monthly and profile
    frames. Small and picklable: a worker computes them next to the readings and the driver
    merges them (:meth:`ChartCollector.add`)."""

    findings: pl.DataFrame | None
    windows: pl.DataFrame
    yoy: pl.DataFrame | None
    monthly: pl.DataFrame
    profile: pl.DataFrame


def chart_candidates(readings: pl.DataFrame, findings: pl.DataFrame, yoy: pl.DataFrame | None,
                     tz_of: dict[str, str], *, n: int, years: Sequence[int], fdr: float
                     ) -> ChartCandidates:
    """The :class:`ChartCandidates` of one batch (``readings`` holds all of its assets).

    Year-over-year candidates are only rows that can still turn out significant: a change
    class other than ``unchanged`` and ``p_value <= fdr`` (a Benjamini-Hochberg q-value is
    never below its p-value). The rest can never get a chart, and leaving them out keeps the
    readings taken out of the batch small.
    """
    from griddiag.report import finding_keys

    top_f, windows = None, pl.DataFrame(schema=WINDOW_SCHEMA)
    serious = findings.filter(pl.col("severity").is_in(["warning", "critical"]))
    if serious.height and n > 0:
        top_f = by_seriousness(serious.with_columns(_key=finding_keys(serious))).head(n)
        windows = finding_windows(readings, top_f.drop("_key"), top_f["_key"].to_list(), tz_of)
    top_y = None
    monthly = pl.DataFrame(schema=MONTHLY_SCHEMA)
    profile = pl.DataFrame(schema=PROFILE_SCHEMA)
    if yoy is not None and yoy.height and n > 0:
        top_y = (yoy.filter((pl.col("group_by") == "asset")
                            & (pl.col("change_class") != "unchanged")
                            & (pl.col("p_value") <= fdr))
                 .select("asset_id", "metric", pl.col("p_value").fill_nan(None),
                         pl.col("effect_size").abs().fill_nan(None).alias("_effect"))
                 .sort(_YOY_ORDER, descending=_YOY_DESC, nulls_last=True).head(2 * n))
        if top_y.height:
            monthly, profile = _yoy_frames(readings, top_y, years, tz_of)
    return ChartCandidates(top_f, windows, top_y, monthly, profile)


@dataclass
class ChartCollector:
    """Running top ``n`` of the chart data over batches (memory bounded by ``n``).

    Findings: the ``n`` most serious (:func:`by_seriousness`) warning and critical findings
    seen so far, with their windows. Year-over-year: of the asset rows that can still be
    significant, the ``2 n`` with the smallest p-values seen so far (Benjamini-Hochberg
    q-values rise with the p-value, so the assets that end up significant with the smallest
    q-values are among them), with their monthly and profile frames; :meth:`charts` keeps
    those the population step found significant.
    """

    n: int = 200
    years: tuple[int, ...] = ()
    top_findings: pl.DataFrame | None = None
    windows: list[pl.DataFrame] = field(default_factory=list)
    top_yoy: pl.DataFrame | None = None
    monthly: list[pl.DataFrame] = field(default_factory=list)
    profile: list[pl.DataFrame] = field(default_factory=list)

    def add(self, cand: ChartCandidates) -> None:
        """Merge one batch's candidates, computed where its readings are (a Dask worker, say).

        A batch's top ``n`` holds every finding of that batch that can be in the run's top
        ``n`` (whole areas per batch, so an asset's repeats, which :func:`by_seriousness`
        counts, are all in one batch), and the orders are total (asset, metric, kind and start
        break ties), so merging batches in any grouping keeps the same top ``n``.
        """
        if cand.findings is not None and cand.findings.height and self.n > 0:
            pool = cand.findings if self.top_findings is None else pl.concat(
                [self.top_findings, cand.findings])
            top = by_seriousness(pool).head(self.n)
            self.top_findings = top
            keep = top["_key"].implode()
            self.windows = [pl.concat([*self.windows, cand.windows])
                            .filter(pl.col("finding_key").is_in(keep))]
        if cand.yoy is not None and cand.yoy.height and self.n > 0:
            pool = cand.yoy if self.top_yoy is None else pl.concat([self.top_yoy, cand.yoy])
            top = pool.sort(_YOY_ORDER, descending=_YOY_DESC, nulls_last=True).head(2 * self.n)
            self.top_yoy = top
            pairs = top.select("asset_id", "metric")
            self.monthly = [pl.concat([*self.monthly, cand.monthly])
                            .join(pairs, on=["asset_id", "metric"], how="semi")]
            self.profile = [pl.concat([*self.profile, cand.profile])
                            .join(pairs, on=["asset_id", "metric"], how="semi")]

    def charts(self, yoy_final: pl.DataFrame):
        """The :class:`griddiag.report.ReportCharts` of the run: the finding windows, and the
        year-over-year frames of the ``n`` significant asset changes ranked first."""
        from griddiag.report import ReportCharts

        windows = (pl.concat(self.windows) if self.windows
                   else pl.DataFrame(schema=WINDOW_SCHEMA))
        monthly = pl.concat(self.monthly) if self.monthly else pl.DataFrame(
            schema=MONTHLY_SCHEMA)
        profile = pl.concat(self.profile) if self.profile else pl.DataFrame(
            schema=PROFILE_SCHEMA)
        if yoy_final.height:
            sig = yoy_final.filter((pl.col("group_by") == "asset")
                                   & pl.col("significant").fill_null(False))
            order = ["rank", "q_value", "asset_id"] if "rank" in sig.columns else [
                "q_value", "asset_id"]
            pairs = sig.sort(order, nulls_last=True).head(self.n).select("asset_id", "metric")
        else:
            pairs = pl.DataFrame(schema={"asset_id": pl.String, "metric": pl.String})
        return ReportCharts(
            finding_windows=windows.sort("finding_key", "ts"),
            yoy_monthly=monthly.join(pairs, on=["asset_id", "metric"], how="semi"),
            yoy_profile=profile.join(pairs, on=["asset_id", "metric"], how="semi"),
        )

