"""Detector speed against peers in the same run (issue 3's speed targets).

(a) exact rolling robust z (griddiag kernel) vs polars' ``rolling_median`` + rolling MAD
    (polars' MAD is the median of ``|x - rolling median|``: approximate), and a plain NumPy
    sliding-window exact MAD on a subset;
(b) the O(1)-per-point kernels (``nan_runs``, ``constant_runs``, ``zero_runs``) vs one NumPy
    pass (``np.sum``) over the same array, as called (chunks of series on threads) and on one
    thread;
(c) rule detectors vs ADTK-style equivalents (``baselines/adtk_style.py``, polars); ADTK
    itself (the ``bench`` extra) is measured by :mod:`benchmarks.bench_peers`;
(d) the whole default profile over ``meters`` x 1 year of 15-minute data from
    ``griddiag.sample.iter_utility_batches``, in child processes: points/s, CPU seconds (user
    and system) and peak RSS, in two lanes (the default) and in one (the baseline), three
    runs each, then each step of ``detect_batch`` timed alone (where the time goes);
(e) cold compile (fresh ``NUMBA_CACHE_DIR``; with the compile helper process, the default, and
    in one process, the baseline) and warm import-to-first-result (median of
    :data:`WARM_RUNS`) against importing polars, NumPy and numba alone (the floor no import of
    griddiag can go under; its baseline), subprocesses.

    .venv/bin/python -m benchmarks.bench_detect [--meters N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from operator import itemgetter
from pathlib import Path

import numpy as np

from benchmarks.common import in_child, table, timed

TITLE = "Detectors: speed against peers"
ROOT = Path(__file__).resolve().parents[1]
SLOTS_PER_YEAR = 35_040


def synthetic(n_series: int, n_slots: int = SLOTS_PER_YEAR, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Interval-energy-like values (daily shape x lognormal noise), 0.5 % NaN."""
    rng = np.random.default_rng(seed)
    hour = (np.arange(n_slots) % 96) / 4.0
    shape = 0.6 + 0.4 * np.sin((hour - 9.0) / 24.0 * 2 * np.pi) ** 2
    x = (shape[None, :] * rng.lognormal(-1.5, 0.4, (n_series, n_slots))).ravel()
    x = np.round(x, 2)
    x[rng.random(x.shape[0]) < 0.005] = np.nan
    return x, np.arange(0, n_series * n_slots + 1, n_slots, dtype=np.int64)


