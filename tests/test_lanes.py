"""A batch's two lanes: the theft and electrical checks on a second thread beside the
detectors.

``griddiag.kernels._launch.side_lane`` (the thread, numba's thread count split between the
lanes) and ``griddiag.detect.detect_batch`` with it: the findings of a two-lane run equal
those of a one-lane run, the theft checks did run on the second thread, the electrical ones
only once the detectors were past their memory peak, each on whichever lane was free first.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from pathlib import Path

import numba
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import griddiag
from griddiag.detectors.profile import load_profile
from griddiag.kernels import _launch

detect_module = importlib.import_module("griddiag.detect")  # griddiag.detect is the function

ROOT = Path(__file__).resolve().parents[1]


def _force_two_lanes(monkeypatch):
    monkeypatch.setattr(_launch, "SIDE_LANE_MIN_VALUES", 0)
    monkeypatch.setattr(_launch, "_thread_count", lambda n: 2)


def test_side_lane_is_none_for_small_batches_and_one_thread(monkeypatch):
    before = numba.get_num_threads()
    with _launch.side_lane(_launch.SIDE_LANE_MIN_VALUES - 1) as submit:
        assert submit is None
    monkeypatch.setattr(_launch, "SIDE_LANE_MIN_VALUES", 0)
    monkeypatch.setattr(_launch, "_thread_count", lambda n: 1)
    with _launch.side_lane(10**9) as submit:
        assert submit is None
    assert numba.get_num_threads() == before


def test_side_lane_splits_the_threads_and_restores_them(monkeypatch):
    _force_two_lanes(monkeypatch)
    before = numba.get_num_threads()
    with _launch.side_lane(10**9) as submit:
        inside = numba.get_num_threads()
        seen = submit(lambda: (threading.get_ident(), numba.get_num_threads())).result()
    assert seen[0] != threading.get_ident()
    assert (inside, seen[1]) == (1, 1)  # two threads: one each
    assert numba.get_num_threads() == before


def test_side_lane_raises_the_side_work_error(monkeypatch):
    _force_two_lanes(monkeypatch)

    def fail():
        raise ValueError("side work failed")

    with pytest.raises(ValueError, match="side work failed"), \
            _launch.side_lane(10**9) as submit:
        submit(fail).result()


@pytest.fixture(scope="module")
def area():
    """One transformer area of the sample utility in 2024: its meters (one of them stealing
    from June on) and the transformer's channels."""
    r = pl.read_parquet(ROOT / "data_samples" / "readings.parquet")
    a = pl.read_parquet(ROOT / "data_samples" / "assets.parquet")
    ids = ["TX0001", *a.filter(pl.col("parent_id") == "TX0001")["asset_id"].to_list()]
    r = r.filter(pl.col("asset_id").is_in(ids)
                 & (pl.col("ts").dt.year() == 2024))
    return r, a


def test_two_lanes_find_what_one_lane_finds(monkeypatch, area):
    readings, assets = area
    one = griddiag.detect(readings, assets=assets)
    assert {"theft.theft_risk", "theft.energy_balance"} <= set(one["detector"].to_list())
    where = []
    run_check = detect_module._run_check

    def spy(frame, assets, check, lo, hi):
        where.append((threading.get_ident(), check.family, check.name))
        return run_check(frame, assets, check, lo, hi)

    monkeypatch.setattr(detect_module, "_run_check", spy)
    _force_two_lanes(monkeypatch)
    two = griddiag.detect(readings, assets=assets)
    assert_frame_equal(one, two)
    me = threading.get_ident()
    checks = [(e.family, e.name) for e in load_profile("default").external]
    assert "theft" in {f for f, _ in checks} and "electrical" in {f for f, _ in checks}
    # each check once: the theft checks on the side lane, in the profile's order; the
    # electrical ones after them (on whichever lane was free)
    assert sorted(w[1:] for w in where) == sorted(checks)
    theft = [(t, f, n) for t, f, n in where if f != "electrical"]
    assert [w[1:] for w in theft] == [c for c in checks if c[0] != "electrical"]
    assert not [t for t, _, _ in theft if t == me]
    assert [f for _, f, _ in where] == \
        sorted((f for _, f, _ in where), key=lambda f: f == "electrical")


def test_the_lane_done_first_takes_the_electrical_checks(monkeypatch, area):
    """The detectors' lane, once done, runs electrical checks while the side lane is still
    busy with the theft checks: neither lane waits idle for the other."""
    readings, assets = area
    one = griddiag.detect(readings, assets=assets)
    me = threading.get_ident()
    main_took_one = threading.Event()
    where = []
    run_check = detect_module._run_check

    def check_run(frame, assets, check, lo, hi):
        where.append((threading.get_ident() == me, check.family))
        if check.family == "electrical" and threading.get_ident() == me:
            main_took_one.set()
        out = run_check(frame, assets, check, lo, hi)
        if check.name == "theft_risk":  # the side lane's last theft check ends late
            assert main_took_one.wait(120)
        return out

    monkeypatch.setattr(detect_module, "_run_check", check_run)
    _force_two_lanes(monkeypatch)
    two = griddiag.detect(readings, assets=assets)
    assert_frame_equal(one, two)
    on_main = [family for mine, family in where if mine]
    assert on_main and set(on_main) == {"electrical"}
    assert len(where) == len(load_profile("default").external)


