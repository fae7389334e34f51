"""Calling a parallel kernel: one thread for small batches.

Waking numba's worker threads costs microseconds on an idle machine but milliseconds on a busy
one (measured here: 7 ms per call with 2 threads on a loaded 2-core box, against 0.1 ms on the
calling thread alone), which would dominate the many small calls of tests, notebooks and
single-asset checks. Below :data:`griddiag.config.PARALLEL_MIN_VALUES` values the kernel runs
on the calling thread (``numba.set_num_threads`` is per calling thread, so this is safe under
an outer thread pool).
"""

from __future__ import annotations

import numba

from griddiag.config import NUMBA_PARALLEL, PARALLEL_MIN_VALUES

__all__ = ["launch"]


def launch(kernel, n_values: int, *args):
    """``kernel(*args)``, on one thread when ``n_values`` is small."""
    if not NUMBA_PARALLEL or n_values >= PARALLEL_MIN_VALUES:
        return kernel(*args)
    before = numba.get_num_threads()
    if before == 1:
        return kernel(*args)
    numba.set_num_threads(1)
    try:
        return kernel(*args)
    finally:
        numba.set_num_threads(before)
