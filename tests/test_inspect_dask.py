"""The inspection on Dask (issue 7): the same findings and year-over-year rows as in one
process, whatever the completion order, and a worker killed mid-run loses and duplicates
nothing. Skipped when dask.distributed is missing, failed instead with GRIDDIAG_REQUIRE_DASK=1
(``make test`` installs the dask extra and sets it)."""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path

import polars as pl
import pytest

from polars.testing import assert_frame_equal

from griddiag.exceptions import ConfigError
from griddiag.inspection import inspect
from griddiag.inspection import job as job_module
from griddiag.inspection.executor import DaskExecutor, make_executor, plan_batches, run_batch
from griddiag.storage.parquet import ParquetStore

try:
    import distributed
except ImportError:
    if os.environ.get("GRIDDIAG_REQUIRE_DASK") == "1":
        raise
    pytest.skip("dask.distributed is not installed (pip install 'griddiag[dask]')",
                allow_module_level=True)

import cloudpickle

# the kill wrapper below runs in worker processes, which cannot import this test module
cloudpickle.register_pickle_by_value(sys.modules[__name__])

BATCH = 10  # assets per batch: the utility below makes 4 batches


@pytest.fixture(scope="module")
def utility():
    """30 meters under 3 transformers, 2024-2025."""
    from griddiag.sample import generate_utility

    return generate_utility(meters=30, years=(2024, 2025), meters_per_transformer=10)


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 single-threaded worker processes (as ``--workers 2`` starts)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None,
                                       env={"NUMBA_NUM_THREADS": "1"})
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def local_run(utility, tmp_path_factory):
    """The store and the single-process inspection every Dask run must reproduce."""
    root = tmp_path_factory.mktemp("dask_store")
    store = ParquetStore(root / "store")
    store.upsert_assets(utility.assets)
    store.write(utility.readings)
    result = inspect(store, year=2025, baseline_years=[2024], out_dir=root / "local",
                     batch_assets=BATCH)
    yield store, result, pl.read_parquet(result.paths["yoy_parquet"])
    store.close()


def _same(result, local, local_yoy) -> None:
    """Same findings (every column but run_id), same yoy rows, same report chart data."""
    a = result.findings.drop("run_id")
    b = local.findings.drop("run_id")
    assert a.height == b.height > 0
    assert_frame_equal(a, b)
    assert_frame_equal(pl.read_parquet(result.paths["yoy_parquet"]), local_yoy)
    assert result.counts == local.counts


def test_plan_batches_keeps_areas_whole(utility):
    plan = plan_batches(utility.assets, BATCH)
    ids = [a for batch in plan for a in batch]
    assert sorted(ids) == sorted(utility.assets["asset_id"].to_list())  # each asset once
    parent = dict(utility.assets.select("asset_id", "parent_id").iter_rows())
    kind = dict(utility.assets.select("asset_id", "kind").iter_rows())
    area_batch = {}
    for i, batch in enumerate(plan):
        for a in batch:
            area = parent[a] if kind[a] == "meter" else a
            assert area_batch.setdefault(area, i) == i, f"area {area} split"
    assert len(plan) > 2


@pytest.mark.slow
def test_dask_matches_local(local_run, client, tmp_path):
    store, local, local_yoy = local_run
    result = inspect(store, year=2025, baseline_years=[2024], out_dir=tmp_path / "dask",
                     batch_assets=BATCH,
                     executor=DaskExecutor(client=client, numba_threads=1))
    _same(result, local, local_yoy)
    stored = store.read_findings(result.run_id)
    assert stored.height == result.findings.height
    assert stored.select("asset_id", "metric", "kind", "start").is_duplicated().sum() == 0


def _kill_first_time(marker_dir: str, victim: str, store, asset_ids, params):
    """The batch function, except that the first run of the batch holding ``victim`` kills
    its own worker process (SIGKILL: no cleanup, no exception, as when a node dies)."""
    if victim in asset_ids:
        try:
            fd = os.open(Path(marker_dir) / "killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    with open(Path(marker_dir) / f"ran-{os.getpid()}-{asset_ids[0]}", "a") as f:
        f.write("x")
    return run_batch(store, asset_ids, params)


@pytest.mark.slow
def test_worker_killed_mid_run_loses_and_duplicates_nothing(local_run, client, tmp_path,
                                                            monkeypatch):
    store, local, local_yoy = local_run
    markers = tmp_path / "markers"
    markers.mkdir()
    plan = plan_batches(store.assets(), BATCH)
    victim = plan[1][0]  # the second batch
    monkeypatch.setattr(job_module, "_process_batch",
                        functools.partial(_kill_first_time, str(markers), victim))
    pids_before = set(client.run(os.getpid).values())
    result = inspect(store, year=2025, baseline_years=[2024], out_dir=tmp_path / "killed",
                     batch_assets=BATCH, executor=DaskExecutor(client=client, retries=2))
    assert (markers / "killed").exists(), "no worker was killed"
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != pids_before  # the nanny started a new one
    _same(result, local, local_yoy)
    stored = store.read_findings(result.run_id)
    assert stored.height == result.findings.height
    assert stored.select("asset_id", "metric", "kind", "start").is_duplicated().sum() == 0
    ran = {p.name.split("-", 2)[2] for p in markers.glob("ran-*")}
    assert ran == {batch[0] for batch in plan}  # every batch completed, the victim's too


def test_dask_missing_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'griddiag\[dask\]'"):
        make_executor("dask", workers=2)


def test_executor_arguments_are_checked():
    with pytest.raises(ConfigError, match="executor 'spark'"):
        make_executor("spark")
    with pytest.raises(ConfigError, match="need executor='dask'"):
        make_executor("local", workers=2)
    with pytest.raises(ConfigError, match="not both"):
        DaskExecutor(scheduler="tcp://127.0.0.1:1", workers=2)


def test_cli_without_dask_exits_2(tmp_path, monkeypatch, capsys):
    from griddiag.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)
    store = ParquetStore(tmp_path / "s")
    store.upsert_assets(pl.DataFrame({"asset_id": ["m1"], "kind": ["meter"],
                                      "parent_id": [None]}, schema_overrides={
                                          "parent_id": pl.String}))
    store.close()
    code = main(["inspect", "--store", str(tmp_path / "s"), "--year", "2025", "--out",
                 str(tmp_path / "out"), "--executor", "dask", "--workers", "2"])
    assert code == 2
    assert "pip install 'griddiag[dask]'" in capsys.readouterr().err
