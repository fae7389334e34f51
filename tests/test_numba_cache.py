"""numba's on-disk cache as processes share it (``griddiag.kernels._cache``): index and data
files saved under an exclusive lock and loaded under a shared one; how many kernels are
uncached."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path

from griddiag.kernels import _cache
from tests.child import run_python

ROOT = Path(__file__).resolve().parents[1]


def _cache_file(folder: Path):
    from numba.core.caching import IndexDataCacheFile

    return IndexDataCacheFile(str(folder), "kernel-1.py311", ("stamp", 1))


def _lock_held(folder: Path, kind: int):
    fd = os.open(folder / _cache.LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, kind)
    return fd


def test_cache_files_are_locked_in_a_griddiag_process():
    import griddiag.kernels  # noqa: F401 - installs the lock

    assert _cache.cache_files_locked()
    assert _cache.lock_cache_files()  # idempotent: not wrapped twice
    from numba.core.caching import IndexDataCacheFile

    assert not hasattr(IndexDataCacheFile.save.__wrapped__, "__wrapped__")


def test_a_save_waits_for_every_other_holder_of_the_lock(tmp_path):
    cache = _cache_file(tmp_path)
    fd = _lock_held(tmp_path, fcntl.LOCK_SH)  # another process loading
    saver = threading.Thread(target=cache.save, args=(("sig",), b"machine code"))
    saver.start()
    time.sleep(0.3)
    assert saver.is_alive(), "the save did not wait for the lock"
    assert cache.load(("sig",)) is None  # the index is untouched
    os.close(fd)
    saver.join(5)
    assert not saver.is_alive()
    assert cache.load(("sig",)) == b"machine code"


def test_loads_share_the_lock_and_wait_for_a_save(tmp_path):
    cache = _cache_file(tmp_path)
    cache.save(("sig",), b"machine code")
    fd = _lock_held(tmp_path, fcntl.LOCK_SH)
    assert cache.load(("sig",)) == b"machine code"  # two loads at once
    os.close(fd)
    fd = _lock_held(tmp_path, fcntl.LOCK_EX)  # a save in progress
    loaded = []
    loader = threading.Thread(target=lambda: loaded.append(cache.load(("sig",))))
    loader.start()
    time.sleep(0.3)
    assert loader.is_alive() and not loaded
    os.close(fd)
    loader.join(5)
    assert loaded == [b"machine code"]


_COUNT = r"""
import json, sys
import numpy as np
from griddiag.kernels import _cache, flags_to_events
before = _cache.uncached_kernels()
flags_to_events(np.array([False, True, True, False]), scores=np.array([0.0, 2.0, 3.0, 0.0]))
print(json.dumps([before, _cache.uncached_kernels()]))
"""


def test_uncached_kernels_counts_what_the_cache_lacks(tmp_path):
    out = run_python(_COUNT, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    (cold, total), (after, total_after) = json.loads(out)
    assert total == total_after > 20
    assert cold == total  # an empty cache
    assert 1 <= total - after <= 3  # the events kernel (and its helpers) now cached


_LOAD_THEN_COMPILE = r"""
import json
import numba, numpy as np
from numba.core.registry import cpu_target
from griddiag.kernels import _cache, flags_to_events
events = flags_to_events(np.array([False, True, True, False]),
                         scores=np.array([0.0, 2.0, 3.0, 0.0]))
loaded = sum(sum(k._cache_hits.values()) for k in _cache.kernels())
installed = len(cpu_target.target_context._registries)

@numba.njit(cache=False)
def median(x):
    return np.median(x)

print(json.dumps([[a.tolist() for a in events], loaded, installed, median(np.arange(5.0)),
                  len(cpu_target.target_context._registries)]))
"""


def test_a_cache_load_skips_the_compiler_refresh_and_a_compile_still_refreshes(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    run_python(_LOAD_THEN_COMPILE, **env)  # compiles the events kernel into the cache
    events, loaded, installed, median, after = json.loads(run_python(_LOAD_THEN_COMPILE, **env))
    assert events == [[0], [1], [3], [2]]  # the loaded machine code runs
    assert loaded >= 1
    assert installed == 0  # loading installed none of numba's lowering registries...
    assert median == 2.0 and after > 0  # ...which a compile then refreshes itself
