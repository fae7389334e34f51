"""What keeps a warm start fast (issue 3: import to first result under 1 s): lazy imports, the
cached holiday calendar, one compiled signature per kernel, no scipy.linalg behind numba."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

import griddiag
from griddiag import config
from griddiag import holiday_calendar as hc
from griddiag.exceptions import ConfigError
from tests.child import run_python

_run = run_python


HEAVY = ["pyarrow", "scipy", "numba", "holidays", "pyod", "sklearn", "psycopg", "matplotlib",
         "griddiag.yoy", "griddiag.ingest.api", "griddiag.inspection", "griddiag.detectors"]


def test_import_griddiag_loads_nothing_heavy():
    out = _run("import sys, griddiag; print(sorted({m for m in sys.modules} & set("
               f"{HEAVY!r})))")
    assert out.strip() == "[]"


def test_public_names_resolve_lazily():
    for name in griddiag.__all__:
        assert getattr(griddiag, name) is not None, name
    from griddiag.ingest.api import IngestReport, ingest
    from griddiag.inspection.job import inspect
    from griddiag.yoy.api import compare_years

    assert griddiag.ingest is ingest and griddiag.IngestReport is IngestReport
    assert griddiag.inspect is inspect and griddiag.compare_years is compare_years
    assert isinstance(griddiag.__version__, str)
    assert set(griddiag.__all__) <= set(dir(griddiag))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        griddiag.nope  # noqa: B018


def test_subpackage_import_does_not_shadow_the_function():
    # `griddiag.ingest` is a package and a function: importing a submodule first must still
    # leave the function under the name (the package is set on its parent only when new)
    out = _run("import griddiag.ingest.readers, griddiag.detect, griddiag; "
               "print(callable(griddiag.ingest), callable(griddiag.detect), "
               "griddiag.ingest.__module__, griddiag.detect.__module__)")
    assert out.split() == ["True", "True", "griddiag.ingest.api", "griddiag.detect"]
    from griddiag.ingest import FORMATS, read_quarantine  # lazy names of the package

    assert FORMATS and callable(read_quarantine)
    with pytest.raises(AttributeError):
        import griddiag.ingest as pkg

        pkg.nope  # noqa: B018


#: A script's start: two days of one meter's 15-minute energy through griddiag.detect.
SMALL_DETECT = """
import sys
from datetime import datetime, timedelta, UTC
import polars as pl, griddiag
n = 96 * 2
ts = [datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=15 * i) for i in range(n)]
r = pl.DataFrame({"asset_id": ["M1"] * n, "ts": ts, "metric": ["energy_kwh"] * n,
                  "value": [0.5 + (i % 96) / 96 for i in range(n)]})
griddiag.detect(r)
"""


def test_detect_loads_neither_ingest_yoy_nor_pyarrow():
    # kernels run as Python here (no compile in a unit test); what is checked is which
    # modules a detection run needs
    code = SMALL_DETECT + """
heavy = ["pyarrow", "pyod", "sklearn", "psycopg", "matplotlib", "griddiag.yoy",
         "griddiag.ingest.api", "griddiag.inspection", "scipy.linalg"]
print(sorted(set(sys.modules) & set(heavy)))
"""
    assert _run(code, NUMBA_DISABLE_JIT="1").strip().splitlines()[-1] == "[]"


def test_numba_blas_probe_does_not_import_scipy_linalg():
    code = """
import sys
import griddiag.kernels._launch
import numba, numpy as np
print('numba.np.arraymath' in sys.modules)  # not before numba compiles something

@numba.njit(cache=False)
def total(a):
    return np.sum(a)

print(total(np.ones(3)))
import numba.np.arraymath as am, numba.np.linalg as nl
print('scipy.linalg' in sys.modules, am._HAVE_BLAS, nl.ensure_blas.__name__)

@numba.njit(cache=False)
def dot(a, b):
    return np.dot(a, b)