def _polars_robust_z(x: np.ndarray, n_slots: int, window: int) -> np.ndarray:
    import polars as pl

    sid = np.repeat(np.arange(x.shape[0] // n_slots), n_slots)
    df = pl.DataFrame({"s": sid, "x": x}).with_columns(pl.col("x").fill_nan(None))
    med = pl.col("x").rolling_median(window, min_samples=window // 2 + 1).over("s")
    out = df.with_columns(med=med).with_columns(
        mad=(pl.col("x") - pl.col("med")).abs().rolling_median(
            window, min_samples=window // 2 + 1).over("s"))
    return ((out["x"] - out["med"]) / (1.4826 * out["mad"])).to_numpy()


def _numpy_exact_mad(x: np.ndarray, offsets: np.ndarray, window: int) -> np.ndarray:
    from numpy.lib.stride_tricks import sliding_window_view

    out = np.full(x.shape[0], np.nan)
    for s in range(offsets.shape[0] - 1):  # trailing windows, complete ones only
        a, b = offsets[s], offsets[s + 1]
        w = sliding_window_view(x[a:b], window)
        med = np.nanmedian(w, axis=1)
        out[a + window - 1:b] = np.nanmedian(np.abs(w - med[:, None]), axis=1)
    return out


def part_a(x, off, n_slots, window=96, subset=5):
    from griddiag import kernels as K

    n = x.shape[0]
    K.rolling_robust_z(x[:2000], None, window)  # compile/load outside the clock
    g = timed(lambda: K.rolling_robust_z(x, off, window, min_scale=0.0))
    p = timed(lambda: _polars_robust_z(x, n_slots, window))
    xs, offs = x[:subset * n_slots], off[:subset + 1]
    ns = xs.shape[0]
    e = timed(lambda: _numpy_exact_mad(xs, offs, window))
    gs = timed(lambda: K.rolling_mad(xs, offs, window))
    # correctness: the kernel's exact MAD equals NumPy's on complete windows
    ref, mine = e.value, gs.value
    ok = np.isfinite(ref) & np.isfinite(mine)
    agree = bool(np.allclose(ref[ok], mine[ok]))
    rows = [
        ["griddiag rolling robust z (exact)", n, g.seconds, n / g.seconds / 1e6, 1.0],
        ["polars rolling_median + rolling MAD (approx.)", n, p.seconds, n / p.seconds / 1e6,
         p.seconds / g.seconds],
        ["griddiag rolling MAD (exact), subset", ns, gs.seconds, ns / gs.seconds / 1e6, 1.0],
        ["NumPy sliding-window exact MAD, subset", ns, e.seconds, ns / e.seconds / 1e6,
         e.seconds / gs.seconds],
    ]
    return rows, p.seconds / g.seconds, agree


def part_b(x, off):
    """Each kernel as called (chunks of series on numba's thread count: a batch this size is
    above ``MEMORY_BOUND_MIN_VALUES``) and on one thread, as ``np.sum`` runs; returns the rows,
    the thread count and the slowest ratio of each."""
    import numba

    from griddiag import kernels as K

    n = x.shape[0]
    K.nan_runs(x[:1000]), K.constant_runs(x[:1000])
    threads = numba.get_num_threads()
    base = timed(lambda: np.sum(x), repeat=3)
    rows = [["NumPy sum (one pass)", n, base.seconds, n / base.seconds / 1e6, 1.0]]
    worst = {threads: 0.0, 1: 0.0}
    for name, fn in (("nan_runs (gap)", lambda: K.nan_runs(x, off)),
                     ("constant_runs (flatline)", lambda: K.constant_runs(x, off)),
                     ("zero_runs (zero consumption)", lambda: K.zero_runs(x, off))):
        for t in sorted(worst, reverse=True):
            numba.set_num_threads(t)
            try:
                m = timed(fn, repeat=3)
            finally:
                numba.set_num_threads(threads)
            worst[t] = max(worst[t], m.seconds / base.seconds)
            rows.append([f"griddiag {name}, {t} thread{'s' if t > 1 else ''}", n, m.seconds,
                         n / m.seconds / 1e6, m.seconds / base.seconds])
    return rows, threads, worst[threads], worst[1]


def part_c(x, off, subset):
    from baselines import adtk_style as A
    from griddiag import kernels as K

    n_slots = off[1] - off[0]
    xs, offs = x[:subset * n_slots], off[:subset + 1]
    n = xs.shape[0]
    K.level_shift(xs[:2000], None, 96)
    K.rolling_robust_z(xs[:2000], None, 96)
    pairs = [
        ("ThresholdAD vs griddiag negative_energy rule (x < 0)",
         lambda: A.threshold_ad(xs, offs, low=0.0), lambda: xs < 0.0),
        ("PersistAD(window=96) vs griddiag trailing robust z (96)",
         lambda: A.persist_ad(xs, offs, window=96),
         lambda: K.rolling_robust_z(xs, offs, 96)),
        ("LevelShiftAD(window=96) vs griddiag level_shift (96)",
         lambda: A.level_shift_ad(xs, offs, window=96),
         lambda: K.level_shift(xs, offs, 96)),
    ]
    rows, ratios = [], []
    for name, base_fn, mine_fn in pairs:
        b = timed(base_fn)
        m = timed(mine_fn, repeat=2)
        ratios.append(b.seconds / m.seconds)
        rows.append([name, n, n / b.seconds / 1e6, n / m.seconds / 1e6, b.seconds / m.seconds])
    return rows, ratios


def _profile_case(clock, meters: int, year: int, lanes: bool = True, stages: bool = True):
    import polars as pl

    import griddiag
    from griddiag.kernels import _launch
    from griddiag.sample import iter_utility_batches

    if not lanes:  # the baseline: checks after the detectors, on one thread
        _launch.SIDE_LANE_MIN_VALUES = 1 << 62

    batches = list(iter_utility_batches(meters=meters, years=(year,), seed=7))
    readings = pl.concat([b.readings for b in batches])
    assets = pl.concat([b.assets for b in batches], how="diagonal_relaxed")
    small = readings.filter(pl.col("ts") < readings["ts"].min() + pl.duration(days=20))
    griddiag.detect(small, assets=assets)  # kernels loaded outside the clock
    input_bytes = readings.estimated_size()
    with clock:
        found = griddiag.detect(readings, assets=assets)
    return {"points": readings.height, "input_mib": input_bytes / 2**20,
            "findings": found.height,
            "energy_points": readings.filter(pl.col("metric") == "energy_kwh").height,
            "stages": _stage_seconds(readings, assets) if lanes and stages else None}


def _stage_seconds(readings, assets) -> list[tuple[str, float]]:
    """Where the whole-profile time goes: the same steps as ``detect_batch``, timed apart
    (after the measured run; numba kernels are loaded by then)."""
    from griddiag.detect import _run_joint, _run_metric
    from griddiag.detectors.grid import sorted_readings
    from griddiag.detectors.profile import load_profile
    from griddiag.schema import normalize_assets

    prof = load_profile("default")
    reg = normalize_assets(assets)
    out = []
    t = time.perf_counter()
    batch = sorted_readings(readings)
    out.append(("sort the batch once (SortedReadings, shared by every step below)",
                time.perf_counter() - t))
    joint_specs = [s for s in prof.detectors if s.joint]
    keep = {m for s in joint_specs for m in batch.metrics.to_list() if s.applies(m)}
    grids = {}
    for metric in batch.metrics.to_list():
        specs = [s for s in prof.detectors if s.applies(metric) and not s.joint]
        if specs:
            t = time.perf_counter()
            _, grid = _run_metric(batch, reg, prof, specs, None, None, [metric])
            out.append((f"grid + meter/statistical detectors: {metric} "
                        f"({batch.subset([metric]).height:,} readings)",
                        time.perf_counter() - t))
            if metric in keep and grid is not None:
                grids[metric] = grid
    for spec in joint_specs:
        joint = [m for m in batch.metrics.to_list() if spec.applies(m)]
        if joint:
            t = time.perf_counter()
            _run_joint(batch, reg, prof, spec, None, None, joint, grids)
            out.append((f"{spec.label} (joint: {', '.join(joint)}; on the grids above)",
                        time.perf_counter() - t))
    for ext in prof.external:
        fn = ext.function()
        t = time.perf_counter()
        fn(readings, reg, dict(ext.params))
        out.append((f"{ext.family}.{ext.name}", time.perf_counter() - t))
    return out


_SMALL = r"""
import time, sys
t0 = time.perf_counter()
import polars as pl
import griddiag
r = pl.read_parquet(sys.argv[1]); a = pl.read_parquet(sys.argv[2])
f = griddiag.detect(r, assets=a)
print(time.perf_counter() - t0, f.height)
"""

#: the same clock around the libraries alone: what any warm start pays before griddiag runs
_IMPORTS_ONLY = r"""
import time
t0 = time.perf_counter()
import polars, numpy, numba
print(time.perf_counter() - t0, 0)
"""


#: warm starts measured in (e); the median is reported
WARM_RUNS = 5


def part_e(workdir: Path):
    import polars as pl

    r = pl.read_parquet(ROOT / "data_samples" / "readings.parquet")
    a = pl.read_parquet(ROOT / "data_samples" / "assets.parquet")
    ids = ["TX0001", *a.filter(pl.col("parent_id") == "TX0001")["asset_id"].to_list()]
    small = r.filter(pl.col("asset_id").is_in(ids)
                     & (pl.col("ts") < r["ts"].min() + pl.duration(days=14)))
    rp, ap = workdir / "small_readings.parquet", workdir / "small_assets.parquet"
    small.write_parquet(rp)
    a.write_parquet(ap)
    cache = tempfile.mkdtemp(prefix="numba-cold-", dir=workdir)
    env = {**os.environ, "NUMBA_CACHE_DIR": cache,
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    # a warm start has Python's bytecode cache too (an installed package ships it; a checkout
    # writes it at the first import): a PYTHONDONTWRITEBYTECODE in the benchmark's own
    # environment would make the warm run compile griddiag's sources again (0.1 s here)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # cold (empty cache; a compile helper process shares the work, griddiag.cold_start), then
    # warm, then cold again in one process (the helper off), the baseline
    alone = tempfile.mkdtemp(prefix="numba-cold-alone-", dir=workdir)

    def one_run(extra: dict, script: str = _SMALL) -> tuple[float, float]:
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", script, str(rp), str(ap)],
                             env={**env, **extra}, capture_output=True, text=True, check=True)
        return time.perf_counter() - t, float(out.stdout.split()[0])

    cold = one_run({})
    # a warm start lasts a second or so and this VM's timings wander: the median of several,
    # each warm run followed by one of the bare imports, so both see the same machine
    warm, imports = [], []
    for _ in range(WARM_RUNS):
        warm.append(one_run({}))
        imports.append(one_run({}, _IMPORTS_ONLY))
    alone_run = one_run({"NUMBA_CACHE_DIR": alone, "GRIDDIAG_COMPILE_HELPER": "0"})
    by_time = itemgetter(1)  # import to first result
    return small.height, cold, sorted(warm, key=by_time), sorted(imports, key=by_time), alone_run


def run(*, dsn: str | None = None, workdir: str | Path | None = None, quick: bool = False,
        meters: int = 1000, profile_meters: int = 1000) -> str:
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-detect-"))
    workdir.mkdir(parents=True, exist_ok=True)
    n_series = 20 if quick else meters
    x, off = synthetic(n_series)
    out: list[str] = []  # run_all writes the title and the machine above this section

    rows, ratio_a, agree = part_a(x, off, SLOTS_PER_YEAR, subset=2 if quick else 5)
    out += [f"### (a) rolling robust z, window 96, {n_series:,} series x {SLOTS_PER_YEAR:,}",
            "", table(["method", "points", "s", "M points/s", "time / griddiag"], rows), "",
            f"Exact robust z is **{ratio_a:.1f}x** polars' rolling median + MAD (target >= 5x: "
            f"{'met' if ratio_a >= 5 else 'missed'}); kernel MAD equals NumPy's exact MAD: "
            f"{agree}.", ""]

    rows, threads, worst, worst_one = part_b(x, off)
    out += ["### (b) O(1)-per-point kernels vs one NumPy pass", "",
            table(["method", "points", "s", "M points/s", "time / NumPy sum"], rows), "",
            f"Slowest as called ({threads} threads: chunks of series) is **{worst:.1f}x** a "
            f"NumPy sum (target within 5x: {'met' if worst <= 5 else 'missed'}); on one "
            f"thread, as the sum runs, {worst_one:.1f}x. Each call returns a new run-length "
            "array, whose first touch of fresh memory is part of its time (its cost on this "
            "machine: 'first touch of fresh memory' in RESULTS.md's machine table).", ""]

    sub = 5 if quick else 50
    rows, ratios = part_c(x, off, sub)
    out += [f"### (c) rule detectors vs ADTK-style equivalents ({sub} series)", "",
            "baselines/adtk_style.py reproduces ADTK's semantics with polars' rolling median "
            "(faster than the pandas ADTK uses, so the ratios understate griddiag's lead); "
            "ADTK itself (the `bench` extra) is measured in the peers benchmark below.",
            "", table(["pair", "points", "ADTK-style M/s", "griddiag M/s", "speed-up"], rows),
            "", f"Speed-ups over this stand-in {', '.join(f'{r:.0f}x' for r in ratios)} (>= 50x: "
            f"{'met' if min(ratios) >= 50 else 'missed' if max(ratios) < 50 else 'partly met'}"
            "). The issue's target, >= 50x ADTK's equivalents, is checked against ADTK itself "
            "in the peers benchmark below; the stand-in runs the same rules faster than ADTK.",
            ""]

    pm = 10 if quick else profile_meters
    # this VM's first touch of fresh memory varies from run to run (the same two-lane run
    # measured 14-16.5 s): each variant runs `repeats` times, alternating, each in its own
    # process; the time is the median run's, the memory the highest of them
    repeats = 1 if quick else 3
    lane_runs: dict[bool, list] = {True: [], False: []}
    for i in range(repeats):
        for lanes in (True, False):
            lane_runs[lanes].append(in_child(_profile_case, pm, 2025, lanes, i == 0))
    m, one = (sorted(lane_runs[k], key=lambda x: x.seconds)[repeats // 2] for k in (True, False))
    v = lane_runs[True][0].value
    rate = v["points"] / m.seconds / 1e6
    worst = {k: max(lane_runs[k], key=lambda x: x.extra_rss_mib) for k in (True, False)}
    rows = [[name, x.value["points"], x.value["energy_points"], x.value["input_mib"],
             x.seconds, ", ".join(f"{r.seconds:.1f}" for r in lane_runs[k]),
             x.value["points"] / x.seconds / 1e6, x.cpu_user_s, x.cpu_sys_s,
             worst[k].peak_rss_mib, worst[k].extra_rss_mib,
             worst[k].extra_rss_mib / x.value["input_mib"], x.value["findings"]]
            for name, k, x in (("two lanes (default)", True, m),
                               ("one lane (baseline)", False, one))]
    out += [f"### (d) whole default profile, {pm} meters x 1 year (2025) of 15-minute data",
            "", table(["run", "readings", "energy points", "input MiB",
                       f"s (median of {repeats})", "s (each run, in order)", "M points/s",
                       "CPU user s", "CPU sys s", "peak RSS MiB (highest)",
                       "peak above start MiB", "extra / input", "findings"], rows), "",
            f"Each variant ran {repeats} times, alternating, each in a fresh process; time "
            "and CPU seconds (all threads) from the median run, memory from the run that "
            "peaked highest. The kernel's (sys) share is mostly page faults: the first touch "
            "of memory the process has not used yet, or has given back to the system, costs "
            "about 1-1.6 s per GB on this VM against about 0.2 s for memory it reuses "
            "(measured with NumPy arrays), and varies from run to run.", "",
            "Two lanes: the electrical and theft checks on a second thread beside the "
            "detectors (batches of "
            "a million readings or more); the baseline runs the same data with the checks "
            "after the detectors, on one thread, in its own process.", "",
            f"Target >= 5 M points/s: {'met' if rate >= 5 else 'missed'} ({rate / 5:.2f} of "
            f"it; {one.seconds / m.seconds:.2f}x the one-lane run); peak memory above the input "
            f"under 2x its size: "
            f"{'met' if worst[True].extra_rss_mib < 2 * v['input_mib'] else 'missed'}.", "",
            "Where the time goes (each step of `detect_batch` timed alone after the measured "
            "run, one after the other, on the batch's sorted readings as in it; the run "
            "overlaps the checks with the detectors):", "",
            table(["step", "s", "share of the run"],
                  [[name, sec, f"{sec / m.seconds:.0%}"] for name, sec in v["stages"]]), ""]

    n_small, (cold, cold_in), warm_runs, import_runs, (alone, alone_in) = part_e(workdir)
    warm, warm_in = warm_runs[len(warm_runs) // 2]
    bare, bare_in = import_runs[len(import_runs) // 2]
    out += ["### (e) compile and start-up (subprocesses, default profile, one area x 14 days, "
            f"{n_small:,} readings)", "",
            table(["run", "process wall s", "import to first result s"],
                  [["cold numba cache (with the compile helper, the default)", cold, cold_in],
                   [f"warm cache (median of {len(warm_runs)} runs: "
                    + ", ".join(f"{r[1]:.2f}" for r in warm_runs) + ")", warm, warm_in],
                   ["import polars, numpy, numba only (median of "
                    f"{len(import_runs)} runs: " + ", ".join(f"{r[1]:.2f}" for r in import_runs)
                    + "; the warm start's baseline)", bare, bare_in],
                   ["cold numba cache, one process (GRIDDIAG_COMPILE_HELPER=0; baseline)",
                    alone, alone_in]]), "",
            f"Cold start of the whole profile {cold_in:.1f} s to the first result, "
            f"{alone_in / cold_in:.2f}x faster than compiling in one process (target < 30 s: "
            f"{'met' if cold_in < 30 else 'missed'}); warm import-to-first-result "
            f"{warm_in:.2f} s (target < 1 s: {'met' if warm_in < 1 else 'missed'}), "
            f"{warm_in / bare_in:.2f}x the {bare_in:.2f} s that importing polars, NumPy and "
            f"numba alone takes; the other {warm_in - bare_in:.2f} s are griddiag's import, "
            "reading the two small files, loading griddiag's cached kernels and the detection.",
            ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=1000)
    ap.add_argument("--profile-meters", type=int, default=1000,
                    help="meters in (d), the whole default profile (issue 3: 1,000)")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(run(quick=a.quick, meters=a.meters, profile_meters=a.profile_meters))


if __name__ == "__main__":
    main()
