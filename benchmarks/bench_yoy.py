"""Year-over-year speed: the batched KS/Wasserstein/PSI kernel and the whole compare against
scipy's per-asset ``ks_2samp`` loop, in the same run.

Cases: 10,000 assets x 2 years of daily values (the kernel alone, and the whole
``compare_years`` from readings); 1,000 assets x 2 years of 15-minute values (the
whole ``compare_years``; ``--quick``: a tenth). The baseline is what an analyst would
write: for each asset,
``scipy.stats.ks_2samp(current_days, baseline_days)`` (default method: exact p for these
sizes, and ``method="asymp"``, which is what the kernel computes). The kernel's first call
(numba compile or cache load) is reported on its own.

    PYTHONPATH=src:. .venv/bin/python benchmarks/bench_yoy.py [--quick]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from baselines.yoy_scipy import ks_loop  # noqa: E402
from benchmarks.common import Checks, table, timed  # noqa: E402

TITLE = "Year-over-year comparison (KS and friends) against a scipy ks_2samp loop"


def _daily(n_assets: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    base = rng.gamma(4.0, 3.0, (n_assets, 1))
    a = (base * np.exp(rng.normal(0.05, 0.2, (n_assets, 365)))).ravel()
    b = (base * np.exp(rng.normal(0.0, 0.2, (n_assets, 365)))).ravel()
    off = np.arange(0, n_assets * 365 + 1, 365, dtype=np.int64)
    return a, off, b, off.copy()


def _readings_15min(n_assets: int, rng) -> pl.DataFrame:
    ts = pl.datetime_range(datetime(2023, 12, 31, 16, tzinfo=UTC),
                           datetime(2025, 12, 31, 16, tzinfo=UTC), "15m", closed="left",
                           eager=True)
    n = ts.len()
    vals = rng.gamma(2.0, 0.1, (n_assets, n)).ravel()
    return pl.DataFrame({
        "asset_id": pl.Series([f"M{i:06d}" for i in range(n_assets)]).gather(
            np.repeat(np.arange(n_assets), n)),
        "ts": pl.concat([ts] * n_assets).dt.cast_time_unit("us"),
        "metric": "energy_kwh", "value": vals})


def _daily_readings(a: np.ndarray, b: np.ndarray, n_assets: int) -> pl.DataFrame:
    """The kernel case's values as readings: ``b`` on the first 365 UTC days of 2024, ``a`` on
    those of 2025."""
    days = []
    for y in (2024, 2025):
        first = datetime(y, 1, 1, tzinfo=UTC)
        days.append(pl.datetime_range(first, first + timedelta(days=364), "1d", eager=True))
    ts = pl.concat(days).dt.cast_time_unit("us")
    vals = np.concatenate([b.reshape(n_assets, 365), a.reshape(n_assets, 365)], axis=1)
    return pl.DataFrame({
        "asset_id": pl.Series([f"M{i:06d}" for i in range(n_assets)]).gather(
            np.repeat(np.arange(n_assets), 730)),
        "ts": pl.concat([ts] * n_assets), "metric": "energy_kwh", "value": vals.ravel()})


def run(dsn=None, workdir=None, quick: bool = False) -> str:
    from griddiag.kernels.yoy import distribution_shift
    from griddiag.yoy import compare_years

    rng = np.random.default_rng(2026)
    checks = Checks()
    rows = []
    n_daily = 1_000 if quick else 10_000
    a, ao, b, bo = _daily(n_daily, rng)
    t0 = time.perf_counter()
    distribution_shift(a[:730], ao[:3], b[:730], bo[:3])
    first = time.perf_counter() - t0
    k = timed(lambda: distribution_shift(a, ao, b, bo), repeat=3)
    s_asymp = timed(lambda: ks_loop(a, ao, b, bo, method="asymp"))
    s_auto = timed(lambda: ks_loop(a, ao, b, bo, method="auto"))
    ref = s_asymp.value
    checks.check(bool(np.allclose(k.value["ks_stat"], ref[:, 0], rtol=1e-12)),
                 "KS statistics equal scipy's on every asset")
    checks.check(bool(np.allclose(k.value["ks_p_value"], ref[:, 1], rtol=0.05, atol=1e-3)),
                 "KS p-values within 5 % of scipy's asymptotic ones")
    rows.append([f"{n_daily:,} assets x 2 years daily: KS+W1+PSI+quantiles kernel",
                 k.seconds, s_asymp.seconds / k.seconds, s_auto.seconds / k.seconds])
    rows.append(["  scipy ks_2samp loop (method=\"asymp\")",
                 s_asymp.seconds, float("nan"), float("nan")])
    rows.append(["  scipy ks_2samp loop (default method)", s_auto.seconds, float("nan"),
                 float("nan")])

    # the whole comparison on the same daily values, as readings (UTC days of 2024 and 2025)
    daily = _daily_readings(a, b, n_daily)
    compare_years(daily.filter(pl.col("asset_id") < "M000003"), year=2025,
                  baseline_years=[2024], holiday_country="CN")
    whole_d = timed(lambda: compare_years(daily, year=2025, baseline_years=[2024],
                                          holiday_country="CN"))
    checks.check(whole_d.value.height == n_daily, "one yoy row per asset (daily)")
    rows.append([f"{n_daily:,} assets x 2 years daily: whole compare_years (all measures)",
                 whole_d.seconds, s_asymp.seconds / whole_d.seconds,
                 s_auto.seconds / whole_d.seconds])

    n15 = 100 if quick else 1_000
    readings = _readings_15min(n15, rng)
    t0 = time.perf_counter()
    compare_years(readings.filter(pl.col("asset_id") < "M000002"), year=2025,
                  baseline_years=[2024], holiday_country="CN")
    first_whole = time.perf_counter() - t0
    whole = timed(lambda: compare_years(readings, year=2025, baseline_years=[2024],
                                        holiday_country="CN"))
    checks.check(whole.value.height == n15, "one yoy row per asset")

    # baseline: aggregate to days with polars, then ks_2samp per asset (what the yoy compares)
    def scipy_path():
        from scipy import stats
        day = readings.group_by("asset_id", pl.col("ts").dt.convert_time_zone("Asia/Shanghai")
                                .dt.date().alias("d")).agg(pl.col("value").sum())
        out = []
        for _, g in day.partition_by("asset_id", as_dict=True).items():
            y = g["d"].dt.year()
            out.append(stats.ks_2samp(g.filter(y == 2025)["value"].to_numpy(),
                                      g.filter(y == 2024)["value"].to_numpy()).pvalue)
        return out

    s15 = timed(scipy_path)
    rows.append([f"{n15:,} assets x 2 years 15-min: whole compare_years (all measures)",
                 whole.seconds, s15.seconds / whole.seconds, float("nan")])
    rows.append(["  polars daily sums + scipy ks_2samp loop (KS only)", s15.seconds,
                 float("nan"), float("nan")])
    body = table(["case", "seconds", "speed-up vs scipy (asymp)", "vs scipy default"], rows)
    body += (f"\n\nKernel first call (compile or cache load): {first:.2f} s; first "
             f"compare_years call on 2 assets (every kernel compiled or loaded): "
             f"{first_whole:.2f} s.\n\n")
    body += checks.markdown() + "\n"
    checks.raise_if_failed(body)
    return body


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
