"""Shared fixtures: a fresh store of each backend for the contract tests.

TimescaleDB tests use the server named by ``GRIDDIAG_TEST_DSN`` (``make db`` prints one). Without
it they are skipped locally, but never in CI: ``GRIDDIAG_REQUIRE_DB=1`` (set by ``make test``)
turns a missing server into a failure, so a green CI always includes the database tests.
"""

from __future__ import annotations

import os

import pytest

from griddiag.storage.parquet import ParquetStore


def timescale_dsn() -> str:
    dsn = os.environ.get("GRIDDIAG_TEST_DSN", "")
    if not dsn:
        if os.environ.get("GRIDDIAG_REQUIRE_DB") == "1":
            pytest.fail("GRIDDIAG_TEST_DSN is not set but GRIDDIAG_REQUIRE_DB=1: run `make db`")
        pytest.skip("no TimescaleDB server: set GRIDDIAG_TEST_DSN (see `make db`)")
    return dsn


@pytest.fixture(params=["parquet", "timescale"])
def store(request, tmp_path):
    if request.param == "parquet":
        with ParquetStore(tmp_path / "store") as s:
            yield s
        return
    from griddiag.storage.timescale import fresh_test_store

    with fresh_test_store(timescale_dsn()) as s:
        yield s
