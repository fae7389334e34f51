"""A batch's two lanes: the theft checks on a second thread beside the detectors.

``griddiag.kernels._launch.side_lane`` (the thread, numba's thread count split between the
lanes) and ``griddiag.detect.detect_batch`` with it: the findings of a two-lane run equal
those of a one-lane run, and the theft checks did run on the second thread.
"""

from __future__ import annotations

import importlib
import threading
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
    run_external = detect_module._run_external

    def spy(frame, assets, checks, lo, hi):
        where.append((threading.get_ident(), [c.family for c in checks]))
        return run_external(frame, assets, checks, lo, hi)

    monkeypatch.setattr(detect_module, "_run_external", spy)
    _force_two_lanes(monkeypatch)
    two = griddiag.detect(readings, assets=assets)
    assert_frame_equal(one, two)
    me = threading.get_ident()
    families = [e.family for e in load_profile("default").external]
    assert [fam for t, fams in where if t == me for fam in fams] == \
        [f for f in families if f == "electrical"]
    assert [fam for t, fams in where if t != me for fam in fams] == \
        [f for f in families if f != "electrical"] != []
