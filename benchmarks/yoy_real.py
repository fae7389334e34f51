"""Year-over-year on real data: Victoria demand 2012-2014 and the ETT transformers 2016-2018.

One command (about a minute on a 2-core machine)::

    PYTHONPATH=src:. .venv/bin/python benchmarks/yoy_real.py [--data ../shared/data]

It reads ``vic-elec-demand/vic_elec.csv.gz`` and ``ett-transformer/ETTh{1,2}.csv`` (checked
against the sha256 sums of their READMEs), turns them into canonical readings frames, runs
:func:`griddiag.compare_years` on them and writes ``benchmarks/yoy_real.md`` (tables and what
they mean) and the plots in ``benchmarks/yoy/``. Every number in the write-up is computed by
this run; the prose only states what the numbers show.

How the data become readings (the reasons are in the write-up, "Data and mapping"):

- Victoria: ``demand`` is the half-hour's average operational demand in MW (AEMO publishes
  demand in MW; the tsibbledata label "MWh" would make Victoria's mean load 9.3 GW, twice the
  size of the state's consumption), so ``energy_kwh = demand * 1000 kW/MW * 0.5 h``; Melbourne
  temperature is the asset's own ``ambient_temp_c``; local zone ``Australia/Melbourne``.
- ETT: naive hourly times are China Standard Time (``Asia/Shanghai``, no DST); ``OT`` is
  ``oil_temp_c``; the "useful" loads (HUFL, MUFL, LUFL) are active power and the "useless" ones
  (HULL, MULL, LULL) reactive power of the high/middle/low-voltage sides, one asset per side
  (``ETTh1/HV`` ...) with ``active_power_kw`` and ``reactive_power_kvar``, values kept in the
  source's unstated unit.

A correctness check recomputes, with plain NumPy on the raw half-hours, the paired-day energy
totals and the peak that ``compare_years`` reports; the run fails if they disagree.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from benchmarks.common import Checks, machine, table  # noqa: E402
from griddiag.exceptions import InputError  # noqa: E402
from griddiag.yoy import align_days, compare_years  # noqa: E402
from griddiag.yoy.compare import Thresholds  # noqa: E402

TITLE = "Year-over-year on real data: Victoria demand 2012-2014, ETT transformers 2016-2018"
VIC_TZ = "Australia/Melbourne"
#: Holiday calendar of the Victoria runs (``--holiday-country``).
VIC_HOLIDAYS = "AU-VIC"
ETT_TZ = "Asia/Shanghai"
VIC_SHA256 = "a6f992b6197beaa9f90b37f68f5ad23fd69125497568030d5c1afec067bcca91"
ETT_SHA256 = {"ETTh1": "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
              "ETTh2": "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b"}
#: MW averaged over a half hour -> kWh in that half hour.
KWH_PER_MW_HALF_HOUR = 1000.0 * 0.5
#: ETT column -> (side, metric). "Useful" load is active, "useless" reactive power.
ETT_COLUMNS = {"HUFL": ("HV", "active_power_kw"), "HULL": ("HV", "reactive_power_kvar"),
               "MUFL": ("MV", "active_power_kw"), "MULL": ("MV", "reactive_power_kvar"),
               "LUFL": ("LV", "active_power_kw"), "LULL": ("LV", "reactive_power_kvar")}
#: Share of days with a mean <= 0 from which a series counts as signed (ratios meaningless).
SIGNED_SHARE = 0.02
VIC_PAIRS = [(2013, [2012]), (2014, [2013]), (2014, [2012]), (2014, [2012, 2013])]


# ---------------------------------------------------------------------------------- loading

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_file(path: Path, sha: str) -> None:
    if not path.is_file():
        raise InputError(f"{path}: not found (pass --data DIR holding vic-elec-demand/ and "
                         "ett-transformer/)")
    got = _sha256(path)
    if got != sha:
        raise InputError(f"{path}: sha256 {got} differs from the README's {sha}; the analysis "
                         "is written for the published file")


def load_victoria(data: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(readings: VIC energy_kwh + ambient_temp_c, half-hourly frame with local date/flags)."""
    path = data / "vic-elec-demand" / "vic_elec.csv.gz"
    _check_file(path, VIC_SHA256)
    raw = pl.read_csv(path, schema_overrides={"holiday": pl.Boolean})
    need = ["time_utc", "demand", "temperature_c", "holiday"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; has {raw.columns}")
    for col in ("demand", "temperature_c"):
        bad = raw.with_row_index("row").filter(~pl.col(col).is_finite() | pl.col(col).is_null())
        if bad.height:
            raise InputError(f"{path}: row {bad['row'][0] + 2}: field {col!r} is not a number "
                             f"({bad.height} such rows)")
    ts = (pl.col("time_utc").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us")
          .dt.replace_time_zone("UTC"))
    frame = raw.with_columns(ts.alias("ts")).sort("ts")
    step = frame["ts"].diff().drop_nulls().unique()
    if step.len() != 1 or step[0] != timedelta(minutes=30):
        raise InputError(f"{path}: field 'time_utc' is not an even 30-minute grid "
                         f"(steps {step.to_list()[:5]})")
    local = pl.col("ts").dt.convert_time_zone(VIC_TZ)
    frame = frame.with_columns(local.dt.date().alias("date"),
                               (local.dt.hour() * 2 + local.dt.minute() // 30).alias("slot"),
                               (pl.col("demand") * KWH_PER_MW_HALF_HOUR).alias("energy_kwh"))
    readings = pl.concat([
        frame.select(pl.lit("VIC").alias("asset_id"), "ts", pl.lit("energy_kwh").alias("metric"),
                     pl.col("energy_kwh").alias("value")),
        frame.select(pl.lit("VIC").alias("asset_id"), "ts",
                     pl.lit("ambient_temp_c").alias("metric"),
                     pl.col("temperature_c").alias("value")),
    ])
    return readings, frame


def load_ett(data: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(readings of both transformers, wide hourly frame with a ``transformer`` column)."""
    parts, wide = [], []
    for name, sha in ETT_SHA256.items():
        path = data / "ett-transformer" / f"{name}.csv"
        _check_file(path, sha)
        raw = pl.read_csv(path)
        missing = [c for c in ["date", *ETT_COLUMNS, "OT"] if c not in raw.columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {missing}; has {raw.columns}")
        local = pl.col("date").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us",
                                               strict=False)
        d = raw.with_row_index("row").with_columns(local.alias("local"))
        bad = d.filter(pl.col("local").is_null())
        if bad.height:
            raise InputError(f"{path}: row {bad['row'][0] + 2}: field 'date' is not "
                             f"YYYY-MM-DD HH:MM:SS: {bad['date'][0]!r}")
        d = d.with_columns(pl.col("local").dt.replace_time_zone(ETT_TZ)
                           .dt.convert_time_zone("UTC").alias("ts"))
        wide.append(d.with_columns(pl.lit(name).alias("transformer")))
        parts.append(d.select(pl.lit(name).alias("asset_id"), "ts",
                              pl.lit("oil_temp_c").alias("metric"), pl.col("OT").alias("value")))
        for col, (side, metric) in ETT_COLUMNS.items():
            parts.append(d.select(pl.lit(f"{name}/{side}").alias("asset_id"), "ts",
                                  pl.lit(metric).alias("metric"), pl.col(col).alias("value")))
    return pl.concat(parts), pl.concat(wide)


# ------------------------------------------------------------------------------- analysis

def degree_day_fit(daily: pl.DataFrame, th: Thresholds) -> dict:
    """OLS of daily energy (GWh) on [1, HDD, CDD, rest day] with compare_years' balance points.

    The same model form as ``griddiag.yoy.compare._degree_day_fit`` (written out here, so the
    plot does not lean on a private function)."""
    y = daily["gwh"].to_numpy()
    t = daily["temp_mean_c"].to_numpy()
    rest = daily["rest"].to_numpy().astype(float)
    x = np.column_stack([np.ones_like(t), np.maximum(th.hdd_base_c - t, 0.0),
                         np.maximum(t - th.cdd_base_c, 0.0), rest])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    r2 = 1.0 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum())
    return {"base": coef[0], "heat": coef[1], "cool": coef[2], "rest": coef[3], "r2": r2,
            "coef": coef}


def vic_daily(frame: pl.DataFrame) -> pl.DataFrame:
    import holidays

    daily = frame.group_by("date").agg(
        (pl.col("energy_kwh").sum() / 1e6).alias("gwh"),
        # compare_years' day value: mean interval energy x the 48 intervals of a usual day
        # (it differs from the sum on the two DST-change days, which have 46 and 50)
        (pl.col("energy_kwh").mean() * 48 / 1e6).alias("gwh_48"),
        pl.col("temperature_c").mean().alias("temp_mean_c"),
        pl.col("temperature_c").max().alias("temp_max_c"),
        pl.col("holiday").any().alias("holiday_flag"),
        pl.len().alias("n")).sort("date")
    vic = holidays.country_holidays("AU", subdiv="VIC", years=[2012, 2013, 2014])
    return daily.with_columns(
        pl.col("date").dt.year().alias("year"),
        ((pl.col("date").dt.weekday() >= 6) | pl.col("holiday_flag")).alias("rest"),
        pl.col("date").is_in(sorted(vic)).alias("holiday_vic"))


def paired_reference(daily: pl.DataFrame, hourly_peak: pl.DataFrame, year: int, base: int,
                     col: str = "gwh_48") -> tuple[float, float, float]:
    """Energy (kWh) of ``year`` and ``base`` on compare_years' like-with-like day pairs, and
    the peak hourly mean kW of ``year``, from the raw half-hours (the check's reference)."""
    ci, bi = align_days(year, base, "AU")
    by_year = {y: daily.filter(pl.col("year") == y)[col].to_numpy() * 1e6 for y in (year, base)}
    return (float(by_year[year][ci].sum()), float(by_year[base][bi].sum()),
            float(hourly_peak.filter(pl.col("year") == year)["kw"].max()))


def holiday_table(daily: pl.DataFrame, country: str = "AU"
                  ) -> tuple[list[list], int, int]:
    """Per year: the data set's holiday flags against ``holidays`` AU (national) and AU-VIC,
    and how many like-with-like pairs under ``holiday_country=country`` join a flagged
    holiday with an unflagged day."""
    import holidays

    rows, mixed_total, pairs_total = [], 0, 0
    flags = {y: set(daily.filter((pl.col("year") == y) & pl.col("holiday_flag"))["date"])
             for y in (2012, 2013, 2014)}
    for y in (2012, 2013, 2014):
        au = set(holidays.country_holidays("AU", years=y))
        vic = set(holidays.country_holidays("AU", subdiv="VIC", years=y))
        f = flags[y]
        rows.append([str(y), len(f), len(au), len(vic), ", ".join(_md(d) for d in sorted(f - au)),
                     ", ".join(_md(d) for d in sorted(au - f)) or "–",
                     ", ".join(_md(d) for d in sorted(vic - f)) or "–"])
    for year, bases in VIC_PAIRS:
        for b in bases:
            ci, bi = align_days(year, b, country)
            d0, d1 = date(year, 1, 1), date(b, 1, 1)
            for i, j in zip(ci, bi, strict=True):
                dc, db = d0 + timedelta(days=int(i)), d1 + timedelta(days=int(j))
                if (dc in flags[year]) != (db in flags[b]):
                    mixed_total += 1
            pairs_total += ci.size
    return rows, mixed_total, pairs_total


def frozen_runs(readings: pl.DataFrame, min_hours: int = 24) -> pl.DataFrame:
    """Runs of one identical value lasting ``min_hours`` or more, per series (hourly data):
    a frozen channel or a stand-in value, which a year-over-year level change would inherit."""
    r = readings.sort("asset_id", "metric", "ts").with_columns(
        ((pl.col("value") != pl.col("value").shift()).fill_null(True)
         | (pl.col("asset_id") != pl.col("asset_id").shift()).fill_null(True)
         | (pl.col("metric") != pl.col("metric").shift()).fill_null(True))
        .cum_sum().alias("run"))
    local = pl.col("ts").dt.convert_time_zone(ETT_TZ)
    return (r.group_by("asset_id", "metric", "run").agg(
        local.first().alias("start"), local.last().alias("end"), pl.len().alias("hours"),
        pl.col("value").first())
        .filter(pl.col("hours") >= min_hours).drop("run").sort("asset_id", "metric", "start"))


def _md(d: date) -> str:
    return d.strftime("%d %b")


# ---------------------------------------------------------------------------------- plots

def plot_all(out_dir: Path, vdaily: pl.DataFrame, vframe: pl.DataFrame, fits: dict,
             ett: pl.DataFrame, th: Thresholds) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    colours = {2012: "tab:blue", 2013: "tab:orange", 2014: "tab:green", 2016: "tab:purple",
               2017: "tab:blue", 2018: "tab:red"}
    written = []

    # 1. monthly energy per year, with monthly mean temperature
    monthly = vdaily.group_by("year", pl.col("date").dt.month().alias("month")).agg(
        pl.col("gwh").sum(), pl.col("temp_mean_c").mean()).sort("year", "month")
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1.4]})
    for k, y in enumerate((2012, 2013, 2014)):
        m = monthly.filter(pl.col("year") == y)
        a1.bar(m["month"].to_numpy() + (k - 1) * 0.27, m["gwh"].to_numpy() / 1e3, width=0.27,
               color=colours[y], label=str(y))
        a2.plot(m["month"], m["temp_mean_c"], "o-", color=colours[y], label=str(y))
    a1.set_ylabel("energy, TWh per month")
    a1.set_ylim(2.8, None)
    a1.set_title("Victoria operational demand: monthly energy per year")
    a1.legend(ncol=3)
    a2.set_ylabel("Melbourne mean, °C")
    a2.set_xticks(range(1, 13), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                 "Oct", "Nov", "Dec"])
    fig.tight_layout()
    fig.savefig(out_dir / "vic_monthly_energy.png", dpi=110)
    plt.close(fig)
    written.append("vic_monthly_energy.png")

    # 2. typical workday profile per year, summer and winter
    work = vframe.join(vdaily.select("date", "rest"), on="date").filter(~pl.col("rest"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, (label, months) in zip(axes, (("summer (Jan, Feb, Dec of the year)", [12, 1, 2]),
                                          ("winter (Jun-Aug)", [6, 7, 8])), strict=True):
        for y in (2012, 2013, 2014):
            p = work.filter((pl.col("date").dt.year() == y)
                            & pl.col("date").dt.month().is_in(months)).group_by("slot").agg(
                pl.col("demand").mean()).sort("slot")
            ax.plot(p["slot"].to_numpy() / 2, p["demand"].to_numpy() / 1e3, color=colours[y],
                    label=str(y))
        ax.set_title(f"Victoria, mean workday profile, {label}")
        ax.set_xlabel("local time, h")
        ax.set_xticks(range(0, 25, 3))
    axes[0].set_ylabel("demand, GW")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out_dir / "vic_daily_profile.png", dpi=110)
    plt.close(fig)
    written.append("vic_daily_profile.png")

    # 3. temperature vs demand with each year's degree-day fit (workday curve)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    grid = np.linspace(float(vdaily["temp_mean_c"].min()), float(vdaily["temp_mean_c"].max()),
                       200)
    for y in (2012, 2013, 2014):
        d = vdaily.filter(pl.col("year") == y)
        ax.scatter(d["temp_mean_c"], d["gwh"], s=6, alpha=0.35, color=colours[y])
        c = fits[y]["coef"]
        fit = c[0] + c[1] * np.maximum(th.hdd_base_c - grid, 0) + c[2] * np.maximum(
            grid - th.cdd_base_c, 0)
        ax.plot(grid, fit, color=colours[y], lw=2,
                label=f"{y}: workday fit, R² {fits[y]['r2']:.2f}")
    for b in (th.hdd_base_c, th.cdd_base_c):
        ax.axvline(b, color="grey", ls=":", lw=1)
    ax.set_xlabel("Melbourne daily mean temperature, °C")
    ax.set_ylabel("daily energy, GWh")
    ax.set_title(f"Victoria: demand vs temperature, degree-day fit "
                 f"(HDD base {th.hdd_base_c} °C, CDD base {th.cdd_base_c} °C)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "vic_temp_vs_demand.png", dpi=110)
    plt.close(fig)
    written.append("vic_temp_vs_demand.png")

    # 4. ETT daily means of every series, the years side by side
    cols = ["OT", *ETT_COLUMNS]
    daily = ett.with_columns(pl.col("local").dt.date().alias("date")).group_by(
        "transformer", "date").agg([pl.col(c).mean() for c in cols]).sort("transformer", "date")
    fig, axes = plt.subplots(len(cols), 2, figsize=(12, 14), sharex=True)
    for k, name in enumerate(ETT_SHA256):
        d = daily.filter(pl.col("transformer") == name)
        for r, c in enumerate(cols):
            ax = axes[r, k]
            ax.plot(d["date"], d[c], lw=0.7, color="tab:blue")
            ax.axhline(0, color="grey", lw=0.5)
            for y in (2017, 2018):
                ax.axvline(date(y, 1, 1), color="grey", ls=":", lw=1)
            ax.set_ylabel(c if c != "OT" else "OT, °C")
            if r == 0:
                ax.set_title(f"{name}: daily means")
    fig.tight_layout()
    fig.savefig(out_dir / "ett_daily_means.png", dpi=100)
    plt.close(fig)
    written.append("ett_daily_means.png")

    # 5. ETT typical daily profile per year (Jul-Dec 2016 vs Jul-Dec 2017; Jan-Jun 2017/2018)
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
    e = ett.with_columns(pl.col("local").dt.hour().alias("h"),
                         pl.col("local").dt.year().alias("year"),
                         pl.col("local").dt.month().alias("month"))
    for k, name in enumerate(ETT_SHA256):
        for j, c in enumerate(("OT", "HUFL", "MUFL", "LUFL")):
            ax = axes[k, j]
            for y, months, ls in ((2016, range(7, 13), "-"), (2017, range(7, 13), "-"),
                                  (2017, range(1, 7), "--"), (2018, range(1, 7), "--")):
                p = e.filter((pl.col("transformer") == name) & (pl.col("year") == y)
                             & pl.col("month").is_in(list(months))).group_by("h").agg(
                    pl.col(c).mean()).sort("h")
                half = "Jul-Dec" if months.start == 7 else "Jan-Jun"
                ax.plot(p["h"], p[c], ls, color=colours[y], label=f"{y} {half}")
            ax.set_title(f"{name} {c}: mean by hour")
            ax.set_xticks(range(0, 24, 6))
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "ett_daily_profile.png", dpi=100)
    plt.close(fig)
    written.append("ett_daily_profile.png")
    return written


