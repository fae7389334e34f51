"""One contract over both stores: the same behaviour from the Parquet directory and TimescaleDB.

The ``store`` fixture (conftest.py) yields a fresh, empty store of each backend; TimescaleDB
runs against the real server named by ``GRIDDIAG_TEST_DSN`` (required in CI).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from griddiag.exceptions import ConfigError
from griddiag.schema import ASSETS_SCHEMA, READINGS_SCHEMA

T0 = datetime(2024, 12, 31, 22, 0, tzinfo=UTC)  # crosses a UTC year boundary on purpose
KEY = ["asset_id", "metric", "ts"]


def make_readings(
    assets: list[str], metrics: list[str], n: int, step: timedelta = timedelta(minutes=15),
    seed: int = 0, t0: datetime = T0,
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ts = [t0 + i * step for i in range(n)]
    rows = [(a, t, m) for a in assets for m in metrics for t in ts]
    df = pl.DataFrame(rows, schema=["asset_id", "ts", "metric"], orient="row")
    # Values over many magnitudes and both signs: a round trip must be bit-exact.
    values = rng.standard_normal(df.height) * 10.0 ** rng.integers(-6, 7, df.height)
    return df.with_columns(
        pl.col("ts").cast(READINGS_SCHEMA["ts"]), value=pl.Series(values)
    ).select(list(READINGS_SCHEMA))


def sorted_frame(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(list(READINGS_SCHEMA)).sort(KEY)


def test_empty_store_reads_empty_canonical_frame(store):
    out = store.read()
    assert out.height == 0
    assert out.schema == pl.Schema(READINGS_SCHEMA)
    assert store.assets().height == 0


def test_round_trip_is_exact(store):
    df = make_readings(["m1", "m2", "t1"], ["energy_kwh", "voltage_v_a"], 20)
    res = store.write(df)
    assert (res.loaded, res.duplicate, res.conflicts.height) == (df.height, 0, 0)
    back = store.read()
    assert back.schema == pl.Schema(READINGS_SCHEMA)
    assert back.equals(sorted_frame(df))


def test_hourly_and_irregular_timestamps_round_trip(store):
    hourly = make_readings(["m1"], ["energy_kwh"], 30, step=timedelta(hours=1))
    odd = pl.DataFrame(
        {"asset_id": ["m2"] * 3, "metric": ["oil_temp_c"] * 3,
         "ts": [T0 + timedelta(seconds=s) for s in (7, 61, 3601)], "value": [1.5, -0.25, 2e9]},
    ).with_columns(pl.col("ts").cast(READINGS_SCHEMA["ts"])).select(list(READINGS_SCHEMA))
    store.write(pl.concat([hourly, odd]))
    assert store.read().equals(sorted_frame(pl.concat([hourly, odd])))


def test_rewrite_is_a_counted_no_op(store):
    df = make_readings(["m1", "m2"], ["energy_kwh"], 50)
    store.write(df)
    res = store.write(df)
    assert (res.loaded, res.duplicate, res.conflicts.height) == (0, df.height, 0)
    assert store.read().equals(sorted_frame(df))


def test_conflict_is_rejected_reported_and_not_applied(store):
    df = make_readings(["m1"], ["energy_kwh"], 10)
    store.write(df)
    changed = df.head(3).with_columns(pl.col("value") + 1.0, source_line=pl.Series([7, 8, 9]))
    res = store.write(changed)
    assert res.loaded == 0 and res.rejected == 3
    conflicts = res.conflicts.sort("ts")
    assert conflicts["source_line"].to_list() == [7, 8, 9]
    assert conflicts["stored_value"].to_list() == df.head(3)["value"].to_list()
    assert store.read().equals(sorted_frame(df))


def test_replace_overwrites_and_keeps_audit(store):
    df = make_readings(["m1"], ["energy_kwh"], 10)
    store.write(df)
    changed = df.head(2).with_columns(pl.col("value") * 2 + 1)
    res = store.write(changed, on_conflict="replace")
    assert res.replaced == 2 and res.rejected == 0
    expected = sorted_frame(pl.concat([changed, df.tail(8)]))
    assert store.read().equals(expected)


def test_filling_a_missing_reading_is_not_a_conflict(store):
    df = make_readings(["m1"], ["energy_kwh"], 8)
    with_gap = df.with_columns(
        value=pl.when(pl.int_range(pl.len()) == 3).then(float("nan")).otherwise(pl.col("value"))
    )
    first = store.write(with_gap.filter(pl.int_range(pl.len()) != 5))
    assert (first.loaded, first.missing) == (6, 1)
    assert store.read()["value"].is_nan().sum() == 0  # a store never returns NaN rows
    res = store.write(df)
    assert res.conflicts.height == 0
    assert (res.loaded, res.duplicate) == (2, 6)  # the NaN slot and the absent one are filled
    assert store.read().equals(sorted_frame(df))


def test_in_batch_repeats(store):
    df = make_readings(["m1"], ["energy_kwh"], 4)
    same = df.head(1)
    different = df.slice(1, 1).with_columns(pl.col("value") + 5)
    res = store.write(pl.concat([df, same, different]))
    assert res.duplicate == 1
    assert res.conflicts.height == 2  # both disagreeing rows of ts #1 are reported
    assert store.read().equals(sorted_frame(df.filter(pl.int_range(pl.len()) != 1)))


def test_read_filters_assets_metrics_and_time(store):
    df = make_readings(["m1", "m2", "m3"], ["energy_kwh", "voltage_v_a"], 40)
    store.write(df)
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=5)
    got = store.read(assets=["m2", "m3"], metrics=["voltage_v_a"], start=start, end=end)
    want = df.filter(
        pl.col("asset_id").is_in(["m2", "m3"]) & (pl.col("metric") == "voltage_v_a")
        & (pl.col("ts") >= start) & (pl.col("ts") < end)
    )
    assert got.equals(sorted_frame(want))
    assert store.read(assets=["nope"]).height == 0


def test_read_batches_cover_everything_once_with_whole_assets(store):
    assets = [f"m{i:03d}" for i in range(23)]
    df = make_readings(assets, ["energy_kwh"], 6)
    store.write(df)
    batches = list(store.read_batches(batch_assets=5))
    assert all(b["asset_id"].n_unique() <= 5 for b in batches)
    seen = [a for b in batches for a in b["asset_id"].unique().to_list()]
    assert sorted(seen) == assets  # each asset in exactly one batch
    assert sorted_frame(pl.concat(batches)).equals(sorted_frame(df))


def test_unknown_assets_are_registered_and_attributes_merge(store):
    store.write(make_readings(["m1", "t1"], ["energy_kwh"], 2))
    reg = store.assets()
    assert reg.columns == list(ASSETS_SCHEMA)
    assert reg["kind"].to_list() == ["unknown", "unknown"]
    store.upsert_assets(pl.DataFrame({"asset_id": ["t1"], "kind": ["transformer"],
                                      "rated_kva": [400.0]}))
    store.upsert_assets(pl.DataFrame({"asset_id": ["m1"], "kind": ["meter"], "parent_id": ["t1"],
                                      "tz": ["Asia/Shanghai"]}))
    # A later partial update must not erase attributes it does not mention.
    store.upsert_assets(pl.DataFrame({"asset_id": ["t1"], "name": ["T1 Lane 3"]}))
    reg = store.assets()
    t1 = reg.filter(pl.col("asset_id") == "t1").row(0, named=True)
    m1 = reg.filter(pl.col("asset_id") == "m1").row(0, named=True)
    assert (t1["kind"], t1["rated_kva"], t1["name"]) == ("transformer", 400.0, "T1 Lane 3")
    assert (m1["kind"], m1["parent_id"], m1["tz"]) == ("meter", "t1", "Asia/Shanghai")


def test_naive_timestamps_are_refused(store):
    df = make_readings(["m1"], ["energy_kwh"], 2).with_columns(
        pl.col("ts").dt.replace_time_zone(None)
    )
    with pytest.raises(ConfigError, match="time zone"):
        store.write(df)


def test_status_counts(store):
    df = make_readings(["m1", "m2"], ["energy_kwh"], 12)
    store.write(df)
    st = store.status()
    assert st["readings"] == df.height
    assert st["assets"] == 2
    assert st["first_ts"] == T0 and st["last_ts"] == T0 + timedelta(minutes=15 * 11)


def test_init_twice_keeps_data(store):
    df = make_readings(["m1"], ["energy_kwh"], 5)
    store.write(df)
    store.init()
    store.init()
    assert store.read().equals(sorted_frame(df))


@pytest.mark.parametrize("interleaved", [False, True])
def test_each_batch_comes_sorted(store, interleaved):
    """A batch is sorted by ``asset_id, metric, ts`` as read: the Parquet store moves the
    blocks its files give (a series in a year's file, in a later write's) into order, and
    sorts the rows when a series' writes interleave in time."""
    assets = [f"m{i:02d}" for i in range(7)]
    df = make_readings(assets, ["energy_kwh", "voltage_v_a"], 40)  # across a year's end
    first = df.filter(pl.col("ts").dt.hour() % 2 == 0) if interleaved \
        else df.filter(pl.col("ts") < T0 + timedelta(hours=5))
    store.write(first.sample(fraction=1.0, shuffle=True, seed=1))
    store.write(df.join(first, on=KEY, how="anti").sample(fraction=1.0, shuffle=True, seed=2))
    batches = list(store.read_batches(batch_assets=3))
    for b in batches:
        assert b.equals(sorted_frame(b))
    assert sorted_frame(pl.concat(batches)).equals(sorted_frame(df))  # batches: by bucket
