"""Calling a kernel: threads over whole series, one thread for small batches, one compiled
signature per kernel.

Every public kernel function calls its private numba kernel through :func:`launch` (one call)
or :func:`launch_series` (the series split into chunks run on threads), so the few rules about
*how* a kernel is called live here:

- Kernels with real work per slot (rolling statistics, the spike's daily peaks, register
  classification, same period last year, the seasonal profile, the year-over-year statistics,
  the energy balance's day sums and merge walks) loop over a range of series,
  ``for s in range(first, end)``, and run under :func:`launch_series`: it splits the series
  into chunks of about equal values and runs the chunks on a pool of threads (the kernels
  release the GIL: ``nogil=True``). This replaces numba's ``parallel=True``/``prange``, which
  gave the same speed but compiled each kernel's parallel region separately: 1-3 s per
  kernel on a cold cache. Measured here with numba's compile events on the default profile
  (41 s cold then): the five parallel kernels' own compile took 8.4 s, the plain loops that
  replaced them take 2.6 s. ``prange`` also started numba's threading layer (0.1-0.2 s) at
  every warm start. The run-length kernels (:mod:`griddiag.kernels.runs`), memory-bound,
  run under it too, but on threads only from
  :data:`~griddiag.config.MEMORY_BOUND_MIN_VALUES` values.
- Waking worker threads costs microseconds on an idle machine but milliseconds on a busy one
  (measured here: 7 ms per call with 2 threads on a loaded 2-core box, against 0.1 ms on the
  calling thread alone), which would dominate the many small calls of tests, notebooks and
  single-asset checks. Below :data:`griddiag.config.PARALLEL_MIN_VALUES` values a series kernel
  runs on the calling thread. Above it the thread count is numba's for the calling thread
  (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``), so the usual knob still limits griddiag,
  e.g. in worker processes sharing a machine's cores; ``GRIDDIAG_NUMBA_PARALLEL=0`` keeps
  every kernel on the calling thread.
- numba compiles (and caches, and loads at the first call of every process) one machine-code
  version per argument *type*, and a read-only array is another type than a writable one.
  polars hands out read-only NumPy views of its columns (``Series.to_numpy()`` copies nothing),
  so the same kernel was compiled twice, once for a writable and once for a read-only offsets
  array. Small read-only arrays (offsets, indices: at most :data:`COPY_READONLY_MAX` elements)
  are therefore copied, which costs microseconds; large ones are passed as they are, since
  copying them would cost memory (they then get their own version, as before).
- A large batch also runs in two *lanes* (:func:`side_lane`, used by
  :func:`griddiag.detect.detect_batch`): the electrical and theft checks, much of them
  Python, on a second thread beside the detectors, whose kernels and array work release the
  GIL. On 2 cores the whole profile was a one-thread run most of the time (CPU time equal to
  wall time); the lanes split numba's thread count between them, so together they use no
  more threads.
- Processes that share numba's on-disk cache (the cold-start compile helper, the inspection's
  batch processes, Dask workers) lock its files while they save or load, which numba does not
  (:func:`griddiag.kernels._cache.lock_cache_files`, installed when this module is imported).
- A load from that cache skips numba's refresh of its whole compiler context, which only
  compiling reads (:func:`griddiag.kernels._cache.load_without_refresh`, installed here too;
  0.25 s of a warm start).
- At its first compile numba imports ``numba.np.arraymath``, whose import-time BLAS probe
  imports ``scipy.linalg`` (0.2-0.4 s); the probe is skipped (:func:`_skip_blas_probe`, run
  when numba first loads its registries, so a warm start, which compiles nothing, does not
  import ``arraymath`` at all).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numba
import numpy as np

from griddiag.config import NUMBA_PARALLEL, PARALLEL_MIN_VALUES, SIDE_LANE_MIN_VALUES
from griddiag.kernels._cache import load_without_refresh, lock_cache_files, patch_method

__all__ = ["CHUNKS_PER_THREAD", "COPY_READONLY_MAX", "launch", "launch_series", "side_lane",
           "side_lane_threads", "thread_map"]

T = TypeVar("T")
R = TypeVar("R")

#: Chunks of series per thread: more than one, so a thread that finishes early takes another
#: chunk when series cost unequal time (gaps, NaN runs), without a chunk per series.
CHUNKS_PER_THREAD: int = 4

#: Read-only array arguments with at most this many elements are copied (see the docstring).
COPY_READONLY_MAX: int = 1 << 16


def _skip_blas_probe() -> None:
    """Import ``numba.np.arraymath`` without its import-time ``import scipy.linalg``.

    ``arraymath`` sets ``_HAVE_BLAS = _check_blas()`` when imported, and ``_check_blas`` calls
    ``numba.np.linalg.ensure_blas``, which imports ``scipy.linalg.cython_blas`` and with it all of
    ``scipy.linalg``. griddiag's kernels call no BLAS routine, and scipy (a dependency of
    griddiag) always ships ``cython_blas``, so the probe's answer is known: the probe is
    replaced by a no-op for the duration of that one import. Compiling a function that does
    use BLAS or LAPACK still calls the real ``ensure_blas`` (restored right after), which
    imports scipy then. Skipped when numba's internals differ from what is expected here (the
    probe then simply runs), when ``arraymath`` is already imported, and without scipy.
    """
    import importlib.util
    import sys

    if "numba.np.arraymath" in sys.modules or importlib.util.find_spec("scipy") is None:
        return
    try:
        from numba.np import linalg
    except ImportError:  # pragma: no cover - numba layout changed
        return
    probe = getattr(linalg, "ensure_blas", None)
    if probe is None:  # pragma: no cover - numba layout changed
        return
    linalg.ensure_blas = lambda: None
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        linalg.ensure_blas = probe


def _skip_blas_probe_when_compiling() -> None:
    """Run :func:`_skip_blas_probe` just before numba's CPU context first loads its registries
    (which imports ``arraymath``: at the first compile, since cache loads no longer refresh
    the context); idempotent."""
    try:
        from numba.core.cpu import CPUContext
    except ImportError:  # pragma: no cover - numba layout changed
        return

    def probe_skipped(load):
        def load_additional_registries(self):
            _skip_blas_probe()  # returns at once when arraymath is imported
            return load(self)

        return load_additional_registries

    patch_method(CPUContext, "load_additional_registries", probe_skipped)


_skip_blas_probe_when_compiling()
lock_cache_files()
load_without_refresh()


def _writable(a):
    if (isinstance(a, np.ndarray) and not a.flags.writeable
            and a.size <= COPY_READONLY_MAX):
        return a.copy()
    return a


def launch(kernel, *args):
    """``kernel(*args)`` on the calling thread, small read-only arrays copied (see the module
    docstring): for kernels whose work does not split by series, or is light per value
    (memory-bound; each such kernel says why it stays on one thread)."""
    return kernel(*(_writable(a) for a in args))


def launch_series(kernel, offsets: np.ndarray, *args, min_values: int | None = None) -> None:
    """``kernel(first, end, *args)`` over the series ``0 .. len(offsets) - 2``: in one call
    below :data:`~griddiag.config.PARALLEL_MIN_VALUES` values (or below ``min_values``, where
    that is larger: memory-bound kernels pass
    :data:`~griddiag.config.MEMORY_BOUND_MIN_VALUES`), else in chunks of whole series (about
    equal values each) on a pool of threads.

    ``offsets`` (int64, ``n_series + 1``) weighs the chunks; the kernel, which receives it (or
    an array like it) among ``args``, must write only the outputs of series ``first .. end -
    1`` and release the GIL, so chunks may run at once. It returns nothing: results are in the
    output arrays the caller passed. At most the thread count's chunks run at once. An
    exception in a chunk stops its thread, the others go on; it is raised here once they
    have all stopped.
    """
    args = tuple(_writable(a) for a in args)
    n_series = int(offsets.shape[0]) - 1
    if n_series <= 0:
        return
    n_values = int(offsets[-1] - offsets[0])
    threads = 1 if min_values is not None and n_values < min_values else _thread_count(n_values)
    if threads == 1 or n_series == 1:
        kernel(0, n_series, *args)
        return
    bounds = _chunk_bounds(offsets, threads * CHUNKS_PER_THREAD)
    chunks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    _on_threads(lambda chunk: kernel(chunk[0], chunk[1], *args), chunks,
                min(threads, len(chunks)))


def thread_map(fn: Callable[[T], R], items: Sequence[T], n_values: int) -> list[R]:
    """``[fn(x) for x in items]``, on the kernel threads (as many at once as
    :func:`launch_series` would use for ``n_values`` values; on the calling thread below
    :data:`~griddiag.config.PARALLEL_MIN_VALUES`): for array work outside a kernel that
    releases the GIL, such as NumPy copies or polars' comparisons. ``fn`` must not depend on
    the order its calls run in. An exception is raised once every thread has stopped."""
    threads = min(_thread_count(n_values), len(items))
    if threads < 2:
        return [fn(x) for x in items]
    out: list = [None] * len(items)

    def at(i: int) -> None:
        out[i] = fn(items[i])

    _on_threads(at, range(len(items)), threads)
    return out


def _on_threads(fn: Callable[[T], object], items: Iterable[T], threads: int) -> None:
    """``fn(x)`` for every item, on ``threads`` threads of the pool that take the next item
    when free (so items of unequal cost even out)."""
    todo = iter(items)
    lock = threading.Lock()

    def work() -> None:
        # ``threads`` of these share the items: never more at once than the thread count
        # allows, whatever the pool's size (it is sized for the most threads numba may use)
        while True:
            with lock:
                item = next(todo, _DONE)
            if item is _DONE:
                return
            fn(item)

    futures = [_pool().submit(work) for _ in range(threads)]
    errors = [f.exception() for f in futures]  # waits for every worker
    for e in errors:
        if e is not None:
            raise e


_DONE = object()


@contextmanager
def side_lane(n_values: int) -> Iterator[Callable[..., Future] | None]:
    """A second thread for a batch's independent work, beside the calling thread.

    Yields ``submit(fn, *args) -> Future``, or ``None`` for a batch below
    :data:`~griddiag.config.SIDE_LANE_MIN_VALUES` values or with one kernel thread to use
    (one core, ``GRIDDIAG_NUMBA_PARALLEL=0``): the caller then runs that work itself. The
    kernel threads (numba's count for the calling thread) are split between the two lanes
    while the block lasts, so together they never use more (on 2 cores: one each, and no
    kernel waits for a pool thread); the caller's count is restored on exit, which waits for
    the side work.
    """
    total = side_lane_threads(n_values)
    if total < 2:
        yield None
        return
    before = numba.get_num_threads()
    side = total // 2

    def run(fn, *args):
        numba.set_num_threads(side)  # numba's count is per thread
        return fn(*args)

    with ThreadPoolExecutor(1, thread_name_prefix="griddiag-side") as pool:
        numba.set_num_threads(total - side)
        try:
            yield lambda fn, *args: pool.submit(run, fn, *args)
        finally:
            numba.set_num_threads(before)


def side_lane_threads(n_values: int) -> int:
    """The kernel threads :func:`side_lane` splits between two lanes for a batch of
    ``n_values``; below 2 it runs no side lane."""
    return _thread_count(n_values) if n_values >= SIDE_LANE_MIN_VALUES else 1


def _thread_count(n_values: int) -> int:
    if not NUMBA_PARALLEL or n_values < PARALLEL_MIN_VALUES:
        return 1  # and numba's threading layer is never started (0.1-0.2 s)
    return numba.get_num_threads()


def _chunk_bounds(offsets: np.ndarray, n_chunks: int) -> np.ndarray:
    """Series indices ``0 = b0 < b1 < ... = n_series`` cutting the series into at most
    ``n_chunks`` runs of about equal values (a long series is never split)."""
    n_series = offsets.shape[0] - 1
    total = int(offsets[-1] - offsets[0])
    k = max(1, min(n_chunks, n_series))
    targets = offsets[0] + (total * np.arange(1, k, dtype=np.int64)) // k
    cuts = np.searchsorted(offsets, targets, side="left")
    return np.unique(np.concatenate(([0], np.clip(cuts, 1, n_series - 1), [n_series])))


_POOL: list = []  # [(pid, ThreadPoolExecutor)]: one pool per process
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    # A pool inherited through fork() has no threads in the child: make a new one there.
    with _POOL_LOCK:
        if not _POOL or _POOL[0][0] != os.getpid():
            size = max(1, int(numba.config.NUMBA_NUM_THREADS))
            _POOL[:] = [(os.getpid(), ThreadPoolExecutor(size, "griddiag-kernel"))]
        return _POOL[0][1]