def test_the_electrical_checks_wait_for_the_largest_metric(monkeypatch, area):
    """The side lane's electrical grids must not add to the detectors' memory peak: they start
    once the metric with the most readings (run last) is done, even when the theft checks
    end long before."""
    readings, assets = area
    counts = readings.group_by("metric").len().sort("len", descending=True)
    largest = [counts["metric"][0]]
    assert counts["len"][0] > counts["len"][1]
    log: list[tuple[str, object]] = []
    theft_done = threading.Event()
    theft_left = [e for e in load_profile("default").external if e.family != "electrical"]
    run_check, run_metric = detect_module._run_check, detect_module._run_metric

    def check(frame, assets, ext, lo, hi):
        log.append(("check start", ext.family))
        out = run_check(frame, assets, ext, lo, hi)
        if ext.family != "electrical":
            theft_left.pop()
            if not theft_left:
                theft_done.set()
        return out

    def metric(*args):
        out = run_metric(*args)
        if args[6] == largest:
            assert theft_done.wait(120)  # the theft checks are over, this metric is not yet
            time.sleep(0.3)
        log.append(("metric done", args[6]))
        return out

    monkeypatch.setattr(detect_module, "_run_check", check)
    monkeypatch.setattr(detect_module, "_run_metric", metric)
    _force_two_lanes(monkeypatch)
    griddiag.detect(readings, assets=assets)
    done = [m for kind, m in log if kind == "metric done"]
    assert done[-1] == largest and len(done) == counts.height  # the largest metric last
    electrical = log.index(("check start", "electrical"))
    assert log.index(("metric done", largest)) < electrical


def test_an_error_in_the_detectors_does_not_leave_the_side_lane_waiting(monkeypatch, area):
    readings, assets = area

    def fail(*args):
        raise ValueError("a detector failed")

    monkeypatch.setattr(detect_module, "_run_metric", fail)
    _force_two_lanes(monkeypatch)
    raised = []

    def run():
        try:
            griddiag.detect(readings, assets=assets)
        except ValueError as exc:
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "detect hung: the side lane waited for the detectors"
    assert [str(e) for e in raised] == ["a detector failed"]


@pytest.mark.parametrize("detectors", ["fail", "succeed"])
def test_the_shared_grids_are_let_go_after_the_run(monkeypatch, area, detectors):
    """The electrical grids the lanes shared go with the batch's run, whether it ends well
    or a detector fails: a caller keeping the frame (its sorted arrays cached on it) does not
    keep them (about 0.5 GB on 1,000 meters)."""
    from griddiag.detectors.grid import sorted_readings
    from griddiag.schema import normalize_assets, normalize_readings

    readings, assets = area
    frame, reg = normalize_readings(readings), normalize_assets(assets)
    run_check = detect_module._run_check
    shared_seen = []

    def check(sorted_, assets_, ext, lo, hi):
        out = run_check(sorted_, assets_, ext, lo, hi)
        shared_seen.append(len(sorted_.memo))
        return out

    def fail(*args):
        time.sleep(0.5)  # the side lane runs some checks meanwhile
        raise ValueError("a detector failed")

    monkeypatch.setattr(detect_module, "_run_check", check)
    _force_two_lanes(monkeypatch)
    if detectors == "fail":
        monkeypatch.setattr(detect_module, "_run_metric", fail)
        with pytest.raises(ValueError, match="a detector failed"):
            detect_module.detect_batch(frame, reg, load_profile("default"))
    else:
        detect_module.detect_batch(frame, reg, load_profile("default"))
    assert max(shared_seen) > 0  # the electrical checks did share grids
    assert not sorted_readings(frame).memo


def test_the_side_lane_keeps_the_grids_the_other_lane_shares(area):
    """The side lane lets go of no shared grid when its theft checks are done: the other
    lane may be between two electrical checks that share one (it would be built again)."""
    from griddiag.detectors.grid import SortedReadings
    from griddiag.schema import normalize_assets, normalize_readings

    readings, assets = area
    sr, reg = SortedReadings.of(normalize_readings(readings)), normalize_assets(assets)
    sr.shared("a grid of the other lane's electrical checks", lambda: 1)
    past_peak = threading.Event()
    past_peak.set()
    theft = [e for e in load_profile("default").external if e.family == "theft"]
    found = detect_module._checks_beside(sr, reg, theft, None, None, past_peak,
                                         detect_module._CheckQueue(sr, reg, [], None, None))
    assert set(found) == {id(e) for e in theft}
    assert sr.memo


