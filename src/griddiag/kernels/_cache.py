"""numba's on-disk cache as several griddiag processes share it.

numba keeps, per jitted function, an index file (argument types -> data file) and one data file
of machine code per signature. It saves a signature by reading the index, adding the key,
writing the index and then the data file, and loads one by reading the index, then the data
file the index names; each file is written under a temporary name and renamed, so no file is
ever half written, but the *pair* is not updated at once. griddiag runs processes that share
one cache: the cold-start compile helper (:mod:`griddiag.cold_start`), the inspection's batch
processes, Dask workers. Two saves of different signatures of one function at the same moment
(a small batch's copied offsets and a large batch's read-only ones are two signatures) can
leave the index naming the other signature's data, and a load between a save's two writes can
read a data file left by an older griddiag. Machine code run with the wrong argument types
crashes the process, so :func:`lock_cache_files` makes every save exclusive and every load
shared, with ``flock`` on one lock file per cache folder (microseconds a call; POSIX only,
elsewhere numba behaves as it always has).

:func:`load_without_refresh` keeps a warm start from paying for numba's compiler when it only
loads machine code; :func:`uncached_kernels` says how cold the cache is for griddiag's kernels.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LOCK_FILE", "cache_files_locked", "kernels", "load_without_refresh",
           "lock_cache_files", "patch_method", "uncached_kernels"]

#: The lock file's name, in each numba cache folder that griddiag's processes write.
LOCK_FILE: str = ".griddiag-numba.lock"

#: set on numba methods griddiag has replaced, so each is replaced once
_PATCHED_MARK = "_griddiag_patched"


@contextmanager
def _flock(folder: str | None, exclusive: bool):
    try:
        import fcntl
        fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o666)
    except (ImportError, OSError, TypeError):
        # no flock (not POSIX), a folder this process cannot write (it then saves nothing
        # there either) or numba's internals changed: numba's own behaviour is all there is
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def patch_method(owner: type, name: str,
                 make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace the numba method ``owner.name`` by ``make(original)``, once: the replacement
    is marked (a second call leaves it), keeps the original's docstring and names it as
    ``__wrapped__``."""
    original = getattr(owner, name)
    if getattr(original, _PATCHED_MARK, False):
        return
    new = make(original)
    setattr(new, _PATCHED_MARK, True)
    new.__wrapped__ = original  # type: ignore[attr-defined]
    new.__doc__ = original.__doc__
    setattr(owner, name, new)


def _locked(method: Callable[..., Any], exclusive: bool) -> Callable[..., Any]:
    def locked(self, *args):
        with _flock(getattr(self, "_cache_path", None), exclusive):
            return method(self, *args)

    return locked


def lock_cache_files() -> bool:
    """Make numba's cache saves exclusive and its loads shared across processes (see the
    module docstring); idempotent. False when numba's internals are not the ones expected
    here (the cache then works unlocked, as numba ships it) or without ``fcntl``."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    from numba.core.caching import IndexDataCacheFile

    save, load = (getattr(IndexDataCacheFile, n, None) for n in ("save", "load"))
    if save is None or load is None:
        return False
    patch_method(IndexDataCacheFile, "save", lambda m: _locked(m, exclusive=True))
    patch_method(IndexDataCacheFile, "load", lambda m: _locked(m, exclusive=False))
    return True


def cache_files_locked() -> bool:
    """Whether :func:`lock_cache_files` is in effect in this process."""
    try:
        from numba.core.caching import IndexDataCacheFile
    except ImportError:
        return False
    return all(getattr(getattr(IndexDataCacheFile, n, None), _PATCHED_MARK, False)
               for n in ("save", "load"))


def load_without_refresh() -> bool:
    """Load numba's cached machine code without first refreshing the whole CPU context;
    idempotent. False when numba's internals are not the ones expected here (numba's own
    load then runs, refresh included).

    numba's ``Cache.load_overload`` calls ``target_context.refresh()`` before every load. The
    first refresh imports and installs all of numba's lowering and typing registries (0.25 s
    of a 1.5 s warm start here), which only *compiling* reads, and numba's compiler refreshes
    the context itself before every compile (``CompilerBase.__init__``). Of the refresh, a
    load needs the NRT (the allocator the machine code calls) set up and the symbols that
    numba's modules register when imported (the hash secret of ``numba.cpython.hashing``,
    which a warm run imports anyway): this load does both first, as the refresh does.
    Contexts other than numba's CPU one keep numba's load.
    """
    try:
        from numba.core.caching import Cache
        from numba.core.cpu import CPUContext
        from numba.core.runtime import rtsys
    except ImportError:  # pragma: no cover - numba layout changed
        return False
    expected = ("load_overload", "_load_overload", "_guard_against_spurious_io_errors")
    if not all(hasattr(Cache, n) for n in expected) or not hasattr(rtsys, "initialize"):
        return False

    def without_refresh(load):
        def load_overload(self, sig, target_context):
            if not isinstance(target_context, CPUContext):
                return load(self, sig, target_context)
            import numba.cpython.hashing  # noqa: F401 - registers symbols machine code may use

            rtsys.initialize(target_context)
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)

        return load_overload

    patch_method(Cache, "load_overload", without_refresh)
    return True


def kernels() -> Iterator[Any]:
    """The numba dispatchers defined in the ``griddiag.kernels`` modules imported so far."""
    from numba.core.dispatcher import Dispatcher

    for name, module in list(sys.modules.items()):
        if name.startswith("griddiag.kernels.") and module is not None:
            for obj in list(vars(module).values()):
                if isinstance(obj, Dispatcher) and obj.__module__ == name:
                    yield obj


def uncached_kernels() -> tuple[int, int]:
    """``(uncached, total)``: how many of the griddiag kernels imported so far have no machine
    code in numba's cache for their current source, of how many cached kernels. ``(0, 0)``
    with the cache off, under ``NUMBA_DISABLE_JIT`` or when numba's internals differ. Reads
    one small index file a kernel (about 5 ms for all of them)."""
    uncached = total = 0
    try:
        for kernel in kernels():
            index = getattr(getattr(kernel, "_cache", None), "_cache_file", None)
            if index is None:  # numba's NullCache: this kernel is not cached
                continue
            total += 1
            # empty when missing, from another numba version, or for older source
            uncached += not index._load_index()
    except Exception:  # noqa: BLE001 - a probe of numba internals; never fail a run on it
        return 0, 0
    return uncached, total
