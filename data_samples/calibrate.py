"""Recompute the sample generator's calibrated numbers from the real series in ../shared/data.

Run from the repository root::

    python data_samples/calibrate.py                      # prints JSON, writes calibration.json
    python data_samples/calibrate.py --data /path/to/shared/data --out -

Inputs (read only, never copied into griddiag; their licences differ from ours):

- ``vic-elec-demand/vic_elec.csv.gz``: Victoria (AU) half-hourly demand and Melbourne temperature,
  2012-2014 (AEMO data via the GPL-3 R package tsibbledata).
- ``ett-transformer/ETTh1.csv``, ``ETTh2.csv``: hourly oil temperature and loads of two
  distribution-network transformers in China, 2016-2018 (Zhou et al., AAAI 2021; CC BY-ND 4.0).

Output: ``data_samples/calibration.json``, the numbers ``griddiag.sample.params`` holds as
constants (rounded). Neither the generator nor the tests need these data sets at run time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"


def _ar1(x: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series (mean removed)."""
    x = x - x.mean()
    return float(np.dot(x[1:], x[:-1]) / np.dot(x, x))


def _harmonic(values: np.ndarray, period: int) -> tuple[float, float]:
    """Amplitude and peak position (in samples) of the first harmonic of a periodic profile."""
    k = np.arange(period)
    c = np.dot(values, np.cos(2 * np.pi * k / period)) * 2 / period
    s = np.dot(values, np.sin(2 * np.pi * k / period)) * 2 / period
    amp = float(np.hypot(c, s))
    peak = float((np.arctan2(s, c) * period / (2 * np.pi)) % period)
    return amp, peak


def vic_daily(path: Path) -> pl.DataFrame:
    """Daily energy, mean/min/max temperature, weekday and holiday flag in Melbourne local time."""
    df = pl.read_csv(path).with_columns(
        pl.col("time_local").str.slice(0, 19).str.to_datetime("%Y-%m-%dT%H:%M:%S").alias("tl")
    )
    return (
        df.group_by(pl.col("tl").dt.date().alias("date"))
        .agg(
            pl.col("demand").sum().alias("energy"),
            pl.col("temperature_c").mean().alias("t_mean"),
            pl.col("temperature_c").min().alias("t_min"),
            pl.col("temperature_c").max().alias("t_max"),
            pl.col("holiday").first(),
            pl.col("tl").dt.weekday().first().alias("weekday"),
        )
        .sort("date")
    )


def fit_temperature_response(day: pl.DataFrame) -> dict[str, float]:
    """Piecewise-linear (heating/cooling degree-day) response of daily energy to temperature.

    ``E = base_dow + h * max(0, Th - T) + c * max(0, T - Tc) + trend``; the balance points Th, Tc
    are found by grid search (0.5 K steps) minimising the squared error, the rest by least
    squares. Slopes are returned as fractions of the workday base per kelvin.
    """
    e = day["energy"].to_numpy()
    t = day["t_mean"].to_numpy()
    dow = day["weekday"].to_numpy()
    hol = day["holiday"].to_numpy()
    n = len(e)
    trend = np.arange(n) / n
    dummies = np.column_stack([(dow == k) & ~hol for k in range(1, 8)] + [hol]).astype(float)
    best: tuple[float, float, float, np.ndarray] | None = None
    for th in np.arange(10.0, 22.01, 0.5):
        for tc in np.arange(th, 26.01, 0.5):
            x = np.column_stack([dummies, np.maximum(0, th - t), np.maximum(0, t - tc), trend])
            beta, *_ = np.linalg.lstsq(x, e, rcond=None)
            sse = float(np.sum((e - x @ beta) ** 2))
            if best is None or sse < best[0]:
                best = (sse, th, tc, beta)
    assert best is not None
    _, th, tc, beta = best
    x = np.column_stack([dummies, np.maximum(0, th - t), np.maximum(0, t - tc), trend])
    fitted = x @ beta
    base = float(beta[:5].mean())  # Monday..Friday non-holiday intercepts
    resid = np.log(e / fitted)
    return {
        "heating_balance_c": th,
        "cooling_balance_c": tc,
        "heating_slope_per_k": float(beta[8]) / base,
        "cooling_slope_per_k": float(beta[9]) / base,
        "saturday_ratio": float(beta[5]) / base,
        "sunday_ratio": float(beta[6]) / base,
        "holiday_ratio": float(beta[7]) / base,
        "daily_log_resid_sd": float(resid.std()),
        "daily_log_resid_ar1": _ar1(resid),
        "r2": float(1 - np.sum((e - fitted) ** 2) / np.sum((e - e.mean()) ** 2)),
    }


