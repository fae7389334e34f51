"""The annual inspection on Dask: speed-up and memory per worker, and the cluster a
10-million-meter utility needs (issue 7).

The sample utility (``griddiag.sample.iter_utility_batches``, 15-minute data, 2024-2025) is
loaded into a Parquet store, then, each in a fresh spawned driver process:

- baseline: ``inspect(..., executor="local")``, the single-process job;
- ``inspect(..., executor="dask", workers=N)`` for N = 1, 2, 4: a ``LocalCluster`` of N
  single-threaded worker processes, numba threads per worker = cores // N (at least 1), so
  the processes do not oversubscribe the cores. Peak memory per worker is each worker
  process's high-water mark (``VmHWM``), read on the workers after the run.

Checks (a failed one publishes nothing): every Dask run reports the same findings (asset,
metric, kind, start, severity) and the same year-over-year rows as the local run.

The estimate: the store's read throughput (readings per second of one process reading every
batch of the job's window, no processing) and the per-batch compute cost (the local run's
detect + yoy + chart seconds per meter-year read) are measured here; the 10-million-meter
figure scales them linearly by meter-years (the batches are independent, so the work is), adds
the driver's serial part (per batch: staging findings, merging) measured here, and divides by
8 hours. It is an estimate from this machine's cores, not a measurement of a cluster.

    .venv/bin/python -m benchmarks.bench_dask [--meters 400] [--workers 1,2,4] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import Checks, in_child, table

TITLE = "Inspection on Dask: speed-up, memory per worker, cluster size for 10 million meters"
METERS = 400  # two batches of 200 assets: fits 2 cores; `--meters` for a bigger machine
QUICK_METERS = 40
WORKERS = (1, 2, 4)
YEARS = (2024, 2025)
BATCH_ASSETS = 200
TARGET_METERS = 10_000_000
TARGET_HOURS = 8.0
#: cores used per worker process when sizing the cluster (one thread each, as here)
CORES_PER_WORKER = 1


def _load(path: str, meters: int) -> dict[str, float]:
    from griddiag.sample import iter_utility_batches
    from griddiag.storage.parquet import ParquetStore

    t0 = time.perf_counter()
    readings = 0
    with ParquetStore(path) as store:
        for batch in iter_utility_batches(meters=meters, years=YEARS, areas_per_batch=4):
            store.upsert_assets(batch.assets)
            store.write(batch.readings)
            readings += batch.readings.height
    return {"readings": readings, "load_s": time.perf_counter() - t0}


def _summary(result) -> dict:
    import polars as pl

    f = result.findings.filter(pl.col("status") != "resolved")
    yoy = pl.read_parquet(result.paths["yoy_parquet"])
    return {
        "keys": sorted(map(tuple, f.select("asset_id", "metric", "kind", "start", "severity")
                           .cast({"start": pl.String}).rows())),
        "yoy": yoy.drop("rank", strict=False).sort("asset_id", "metric").to_dicts(),
        "timings": result.timings,
        "readings": result.counts["readings"],
    }


def _local_case(clock, path: str, out: str) -> dict:
    from griddiag.inspection import inspect
    from griddiag.storage.parquet import ParquetStore

    with ParquetStore(path, create=False) as store:
        with clock:
            result = inspect(store, year=YEARS[-1], baseline_years=list(YEARS[:-1]),
                             out_dir=out, batch_assets=BATCH_ASSETS)
    return _summary(result)


def _worker_peak_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    return float("nan")


def _dask_case(clock, path: str, out: str, workers: int) -> dict:
    from griddiag.inspection import inspect
    from griddiag.inspection.executor import DaskExecutor
    from griddiag.storage.parquet import ParquetStore

    t0 = time.perf_counter()
    runner = DaskExecutor(workers=workers)
    start_s = time.perf_counter() - t0
    try:
        runner.client.run(lambda: __import__("griddiag.detect"))  # imports, not timed below
        with ParquetStore(path, create=False) as store:
            with clock:
                result = inspect(store, year=YEARS[-1], baseline_years=list(YEARS[:-1]),
                                 out_dir=out, batch_assets=BATCH_ASSETS, executor=runner)
        peaks = list(runner.client.run(_worker_peak_mib).values())
        threads = runner.numba_threads()
    finally:
        runner.close()
    return {**_summary(result), "worker_peaks": peaks, "cluster_start_s": start_s,
            "numba_threads": threads}


def _read_case(clock, path: str) -> dict:
    """Every batch of the job's read window, read and dropped: the store's throughput."""
    from griddiag.detectors.profile import load_profile
    from griddiag.inspection.executor import plan_batches
    from griddiag.inspection.job import _read_window
    from griddiag.schema import normalize_assets
    from griddiag.storage.parquet import ParquetStore

    with ParquetStore(path, create=False) as store:
        reg = normalize_assets(store.assets())
        lo, hi, _, _ = _read_window(reg, YEARS[-1], list(YEARS[:-1]),
                                    load_profile("default").read_history_days)
        plan = plan_batches(reg, BATCH_ASSETS)
        rows = 0
        with clock:
            for ids in plan:
                for part in store.read_batches(ids, None, lo, hi, batch_assets=len(ids) + 1):
                    rows += part.height
    size = sum(p.stat().st_size for p in Path(path).rglob("*.parquet"))
    return {"rows": rows, "bytes": size, "batches": len(plan)}


def run(*, dsn: str | None = None, workdir: str | Path | None = None, quick: bool = False,
        meters: int | None = None, workers: tuple[int, ...] = WORKERS) -> str:
    del dsn  # Parquet only: workers of a real cluster read the same files from shared storage
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-dask-"))
    workdir.mkdir(parents=True, exist_ok=True)
    meters = meters or (QUICK_METERS if quick else METERS)
    cores = os.cpu_count() or 1
    path = str(workdir / "store")
    loaded = _load(path, meters)
    read = in_child(_read_case, path)
    local = in_child(_local_case, path, str(workdir / "out-local"))
    checks = Checks()
    rows = [["local (1 process)", "-", local.seconds, 1.0, local.peak_rss_mib, "-"]]
    for n in workers:
        m = in_child(_dask_case, path, str(workdir / f"out-dask-{n}"), n)
        v = m.value
        checks.check(v["keys"] == local.value["keys"], f"{n} workers: same findings as local",
                     f"{len(v['keys'])} vs {len(local.value['keys'])}")
        checks.check(v["yoy"] == local.value["yoy"], f"{n} workers: same yoy rows as local",
                     f"{len(v['yoy'])} vs {len(local.value['yoy'])} rows")
        peaks = v["worker_peaks"]
        rows.append([f"dask, {n} worker(s)", v["numba_threads"], m.seconds,
                     local.seconds / m.seconds, m.peak_rss_mib,
                     f"{max(peaks):,.0f} (mean {sum(peaks) / len(peaks):,.0f})"])

    # -- the estimate ----------------------------------------------------------------------
    t = local.value["timings"]
    compute_s = t["detect_s"] + t["yoy_s"] + t["charts_s"]
    serial_s = t["store_s"]  # the driver's per-batch work, which does not parallelise
    years_read = read.value["rows"] / max(local.value["readings"], 1)  # window / inspected yr
    per_meter_compute = compute_s / meters
    per_meter_serial = serial_s / meters
    read_rate = read.value["rows"] / read.seconds  # readings per second, one process
    per_meter_rows = read.value["rows"] / meters
    per_meter_read = per_meter_rows / read_rate
    budget = TARGET_HOURS * 3600
    serial_total = per_meter_serial * TARGET_METERS
    parallel_total = (per_meter_compute + per_meter_read) * TARGET_METERS
    workers_needed = math.ceil(parallel_total / max(budget - serial_total, 1.0))
    bytes_total = read.value["bytes"] / meters * TARGET_METERS
    out = [
        f"Sample utility of {meters:,} meters ({loaded['readings']:,} readings, 15-minute "
        f"data, {YEARS[0]}-{YEARS[-1]}), Parquet store, inspection of {YEARS[-1]} against "
        f"{YEARS[0]}, batches of {BATCH_ASSETS} assets. {cores} cores. Each run in a fresh "
        "driver process; a Dask run's time includes shipping the batches but not starting "
        "the cluster. Peak MiB: the driver's high-water mark during the run; per worker: "
        "each worker process's high-water mark.", "",
        table(["executor", "numba threads / worker", "inspect s", "speed-up vs local",
               "driver peak MiB", "worker peak MiB"], rows), "",
        "Measured inputs of the estimate:", "",
        f"- store read throughput (one process, every batch of the job's window, "
        f"{read.value['batches']} batches): {read_rate:,.0f} readings/s "
        f"({read.value['bytes'] / read.seconds / 2**20:,.1f} MiB/s of Parquet on disk);",
        f"- per meter: {per_meter_rows:,.0f} readings read ({years_read:.2f}x the inspected "
        f"year: baseline and detector history), {per_meter_compute * 1e3:,.2f} ms of compute "
        f"(detect {t['detect_s']:.1f} s + yoy {t['yoy_s']:.1f} s + charts "
        f"{t['charts_s']:.1f} s over {meters:,} meters), {per_meter_read * 1e3:,.2f} ms of "
        f"reading, {per_meter_serial * 1e3:,.3f} ms of driver work (staging findings).", "",
        f"Estimate for {TARGET_METERS:,} meters with the sample's metric mix, 15-minute data, "
        f"in {TARGET_HOURS:g} hours: {parallel_total / 3600:,.0f} worker-hours of reading "
        f"and compute, {serial_total / 3600:,.1f} h of serial driver work, so about "
        f"**{workers_needed:,} single-threaded worker processes** "
        f"(~{workers_needed * CORES_PER_WORKER:,} cores of this machine's speed, e.g. "
        f"{math.ceil(workers_needed / 32):,} machines of 32 cores), reading "
        f"{bytes_total / 2**30:,.0f} GiB of Parquet in total "
        f"({bytes_total / budget / 2**20:,.0f} MiB/s aggregate from shared storage). "
        "Linear scaling assumes the shared storage (or TimescaleDB) serves that aggregate "
        "rate and that the per-worker speed-up measured above holds; the speed-up column "
        "shows how far this 2-core machine's cores are from that.", "",
        "Correctness checks:", "", checks.markdown(), ""]
    report = "\n".join(out)
    checks.raise_if_failed(report)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=METERS)
    ap.add_argument("--workers", default=",".join(map(str, WORKERS)))
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_METERS} meters")
    a = ap.parse_args()
    print(run(quick=a.quick, meters=None if a.quick else a.meters,
              workers=tuple(int(w) for w in a.workers.split(",") if w.strip())))


if __name__ == "__main__":
    main()
