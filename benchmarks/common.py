"""What every benchmark shares: timing, peak memory, machine description, result tables.

Every speed figure is reported with its ratio to a baseline run in the same script on the same
data (STYLE.md section 10). Peak memory is measured in a child process that runs only the
measured case: the child's resident-set high-water mark (``VmHWM``) is reset just before the
measured part and read just after it, so allocations made by polars, numpy or psycopg in native
code count too (tracemalloc would miss them), and the input the case loaded beforehand is
reported separately.

Children are *spawned*, not forked: polars' thread pool does not survive ``fork()`` (a forked
child that calls into polars after the parent used it deadlocks). A case is therefore a
module-level function ``case(clock, *args)`` that loads its input, then runs the measured part
inside ``with clock:``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["CheckFailed", "Checks", "Clock", "Measurement", "first_touch", "in_child",
           "load_average", "machine", "table", "timed"]


class CheckFailed(RuntimeError):
    """A benchmark's correctness check failed: its figures must not be published."""


class Checks:
    """Correctness checks of one benchmark run, recorded as they are made."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        (self.passed if ok else self.failed).append(what + (f" ({detail})" if detail else ""))
        return ok

    def markdown(self) -> str:
        lines = [f"- FAILED: {w}" for w in self.failed] + [f"- ok: {w}" for w in self.passed]
        return "\n".join(lines)

    def raise_if_failed(self, report: str) -> None:
        if self.failed:
            raise CheckFailed("correctness checks failed:\n" + "\n".join(self.failed)
                              + "\n\n" + report)


@dataclass
class Measurement:
    seconds: float
    peak_rss_mib: float  # the child's peak resident set during the measured part
    value: Any = None
    base_rss_mib: float = float("nan")  # resident before the measured part (input included)
    #: CPU seconds of the child's threads during the measured part: in user space and in the
    #: kernel (page faults: first touches of fresh memory, costly on a VM whose host backs
    #: memory only when touched)
    cpu_user_s: float = float("nan")
    cpu_sys_s: float = float("nan")

    @property
    def extra_rss_mib(self) -> float:
        """Peak above what the child held when the measured part began."""
        return self.peak_rss_mib - self.base_rss_mib


def timed(fn: Callable[[], Any], repeat: int = 1) -> Measurement:
    """Best wall time of ``repeat`` calls in this process (memory not measured)."""
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return Measurement(best, float("nan"), value)


def _status_kib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class Clock:
    """Marks the measured part of a case: ``with clock: ...`` (once per case)."""

    def __init__(self) -> None:
        self.seconds = float("nan")
        self.peak_mib = float("nan")
        self.base_mib = float("nan")
        self.cpu = (float("nan"), float("nan"))  # user, sys seconds

    def __enter__(self) -> Clock:
        reset = _reset_peak()
        rss = _status_kib("VmRSS")
        self.base_mib = rss / 1024 if reset and rss is not None else float("nan")
        self._ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = (ru.ru_utime - self._ru0.ru_utime, ru.ru_stime - self._ru0.ru_stime)
        hwm = _status_kib("VmHWM")
        if hwm is None:  # not Linux: the whole child's peak
            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak_mib = hwm / 1024


def _child(fn, args, conn) -> None:
    try:
        clock = Clock()
        value = fn(clock, *args)
        if clock.seconds != clock.seconds:  # the case never entered its clock
            raise RuntimeError(f"{fn.__name__} did not run its measured part in `with clock:`")
        conn.send(("ok", clock.seconds, clock.peak_mib, clock.base_mib, value, clock.cpu))
    except BaseException:  # report, do not hang the parent
        conn.send(("error", traceback.format_exc(), 0.0, 0.0, None, None))
    finally:
        conn.close()


def in_child(fn: Callable[..., Any], *args: Any) -> Measurement:
    """Run ``fn(clock, *args)`` in a fresh spawned process: the time and peak RSS of its
    ``with clock:`` part, and its return value (which must pickle)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, child))
    proc.start()
    child.close()
    try:
        status, seconds, peak, base, value, cpu = parent.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"benchmark case {fn.__name__} died (exit code {proc.exitcode})"
                           ) from None
    proc.join()
    if status != "ok":
        raise RuntimeError(f"benchmark case {fn.__name__} failed in child:\n{seconds}")
    return Measurement(seconds, peak, value, base, *cpu)


def machine() -> dict[str, str]:
    import numba
    import numpy
    import polars

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import psycopg

        psycopg_version = psycopg.__version__
    except ImportError:
        psycopg_version = "not installed"
    return {
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "cpu": f"{cpu}, {os.cpu_count()} logical cores",
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "polars": polars.__version__,
        "numba": numba.__version__,
        "psycopg": psycopg_version,
    }


def first_touch(mib: int = 256, idle_s: float = 3.0) -> str:
    """What filling a new ``mib`` MiB array costs here: at once after freeing one of that size,
    and after ``idle_s`` seconds without it.

    Every kernel that returns a new array pays this first touch of fresh memory. Some virtual
    machines hand memory the guest has freed back to the host after a couple of seconds (Linux
    free page reporting, virtio-balloon); the next first touch there costs several times more,
    which makes memory-bound figures vary from run to run. This row lets a reader tell.
    """
    import numpy as np

    def fill() -> float:
        a = np.empty(mib * 2**20 // 8)
        t0 = time.perf_counter()
        a.fill(1.0)
        return time.perf_counter() - t0

    fill()
    at_once = fill()
    time.sleep(idle_s)
    idle = fill()
    return (f"{at_once:.3f} s to fill a new {mib} MiB array at once, {idle:.3f} s after "
            f"{idle_s:g} s idle")


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "–"
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(out)