print(dot(np.ones(3), np.ones(3)), 'scipy.linalg' in sys.modules)
"""
    lines = _run(code).split("\n")
    assert lines[:2] == ["False", "3.0"]
    assert lines[2].split() == ["False", "True", "ensure_blas"]
    assert lines[3].split() == ["3.0", "True"]  # the real probe ran when BLAS was needed


def test_launch_copies_small_readonly_arrays_only():
    import numba

    from griddiag.kernels._launch import COPY_READONLY_MAX, launch

    @numba.njit(cache=False)
    def total(a):
        s = 0
        for v in a:
            s += v
        return s

    w = np.arange(10, dtype=np.int64)
    r = w.copy()
    r.flags.writeable = False
    assert launch(total, w) == launch(total, r) == 45
    assert len(total.signatures) == 1  # not a second version for the read-only array

    seen = []
    big = np.zeros(COPY_READONLY_MAX + 1)
    big.flags.writeable = False
    launch(lambda a, b: seen.extend([a, b]), big, r)
    assert seen[0] is big  # large: passed as it is (a copy would cost memory)
    assert seen[1] is not r and seen[1].flags.writeable and np.array_equal(seen[1], r)


def _owner_kernel():
    import numba

    from griddiag.config import JIT

    @numba.njit(**{**JIT, "cache": False})
    def owner(first, end, offsets, out, calls):
        """Marks each value with its series' number + 1; counts the calls per series."""
        for s in range(first, end):
            calls[s] += 1
            for i in range(offsets[s], offsets[s + 1]):
                out[i] = s + 1

    return owner


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_launch_series_covers_every_series_once(monkeypatch, threads):
    import numba

    from griddiag.kernels import _launch

    owner = _owner_kernel()
    rng = np.random.default_rng(threads)
    lengths = rng.integers(0, 50, size=40)
    lengths[[0, 7, 39]] = [0, 400, 0]  # empty series at both ends, one long one
    off = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    want = np.repeat(np.arange(1, 41), lengths)
    monkeypatch.setattr(_launch, "PARALLEL_MIN_VALUES", 0)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        out, calls = np.zeros(off[-1], dtype=np.int64), np.zeros(40, dtype=np.int64)
        _launch.launch_series(owner, off, off, out, calls)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(out, want) and (calls == 1).all()


def test_launch_series_small_batches_stay_on_the_calling_thread(monkeypatch):
    import threading

    from griddiag.kernels import _launch

    seen = []
    off = np.array([0, 3, 5, 9], dtype=np.int64)
    _launch.launch_series(lambda a, b, o: seen.append((a, b, threading.get_ident())), off, off)
    assert seen == [(0, 3, threading.get_ident())]  # below PARALLEL_MIN_VALUES: one call
    _launch.launch_series(lambda a, b: seen.append(a), np.zeros(1, dtype=np.int64))
    assert len(seen) == 1  # no series: no call
    monkeypatch.setattr(_launch, "NUMBA_PARALLEL", False)
    monkeypatch.setattr(_launch, "PARALLEL_MIN_VALUES", 0)
    _launch.launch_series(lambda a, b, o: seen.append((a, b)), off, off)
    assert seen[-1] == (0, 3)  # GRIDDIAG_NUMBA_PARALLEL=0: one call


def test_launch_series_raises_a_chunks_error_after_all_chunks(monkeypatch):
    from griddiag.kernels import _launch

    monkeypatch.setattr(_launch, "PARALLEL_MIN_VALUES", 0)
    monkeypatch.setattr(_launch, "_thread_count", lambda n: 2)
    done = []

    def kernel(first, end):
        if first == 0:
            raise ValueError("bad chunk")
        done.append((first, end))

    off = np.arange(0, 81, 10, dtype=np.int64)  # 8 series of 10 values: 8 chunks
    with pytest.raises(ValueError, match="bad chunk"):
        _launch.launch_series(kernel, off)
    assert sorted(done) == [(s, s + 1) for s in range(1, 8)]


def test_launch_series_runs_at_most_the_thread_count_at_once(monkeypatch):
    # the pool is sized for numba's largest thread count; numba.set_num_threads(2) (as the
    # Dask executor does per worker) must still mean two kernels at a time
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from griddiag.kernels import _launch

    big = ThreadPoolExecutor(8)
    monkeypatch.setattr(_launch, "PARALLEL_MIN_VALUES", 0)
    monkeypatch.setattr(_launch, "_thread_count", lambda n: 2)
    monkeypatch.setattr(_launch, "_pool", lambda: big)
    lock, now, most, seen = threading.Lock(), [0], [0], []

    def kernel(first, end):
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.01)
        with lock:
            now[0] -= 1
            seen.append((first, end))

    _launch.launch_series(kernel, np.arange(0, 81, 10, dtype=np.int64))
    big.shutdown()
    assert most[0] == 2 and sorted(seen) == [(s, s + 1) for s in range(8)]


