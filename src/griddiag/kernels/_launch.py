"""Calling a kernel: one thread for small batches, one compiled signature per kernel.

Every public kernel function calls its private numba kernel through :func:`launch`, so the
few rules about *how* a kernel is called live here:

- Waking numba's worker threads costs microseconds on an idle machine but milliseconds on a busy
  one (measured here: 7 ms per call with 2 threads on a loaded 2-core box, against 0.1 ms on the
  calling thread alone), which would dominate the many small calls of tests, notebooks and
  single-asset checks. Below :data:`griddiag.config.PARALLEL_MIN_VALUES` values a parallel
  kernel runs on the calling thread (``numba.set_num_threads`` is per calling thread, so this
  is safe under an outer thread pool). Serial kernels are called as they are: asking numba for
  its thread count would start the thread pool (0.1-0.2 s at the first call) for nothing.
- numba compiles (and caches, and loads at the first call of every process) one machine-code
  version per argument *type*, and a read-only array is another type than a writable one.
  polars hands out read-only NumPy views of its columns (``Series.to_numpy()`` copies nothing),
  so the same kernel was compiled twice, once for a writable and once for a read-only offsets
  array. Small read-only arrays (offsets, indices: at most :data:`COPY_READONLY_MAX` elements)
  are therefore copied, which costs microseconds; large ones are passed as they are, since
  copying them would cost memory (they then get their own version, as before).
- At its first compile or cache load numba imports ``numba.np.arraymath``, whose import-time
  BLAS probe imports ``scipy.linalg`` (0.2-0.4 s, the largest single item of a warm start; see
  :func:`_skip_blas_probe`).
"""

from __future__ import annotations

import numba
import numpy as np

from griddiag.config import NUMBA_PARALLEL, PARALLEL_MIN_VALUES

__all__ = ["COPY_READONLY_MAX", "launch"]

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


_skip_blas_probe()


def _is_parallel(kernel) -> bool:
    # a numba dispatcher records its options; under NUMBA_DISABLE_JIT it is the Python function
    return bool(getattr(kernel, "targetoptions", {}).get("parallel", False))


def _writable(a):
    if (isinstance(a, np.ndarray) and not a.flags.writeable
            and a.size <= COPY_READONLY_MAX):
        return a.copy()
    return a


def launch(kernel, n_values: int, *args):
    """``kernel(*args)``, on one thread when ``n_values`` is small (see the module docstring)."""
    args = tuple(_writable(a) for a in args)
    if not NUMBA_PARALLEL or n_values >= PARALLEL_MIN_VALUES or not _is_parallel(kernel):
        return kernel(*args)
    before = numba.get_num_threads()
    if before == 1:
        return kernel(*args)
    numba.set_num_threads(1)
    try:
        return kernel(*args)
    finally:
        numba.set_num_threads(before)
