"""The annual inspection end to end: time and peak memory as the utility grows (issue 5).

For each size (default 200, 2,000 and 10,000 meters; 2 years, 2024-2025, of 15-minute data
from ``griddiag.sample.iter_utility_batches``) and each store (Parquet; TimescaleDB when a
DSN is given): the sample is loaded into a fresh store (timed, not measured), then in a fresh
spawned child process:

- baseline: ``griddiag.detect(store, year=2025)``, the detector pass the inspection wraps;
- ``griddiag.inspect(store, year=2025, baseline_years=[2024], out_dir=..., executor="process")``
  as ``griddiag inspect`` runs it: detection, year-over-year, statuses, chart data, run record,
  output files and the HTML report, each batch in a fresh child process.

Each figure is the wall time and the peak resident set (``VmHWM``): for ``detect``, of the child
during the call; for the inspection, the larger of its driver's and of the batch processes'
(each reports its own). Memory must stay flat (within 20 %) as the number of meters grows: both
calls read the store ``batch_assets`` assets at a time, so the peak is bound by the batch. In
one process, the batches after the first peak higher than the first (the allocators' state
after a batch differs from a fresh process's), which is why the job runs each batch in its
own process; ``detect`` here runs in one process and shows that growth. The batch is 200 assets
here (not the default 500) so that the smallest size already fills whole batches; a store
smaller than one batch would make the smallest size look cheaper than the batch costs.

Checks (a failed one publishes nothing): the inspection reports exactly the findings of
``detect`` (same asset, metric, kind and start), all marked ``new`` (a first run); its run
record is ``complete``; every output file exists.

    .venv/bin/python -m benchmarks.bench_inspect [--sizes 200,400,800] [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import Checks, in_child, table

TITLE = "Annual inspection: end-to-end time and peak memory"
# what `make bench` runs on 2 cores in about 15 minutes per store; the 2,000 and 10,000
# meters: `--sizes 200,2000,10000` (hours here)
SIZES = (200, 400, 800)
QUICK_SIZES = (20, 60)
YEARS = (2024, 2025)
BATCH_ASSETS = 200
EXECUTOR = "process"  # what `griddiag inspect` uses
FLAT = 1.20  # largest peak / smallest peak


def _open(kind: str, path: str, dsn: str | None, schema: str | None):
    if kind == "parquet":
        from griddiag.storage.parquet import ParquetStore

        return ParquetStore(path, create=False)
    from griddiag.storage.timescale import TimescaleStore

    return TimescaleStore(dsn, schema=schema)


def _load(store, meters: int) -> dict[str, float]:
    from griddiag.sample import iter_utility_batches

    t0 = time.perf_counter()
    readings = 0
    for batch in iter_utility_batches(meters=meters, years=YEARS, areas_per_batch=4):
        store.upsert_assets(batch.assets)
        store.write(batch.readings)
        readings += batch.readings.height
    return {"readings": readings, "load_s": time.perf_counter() - t0}


def _detect_case(clock, kind, path, dsn, schema):
    import polars as pl

    import griddiag

    with _open(kind, path, dsn, schema) as store:
        with clock:
            found = griddiag.detect(store, year=YEARS[-1], batch_assets=BATCH_ASSETS)
    return sorted(map(tuple, found.select("asset_id", "metric", "kind", "start")
                      .cast({"start": pl.String}).rows()))


def _inspect_case(clock, kind, path, dsn, schema, out_dir):
    import polars as pl

    from griddiag.inspection import inspect

    with _open(kind, path, dsn, schema) as store:
        with clock:
            result = inspect(store, year=YEARS[-1], baseline_years=list(YEARS[:-1]),
                             out_dir=out_dir, batch_assets=BATCH_ASSETS, executor=EXECUTOR)
        state = store.runs().filter(run_id=result.run_id)["state"].item()
    f = result.findings
    return {
        "keys": sorted(map(tuple, f.select("asset_id", "metric", "kind", "start")
                           .cast({"start": pl.String}).rows())),
        "statuses": sorted(set(f["status"].to_list())),
        "state": state,
        "files": all(Path(p).is_file() for p in result.paths.values()),
        "yoy": result.counts["yoy_rows"],
        "findings": result.counts["findings"],
        "timings": result.timings,
        "batch_peak_mib": result.memory.get("batch_peak_mib"),
    }


def _warm_up(workdir: Path) -> None:
    """One unmeasured inspection of a tiny store, so that numba's cache is warm for every
    measured call, as the table says (a fresh checkout's first call compiled the kernels:
    the first detect of a run measured 40 s instead of 27)."""
    from griddiag.storage.parquet import ParquetStore

    path = str(workdir / "store-warm-up")
    with ParquetStore(path) as store:
        _load(store, 10)
    in_child(_inspect_case, "parquet", path, None, None, str(workdir / "out-warm-up"))


def run(*, dsn: str | None = None, workdir: str | Path | None = None, quick: bool = False,
        sizes: tuple[int, ...] | None = None) -> str:
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-inspect-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = tuple(sizes or (QUICK_SIZES if quick else SIZES))
    stores = ["parquet"] + (["timescale"] if dsn else [])
    checks = Checks()
    rows: list[list[object]] = []
    peaks: dict[str, list[float]] = {s: [] for s in stores}
    _warm_up(workdir)
    for kind in stores:
        for meters in sizes:
            path, schema, cleanup = str(workdir / f"store-{meters}"), None, None
            if kind == "parquet":
                from griddiag.storage.parquet import ParquetStore

                with ParquetStore(path) as store:
                    loaded = _load(store, meters)
            else:
                from griddiag.storage.timescale import temporary_store

                cleanup = temporary_store(dsn, prefix="griddiag_bench_inspect")
                store = cleanup.__enter__()
                schema = store.schema
                loaded = _load(store, meters)
            try:
                base = in_child(_detect_case, kind, path, dsn, schema)
                m = in_child(_inspect_case, kind, path, dsn, schema,
                             str(workdir / f"out-{kind}-{meters}"))
            finally:
                if cleanup is not None:
                    cleanup.__exit__(None, None, None)
            v = m.value
            where = f"{kind}, {meters:,} meters"
            checks.check(v["keys"] == base.value, f"{where}: inspection findings equal "
                         f"detect's", f"{len(v['keys'])} vs {len(base.value)}")
            checks.check(v["statuses"] in ([], ["new"]), f"{where}: a first run's findings "
                         "are all new", str(v["statuses"]))
            checks.check(v["state"] == "complete", f"{where}: run record complete",
                         v["state"])
            checks.check(v["files"], f"{where}: every output file written")
            peak = max(m.peak_rss_mib, v["batch_peak_mib"] or 0.0)
            peaks[kind].append(peak)
            t = v["timings"]
            rows.append([kind, meters, loaded["readings"], loaded["load_s"], base.seconds,
                         base.peak_rss_mib, m.seconds, m.seconds / base.seconds,
                         m.peak_rss_mib, v["batch_peak_mib"], peak, v["findings"], v["yoy"],
                         t["detect_s"], t["yoy_s"], t["charts_s"], t["read_s"],
                         t["outputs_s"]])
    out = [f"Sample utility, {len(YEARS)} years ({YEARS[0]}-{YEARS[-1]}) of 15-minute data, "
           f"inspection of {YEARS[-1]} against {YEARS[0]}, batches of {BATCH_ASSETS} assets "
           f"(whole transformer areas). Each call in a fresh spawned process (numba cache "
           f"warm); peak RSS is that process's high-water mark during the call. The "
           f"inspection runs with executor={EXECUTOR!r} (as `griddiag inspect`): its peak is "
           f"the larger of the driver's and the largest batch process's.", "",
           table(["store", "meters", "readings", "load s", "detect s (baseline)",
                  "detect peak MiB", "inspect s", "inspect / detect", "driver peak MiB",
                  "batch process peak MiB", "inspect peak MiB", "findings", "yoy rows", "detect part s", "yoy part s", "charts part s",
                  "read part s", "outputs s"], rows), ""]
    for kind, p in peaks.items():
        if len(p) > 1:
            ratio = max(p) / min(p)
            out.append(f"- {kind}: peak memory from {sizes[0]:,} to {sizes[-1]:,} meters "
                       f"varies by {ratio:.2f}x (target within {FLAT:.2f}x: "
                       f"{'met' if ratio <= FLAT else 'missed'}).")
    out += ["", "Correctness checks:", "", checks.markdown(), ""]
    report = "\n".join(out)
    checks.raise_if_failed(report)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)),
                    help="meters per run, comma-separated (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    ap.add_argument("--dsn", default=os.environ.get("GRIDDIAG_TEST_DSN"))
    a = ap.parse_args()
    sizes = None if a.quick else tuple(int(s) for s in a.sizes.split(",") if s.strip())
    print(run(dsn=a.dsn, quick=a.quick, sizes=sizes))


if __name__ == "__main__":
    main()
