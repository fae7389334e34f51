"""A second process compiling kernels while a run starts on a cold numba cache.

The first run after an install, an upgrade or a cleared cache compiles griddiag's kernels
before it can use them: about 60 for the default profile, 35-40 s on a 2-core machine, all
on one core, because numba compiles under a process-wide lock (threads cannot share the
work). When most of the kernels imported so far have no cached machine code,
:func:`compile_helper` starts a second Python process that runs the same profile over a small
slice of the batch *in the opposite order* (:func:`griddiag.detect.run_backwards`) and throws
its findings away. Both processes save what they compile to the same cache, and each loads
from it what the other has already saved when it gets there, so they meet about half-way:
measured by bench_detect on the default profile, one area x 14 days, 2 cores: 36 s -> 22 s
to the first result. The findings are the run's own; the helper only fills the cache.

- The slice: the first transformer area (or single asset) holding each asset kind of the
  batch, over the batch's first :data:`SLICE_DAYS` days: the same code paths and argument
  types as the batch, in a fraction of a second of work.
- The helper is a plain ``python -c`` subprocess reading the slice from a private temporary
  folder, not :mod:`multiprocessing`: it never imports the caller's ``__main__`` script. It is
  stopped when the batch is done; what it saved is complete (numba writes each file under a
  temporary name, and the two processes lock the cache's files,
  :mod:`griddiag.kernels._cache`). It deletes its copy of the slice once read, and ends on its
  own when its run is done if the caller is killed. It holds about 300 MB of memory while it
  runs (measured on the slice above).
- It starts only with numba's cache on, two kernel threads or more (it uses the second core;
  ``NUMBA_NUM_THREADS=1``, ``GRIDDIAG_NUMBA_PARALLEL=0`` and the Dask executor's one thread
  per worker rule it out), a profile read from a file, and locked cache files; never from a
  helper; ``GRIDDIAG_COMPILE_HELPER=0`` turns it off.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from griddiag.detectors.profile import Profile

__all__ = ["SLICE_DAYS", "compile_helper", "compile_slice", "helper_wanted"]

log = logging.getLogger(__name__)

#: Days of the batch the helper compiles on: four weeks give the weekly and day-type
#: detectors the data that makes them call their kernels.
SLICE_DAYS: int = 28

# the switch of config.COMPILE_HELPER, set to 0 in the helper's environment: a helper never
# starts another
_SWITCH = "GRIDDIAG_COMPILE_HELPER"


def helper_wanted(prof: Profile) -> bool:
    """Whether a run of ``prof`` here would start a helper now (see the module docstring)."""
    import numba

    from griddiag import config
    from griddiag.kernels._cache import cache_files_locked, uncached_kernels

    if not (config.COMPILE_HELPER and config.NUMBA_CACHE and config.NUMBA_PARALLEL):
        return False
    if not sys.executable or not Path(prof.source).is_file() or not cache_files_locked():
        return False
    uncached, total = uncached_kernels()
    # the thread count last: asking for it starts numba's threading layer, which a warm
    # start of a small batch never needs (0.1-0.2 s)
    return total > 0 and 2 * uncached > total and numba.get_num_threads() >= 2


def compile_slice(readings: pl.DataFrame, assets: pl.DataFrame, ids: pl.Series,
                  days: int = SLICE_DAYS) -> pl.DataFrame:
    """The readings the helper compiles on: for each asset kind among ``ids`` (the batch's
    distinct asset ids), the first area holding it (a meter's area is its transformer with
    all its meters; any other asset is an area of its own), over the first ``days`` days."""
    areas = (assets.filter(pl.col("asset_id").is_in(ids.implode()))
             .select("asset_id", pl.col("kind").fill_null("unknown"),
                     pl.when(pl.col("kind") == "meter").then(pl.col("parent_id"))
                     .otherwise(None).fill_null(pl.col("asset_id")).alias("area")))
    first = areas.group_by("kind").agg(pl.col("area").min())["area"]
    chosen = areas.filter(pl.col("area").is_in(first.implode()))["asset_id"]
    if chosen.len() == 0:  # assets unknown to the registry: the first one
        chosen = ids.head(1)
    start = readings["ts"].min()
    return readings.filter(pl.col("asset_id").is_in(chosen.implode())
                           & (pl.col("ts") < start + timedelta(days=days)))


@contextmanager
def compile_helper(readings: pl.DataFrame, assets: pl.DataFrame, prof: Profile,
                   ids: pl.Series, *, two_lanes: bool) -> Iterator[bool]:
    """Run the block with a compile helper beside it when the kernel cache is cold (see the
    module docstring); yields whether one was started. ``ids``: the batch's distinct asset
    ids; ``two_lanes``: whether the block runs :func:`griddiag.detect.detect_batch`'s two
    lanes (the helper then goes the other way round them)."""
    if not helper_wanted(prof):
        yield False
        return
    folder = Path(tempfile.mkdtemp(prefix="griddiag-compile-"))
    try:
        proc = _start(folder, compile_slice(readings, assets, ids), assets, prof, two_lanes)
    except (OSError, pl.exceptions.PolarsError) as exc:  # no helper; the run goes on alone
        log.debug("compile helper not started: %s", exc)
        shutil.rmtree(folder, ignore_errors=True)
        yield False
        return
    try:
        yield True
    finally:
        _stop(proc, folder)


def _start(folder: Path, sliced: pl.DataFrame, assets: pl.DataFrame, prof: Profile,
           two_lanes: bool) -> subprocess.Popen:
    sliced.write_parquet(folder / "readings.parquet")
    assets.write_parquet(folder / "assets.parquet")
    (folder / "job.json").write_text(json.dumps({"profile": str(Path(prof.source).resolve()),
                                                 "two_lanes": two_lanes}), encoding="utf-8")
    # the same griddiag as this process, wherever it was imported from
    root = str(Path(__file__).resolve().parents[1])
    code = (f"import sys; sys.path.insert(0, {root!r}); "
            f"from griddiag.cold_start import _helper_main; _helper_main({str(folder)!r})")
    with open(folder / "helper.log", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, _SWITCH: "0"})
    log.debug("compile helper started (pid %d) on %d readings", proc.pid, sliced.height)
    return proc


def _stop(proc: subprocess.Popen, folder: Path) -> None:
    try:
        if proc.poll() is None:
            proc.terminate()  # whatever it saved is complete; the rest this run compiled
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        elif proc.returncode != 0:
            tail = (folder / "helper.log").read_text(encoding="utf-8", errors="replace")
            log.debug("compile helper exited with %d: %s", proc.returncode, tail[-2000:])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _helper_main(folder: str) -> None:
    """The helper process: :func:`griddiag.detect.run_backwards` on the slice in ``folder``."""
    from griddiag.detect import run_backwards
    from griddiag.detectors.profile import load_profile

    inputs = [Path(folder) / name for name in ("job.json", "readings.parquet", "assets.parquet")]
    job = json.loads(inputs[0].read_text(encoding="utf-8"))
    readings, assets = (pl.read_parquet(p) for p in inputs[1:])
    for p in inputs:  # a caller killed meanwhile leaves no copy of its data behind
        p.unlink()
    run_backwards(readings, assets, load_profile(job["profile"]), two_lanes=job["two_lanes"])