def vic_profile(path: Path) -> dict[str, float]:
    """Shape of the average workday and weekend half-hourly profile (demand / daily mean)."""
    df = pl.read_csv(path).with_columns(
        pl.col("time_local").str.slice(0, 19).str.to_datetime("%Y-%m-%dT%H:%M:%S").alias("tl")
    ).with_columns(
        pl.col("tl").dt.date().alias("date"),
        (pl.col("tl").dt.hour() * 2 + pl.col("tl").dt.minute() // 30).alias("slot"),
        (pl.col("tl").dt.weekday() >= 6).alias("weekend"),
    )
    df = df.with_columns((pl.col("demand") / pl.col("demand").mean().over("date")).alias("rel"))
    out: dict[str, float] = {}
    for label, mask in (("workday", ~pl.col("weekend") & ~pl.col("holiday")),
                        ("weekend", pl.col("weekend"))):
        prof = (df.filter(mask).group_by("slot").agg(pl.col("rel").mean()).sort("slot")
                ["rel"].to_numpy())
        out[f"{label}_load_factor"] = float(prof.mean() / prof.max())
        out[f"{label}_trough_to_peak"] = float(prof.min() / prof.max())
        out[f"{label}_peak_hour"] = float(prof.argmax() / 2)
        out[f"{label}_trough_hour"] = float(prof.argmin() / 2)
    return out


def vic_weather(day: pl.DataFrame, path: Path) -> dict[str, float]:
    """Day-to-day variability of the daily mean temperature and its diurnal cycle."""
    t = day["t_mean"].to_numpy()
    doy = day["date"].dt.ordinal_day().to_numpy()
    w = 2 * np.pi * doy / 365.25
    x = np.column_stack([np.ones_like(w), np.sin(w), np.cos(w), np.sin(2 * w), np.cos(2 * w)])
    beta, *_ = np.linalg.lstsq(x, t, rcond=None)
    anom = t - x @ beta
    df = pl.read_csv(path).with_columns(
        pl.col("time_local").str.slice(11, 2).cast(pl.Int32).alias("hour")
    )
    prof = df.group_by("hour").agg(pl.col("temperature_c").mean()).sort("hour")
    prof_v = prof["temperature_c"].to_numpy()
    _, peak = _harmonic(prof_v - prof_v.mean(), 24)
    return {
        "temp_anomaly_sd_k": float(anom.std()),
        "temp_anomaly_ar1": _ar1(anom),
        "diurnal_range_k": float((day["t_max"] - day["t_min"]).mean()),
        "diurnal_peak_hour": peak,
    }


def ett_oil(path: Path) -> dict[str, float]:
    """Oil-temperature dynamics of one ETT transformer (hourly)."""
    return oil_stats(pl.read_csv(path).with_columns(pl.col("date").str.to_datetime()))


def oil_stats(df: pl.DataFrame) -> dict[str, float]:
    """Statistics of an hourly oil series: columns ``date`` (local datetime), ``OT``, ``HUFL``."""
    ot = df["OT"].to_numpy()
    hour = df["date"].dt.hour().to_numpy()
    prof = np.array([ot[hour == h].mean() for h in range(24)])
    amp, peak = _harmonic(prof - prof.mean(), 24)
    monthly = (df.group_by(pl.col("date").dt.month().alias("m")).agg(pl.col("OT").mean())
               ["OT"].to_numpy())
    daily = df.group_by(pl.col("date").dt.date()).agg(
        (pl.col("OT").max() - pl.col("OT").min()).alias("rng"))["rng"].to_numpy()
    # Hour-to-hour changes after removing each day's mean: what a first-order thermal model plus
    # sensor noise must reproduce.
    day_id = df["date"].dt.date().to_physical().to_numpy()
    _, inv = np.unique(day_id, return_inverse=True)
    dev = ot - (np.bincount(inv, ot) / np.bincount(inv))[inv]
    step = np.diff(dev)[np.diff(inv) == 0]
    return {
        "diurnal_amplitude_k": amp,
        "diurnal_peak_hour": peak,
        "daily_range_median_k": float(np.median(daily)),
        "seasonal_range_k": float(monthly.max() - monthly.min()),
        "hourly_step_sd_k": float(step.std()),
        "load_oil_corr": float(np.corrcoef(df["HUFL"].to_numpy(), ot)[0, 1]),
    }


def oil_time_constant_h(oil_peak_hour: float, ambient_peak_hour: float) -> float:
    """First-order time constant from the phase lag of oil behind ambient at the daily period.

    A first-order lag ``tau`` delays a sinusoid of angular frequency ``w`` by ``atan(w tau)``,
    so ``tau = tan(w * lag) / w`` with ``w = 2 pi / 24 h``.
    """
    w = 2 * np.pi / 24
    lag = (oil_peak_hour - ambient_peak_hour) % 24
    return float(np.tan(w * lag) / w)


def fit_profile_amplitude(load_factor: float, trough_to_peak: float) -> float:
    """Amplitude of griddiag's class profile shapes that best reproduces the aggregate shape.

    Scans 0.20-1.00 (0.01 steps) for the amplitude whose reference-mix aggregate (see
    ``griddiag.sample.params.reference_mix_ratios``) has the smallest summed squared relative
    error in load factor and trough/peak ratio.
    """
    sys.path.insert(0, str(HERE.parent / "src"))
    from griddiag.sample import params  # the shapes being calibrated live in the package

    best = (np.inf, 0.0)
    for amp in np.arange(0.20, 1.001, 0.01):
        agg = sum(params.REFERENCE_MIX[c] * params.class_profile(p, True, 48, amplitude=amp)
                  for c, p in params.CLASSES.items())
        lf, tp = agg.mean() / agg.max(), agg.min() / agg.max()
        err = (((lf - load_factor) / load_factor) ** 2
               + ((tp - trough_to_peak) / trough_to_peak) ** 2)
        best = min(best, (float(err), float(round(amp, 2))))
    return best[1]


def calibrate(data: Path) -> dict[str, dict[str, float]]:
    vic = data / "vic-elec-demand" / "vic_elec.csv.gz"
    day = vic_daily(vic)
    out: dict[str, dict[str, float]] = {
        "vic_temperature_response": fit_temperature_response(day),
        "vic_profile": vic_profile(vic),
        "vic_weather": vic_weather(day, vic),
    }
    prof = out["vic_profile"]
    prof["profile_amplitude"] = fit_profile_amplitude(prof["workday_load_factor"],
                                                      prof["workday_trough_to_peak"])
    for name in ("ETTh1", "ETTh2"):
        out[f"ett_{name}"] = ett_oil(data / "ett-transformer" / f"{name}.csv")
    amb_peak = out["vic_weather"]["diurnal_peak_hour"]
    peaks = [out[f"ett_{n}"]["diurnal_peak_hour"] for n in ("ETTh1", "ETTh2")]
    out["oil_model"] = {
        "ambient_peak_hour_assumed": amb_peak,
        "oil_time_constant_h": float(np.mean([oil_time_constant_h(p, amb_peak) for p in peaks])),
        "oil_noise_sd_k": float(np.mean([out[f"ett_{n}"]["hourly_step_sd_k"]
                                         for n in ("ETTh1", "ETTh2")]) / np.sqrt(2)),
    }
    return out


def check_sample(readings: Path) -> dict[str, dict[str, float]]:
    """The ETT oil statistics and the Victoria profile shape, computed on the generated sample.

    Puts the synthetic utility beside the real series it was calibrated on (hourly oil samples
    of every transformer; the substation aggregate of all transformers' active power).
    """
    r = pl.read_parquet(readings)
    local = (pl.col("ts").dt.replace_time_zone(None) + pl.duration(hours=8)).alias("date")
    out: dict[str, dict[str, float]] = {}
    oil = r.filter(pl.col("metric") == "oil_temp_c").sort("asset_id", "ts")
    for (aid,), g in oil.group_by("asset_id", maintain_order=True):
        g = (g.filter(pl.col("ts").dt.minute() == 0).with_columns(local)
             .select("date", pl.col("value").alias("OT"), pl.col("value").alias("HUFL")))
        stats = oil_stats(g)
        out[f"sample_oil_{aid}"] = {k: v for k, v in stats.items() if k != "load_oil_corr"}
    p = (r.filter(pl.col("metric") == "active_power_kw").group_by("ts")
         .agg(pl.col("value").sum()).with_columns(local))
    day = p.group_by(pl.col("date").dt.date()).agg(pl.col("value").sum())
    prof = (p.filter(pl.col("date").dt.weekday() <= 5).group_by(pl.col("date").dt.hour())
            .agg(pl.col("value").mean()).sort("date")["value"].to_numpy())
    out["sample_aggregate"] = {
        "workday_load_factor": float(prof.mean() / prof.max()),
        "workday_trough_to_peak": float(prof.min() / prof.max()),
        "workday_peak_hour": float(prof.argmax()),
        "days": float(day.height),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared/data folder")
    ap.add_argument("--out", default=str(HERE / "calibration.json"),
                    help="output JSON file, '-' for stdout only")
    ap.add_argument("--check", action="store_true",
                    help="instead: the same statistics on data_samples/readings.parquet")
    args = ap.parse_args(argv)
    if args.check:
        res = check_sample(HERE / "readings.parquet")
        sys.stdout.write(json.dumps({k: {kk: round(vv, 3) for kk, vv in v.items()}
                                     for k, v in res.items()}, indent=2, sort_keys=True) + "\n")
        return 0
    result = calibrate(args.data)
    rounded = {k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in result.items()}
    text = json.dumps(rounded, indent=2, sort_keys=True) + "\n"
    sys.stdout.write(text)
    if args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
