"""Where the inspection's batches run: in this process, or on a Dask cluster.

The unit of work is one batch of whole transformer areas (a list of asset ids) over every year
the job needs. :func:`run_batch` is the whole of a batch's work and nothing else: it opens the
store from its URL, reads the batch, runs the detectors, the batch's year-over-year measures,
its chart candidates and its coverage, and returns them (:class:`BatchResult`). It writes
nothing and shares no state, so it can run anywhere the store is reachable, be retried after a
lost worker, and run twice without harm. The driver (:func:`griddiag.inspection.job.inspect`)
does everything that needs the whole population or the store's run record: statuses against
the previous run, staging findings, q-values and ranks, the output files.

- :class:`LocalExecutor` runs the batches one after the other in this process, on the store the
  caller opened (the single-process behaviour of earlier versions).
- :class:`ProcessExecutor` runs them one after the other too, each in a fresh child process
  that opens the store from its URL and exits after its batch. Every batch then starts from a
  clean heap: what one batch's allocations leave fragmented cannot raise the next one's peak,
  so the job's peak memory is one batch's, however many batches the store holds (the driver
  only keeps the small results). This costs the child's start and loading the cached kernels,
  about a second per batch. The scheduled job (``griddiag inspect``) uses it by default.
- :class:`DaskExecutor` submits them to a ``distributed.Client``: an existing cluster
  (``scheduler="tcp://host:8786"``) or a ``LocalCluster`` of ``workers`` single-threaded
  processes. Results come back as they complete; the driver puts them back in batch order
  before using them, so the output never depends on which worker finished first. A batch whose
  worker dies is rescheduled by Dask; a batch that raises is retried ``retries`` times, and one
  that kills workers repeatedly (``KilledWorker``) is resubmitted up to ``retries`` times.

Dask is an optional extra: ``pip install 'griddiag[dask]'``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from griddiag.detect import plan_batches  # the batching rule lives with detect()
from griddiag.exceptions import ConfigError

__all__ = [
    "EXECUTORS",
    "BatchParams",
    "BatchResult",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "ProcessExecutor",
    "make_executor",
    "peak_rss_mib",
    "plan_batches",
    "process_batch",
    "run_batch",
    "store_url_for_workers",
]

EXECUTORS = ("local", "process", "dask")
#: resubmissions of a batch that raised or whose workers kept dying
DEFAULT_RETRIES = 2
DASK_MISSING = ("--executor dask needs Dask (dask.distributed): pip install 'griddiag[dask]'")

BatchFn = Callable[[Any, Sequence[str], "BatchParams"], "BatchResult"]


@dataclass(frozen=True)
class BatchParams:
    """What every batch needs besides its asset ids: the same for the whole run.

    ``assets`` is the full registry (time zones filled): detectors look up a meter's
    transformer and feeder, which may be outside the batch's own rows.
    """

    assets: pl.DataFrame
    profile: Any
    year: int
    baseline: tuple[int, ...]
    lo: datetime
    hi: datetime
    y0: datetime
    y1: datetime
    period_end: date
    run_id: str
    top_n: int
    #: numba threads in the process running the batch (None: leave as configured)
    numba_threads: int | None = None


@dataclass
class BatchResult:
    """One batch's results, before any population step (small: no readings)."""

    asset_ids: list[str]
    #: ``FINDINGS_SCHEMA`` with this run's id; ``status`` is set by the driver
    findings: pl.DataFrame
    #: year-over-year measures without the population columns (None without a baseline)
    yoy: pl.DataFrame | None
    coverage: pl.DataFrame
    charts: Any  # griddiag.inspection.charts.ChartCandidates
    #: readings in the inspected year: first and last ts, count, assets with any
    stats: dict[str, Any]
    #: seconds per step in the process that ran the batch (read_s, detect_s, yoy_s, charts_s)
    timings: dict[str, float] = field(default_factory=dict)
    #: where it ran ("host:pid"), for logs and the benchmark
    worker: str = ""
    #: peak resident memory (MiB) of the process that ran it, by the batch's end (None where
    #: the system does not report it); with ProcessExecutor, the batch's own peak
    peak_rss_mib: float | None = None


