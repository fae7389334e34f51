"""A cold numba cache: the compile helper process (``griddiag.cold_start``).

When a helper starts, the slice it compiles on, the order it runs in and, end to end, a run on
an empty cache: the helper saved kernels the run then loaded instead of compiling, and the
findings are those of a run without it.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numba
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import griddiag
from griddiag import cold_start, config
from griddiag.detectors.profile import load_profile
from griddiag.kernels import _cache
from griddiag.schema import normalize_assets, normalize_readings
from tests.child import run_python

detect_module = importlib.import_module("griddiag.detect")  # griddiag.detect is the function

ROOT = Path(__file__).resolve().parents[1]


# --- when a helper starts, and on what ----------------------------------------------------------

@pytest.fixture
def cold_cache(monkeypatch):
    monkeypatch.setattr(config, "COMPILE_HELPER", True)
    monkeypatch.setattr(config, "NUMBA_CACHE", True)
    monkeypatch.setattr(config, "NUMBA_PARALLEL", True)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(_cache, "uncached_kernels", lambda: (40, 60))


def test_a_helper_is_wanted_only_on_a_cold_cache_with_a_core_to_spare(cold_cache, monkeypatch):
    prof = load_profile("default")
    assert cold_start.helper_wanted(prof)
    monkeypatch.setattr(_cache, "uncached_kernels", lambda: (30, 60))  # half: warm enough
    assert not cold_start.helper_wanted(prof)
    monkeypatch.setattr(_cache, "uncached_kernels", lambda: (0, 0))  # NUMBA_DISABLE_JIT
    assert not cold_start.helper_wanted(prof)


@pytest.mark.parametrize("switch", ["COMPILE_HELPER", "NUMBA_CACHE", "NUMBA_PARALLEL"])
def test_no_helper_when_switched_off(cold_cache, monkeypatch, switch):
    monkeypatch.setattr(config, switch, False)
    assert not cold_start.helper_wanted(load_profile("default"))


def test_no_helper_with_one_thread_or_a_profile_not_from_a_file(cold_cache, monkeypatch):
    from dataclasses import replace

    prof = load_profile("default")
    assert not cold_start.helper_wanted(replace(prof, source="<in memory>"))
    monkeypatch.setattr(numba, "get_num_threads", lambda: 1)
    assert not cold_start.helper_wanted(prof)


def test_the_environment_switch_is_read_at_import():
    out = run_python("from griddiag import config; print(config.COMPILE_HELPER)",
                     GRIDDIAG_COMPILE_HELPER="0")
    assert out.strip() == "False"


def _frames():
    assets = pl.DataFrame({
        "asset_id": ["F1", "M1", "M2", "M3", "S1", "T1", "T2"],
        "kind": ["feeder", "meter", "meter", "meter", "substation", "transformer",
                 "transformer"],
        "parent_id": [None, "T2", "T1", "T1", None, "F1", "F1"]})
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    ts = [t0 + timedelta(days=d) for d in range(60)]
    readings = pl.DataFrame({
        "asset_id": [a for a in assets["asset_id"] for _ in ts],
        "metric": ["energy_kwh"] * (len(ts) * assets.height),
        "ts": ts * assets.height,
        "value": [1.0] * (len(ts) * assets.height)})
    return normalize_readings(readings), normalize_assets(assets)  # as detect_batch gets them


def test_the_slice_takes_the_first_area_of_each_kind_over_the_first_days():
    readings, assets = _frames()
    ids = readings["asset_id"].unique().sort()
    sliced = cold_start.compile_slice(readings, assets, ids, days=28)
    # meters: T1's area (T1, M2, M3); transformers: T1 too; feeder and substation: their own
    assert sorted(sliced["asset_id"].unique()) == ["F1", "M2", "M3", "S1", "T1"]
    assert sliced["ts"].max() < readings["ts"].min() + timedelta(days=28)
    assert sliced.height == 5 * 28
    # assets the registry does not know: the first one
    alone = cold_start.compile_slice(readings, assets.head(0), ids, days=28)
    assert alone["asset_id"].unique().to_list() == ["F1"]


def test_the_helper_runs_the_batch_backwards(monkeypatch):
    readings, assets = _frames()
    prof = load_profile("default")
    calls = []

    def external(readings, assets, checks, lo, hi):
        calls.append(("checks", [f"{e.family}.{e.name}" for e in checks]))
        return []

    def detectors(batch, zones, assets, prof, year, start, end, out, *, backwards=False):
        calls.append(("detectors", backwards, [s.label for s in prof.detectors]))

    monkeypatch.setattr(detect_module, "_run_external", external)
    monkeypatch.setattr(detect_module, "_run_detectors", detectors)
    names = [f"{e.family}.{e.name}" for e in prof.external]
    electrical = [n for n in names if n.startswith("electrical.")]
    labels = [s.label for s in prof.detectors]
    detect_module.run_backwards(readings, assets, prof, two_lanes=False)
    assert calls == [("checks", names[::-1]), ("detectors", True, labels[::-1])]
    calls.clear()
    detect_module.run_backwards(readings, assets, prof, two_lanes=True)
    assert calls == [("checks", electrical[::-1]), ("detectors", True, labels[::-1]),
                     ("checks", [n for n in names[::-1] if n not in electrical])]


# --- end to end: a run on an empty cache -------------------------------------------------------

_COLD_RUN = r"""
import json, logging, sys
import polars as pl
logging.basicConfig(level=logging.WARNING)
logging.getLogger("griddiag.cold_start").setLevel(logging.DEBUG)
records = []
logging.getLogger("griddiag.cold_start").addHandler(
    type("H", (logging.Handler,), {"emit": lambda self, r: records.append(r.getMessage())})())