def test_two_lanes_warm_up_the_checks_on_a_thread_of_their_own(monkeypatch, area):
    """A two-lane batch starts its checks' warm-up (the theft checks' PyOD imports) on a
    thread of its own, once per check module; a one-lane batch leaves it to the checks. A
    warm-up that fails changes nothing: the check imports again when it runs."""
    from griddiag.detectors.profile import ExternalSpec

    readings, assets = area
    one = griddiag.detect(readings, assets=assets)
    calls = []

    def warm_up(self):
        calls.append((self.family, threading.get_ident()))
        raise ImportError("no PyOD here")

    monkeypatch.setattr(ExternalSpec, "warm_up", warm_up)
    griddiag.detect(readings, assets=assets)
    assert calls == []  # one lane: below the side lane's size
    _force_two_lanes(monkeypatch)
    two = griddiag.detect(readings, assets=assets)
    assert_frame_equal(one, two)
    families = {e.family for e in load_profile("default").external}
    assert sorted(f for f, _ in calls) == sorted(families)
    assert threading.get_ident() not in {t for _, t in calls}


def test_theft_warm_up_imports_pyod_which_the_module_does_not():
    from tests.child import run_python

    run_python("import sys; import griddiag.detectors.theft; "
               "assert 'pyod' not in sys.modules, 'imported with the module'; "
               "from griddiag.detectors.profile import load_profile; "
               "prof = load_profile('default'); "
               "assert prof.lazy_imports() == ['pyod.models.ecod', 'pyod.models.iforest']; "
               "assert 'pyod' not in sys.modules, 'imported with the profile'; "
               "[e.warm_up() for e in prof.external if e.family == 'theft'][:1]; "
               "assert 'pyod.models.iforest' in sys.modules", timeout=300)


def test_checks_read_their_window_of_a_longer_batch_in_two_lanes(monkeypatch):
    """A batch holding more history than the checks read (the annual inspection reads its
    baseline years too) runs in two lanes as well: each check gets the window of the batch's
    sorted arrays it reads (the period and ``history_days`` before it), and finds what it
    finds on the frame filtered to that window; the findings are one lane's."""
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from griddiag.detectors.grid import SortedReadings
    from griddiag.schema import normalize_assets, normalize_readings

    r = pl.read_parquet(ROOT / "data_samples" / "readings.parquet")
    assets = normalize_assets(pl.read_parquet(ROOT / "data_samples" / "assets.parquet"))
    # a theft from June 2025 under TX0001, an overloaded TX0003 that summer
    areas = ["TX0001", "TX0003"]
    ids = [*areas, *assets.filter(pl.col("parent_id").is_in(areas))["asset_id"].to_list()]
    lo, hi = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    readings = normalize_readings(r.filter(
        pl.col("asset_id").is_in(ids) & pl.col("ts").is_between(lo - timedelta(days=61), hi,
                                                                  closed="left")))
    prof = replace(load_profile("default"), history_days=30)
    window = readings.filter(pl.col("ts") >= lo - timedelta(days=30))
    assert 0 < window.height < readings.height
    one = griddiag.detect(readings, assets=assets, profile=prof, start=lo, end=hi)
    got = {}
    run_check = detect_module._run_check

    def spy(sorted_, assets_, check, lo_, hi_):
        assert isinstance(sorted_, SortedReadings)
        got[check.name] = (sorted_.height, run_check(sorted_, assets_, check, lo_, hi_))
        return got[check.name][1]

    monkeypatch.setattr(detect_module, "_run_check", spy)
    _force_two_lanes(monkeypatch)
    two = griddiag.detect(readings, assets=assets, profile=prof, start=lo, end=hi)
    assert_frame_equal(one, two)
    assert {e.name for e in prof.external} == set(got)
    for check in prof.external:
        n, found = got[check.name]
        assert n == window.height
        assert_frame_equal(found, run_check(window, assets, check, lo, hi))
    assert {"energy_balance", "transformer_load"} <= {k for k, (_, f) in got.items()
                                                      if f.height}


def test_inspection_batch_processes_start_with_the_checks_imports():
    """``griddiag inspect``'s batch processes are forked from a server that has imported what
    the profile's checks import at their first use (PyOD, about 3 s a process): a batch
    process has them from its start. In a fresh driver: its fork server is its own."""
    from tests.child import run_python

    out = run_python(
        "from types import SimpleNamespace; "
        "from griddiag.detectors.profile import load_profile; "
        "from griddiag.inspection.executor import ProcessExecutor; "
        "from tests.batch_probe import modules_at_start; "
        "params = SimpleNamespace(profile=load_profile('default')); "
        "print(list(ProcessExecutor().map(modules_at_start, None, 'unused', [['A']], "
        "params)))", timeout=300,
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))  # tests.batch_probe
    assert out.strip() == "[(0, ['pyod.models.ecod', 'pyod.models.iforest'])]"