# ------------------------------------------------------------------------------- write-up

def _pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.1f} %"


def _local(ts, tz: str) -> str:
    if ts is None:
        return "–"
    from zoneinfo import ZoneInfo

    return ts.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def vic_rows(results: list[tuple[str, int, list[int], dict]]) -> list[list]:
    rows = []
    for label, year, bases, r in results:
        rows.append([
            f"{year} vs {','.join(map(str, bases))}", label,
            r["energy_kwh"] / 1e9, r["energy_baseline_kwh"] / 1e9, _pct(r["energy_change_pct"]),
            _pct(r["energy_change_weather_pct"]), r["peak_kw"] / 1e3, r["peak_baseline_kw"] / 1e3,
            _local(r["peak_ts"], VIC_TZ), f"{r['peak_hour']:.0f}/{r['peak_hour_baseline']:.0f}",
            r["load_factor"], r["base_load_kw"] / 1e3, r["base_load_baseline_kw"] / 1e3,
            r["ks_stat"], r["psi"], r["change_class"], f"{r['p_value']:.2g}",
            "yes" if r["significant"] else "no"])
    return rows


VIC_HEAD = ["compared", "temperature", "energy TWh", "baseline TWh", "change", "weather-norm.",
            "peak MW", "baseline peak MW", "peak at (local)", "peak hour cur/base",
            "load factor", "base load MW", "baseline base MW", "KS", "PSI", "class", "p",
            "significant"]