import griddiag
from griddiag.kernels._cache import kernels
found = griddiag.detect(pl.read_parquet(sys.argv[1]), assets=pl.read_parquet(sys.argv[2]))
found.write_parquet(sys.argv[3])
hits = sum(sum(k.stats.cache_hits.values()) for k in kernels())
misses = sum(sum(k.stats.cache_misses.values()) for k in kernels())
print(json.dumps({"hits": hits, "misses": misses, "log": records}))
"""


@pytest.mark.slow
def test_a_cold_run_shares_the_compile_with_its_helper(tmp_path):
    readings = pl.read_parquet(ROOT / "data_samples" / "readings.parquet")
    assets = pl.read_parquet(ROOT / "data_samples" / "assets.parquet")
    ids = [x for tx in ("TX0003", "TX0006")
           for x in (tx, *assets.filter(pl.col("parent_id") == tx)["asset_id"])]
    mid = datetime(2023, 6, 23, tzinfo=UTC)  # an overload and a communication gap
    small = readings.filter(pl.col("asset_id").is_in(ids)
                            & pl.col("ts").is_between(mid - timedelta(days=21),
                                                      mid + timedelta(days=21)))
    small.write_parquet(tmp_path / "readings.parquet")
    assets.write_parquet(tmp_path / "assets.parquet")
    (tmp_path / "tmp").mkdir()
    out = run_python(_COLD_RUN, str(tmp_path / "readings.parquet"),
                     str(tmp_path / "assets.parquet"), str(tmp_path / "found.parquet"),
                     timeout=300, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
                     GRIDDIAG_COMPILE_HELPER="1", GRIDDIAG_NUMBA_PARALLEL="1",
                     NUMBA_NUM_THREADS="2", TMPDIR=str(tmp_path / "tmp"))
    report = json.loads(out.splitlines()[-1])
    assert any("compile helper started" in m for m in report["log"]), report["log"]
    # the cache was empty: every kernel this run loaded rather than compiled, the helper saved
    assert report["hits"] >= 5, report
    assert report["misses"] >= 5, report
    assert not list((tmp_path / "tmp").iterdir())  # the helper's folder is removed
    found = pl.read_parquet(tmp_path / "found.parquet")
    assert found.height > 0
    assert_frame_equal(found, griddiag.detect(small, assets=assets))