def process_batch(readings: pl.DataFrame, asset_ids: Sequence[str], params: BatchParams
                  ) -> BatchResult:
    """Everything computed from one batch's readings (see the module docstring)."""
    from griddiag.detect import detect_batch
    from griddiag.inspection.charts import (
        MONTHLY_SCHEMA,
        PROFILE_SCHEMA,
        WINDOW_SCHEMA,
        ChartCandidates,
        chart_candidates,
    )
    from griddiag.inspection.job import FDR_ALPHA, _compare_batch, _coverage, _year_series
    from griddiag.schema import empty_findings

    timings = {"detect_s": 0.0, "yoy_s": 0.0, "charts_s": 0.0}
    if readings.height == 0:
        from griddiag.inspection.job import _COVERAGE_SCHEMA

        none = ChartCandidates(None, pl.DataFrame(schema=WINDOW_SCHEMA), None,
                               pl.DataFrame(schema=MONTHLY_SCHEMA),
                               pl.DataFrame(schema=PROFILE_SCHEMA))
        return BatchResult(list(asset_ids), empty_findings(), None,
                           pl.DataFrame(schema=_COVERAGE_SCHEMA), none, _stats(None), timings)
    reg = params.assets
    t0 = time.perf_counter()
    found = detect_batch(readings, reg, params.profile, year=params.year)
    found = found.with_columns(run_id=pl.lit(params.run_id, pl.String))
    timings["detect_s"] = time.perf_counter() - t0
    part = None
    if params.baseline:
        t0 = time.perf_counter()
        part = _compare_batch(readings, reg, params.year, list(params.baseline), found,
                              params.profile, params.period_end)
        timings["yoy_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = readings["asset_id"].unique()
    batch_reg = reg.filter(pl.col("asset_id").is_in(ids.implode()))
    tz_of = dict(zip(batch_reg["asset_id"].to_list(),
                     batch_reg["tz"].fill_null("UTC").to_list(), strict=True))
    years = tuple(sorted([*params.baseline, params.year]))
    charts = chart_candidates(readings, found, part, tz_of, n=params.top_n, years=years,
                              fdr=FDR_ALPHA)
    year = _year_series(readings, params.y0, params.y1)
    cov = _coverage(year, params.y0, params.y1)
    timings["charts_s"] = time.perf_counter() - t0
    return BatchResult(list(asset_ids), found, part, cov, charts, _stats(year), timings)


def _stats(year: tuple | None) -> dict[str, Any]:
    """The inspected year's readings of a batch (:func:`griddiag.inspection.job._year_series`;
    ``None`` for a batch without readings): first and last ts, count, assets with any."""
    import numpy as np

    from griddiag.schema import TS_DTYPE

    if year is None or year[1].size == 0:
        return {"data_start": None, "data_end": None, "readings": 0, "assets_with_data": 0}
    sr, s, first, end = year
    start, last = pl.Series([sr.t[first].min(), sr.t[end - 1].max()]).cast(TS_DTYPE)
    return {"data_start": start, "data_end": last, "readings": int((end - first).sum()),
            "assets_with_data": int(np.unique(sr.series_asset[s]).size)}


def run_batch(store: Any, asset_ids: Sequence[str], params: BatchParams) -> BatchResult:
    """Read one batch from ``store`` and process it (:func:`process_batch`).

    ``store`` is a store URL (a worker opens, reads and closes it: nothing is shared between
    batches) or, in-process, an open :class:`griddiag.storage.base.Store`. Writes nothing.
    """
    from griddiag.schema import empty_readings
    from griddiag.storage import open_store
    from griddiag.storage.base import Store

    _set_numba_threads(params.numba_threads)
    t0 = time.perf_counter()
    ids = list(asset_ids)
    if isinstance(store, Store):
        parts = list(store.read_batches(ids, None, params.lo, params.hi,
                                        batch_assets=len(ids) + 1))
    else:
        with open_store(store, create=False) as opened:
            parts = list(opened.read_batches(ids, None, params.lo, params.hi,
                                             batch_assets=len(ids) + 1))
    readings = (parts[0] if len(parts) == 1 else pl.concat(parts) if parts
                else empty_readings())
    read_s = time.perf_counter() - t0
    result = process_batch(readings, ids, params)
    result.timings["read_s"] = read_s
    result.worker = f"{os.uname().nodename}:{os.getpid()}"
    del parts, readings
    release_freed_memory()
    result.peak_rss_mib = peak_rss_mib()
    return result


def peak_rss_mib() -> float | None:
    """This process's peak resident memory in MiB (Linux ``VmHWM``; None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def release_freed_memory() -> None:
    """Give the memory a finished batch freed back to the operating system.

    A batch frees gigabytes in blocks of every size, and glibc keeps freed heap memory for
    reuse. ``malloc_trim`` (glibc only; a no-op elsewhere) returns the free pages, so a process
    that runs several batches does not carry one batch's leftovers into the next. It cannot undo
    the fragmentation of what stays allocated: in one process the later batches still peak
    higher than the first (measured: 2,739, 2,848, 3,023 MiB on three batches of one store),
    which is why ``griddiag inspect`` runs each batch in its own process (:class:`ProcessExecutor`).
    """
    import gc

    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_TRIM: list[Any] = []


def _malloc_trim() -> Any:
    if not _TRIM:
        import ctypes
        import ctypes.util

        fn = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            fn = getattr(libc, "malloc_trim", None)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
        except OSError:  # no C library by that name (not glibc): nothing to trim
            fn = None
        _TRIM.append(fn)
    return _TRIM[0]


def _set_numba_threads(n: int | None) -> None:
    """At most ``n`` numba threads here, so worker processes sharing a machine's cores do
    not each start a thread per core (only lowers: never above the process's launch limit)."""
    if not n:
        return
    import numba

    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


def store_url_for_workers(store: Any) -> str:
    """A URL other processes can open ``store`` with: the Parquet store's absolute directory
    (it must be on storage every worker mounts at the same path), or the TimescaleDB DSN with
    its schema (the password included: workers must log in too)."""
    from griddiag.storage.parquet import ParquetStore

    if isinstance(store, ParquetStore):
        return str(store.root.resolve())
    dsn = getattr(store, "_dsn", None)
    schema = getattr(store, "schema", None)
    if isinstance(dsn, str) and dsn.startswith(("postgresql://", "postgres://")):
        return dsn + ("&" if "?" in dsn else "?") + f"schema={schema}" if schema else dsn
    raise ConfigError(f"cannot tell Dask workers how to open {store!r}: open the store from a "
                      "postgresql:// URL or a directory, or pass store_url=")


class Executor:
    """Runs batches; yields ``(index, BatchResult)`` in completion order."""

    name = "executor"

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release what the executor started (nothing for the local one)."""

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name}

    def numba_threads(self) -> int | None:
        return None

    def map(self, fn: BatchFn, store: Any, store_url: str | None,
            batches: Sequence[Sequence[str]], params: BatchParams
            ) -> Iterator[tuple[int, BatchResult]]:
        raise NotImplementedError


class LocalExecutor(Executor):
    """Every batch in this process, in order, on the store the caller opened."""

    name = "local"

    def map(self, fn, store, store_url, batches, params):
        for i, ids in enumerate(batches):
            yield i, fn(store, ids, params)


class ProcessExecutor(Executor):
    """Every batch in its own fresh child process, one at a time (see the module docstring).

    The children start from a ``forkserver``: a clean process that has imported griddiag
    once, and what the profile's checks import only when they run (PyOD for the theft checks,
    :meth:`griddiag.detectors.profile.Profile.lazy_imports`: about 3 s that every batch
    process paid), so a child is forked from it in milliseconds with the modules loaded and
    without the driver's heap or threads. The fork server is started once per driver process:
    a later job in it keeps the first one's preloads. ``fn`` must be importable by name (a
    module-level function).
    """

    name = "process"
    #: modules the fork server imports once, so that every child starts with them
    PRELOAD = ("griddiag.inspection.executor", "griddiag.inspection.job", "griddiag.detect",
               "griddiag.detectors.grid", "griddiag.yoy")

    def map(self, fn, store, store_url, batches, params):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if store_url is None:
            store_url = store_url_for_workers(store)
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([*self.PRELOAD, *params.profile.lazy_imports()])
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx, max_tasks_per_child=1,
                                 initializer=_exit_with_driver,
                                 initargs=(os.getpid(),)) as pool:
            for i, ids in enumerate(batches):
                yield i, pool.submit(fn, store_url, list(ids), params).result()


def _exit_with_driver(driver_pid: int) -> None:
    """Initializer of a batch process: exit once the driver is gone.

    A ``concurrent.futures`` worker waits on a queue whose both ends it holds, so when the
    driver is killed (a scheduler's timeout, SIGKILL) it would wait for ever, and keep its fork
    server alive too. A daemon thread checks every second that the driver still runs.
    """
    import threading

    def driver_alive() -> bool:
        try:
            os.kill(driver_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, under another user
            return True
        try:  # killed but not yet reaped by its parent
            with open(f"/proc/{driver_pid}/status", encoding="ascii") as fh:
                return not any(line.startswith("State:") and "Z" in line.split()[1:2]
                               for line in fh)
        except OSError:
            return True

    def watch() -> None:
        while driver_alive():
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="griddiag-driver-watch", daemon=True).start()


def _require_dask():
    try:
        import distributed
    except ImportError:
        raise ConfigError(DASK_MISSING) from None
    return distributed


class DaskExecutor(Executor):
    """Batches on a Dask cluster (see the module docstring).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``). Its workers must reach the
        store by the same URL (shared storage for Parquet; a reachable database).
    workers : int, optional
        Without ``scheduler``: start a ``LocalCluster`` of this many single-threaded worker
        processes (default: the machine's cores), closed again by :meth:`close`.
    client : distributed.Client, optional
        Use this client (neither started nor closed here).
    retries : int
        Retries of a batch that raised, and resubmissions of a batch whose workers died.
    numba_threads : int, optional
        Numba threads per batch; default for a local cluster: cores // workers (so the
        processes do not oversubscribe the cores), for a remote one: as the workers were
        started (set ``NUMBA_NUM_THREADS`` in their environment).
    """

    name = "dask"

    def __init__(self, *, scheduler: str | None = None, workers: int | None = None,
                 client: Any = None, retries: int = DEFAULT_RETRIES,
                 numba_threads: int | None = None) -> None:
        distributed = _require_dask()
        if scheduler is not None and workers is not None:
            raise ConfigError("give either scheduler (an existing cluster) or workers (a local "
                              "cluster), not both")
        if workers is not None and int(workers) < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        if retries < 0:
            raise ConfigError(f"retries must be >= 0, got {retries}")
        self.retries = int(retries)
        self._own: list[Any] = []
        cores = os.cpu_count() or 1
        if client is not None:
            self.client = client
            self._threads = numba_threads
        elif scheduler is not None:
            try:
                self.client = distributed.Client(scheduler, timeout="30s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the Dask scheduler {scheduler}: {exc}"
                                  ) from exc
            self._own.append(self.client)
            self._threads = numba_threads
        else:
            n = int(workers) if workers is not None else cores
            self._threads = numba_threads or max(1, cores // n)
            cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                # set before numba is imported in the worker: its thread pool's size
                env={"NUMBA_NUM_THREADS": str(self._threads), "OMP_NUM_THREADS": "1",
                     "POLARS_MAX_THREADS": str(self._threads)})
            self._own.append(cluster)
            self.client = distributed.Client(cluster)
            self._own.insert(0, self.client)

    def close(self) -> None:
        for thing in self._own:
            try:
                thing.close()
            except Exception:  # closing is best effort: results are already in hand
                pass
        self._own = []

    def describe(self) -> dict[str, Any]:
        info = self.client.scheduler_info() if hasattr(self.client, "scheduler_info") else {}
        return {"executor": self.name, "scheduler": getattr(self.client, "scheduler", None)
                and str(self.client.scheduler.address),
                "workers": len(info.get("workers", {})), "numba_threads": self._threads}

    def numba_threads(self) -> int | None:
        return self._threads

    def map(self, fn, store, store_url, batches, params):
        distributed = _require_dask()
        if store_url is None:
            store_url = store_url_for_workers(store)
        # the registry goes to the cluster once, not once per batch; as a task (not scattered
        # data) so the scheduler can recompute it if every worker holding it dies
        shared = self.client.submit(_identity, params, pure=False,
                                    key=f"griddiag-params-{params.run_id}")
        futures: dict[Any, int] = {}
        attempts = [0] * len(batches)

        def submit(i: int) -> Any:
            fut = self.client.submit(fn, store_url, list(batches[i]), shared, pure=False,
                                     retries=self.retries,
                                     key=f"griddiag-batch-{params.run_id}-{i}-{attempts[i]}")
            futures[fut] = i
            return fut

        done = distributed.as_completed([submit(i) for i in range(len(batches))],
                                        with_results=False)
        try:
            for fut in done:
                i = futures.pop(fut)
                try:
                    result = fut.result()
                except distributed.KilledWorker:
                    # the batch's workers died allowed-failures times: try again, a few times
                    attempts[i] += 1
                    if attempts[i] > self.retries:
                        raise
                    done.add(submit(i))
                    continue
                finally:
                    fut.release()
                yield i, result
        finally:
            for fut in list(futures):
                fut.cancel()
            self.client.cancel([shared])


def _identity(x: Any) -> Any:
    return x


def make_executor(executor: str | Executor = "local", *, scheduler: str | None = None,
                  workers: int | None = None) -> Executor:
    """An executor from ``inspect``'s arguments (an :class:`Executor` is used as given)."""
    if isinstance(executor, Executor):
        if scheduler is not None or workers is not None:
            raise ConfigError("scheduler and workers go to DaskExecutor(...), not beside it")
        return executor
    if executor in ("local", "process"):
        if scheduler is not None or workers is not None:
            raise ConfigError("scheduler/workers need executor='dask' (--executor dask)")
        return LocalExecutor() if executor == "local" else ProcessExecutor()
    if executor == "dask":
        return DaskExecutor(scheduler=scheduler, workers=workers)
    raise ConfigError(f"executor {executor!r}: expected one of {EXECUTORS}")