@pytest.mark.parametrize("seed", range(5))
def test_chunk_bounds_cut_whole_series_into_about_equal_values(seed):
    from griddiag.kernels._launch import _chunk_bounds

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    off = np.concatenate(([0], np.cumsum(rng.integers(0, 100, size=n)))).astype(np.int64)
    b = _chunk_bounds(off, 8)
    assert b[0] == 0 and b[-1] == n and (np.diff(b) > 0).all() and len(b) - 1 <= 8
    if n >= 8 and off[-1] > 0:
        # a chunk holds at most a share plus one series
        assert (np.diff(off[b]) <= off[-1] / 8 + np.diff(off).max()).all()


def test_small_detect_never_starts_numba_threads():
    # a warm start must not pay for numba's threading layer (0.1-0.2 s)
    code = SMALL_DETECT + """
import numba.np.ufunc.parallel as p
print(p._is_initialized)
"""
    assert _run(code, NUMBA_DISABLE_JIT="1").strip().splitlines()[-1] == "False"


# -- holiday calendar ----------------------------------------------------------------------------

@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    hc._cached.cache_clear()
    yield tmp_path / "cache"
    hc._cached.cache_clear()


def _days(years):
    d = date(min(years), 1, 1)
    while d.year <= max(years):
        yield d
        d += timedelta(days=1)


@pytest.mark.parametrize(("code", "years"), [("CN", [2023, 2024, 2025]), ("AU-VIC", [2014]),
                                             ("us", [2024])])
def test_calendar_answers_as_holidays_does(cache_dir, code, years):
    import holidays

    country, subdiv = hc.parse_holiday_country(code)
    ref = holidays.country_holidays(country, subdiv=subdiv, years=years)
    for fresh in (True, False):  # computed, then read back from the cache file
        hc._cached.cache_clear()
        cal = hc.country_holidays(code, years)
        assert (cal._full is not None) is fresh
        for d in _days(years):
            assert (d in cal) == (d in ref), d
            assert cal.get(d) == ref.get(d), d
            assert cal.is_working_day(d) == ref.is_working_day(d), d
        assert dict(cal.items()) == dict(ref.items())
    assert len(list((cache_dir / "holidays").glob("*.json"))) == 1


def test_calendar_outside_its_years_asks_holidays(cache_dir):
    import holidays

    hc.country_holidays("CN", [2024])
    hc._cached.cache_clear()
    cal = hc.country_holidays("CN", [2024])  # from the file: no `holidays` object yet
    assert cal._full is None
    ref = holidays.country_holidays("CN", years=[2019])
    assert (date(2019, 10, 1) in cal) and cal.get(date(2019, 10, 1)) == ref.get(date(2019, 10, 1))
    assert cal.is_working_day(date(2019, 9, 29)) == ref.is_working_day(date(2019, 9, 29))


def test_calendar_cache_read_without_holidays(cache_dir, monkeypatch):
    first = hc.country_holidays("CN", [2024])
    hc._cached.cache_clear()

    def boom(*_):
        raise AssertionError("the cached calendar was computed again")

    monkeypatch.setattr(hc, "_compute", boom)
    again = hc.country_holidays("CN", {2024})
    assert dict(again.items()) == dict(first.items())
    assert hc.country_holidays("cn", [2024, 2024]) is again  # same key: memory cache


def test_calendar_cache_damaged_or_off(cache_dir, monkeypatch):
    hc.country_holidays("CN", [2024])
    (path,) = (cache_dir / "holidays").glob("*.json")
    path.write_text("{not json", encoding="utf-8")
    hc._cached.cache_clear()
    cal = hc.country_holidays("CN", [2024])  # recomputed and rewritten
    assert date(2024, 10, 1) in cal
    assert json.loads(path.read_text(encoding="utf-8"))["code"] == "CN"

    monkeypatch.setattr(config, "CACHE_DIR", None)
    hc._cached.cache_clear()
    assert date(2024, 10, 1) in hc.country_holidays("CN", [2025, 2024])
    assert len(list((cache_dir / "holidays").glob("*.json"))) == 1  # nothing new written


def test_calendar_unknown_code(cache_dir):
    with pytest.raises(ConfigError, match="not known to the `holidays` package"):
        hc.country_holidays("XX", [2024])
    with pytest.raises(ConfigError, match="is not 'CC' or 'CC-SUBDIV'"):
        hc.country_holidays("CN-", [2024])
    assert not (cache_dir / "holidays").exists() or not any((cache_dir / "holidays").iterdir())


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDDIAG_CACHE_DIR", str(tmp_path))
    assert config._cache_dir() == tmp_path
    monkeypatch.setenv("GRIDDIAG_CACHE_DIR", "off")
    assert config._cache_dir() is None
    monkeypatch.delenv("GRIDDIAG_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config._cache_dir() == tmp_path / "xdg" / "griddiag"
