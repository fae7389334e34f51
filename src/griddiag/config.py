"""Numeric constants and numba flags, in one place.

Every kernel in :mod:`griddiag.kernels` compiles with :data:`JIT` and takes
its statistical constants from here, so a reviewer finds every magic number in one file and a
test can see which flags a kernel was built with.

Environment variables (read once, at import):

``GRIDDIAG_NUMBA_CACHE``
    ``0`` turns off numba's on-disk cache (default on: a CLI run must not recompile every time).
``GRIDDIAG_NUMBA_PARALLEL``
    ``0`` runs every kernel on the calling thread (default: large batches are split by series
    over threads, see :mod:`griddiag.kernels._launch`; useful under an outer process pool, or
    to profile).
``GRIDDIAG_COMPILE_HELPER``
    ``0`` never starts the second process that compiles kernels beside a run on a cold numba
    cache (default on; see :mod:`griddiag.cold_start`).

``GRIDDIAG_CACHE_DIR``
    Where griddiag keeps results that are slow to compute and never change for given inputs
    (public-holiday calendars; see :mod:`griddiag.holiday_calendar`). Default
    ``$XDG_CACHE_HOME/griddiag`` (``~/.cache/griddiag``); ``0`` or ``off`` turns it off.

``NUMBA_DISABLE_JIT=1`` (numba's own switch) runs every kernel as plain Python; the tests use it
on tiny inputs so coverage sees kernel code.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CACHE_DIR",
    "COMPILE_HELPER",
    "JIT",
    "MAD_TO_SIGMA",
    "MEANAD_TO_SIGMA",
    "MEMORY_BOUND_MIN_VALUES",
    "NUMBA_CACHE",
    "NUMBA_FASTMATH",
    "NUMBA_PARALLEL",
    "PARALLEL_MIN_VALUES",
    "SIDE_LANE_MIN_VALUES",
]


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw not in ("0", "false", "no", "off")


def _cache_dir() -> Path | None:
    raw = os.environ.get("GRIDDIAG_CACHE_DIR", "").strip()
    if raw.lower() in ("0", "false", "no", "off"):
        return None
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        return (Path(base) if base else Path.home() / ".cache") / "griddiag"
    except RuntimeError:  # no home directory (a bare service account): no cache
        return None


#: Folder of griddiag's own on-disk cache, or None when turned off (``GRIDDIAG_CACHE_DIR``).
CACHE_DIR: Path | None = _cache_dir()
NUMBA_CACHE: bool = _env_flag("GRIDDIAG_NUMBA_CACHE", True)
NUMBA_PARALLEL: bool = _env_flag("GRIDDIAG_NUMBA_PARALLEL", True)
COMPILE_HELPER: bool = _env_flag("GRIDDIAG_COMPILE_HELPER", True)
# Never fastmath: it lets LLVM assume no NaN/inf, and NaN is how griddiag spells "missing".
NUMBA_FASTMATH: bool = False

#: Batches with fewer values run on the calling thread (waking worker threads costs more).
#: ``NUMBA_PARALLEL`` and this apply to :func:`griddiag.kernels._launch.launch_series`.
PARALLEL_MIN_VALUES: int = 20_000

#: Batches with fewer values run the memory-bound kernels (O(1) work per value: the run
#: lengths of :mod:`griddiag.kernels.runs`) on the calling thread, whatever
#: ``PARALLEL_MIN_VALUES`` says. Measured here (2 cores, ``constant_runs`` on series of a year
#: of 15-minute values, a warm idle thread pool): two threads take 2.4x the one-thread time
#: at 0.1 M values, 1.5x at 0.35 M, 0.8x at 1 M, 0.6x at 3.5 M and 0.52x at 35 M. Dispatching
#: the chunks costs about 0.4 ms, which a kernel at a few nanoseconds per value only repays
#: from about a million values.
MEMORY_BOUND_MIN_VALUES: int = 1_000_000

#: Batches with fewer readings run the electrical and theft checks after the detectors, on
#: the calling thread; larger ones run them on a second thread beside the detectors
#: (``griddiag.detect.detect_batch``; measured on 1,000 meters x 1 year, 55 M readings on 2
#: cores: about 14 s against 20 s in one lane). A second lane pays when each side takes
#: seconds; below this its thread and numba's thread split cost more than they save.
SIDE_LANE_MIN_VALUES: int = 1_000_000

#: Options of every kernel: compiled once per argument types, cached on disk, releasing the GIL
#: (``launch_series`` runs chunks of series on threads), never ``parallel=True`` (its parallel
#: regions cost 1-3 s each to compile; see :mod:`griddiag.kernels._launch`).
JIT: dict[str, object] = {
    "cache": NUMBA_CACHE,
    "fastmath": NUMBA_FASTMATH,
    "nogil": True,
    # numpy semantics for x / 0 (inf or NaN, no ZeroDivisionError check in the inner loop)
    "error_model": "numpy",
}

#: Consistency constant of the MAD for the normal distribution, ``1 / Phi^-1(3/4)``
#: (Rousseeuw & Croux 1993, JASA 88:1273); ``1.4826 * MAD`` estimates sigma.
MAD_TO_SIGMA: float = 1.482602218505602

#: ``sqrt(pi / 2)``: ``MEANAD_TO_SIGMA * mean|x - median|`` estimates sigma for normal data. Used
#: when the MAD is zero (more than half the window equal to the median), following the modified
#: z-score of IBM SPSS/Cognos ("if MAD = 0, divide by 1.253314 * MeanAD").
MEANAD_TO_SIGMA: float = 1.2533141373155003