def ett_rows(frame: pl.DataFrame, signed: dict) -> list[list]:
    rows = []
    for r in frame.sort("metric", "asset_id").iter_rows(named=True):
        key = (r["asset_id"], r["metric"])
        unit = "K" if r["metric"] == "oil_temp_c" else "src. unit"
        rows.append([
            r["asset_id"], r["metric"], f"{r['coverage']:.2f}/{r['coverage_baseline']:.2f}",
            r["energy_baseline_kwh"], r["energy_kwh"],
            f"{r['energy_change_kwh']:+.2f} {unit}", _pct(r["energy_change_pct"]),
            f"{signed[key]:.0%}",
            f"{r['peak_hour']:.0f}/{r['peak_hour_baseline']:.0f}", r["ks_stat"],
            r["volatility_ratio"], r["change_class"], str(r["change_date"] or "–"),
            f"{r['q_value']:.2g}", "yes" if r["significant"] else "no"])
    return rows


ETT_HEAD = ["asset", "metric", "coverage cur/base", "baseline mean", "current mean",
            "Δ mean level",
            "Δ % (compare_years)", "days with mean ≤ 0", "peak hour cur/base", "KS",
            "volatility ratio", "class", "change date", "q", "significant"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks")
    ap.add_argument("--holiday-country", default="AU-VIC",
                    help="holiday calendar of the Victoria runs ('AU-VIC': Victoria's own "
                         "holidays such as Melbourne Cup day; 'AU': national only)")
    args = ap.parse_args(argv)
    global VIC_HOLIDAYS
    VIC_HOLIDAYS = args.holiday_country
    t_start = time.perf_counter()
    th = Thresholds()
    checks = Checks()

    # --- Victoria
    vic, vframe = load_victoria(args.data)
    vic_energy = vic.filter(pl.col("metric") == "energy_kwh")
    assets_vic = pl.DataFrame({"asset_id": ["VIC"], "kind": ["substation"], "tz": [VIC_TZ]})
    vdaily = vic_daily(vframe)
    t0 = time.perf_counter()
    results = []
    for year, bases in VIC_PAIRS:
        for label, frame in (("no", vic_energy), ("yes", vic)):
            out = compare_years(frame, year=year, baseline_years=bases, assets=assets_vic,
                                holiday_country=VIC_HOLIDAYS)
            results.append((label, year, bases, out.row(0, named=True)))
    summer = []
    for end, what in ((date(2014, 2, 1), "January"), (date(2014, 4, 1), "January-March")):
        for label, frame in (("no", vic_energy), ("yes", vic)):
            out = compare_years(frame, year=2014, baseline_years=[2013], assets=assets_vic,
                                holiday_country=VIC_HOLIDAYS, period_end=end)
            summer.append((label, what, [2013], out.row(0, named=True)))
    t_vic = time.perf_counter() - t0

    # check: paired-day totals and peak from the raw half-hours
    hourly_peak = vframe.with_columns(
        pl.col("ts").dt.convert_time_zone(VIC_TZ).dt.truncate("1h").alias("h")).group_by(
        "h").agg(pl.col("demand").mean().alias("kw") * 1000).with_columns(
        pl.col("h").dt.year().alias("year"))
    dst_gap = []
    for label, year, bases, r in results:
        if len(bases) != 1 or label != "no":
            continue
        e_c, e_b, pk = paired_reference(vdaily, hourly_peak, year, bases[0])
        checks.check(abs(r["energy_kwh"] / e_c - 1) < 1e-9 and abs(r["energy_baseline_kwh"]
                                                                    / e_b - 1) < 1e-9,
                     f"VIC {year} vs {bases[0]}: paired-day energy equals a plain sum over "
                     "align_days pairs of (day mean x 48)",
                     f"{r['energy_kwh']:.10g} vs {e_c:.10g} kWh")
        t_c, t_b, _ = paired_reference(vdaily, hourly_peak, year, bases[0], col="gwh")
        dst_gap.append((year, bases[0], 100 * (r["energy_kwh"] / t_c - 1),
                        100 * (r["energy_baseline_kwh"] / t_b - 1)))
        checks.check(abs(r["peak_kw"] / pk - 1) < 1e-9,
                     f"VIC {year}: peak_kw equals the largest local-hour mean of the raw data",
                     f"{r['peak_kw']:.6g} vs {pk:.6g} kW")
    for label, year, bases, r in results:
        checks.check(r["change_class"] in ("unchanged", "growth", "decline"),
                     f"VIC {year} vs {bases} (temperature {label}): class is a level class, "
                     f"not a step/seasonal/peak artefact", r["change_class"])
    jan = {(lab, what): r for lab, what, _, r in summer}
    jr, jw = jan[("no", "January")], jan[("yes", "January")]
    checks.check(abs(jw["energy_change_weather_pct"]) < abs(jr["energy_change_pct"]),
                 "January 2014 heat wave: weather normalisation shrinks the change",
                 f"{jr['energy_change_pct']:+.1f} % -> {jw['energy_change_weather_pct']:+.1f} %")

    fits = {y: degree_day_fit(vdaily.filter(pl.col("year") == y), th) for y in (2012, 2013, 2014)}
    hol_rows, hol_mixed, hol_pairs = holiday_table(vdaily, "AU")
    _, hol_mixed_run, _ = holiday_table(vdaily, VIC_HOLIDAYS)
    hol_mixed = (hol_mixed, hol_mixed_run)

    # --- ETT
    ett, ett_wide = load_ett(args.data)
    ids = ett["asset_id"].unique().sort().to_list()
    assets_ett = pl.DataFrame({"asset_id": ids, "kind": "transformer", "tz": ETT_TZ})
    t0 = time.perf_counter()
    ett_out = {(2017, 2016): compare_years(ett, year=2017, baseline_years=[2016],
                                           assets=assets_ett, holiday_country="CN"),
               (2018, 2017): compare_years(ett, year=2018, baseline_years=[2017],
                                           assets=assets_ett, holiday_country="CN")}
    t_ett = time.perf_counter() - t0
    daily_ett = ett.with_columns(pl.col("ts").dt.convert_time_zone(ETT_TZ).dt.date()
                                 .alias("date")).group_by("asset_id", "metric", "date").agg(
        pl.col("value").mean())
    # share of days whose mean is <= 0: where it is more than a stray day or two, ratios of
    # levels (and compare_years' log ratios) are not meaningful
    signed = {(a, m): float(v) for a, m, v in daily_ett.group_by("asset_id", "metric").agg(
        (pl.col("value") <= 0).mean()).iter_rows()}
    for key, out in ett_out.items():
        ref = daily_ett.filter(pl.col("date").dt.year() == key[0])
        for r in out.filter(pl.col("metric") == "oil_temp_c").iter_rows(named=True):
            # compare_years' "energy" of a level metric is the mean daily level on the paired
            # days; on the current side that is a subset of the year's days
            yr = ref.filter((pl.col("asset_id") == r["asset_id"])
                            & (pl.col("metric") == "oil_temp_c"))["value"]
            checks.check(float(yr.min()) <= r["energy_kwh"] <= float(yr.max()),
                         f"ETT {r['asset_id']} {key[0]}: mean oil level lies within the "
                         "year's daily means", f"{r['energy_kwh']:.2f} °C")

    runs = frozen_runs(ett)
    # ETTh2/MV active power, January-June: the frozen run of the 2017 baseline left out
    mv = daily_ett.filter((pl.col("asset_id") == "ETTh2/MV")
                          & (pl.col("metric") == "active_power_kw"))
    longest = runs.filter((pl.col("asset_id") == "ETTh2/MV")
                          & (pl.col("metric") == "active_power_kw")).sort("hours").tail(1)
    mv_clean = None
    if longest.height:
        lo, hi = longest["start"][0].date(), longest["end"][0].date()
        h1 = mv.filter(pl.col("date").dt.ordinal_day() <= 177)  # to 26 June, as ETT 2018 ends
        m17 = h1.filter((pl.col("date").dt.year() == 2017)
                        & ~pl.col("date").is_between(lo, hi))["value"].mean()
        m17_all = h1.filter(pl.col("date").dt.year() == 2017)["value"].mean()
        m18 = h1.filter(pl.col("date").dt.year() == 2018)["value"].mean()
        mv_clean = (100 * (m18 / m17_all - 1), 100 * (m18 / m17 - 1), lo, hi,
                    longest["value"][0], longest["hours"][0])
    # ETTh1's HV/MV active load at midday (10-14 h) and at night (00-06 h), per half year
    halves = ett_wide.filter(pl.col("transformer") == "ETTh1").with_columns(
        (pl.col("local").dt.year().cast(pl.String) + pl.when(pl.col("local").dt.month() <= 6)
         .then(pl.lit(" Jan-Jun")).otherwise(pl.lit(" Jul-Dec"))).alias("half"),
        pl.col("local").dt.hour().alias("h"))
    midday = halves.group_by("half").agg(
        *[pl.col(c).filter(pl.col("h").is_between(10, 14)).mean().alias(f"{c}_mid")
          for c in ("HUFL", "MUFL")],
        *[pl.col(c).filter(pl.col("h") < 6).mean().alias(f"{c}_night") for c in ("HUFL", "MUFL")],
        (pl.col("HUFL").filter(pl.col("h").is_between(10, 14)) < 0).mean().alias("neg_share"),
    ).sort("half")
    plots = plot_all(args.out / "yoy", vdaily, vframe, fits, ett_wide, th)
    elapsed = time.perf_counter() - t_start
    md = write_up(results, summer, fits, hol_rows, hol_mixed, hol_pairs, vdaily, vframe,
                  ett_out, signed, daily_ett, plots, checks, elapsed, t_vic, t_ett, th,
                  dst_gap, runs, mv_clean, midday)
    (args.out / "yoy_real.md").write_text(md, encoding="utf-8")
    print(args.out / "yoy_real.md")
    checks.raise_if_failed(md)
    return 0


def write_up(results, summer, fits, hol_rows, hol_mixed, hol_pairs, vdaily, vframe, ett_out,
             signed, daily_ett, plots, checks, elapsed, t_vic, t_ett, th, dst_gap, runs,
             mv_clean, midday_ett) -> str:
    m = machine()
    r = {(lab, y, tuple(b)): row for lab, y, b, row in results}
    yearly = vdaily.group_by("year").agg(pl.col("gwh").sum() / 1e3, pl.col("temp_mean_c").mean(),
                                         (pl.col("temp_max_c") >= 40).sum().alias("d40"),
                                         pl.len().alias("days")).sort("year")
    hd = (vdaily.with_columns(pl.max_horizontal(th.hdd_base_c - pl.col("temp_mean_c"), 0)
                              .alias("hdd"),
                              pl.max_horizontal(pl.col("temp_mean_c") - th.cdd_base_c, 0)
                              .alias("cdd"))
          .group_by("year").agg(pl.col("hdd").sum(), pl.col("cdd").sum()).sort("year"))
    yearly = yearly.join(hd, on="year")
    # midday share: mean 11:00-15:00 workday demand over the workday mean (rooftop PV would
    # lower it year by year)
    work = vframe.join(vdaily.select("date", "rest"), on="date").filter(~pl.col("rest"))
    midday = work.group_by(pl.col("date").dt.year().alias("year")).agg(
        (pl.col("demand").filter(pl.col("slot").is_between(22, 29)).mean()
         / pl.col("demand").mean()).alias("midday"),
        (pl.col("demand").filter(pl.col("slot").is_between(0, 11)).mean()).alias("night_mw"),
        pl.col("demand").mean().alias("mean_mw")).sort("year")
    # the days around 2014's peak (from compare_years), as the data set records them
    pk14 = date.fromisoformat(_local(r[("no", 2014, (2013,))]["peak_ts"], VIC_TZ)[:10])
    heat = vdaily.filter(pl.col("date").is_between(pk14 - timedelta(days=3),
                                                   pk14 + timedelta(days=2)))
    L = []
    w = L.append
    w(f"# {TITLE}\n")
    w("Generated by `PYTHONPATH=src:. .venv/bin/python benchmarks/yoy_real.py` "
      f"on {m['date (UTC)']} UTC ({m['cpu']}; "
      f"python {m['python']}, polars {m['polars']}, numpy {m['numpy']}, numba "
      f"{m['numba']}). Whole run {elapsed:.0f} s, of which the Victoria "
      f"`compare_years` calls {t_vic:.1f} s ({len(results) + len(summer)} calls) and the ETT "
      f"ones {t_ett:.1f} s (2 calls). Plots: " + ", ".join(f"[`{p}`](yoy/{p})" for p in plots)
      + ".\n")
    w("## Data and mapping\n")
    w("- **Victoria** (`../shared/data/vic-elec-demand/vic_elec.csv.gz`, AEMO via tsibbledata, "
      "GPL-3): one series `VIC`, 52,608 half-hours 2012-2014, time zone "
      f"`{VIC_TZ}` (the local year and hours follow Melbourne time, DST included). `demand` is "
      "the half-hour's *average* operational demand less large industrial loads, **in MW**: "
      "AEMO publishes demand in MW, and read as MWh per half-hour (the upstream label) the "
      f"state's mean load would be {2 * vframe['demand'].mean() / 1e3:.1f} GW instead of "
      f"{vframe['demand'].mean() / 1e3:.2f} GW. So `energy_kwh = demand × 1000 × 0.5` "
      "(kWh in the half hour), and compare_years' `peak_kw`/`base_load_kw` are local-hour mean "
      "power (shown here in MW). Melbourne temperature is the asset's own `ambient_temp_c` "
      "(daily mean used by the degree-day regression); runs *without* temperature leave that "
      "metric out of the frame.")
    w("- **Holidays**: `compare_years(holiday_country=...)` takes a country or a country and "
      "subdivision (`\"AU-VIC\"` -> the `holidays` package's `AU` with `subdiv=\"VIC\"`). "
      f"The Victoria runs use `{VIC_HOLIDAYS}` (`--holiday-country`). The table compares the "
      "data set's `holiday` flag with both calendars.")
    w("- **ETT** (`../shared/data/ett-transformer/ETTh1.csv`, `ETTh2.csv`, Zhou et al. 2021, "
      "CC BY-ND 4.0): hourly, naive times read as China Standard Time (`Asia/Shanghai`, no "
      "DST; the data come from a Chinese province) and as interval starts (not stated "
      "upstream; it moves at most one hour across a day boundary). `OT` → `oil_temp_c` of "
      "asset `ETTh1`/`ETTh2`. The six loads have no unit upstream; \"useful\" load is active "
      "power and \"useless\" load reactive power, so each voltage side is an asset "
      "(`ETTh1/HV`, `/MV`, `/LV`) with `active_power_kw` (HUFL/MUFL/LUFL) and "
      "`reactive_power_kvar` (HULL/MULL/LULL, not in griddiag's metric registry, so it carries "
      "no unit). Values stay in the source's unknown unit; only differences and ratios are "
      "read. Holidays `CN`. ETT starts 2016-07-01, so **2017 vs 2016** is compared on "
      "July-December only (the baseline has no January-June; `coverage_baseline` ≈ 0.5 says so) "
      "and **2018 vs 2017** is a partial year (to 2018-06-26), compared with the same dates of "
      "2017.\n")

    w("## Victoria: 2012 vs 2013 vs 2014\n")
    w("### The years at a glance (plain sums of the data)\n")
    w(table(["year", "days", "energy TWh", "mean temp °C", "HDD (16 °C) K·d",
             "CDD (19.5 °C) K·d",
             "days ≥ 40 °C", "night mean MW (00-06)", "workday midday/mean (11-15 h)"],
            [[str(y["year"]), y["days"], y["gwh"], y["temp_mean_c"], y["hdd"], y["cdd"], y["d40"],
              md_["night_mw"], md_["midday"]]
             for y, md_ in zip(yearly.iter_rows(named=True), midday.iter_rows(named=True),
                               strict=True)]))
    w("")
    w("### compare_years, whole years, with and without temperature normalisation\n")
    w(table(VIC_HEAD, vic_rows(results)))
    w("")
    w("Reasons (`reason` column, temperature runs):\n")
    for (lab, y, b), row in r.items():
        if lab == "yes":
            w(f"- {y} vs {','.join(map(str, b))}: {row['reason']} (q {row['q_value']:.2g})")
    w("")
    w("### The January 2014 heat wave: a hot summer is not a finding\n")
    w(table(["2014 vs 2013, period", "temperature", "change", "weather-normalised", "peak MW",
             "baseline peak MW", "peak at (local)", "class"],
            [[what, lab, _pct(x["energy_change_pct"]), _pct(x["energy_change_weather_pct"]),
              x["peak_kw"] / 1e3, x["peak_baseline_kw"] / 1e3, _local(x["peak_ts"], VIC_TZ),
              x["change_class"]] for lab, what, _, x in summer]))
    w("")
    w("Daily data of the heat wave (Melbourne, from the data set):\n")
    w(table(["date", "energy GWh", "mean °C", "max °C"],
            [[str(d["date"]), d["gwh"], d["temp_mean_c"], d["temp_max_c"]]
             for d in heat.iter_rows(named=True)]))
    w("")
    w("### Degree-day fit per year (daily GWh = base + heat·HDD + cool·CDD + rest·[weekend or "
      f"holiday]; balance points {th.hdd_base_c} / {th.cdd_base_c} °C as in compare_years)\n")
    w(table(["year", "workday base GWh/d", "heating GWh per K·d", "cooling GWh per K·d",
             "rest-day GWh", "R²"],
            [[str(y), f["base"], f["heat"], f["cool"], f["rest"], f["r2"]]
             for y, f in fits.items()]))
    w("")
    w("### Holidays: the data set's flag against the `holidays` package\n")
    w(table(["year", "flagged days", "AU national", "AU-VIC", "flagged, not AU national",
             "AU national, not flagged", "AU-VIC, not flagged"], hol_rows))
    w("")
    w(f"Under `holiday_country=\"AU\"`, {hol_mixed[0]} of the {hol_pairs} like-with-like day "
      "pairs of the four comparisons join a day the data set flags as a holiday with one it "
      f"does not; under `\"{VIC_HOLIDAYS}\"` (used above), {hol_mixed[1]}.\n")

    s13, s14, s1412 = r[("no", 2013, (2012,))], r[("no", 2014, (2013,))], r[("no", 2014, (2012,))]
    w13, w14, w1412 = (r[("yes", 2013, (2012,))], r[("yes", 2014, (2013,))],
                       r[("yes", 2014, (2012,))])
    f12, f14 = fits[2012], fits[2014]
    y12, y14 = yearly.row(0, named=True), yearly.row(2, named=True)
    m12, m14 = midday.row(0, named=True), midday.row(2, named=True)
    jr, jw = summer[0][3], summer[1][3]
    w("### What changed, and why\n")
    w(f"- **Energy fell a little each year**: {_pct(s13['energy_change_pct'])} in 2013 against "
      f"2012 and {_pct(s14['energy_change_pct'])} in 2014 against 2013 on like-with-like days "
      f"({_pct(s1412['energy_change_pct'])} over two years; plain calendar-year totals "
      f"{y12['gwh']:.2f} → {y14['gwh']:.2f} TWh). Weather explains part of it: normalised to "
      f"each year's temperatures the changes are {_pct(w13['energy_change_weather_pct'])}, "
      f"{_pct(w14['energy_change_weather_pct'])} and {_pct(w1412['energy_change_weather_pct'])}"
      f" (2012 had {y12['hdd']:.0f} heating degree-days, 2014 {y14['hdd']:.0f}). The fitted "
      f"workday base fell from {f12['base']:.1f} to {f14['base']:.1f} GWh/day and the night "
      f"mean (00-06 h) from {m12['night_mw']:.0f} to {m14['night_mw']:.0f} MW, a decline that "
      "is not weather. This is the direction of the documented early-2010s decline of "
      "Victorian grid demand (rooftop PV, energy efficiency); the data here cannot tell those "
      "causes apart. The workday midday-to-mean ratio went "
      f"{m12['midday']:.3f} → {m14['midday']:.3f}: "
      + ("midday demand fell relative to the rest of the day, as behind-the-meter PV would "
         "make it (the ratio also moves with summer heat, so this is a hint, not proof)."
         if m14["midday"] < m12["midday"] else
         "no relative midday dip is visible, so rooftop PV is not the main driver at this "
         "aggregate level.")
      + f" compare_years calls every comparison **{s13['change_class']}/"
        f"{s14['change_class']}/{s1412['change_class']}** (below the "
        f"{th.growth_ratio:.0%} growth threshold): a drift of {s13['energy_change_pct']:+.1f} % "
        f"and {s14['energy_change_pct']:+.1f} % a year of a whole state is not a finding for a "
        "technician, which is the intended behaviour.")
    def peak_day(row):
        d = _local(row["peak_ts"], VIC_TZ)[:10]
        x = vdaily.filter(pl.col("date") == date.fromisoformat(d)).row(0, named=True)
        return f"{x['temp_max_c']:.1f} °C maximum, {x['temp_mean_c']:.1f} °C daily mean"

    hot = heat.filter(pl.col("temp_max_c") >= 40)
    w(f"- **Peaks are weather events**: the 2014 peak, {s14['peak_kw'] / 1e3:,.0f} MW at "
      f"{_local(s14['peak_ts'], VIC_TZ)} ({peak_day(s14)}), falls in the January 2014 heat "
      f"wave ({hot.height} days reaching ≥ 40 °C in the data, "
      f"{hot['date'].min()} to {hot['date'].max()}); the 2013 peak "
      f"({s13['peak_kw'] / 1e3:,.0f} MW, {_local(s13['peak_ts'], VIC_TZ)}; {peak_day(s13)}) "
      "in a March hot spell. Peak demand *rose* while energy fell, so the load factor fell "
      f"({s13['load_factor']:.3f} → {s14['load_factor']:.3f}); the typical peak hour stayed at "
      f"{s14['peak_hour']:.0f}:00.")
    w(f"- **January 2014**: {_pct(jr['energy_change_pct'])} energy against January 2013, "
      f"{_pct(jw['energy_change_weather_pct'])} after weather normalisation: the heat wave "
      "explains most of the rise, and compare_years does not report it (it is below the "
      "growth threshold even raw, so the class alone does not prove the normalisation; the "
      "normalised figure does). Over January-March the raw change is "
      f"{_pct(summer[2][3]['energy_change_pct'])} and the normalised "
      f"{_pct(summer[3][3]['energy_change_weather_pct'])}.")
    ks_max = max(results, key=lambda x: x[3]["ks_stat"])
    psis = [x[3]["psi"] for x in results]
    w(f"- **Distribution of daily energy**: the largest KS statistic is "
      f"{ks_max[3]['ks_stat']:.3f} (p {ks_max[3]['ks_p_value']:.2g}) for {ks_max[1]} vs "
      f"{','.join(map(str, ks_max[2]))}; PSI ranges {min(psis):.3f}-{max(psis):.3f} (the "
      "usual reading: below 0.1 no shift, 0.1-0.25 moderate). Small, consistent with a level "
      "drift of a few per cent.")
    w("- **p-values of `unchanged` rows** are the Bonferroni minimum of the row's tests. With "
      "temperature they are small (e.g. "
      f"{w13['p_value']:.2g} for 2013 vs 2012) because the weather-normalised daily ratio has a "
      "statistically clear mean shift inside the year that is smaller than the "
      f"{th.step_ratio:.0%} step threshold (else the class would be `step_change`). The "
      "effect-size thresholds keep such rows from being "
      "findings (`significant` stays false), as intended.\n")

    w("## ETT transformers: 2017 vs 2016 and 2018 vs 2017\n")
    w("`Δ mean level` is compare_years' `energy_change_kwh`: for a level metric (not interval "
      "energy) its \"energy\" is the mean daily level on the paired days, so this column is the "
      "change of mean level in the series' own unit (K for oil temperature). Every ETT series "
      "is a level, so compare_years compares it by daily *difference* and classes it with "
      "thresholds in its unit (2 K for temperatures; 10 % / 15 % of the baseline's mean "
      "absolute level for growth / step of a power); `Δ %` is empty (null) for oil "
      "temperature (°C has no true zero) and for series with a negative daily mean.\n")
    for (y, b), out in ett_out.items():
        w(f"### {y} vs {b}\n")
        w(table(ETT_HEAD, ett_rows(out, signed)))
        w("")
    e17 = ett_out[(2017, 2016)]
    e18 = ett_out[(2018, 2017)]

    def get(out, a, mt):
        return out.filter((pl.col("asset_id") == a) & (pl.col("metric") == mt)).row(0, named=True)

    o1_17, o2_17 = get(e17, "ETTh1", "oil_temp_c"), get(e17, "ETTh2", "oil_temp_c")
    o1_18, o2_18 = get(e18, "ETTh1", "oil_temp_c"), get(e18, "ETTh2", "oil_temp_c")
    w("### What changed, and why\n")
    hv, mv_ = get(e17, "ETTh1/HV", "active_power_kw"), get(e17, "ETTh1/MV", "active_power_kw")
    w(f"- **ETTh1 oil ran cooler**: mean oil temperature {o1_17['energy_baseline_kwh']:.1f} → "
      f"{o1_17['energy_kwh']:.1f} °C in July-December ({o1_17['energy_change_kwh']:+.1f} K) and "
      f"{o1_18['energy_baseline_kwh']:.1f} → {o1_18['energy_kwh']:.1f} °C in January-June "
      f"({o1_18['energy_change_kwh']:+.1f} K). Its HV and MV active loads were lower in "
      f"July-December 2017 too ({hv['energy_change_kwh']:+.2f} and "
      f"{mv_['energy_change_kwh']:+.2f} source units of mean level). ETTh2, in the same "
      f"province, kept its oil level ({o2_17['energy_change_kwh']:+.1f} K and "
      f"{o2_18['energy_change_kwh']:+.1f} K), so a province-wide weather difference is an "
      "unlikely cause; lower load (or a cooling change) at ETTh1 fits the data. ETT has no "
      "ambient temperature, so no weather normalisation was possible. The typical oil peak "
      f"hour is unchanged ({o1_17['peak_hour']:.0f}:00 at ETTh1, "
      f"{o2_17['peak_hour']:.0f}:00 at ETTh2). compare_years says: "
      f"`{o1_17['reason']}`.")
    w("- **ETTh1's midday load turned negative**: mean active load by half year, midday "
      "(10-14 h) against night (00-06 h), and the share of midday hours with HV load below 0:\n")
    w(table(["half year", "HV midday", "HV night", "MV midday", "MV night",
             "HV midday hours < 0"],
            [[x["half"], x["HUFL_mid"], x["HUFL_night"], x["MUFL_mid"], x["MUFL_night"],
              f"{x['neg_share']:.0%}"] for x in midday_ett.iter_rows(named=True)]))
    first, last = midday_ett.row(0, named=True), midday_ett.row(-1, named=True)
    w("")
    w(f"  From {first['half']} to {last['half']} the HV midday load went "
      f"{first['HUFL_mid']:.2f} → {last['HUFL_mid']:.2f} while the night load went "
      f"{first['HUFL_night']:.2f} → {last['HUFL_night']:.2f} (source units; "
      "`ett_daily_profile.png`). "
      + ("A midday dip that reaches reverse flow is the signature of generation connected "
         "below the transformer (daytime, so most likely PV); the data do not name it. "
         if last["HUFL_mid"] < 0 < last["HUFL_night"] else "")
      + "Smaller load magnitude through the middle of the day is consistent with the cooler "
      "oil (transformer losses grow with the magnitude of the flow, whatever its direction). "
      f"compare_years reports it only as `{hv['change_class']}` with a daily shape change of "
      f"{hv['daily_shape_change']:.2f}: the typical peak (midnight) did not move, so it is not "
      "a `peak_shift`, and with no temperature it cannot be a `new_seasonal_pattern`; a "
      "'new midday generation' class (negative midday trough) would name it.")
    big = runs.filter(pl.col("hours") >= 72)
    w(f"- **Frozen values**: {runs.height} runs of one identical value lasting ≥ 24 h exist "
      f"in the ETT series, {big.height} of them ≥ 72 h:\n")
    w(table(["asset", "metric", "from (local)", "to", "hours", "value"],
            [[a, mt, str(st)[:16], str(en)[:16], h, v] for a, mt, st, en, h, v in
             big.iter_rows()]))
    w("")
    w("  Exact zeros for days are more likely a channel reporting 0 while down, or a stand-in, "
      "than a real power flow; a 43-day constant is a frozen channel. The detectors' flatline "
      "check would flag these; compare_years compares them as if real.")
    allsteps = pl.concat([o.with_columns(pl.lit(f"{y} vs {b}").alias("cmp"))
                          for (y, b), o in ett_out.items()]).filter(
        pl.col("change_class") == "step_change")
    for row in allsteps.iter_rows(named=True):
        cd = row["change_date"]
        near = runs.filter((pl.col("asset_id") == row["asset_id"])
                           & (pl.col("metric") == row["metric"])
                           & ((pl.col("start").dt.date() - cd).dt.total_days().abs() <= 3))
        if near.height:
            n0 = near.row(0, named=True)
            why = (f"a {n0['hours']}-hour run of exactly {n0['value']:g} starts "
                   f"{str(n0['start'])[:16]}: the step is at least partly a data-quality event")
        elif signed[(row["asset_id"], row["metric"])] >= SIGNED_SHARE:
            why = ("no frozen run nearby; the series crosses zero, and the step is a jump of "
                   f"{row['effect_size']:+.3g} source units in the daily difference from the "
                   "baseline (compare_years compares signed series by difference)")
        else:
            why = ("no frozen run nearby and the series stays positive: a level change in the "
                   f"data of {row['effect_size']:+.3g} source units")
        w(f"- Step change, {row['cmp']}, {row['asset_id']} {row['metric']} on {cd}: {why}.")
    if mv_clean is not None:
        c_all, c_clean, lo, hi, val, hrs = mv_clean
        w(f"- **ETTh2/MV active power, January-June 2018 vs 2017**: {c_all:+.1f} % against all "
          f"of 2017's days, but 2017 holds the frozen value {val:g} ({hrs} h, {lo} to {hi}), "
          f"about twice the normal level; without those days the change is {c_clean:+.1f} %. "
          "compare_years inherits the frozen baseline (its row is not significant, q "
          f"{get(e18, 'ETTh2/MV', 'active_power_kw')['q_value']:.2g}).")
    neg = sorted(f"{a} {mt} ({v:.0%})" for (a, mt), v in signed.items()
                 if v >= SIGNED_SHARE and mt != "oil_temp_c")
    w(f"- Series whose daily mean is ≤ 0 on at least {SIGNED_SHARE:.0%} of days: "
      f"{', '.join(neg)}; and both oil temperatures (a Celsius level). compare_years compares "
      "these (like every level metric) by difference and leaves `Δ %` empty where the series "
      "has a negative daily mean or no true zero; read `Δ mean level`.\n")

    w("## Problems found in compare_years on this data (for the lead)\n")
    w("1. **Holiday subdivision** (fixed). `holiday_country` now takes `\"CC-SUBDIV\"`: "
      "`\"AU-VIC\"` calls `holidays.country_holidays(\"AU\", subdiv=\"VIC\")`, so Victoria's "
      "Labour Day, King's/Queen's Birthday, Melbourne Cup and the observed Australia Day Monday "
      "are holidays and pair by name. These runs use "
      f"`{VIC_HOLIDAYS}`; the pairs that still join a flagged day with an unflagged one "
      f"({hol_mixed[1]}) are days the data set's flag and the `holidays` calendar disagree on "
      "(table above).")
    w("2. **Ratios of signed or interval-scale levels** (fixed). Only interval energy with no "
      "negative day is compared by ratio now; every other series (temperatures, voltages, "
      "power factor, currents, loads, powers, unregistered metrics such as "
      "`reactive_power_kvar`, and energy with a negative day) is compared by daily difference "
      "in its unit, with thresholds in that unit, no log-ratio floor, `energy_change_pct` "
      "null where a percentage means nothing, and a reason worded by metric (largest step "
      "this run: " + _worst_step(ett_out) + "). Still open: no weather normalisation for "
      "level metrics (oil temperature against ambient would need it), and a negative midday "
      "trough (new generation) has no class of its own.")
    w("3. **No period start.** A baseline that starts mid-year (ETT 2016) is compared on the "
      "days it has, which is right, but nothing says so except `coverage_baseline`; a "
      "`period_start` (or the compared dates in the output) would make that explicit.")
    gaps = "; ".join(f"{y} vs {b}: {gc:+.4f} % / {gb:+.4f} %" for y, b, gc, gb in dst_gap)
    w("4. **DST days** (minor, documented in `yoy/summary.py`): a day's energy is its mean "
      "interval energy times the intervals of a usual day (48), so the 23- and 25-hour days are "
      "scaled to 24 hours. Against plain sums of the half-hours, the paired-day totals (current "
      f"/ baseline) differ by {gaps}. Counting each local day's own intervals would remove it.\n")
    w("## Checks\n")
    w(checks.markdown())
    w("")
    return "\n".join(L)


def _worst_step(ett_out) -> str:
    rows = pl.concat(list(ett_out.values())).filter(pl.col("change_class") == "step_change")
    if rows.height == 0:
        return "(none in this run)"
    worst = rows.sort(pl.col("effect_size").abs(), descending=True).row(0, named=True)
    return f"`{worst['reason']}`"


if __name__ == "__main__":
    from griddiag.exceptions import GriddiagError

    try:
        raise SystemExit(main())
    except GriddiagError as exc:  # one clear line, as the CLI does
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
