"""What keeps a warm start fast (issue 3: import to first result under 1 s): lazy imports, the
cached holiday calendar, one compiled signature per kernel, no scipy.linalg behind numba."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

import griddiag
from griddiag import config
from griddiag import holiday_calendar as hc
from griddiag.exceptions import ConfigError

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(code: str, **env) -> str:
    full = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **env}
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


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


def test_detect_loads_neither_ingest_yoy_nor_pyarrow():
    # kernels run as Python here (no compile in a unit test); what is checked is which
    # modules a detection run needs
    code = """
import sys
from datetime import datetime, timedelta, UTC
import polars as pl, griddiag
n = 96 * 2
ts = [datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=15 * i) for i in range(n)]
r = pl.DataFrame({"asset_id": ["M1"] * n, "ts": ts, "metric": ["energy_kwh"] * n,
                  "value": [0.5 + (i % 96) / 96 for i in range(n)]})
griddiag.detect(r)
heavy = ["pyarrow", "pyod", "sklearn", "psycopg", "matplotlib", "griddiag.yoy",
         "griddiag.ingest.api", "griddiag.inspection", "scipy.linalg"]
print(sorted(set(sys.modules) & set(heavy)))
"""
    assert _run(code, NUMBA_DISABLE_JIT="1").strip().splitlines()[-1] == "[]"


def test_numba_blas_probe_does_not_import_scipy_linalg():
    code = """
import sys
import griddiag.kernels._launch
import numba.np.arraymath as am, numba.np.linalg as nl
print('scipy.linalg' in sys.modules, am._HAVE_BLAS, nl.ensure_blas.__name__)
import numba, numpy as np

@numba.njit(cache=False)
def dot(a, b):
    return np.dot(a, b)

print(dot(np.ones(3), np.ones(3)), 'scipy.linalg' in sys.modules)
"""
    lines = _run(code).split("\n")
    assert lines[0].split() == ["False", "True", "ensure_blas"]
    assert lines[1].split() == ["3.0", "True"]  # the real probe ran when BLAS was needed


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
    assert launch(total, 10, w) == launch(total, 10, r) == 45
    assert len(total.signatures) == 1  # not a second version for the read-only array

    seen = []
    big = np.zeros(COPY_READONLY_MAX + 1)
    big.flags.writeable = False
    launch(lambda a, b: seen.extend([a, b]), 0, big, r)
    assert seen[0] is big  # large: passed as it is (a copy would cost memory)
    assert seen[1] is not r and seen[1].flags.writeable and np.array_equal(seen[1], r)


def test_launch_restores_the_thread_count():
    import numba

    from griddiag.config import JIT
    from griddiag.kernels._launch import launch

    @numba.njit(**{**JIT, "cache": False})
    def twice(a):
        out = np.empty_like(a)
        for i in numba.prange(a.shape[0]):
            out[i] = 2 * a[i]
        return out

    before = numba.get_num_threads()
    assert np.array_equal(launch(twice, 3, np.arange(3.0)), [0.0, 2.0, 4.0])
    assert numba.get_num_threads() == before


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
