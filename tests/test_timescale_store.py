"""TimescaleStore on a real server: layout, write rules, atomicity, SQL access, size, errors.

Needs ``GRIDDIAG_TEST_DSN`` (``make db`` prints one). Without it these tests are skipped, unless
``GRIDDIAG_REQUIRE_DB=1`` (CI), where a missing server is a failure. Every test gets a fresh
store in its own schema (``griddiag.storage.timescale.temporary_store``), dropped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import psycopg
import pytest

from griddiag.exceptions import ConfigError, SchemaError, StoreError
from griddiag.schema import TS_DTYPE
from griddiag.storage import open_store
from griddiag.storage.timescale import SCHEMA_VERSION, TimescaleStore, temporary_store

pytestmark = pytest.mark.timescale

DAY0 = datetime(2024, 3, 1, tzinfo=UTC)
KEY = ["asset_id", "metric", "ts"]


@pytest.fixture(scope="module")
def dsn() -> str:
    value = os.environ.get("GRIDDIAG_TEST_DSN")
    if not value:
        if os.environ.get("GRIDDIAG_REQUIRE_DB") == "1":
            pytest.fail("GRIDDIAG_REQUIRE_DB=1 but GRIDDIAG_TEST_DSN is not set; run `make db`")
        pytest.skip("GRIDDIAG_TEST_DSN is not set (run `make db` and export the DSN it prints)")
    return value


@pytest.fixture
def store(dsn: str) -> Iterator[TimescaleStore]:
    with temporary_store(dsn) as s:
        yield s


def frame(assets: list[str], start: datetime, step_s: int, count: int,
          metric: str = "energy_kwh", seed: int = 0) -> pl.DataFrame:
    """Regular readings: ``count`` per asset every ``step_s`` seconds from ``start``."""
    rng = np.random.default_rng(seed)
    base = int(start.timestamp() * 1_000_000)
    ts = base + np.arange(count, dtype=np.int64) * step_s * 1_000_000
    n = len(assets) * count
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-5, 6, n)
    return pl.DataFrame({
        "asset_id": np.repeat(np.array(assets), count),
        "ts": pl.Series(np.tile(ts, len(assets))).cast(TS_DTYPE),
        "metric": [metric] * (len(assets) * count),
        "value": values,
    })


def canon(df: pl.DataFrame) -> pl.DataFrame:
    """A readings frame as a store returns it: sorted, no NaN readings, canonical columns."""
    return (df.select("asset_id", "ts", "metric", "value")
            .filter(~pl.col("value").is_nan())
            .sort(KEY))


def assert_same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    got = got.sort(KEY)
    want = canon(want)
    assert got.schema == want.schema
    assert got.height == want.height
    # Exact: bit-for-bit floats, microsecond time stamps.
    assert got.equals(want)


def sql_rows(store: TimescaleStore, query: str, params: tuple = ()) -> list[tuple]:
    with store._connection().cursor() as cur:
        store._ready(cur)
        return cur.execute(store._q(query), params).fetchall()


# -- round trips ------------------------------------------------------------------------------
def test_round_trip_exact_on_several_grids(store: TimescaleStore) -> None:
    quarter = frame(["M1", "M2"], DAY0, 900, 96 * 3)
    hourly = frame(["T1"], DAY0 + timedelta(hours=5), 3600, 50, metric="load_kva", seed=1)
    rng = np.random.default_rng(2)
    offsets = np.sort(rng.choice(3 * 86_400_000_000, 40, replace=False))
    irregular = pl.DataFrame({
        "asset_id": "M1",
        "ts": pl.Series(int(DAY0.timestamp() * 1e6) + offsets).cast(TS_DTYPE),
        "metric": "voltage_v_a",
        "value": rng.standard_normal(40) * 230,
    })
    extremes = pl.DataFrame({
        "asset_id": "X",
        "ts": pl.datetime_range(DAY0, DAY0 + timedelta(minutes=5 * 7), "5m", eager=True,
                                time_zone="UTC").cast(TS_DTYPE),
        "metric": "active_power_kw",
        "value": [-0.0, 5e-324, -1e-300, 1.7976931348623157e308, -1e308, 0.1 + 0.2, 1 / 3, 42.0],
    })
    data = pl.concat([quarter, hourly, irregular, extremes])
    result = store.write(data)
    assert result.loaded == data.height
    assert result.duplicate == 0 and result.conflicts.height == 0
    back = store.read()
    assert_same(back, data)
    assert back.schema["ts"] == TS_DTYPE
    # -0.0 keeps its sign bit: the comparison above is on values, check the bits too.
    x = back.filter(pl.col("asset_id") == "X").sort("ts")["value"].to_numpy()
    assert np.signbit(x[0]) and x[1] == 5e-324


def test_shuffled_input_and_sort_order(store: TimescaleStore) -> None:
    data = pl.concat([frame(["b", "a", "C"], DAY0, 1800, 100),
                      frame(["a"], DAY0, 1800, 100, metric="current_a_a")])
    store.write(data.sample(fraction=1.0, shuffle=True, seed=3))
    back = store.read()
    # Sorted by asset_id (byte order: upper case first), metric, ts.
    assert back.equals(back.sort(KEY))
    assert back["asset_id"].unique(maintain_order=True).to_list() == ["C", "a", "b"]
    assert_same(back, data)


def test_read_filters_and_batches(store: TimescaleStore) -> None:
    assets = [f"m{i:02d}" for i in range(7)]
    data = pl.concat([frame(assets, DAY0, 900, 96 * 4),
                      frame(assets[:3], DAY0, 900, 96 * 4, metric="voltage_v_a")])
    store.write(data)
    start, end = DAY0 + timedelta(hours=30, minutes=7), DAY0 + timedelta(days=2, hours=1)
    got = store.read(assets=["m01", "m05", "nope"], metrics=["voltage_v_a", "energy_kwh"],
                     start=start, end=end)
    want = data.filter(pl.col("asset_id").is_in(["m01", "m05"]),
                       pl.col("ts") >= start, pl.col("ts") < end)
    assert_same(got, want)
    batches = list(store.read_batches(batch_assets=3))
    assert [b["asset_id"].n_unique() for b in batches] == [3, 3, 1]
    assert pl.concat(batches).equals(store.read())
    with pytest.raises(ConfigError):
        store.read(metrics=["not_a_metric"])
    with pytest.raises(ConfigError):
        store.read(start=datetime(2024, 1, 1))  # naive: refused, not guessed


# -- write rules ------------------------------------------------------------------------------
def test_rewrite_is_a_noop_counted_as_duplicates(store: TimescaleStore) -> None:
    data = pl.concat([frame(["M1", "M2"], DAY0, 900, 96 * 2),
                      frame(["M1"], DAY0 + timedelta(seconds=17), 3600, 10, metric="load_kva")])
    store.write(data)
    before = store.read()
    size = sql_rows(store, "SELECT count(*), sum(n_points) FROM {s}.readings_day")
    result = store.write(data)
    assert (result.loaded, result.duplicate, result.conflicts.height) == (0, data.height, 0)
    assert store.read().equals(before)
    assert sql_rows(store, "SELECT count(*), sum(n_points) FROM {s}.readings_day") == size
    # Nothing was rewritten: no dead tuples from updates.
    assert sql_rows(store, "SELECT count(*) FROM {s}.readings_audit") == [(0,)]


def test_conflicts_are_reported_not_applied(store: TimescaleStore) -> None:
    data = frame(["M1", "M2"], DAY0, 900, 96)
    store.write(data)
    changed = data.with_columns(
        pl.when(pl.int_range(pl.len()).is_in([3, 100])).then(pl.col("value") + 1)
        .otherwise(pl.col("value")).alias("value"),
        line=pl.int_range(pl.len()) + 2,
    )
    result = store.write(changed)
    assert result.duplicate == data.height - 2
    assert result.loaded == 0 and result.rejected == 2
    c = result.conflicts
    assert c["line"].to_list() == [5, 102]
    assert c["stored_value"].to_list() == data["value"].gather([3, 100]).to_list()
    assert c["value"].to_list() == changed["value"].gather([3, 100]).to_list()
    assert_same(store.read(), data)


def test_replace_updates_and_audits(store: TimescaleStore) -> None:
    data = frame(["M1"], DAY0, 900, 96)
    store.write(data)
    new = data.with_columns(
        pl.when(pl.int_range(pl.len()) == 10).then(pl.lit(123.5)).otherwise(pl.col("value"))
        .alias("value"),
        source=pl.lit("fix.csv"),
    )
    result = store.write(new, on_conflict="replace")
    assert (result.replaced, result.duplicate, result.loaded) == (1, 95, 0)
    assert result.conflicts["stored_value"].to_list() == [data["value"][10]]
    assert_same(store.read(), new)
    audit = store.audit()
    assert audit.select("asset_id", "metric", "ts", "old_value", "new_value", "source").rows() \
        == [("M1", "energy_kwh", DAY0 + timedelta(minutes=150), data["value"][10], 123.5,
             "fix.csv")]
    assert audit["replaced_at"][0] is not None


def test_filling_missing_and_nan_slots_is_not_a_conflict(store: TimescaleStore) -> None:
    full = frame(["M1"], DAY0, 900, 96)
    first = full.filter(pl.int_range(pl.len()) % 3 != 0).with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(float("nan")).otherwise(pl.col("value"))
        .alias("value"))
    r = store.write(first)
    # A NaN value is a missing reading: nothing stored, counted as missing.
    assert (r.loaded, r.missing) == (first.height - 1, 1)
    assert_same(store.read(), first)
    r = store.write(full)
    assert r.conflicts.height == 0 and r.missing == 0
    assert r.loaded == full.height - first.height + 1
    assert r.duplicate == first.height - 1
    assert_same(store.read(), full)
    # NaN incoming where a value is stored says nothing: missing, not a conflict.
    r = store.write(full.head(1).with_columns(value=pl.lit(float("nan"))))
    assert (r.missing, r.rejected, r.loaded) == (1, 0, 0)
    assert_same(store.read(), full)


def test_in_batch_repeats(store: TimescaleStore) -> None:
    data = frame(["M1"], DAY0, 900, 8)
    store.write(data.head(4))
    batch = pl.concat([data, data.slice(6, 1),  # same value twice: a duplicate
                       data.slice(2, 1).with_columns(value=pl.lit(-1.0)),  # stored key, new value
                       data.slice(7, 1).with_columns(value=pl.lit(-2.0))])  # new key, two values
    r = store.write(batch)
    # Rows 0, 1, 3 are stored already and row 6 comes twice: duplicates. The keys of rows 2
    # and 7 carry two values within the batch: all four rows are conflicts, none is loaded.
    assert r.duplicate == 3 + 1
    assert r.loaded == 3  # rows 4, 5 and 6
    assert r.loaded + r.duplicate + r.conflicts.height == batch.height
    c = r.conflicts.sort("ts", "value")
    assert c["value"].to_list() == [-1.0, data["value"][2], -2.0, data["value"][7]] or \
        sorted(c["value"].to_list()) == sorted([-1.0, data["value"][2], -2.0, data["value"][7]])
    assert c["stored_value"].null_count() == 4  # judged within the batch, as the Parquet store
    assert_same(store.read(), data.head(7))


def test_unknown_assets_registered_unknown_metric_refused(store: TimescaleStore) -> None:
    store.upsert_assets(pl.DataFrame({"asset_id": ["M1"], "kind": ["meter"],
                                      "parent_id": ["T1"], "rated_kva": [None]}))
    store.write(frame(["M1", "NEW"], DAY0, 3600, 3))
    kinds = dict(store.assets().select("asset_id", "kind").iter_rows())
    assert kinds == {"M1": "meter", "NEW": "unknown"}
    bad = frame(["M9"], DAY0, 3600, 3).with_columns(metric=pl.lit("energy_kwhh"))
    with pytest.raises(ConfigError, match="energy_kwhh"):
        store.write(bad)
    assert "M9" not in store.assets()["asset_id"].to_list()


def test_upsert_assets_keeps_attributes_given_as_null(store: TimescaleStore) -> None:
    first = pl.DataFrame({"asset_id": ["T1", "M1"], "kind": ["transformer", "meter"],
                          "parent_id": [None, "T1"], "rated_kva": [400.0, None],
                          "tz": ["Asia/Shanghai", None]})
    assert store.upsert_assets(first) == 2
    assert store.upsert_assets(first) == 0  # nothing changes, nothing counted
    later = pl.DataFrame({"asset_id": ["T1", "M1", "M2"], "rated_kva": [None, None, None],
                          "customer_class": [None, "residential", None]})
    assert store.upsert_assets(later) == 2  # M1 changed, M2 added; T1 unchanged
    got = {r["asset_id"]: r for r in store.assets().iter_rows(named=True)}
    assert got["T1"]["rated_kva"] == 400.0 and got["T1"]["kind"] == "transformer"
    assert got["T1"]["tz"] == "Asia/Shanghai"
    assert got["M1"]["customer_class"] == "residential" and got["M1"]["parent_id"] == "T1"
    assert got["M2"]["kind"] == "unknown"
    assert store.assets()["asset_id"].to_list() == ["M1", "M2", "T1"]


# -- layout: grids, irregular readings, merges --------------------------------------------------
def test_off_grid_readings_and_grid_changes_merge(store: TimescaleStore) -> None:
    quarter = frame(["M1"], DAY0, 900, 96 * 2)
    store.write(quarter)
    odd = pl.DataFrame({"asset_id": ["M1", "M1"],
                        "ts": [DAY0 + timedelta(hours=10, minutes=7),
                               DAY0 + timedelta(hours=11, seconds=1, microseconds=5)],
                        "metric": ["energy_kwh"] * 2, "value": [1.5, 2.5]}
                       ).with_columns(pl.col("ts").cast(TS_DTYPE))
    assert store.write(odd).loaded == 2
    assert sql_rows(store, "SELECT count(*) FROM {s}.readings_irregular") == [(2,)]
    # Five-minute data for the first day: that day moves to a 5-minute grid, the 10:07 reading
    # stays irregular, the quarter-hour readings are the same readings (duplicates).
    five = frame(["M1"], DAY0, 300, 288, seed=9)
    five = five.join(quarter.select("ts", q="value"), on="ts", how="left").with_columns(
        value=pl.coalesce("q", "value")).drop("q")
    r = store.write(five)
    assert r.duplicate == 96 and r.loaded == 192 and r.conflicts.height == 0
    want = pl.concat([quarter, odd, five]).unique(KEY)
    assert_same(store.read(), want)
    grids = sql_rows(store, "SELECT day, interval_s, n_points FROM {s}.readings_day ORDER BY day")
    assert grids == [(date(2024, 3, 1), 300, 288), (date(2024, 3, 2), 900, 96)]
    assert sql_rows(store, "SELECT count(*) FROM {s}.readings_irregular") == [(2,)]
    # Writing the same readings in another order gives the same stored form.
    with temporary_store(store._dsn) as other:
        other.write(five)
        other.write(odd)
        other.write(quarter)
        assert other.read().equals(store.read())
        assert sql_rows(other, "SELECT day, interval_s, n_points FROM {s}.readings_day"
                               " ORDER BY day") == grids


def test_sparse_day_is_irregular_until_it_fills(store: TimescaleStore) -> None:
    one = frame(["M1"], DAY0 + timedelta(hours=10, minutes=15), 900, 1)
    store.write(one)
    assert sql_rows(store, "SELECT count(*) FROM {s}.readings_day") == [(0,)]
    assert sql_rows(store, "SELECT count(*) FROM {s}.readings_irregular") == [(1,)]
    full = frame(["M1"], DAY0, 900, 96).with_columns(
        value=pl.when(pl.col("ts") == one["ts"][0]).then(one["value"][0])
        .otherwise(pl.col("value")))
    r = store.write(full)
    assert (r.loaded, r.duplicate) == (95, 1)
    assert sql_rows(store, "SELECT interval_s, n_points FROM {s}.readings_day") == [(900, 96)]
    assert sql_rows(store, "SELECT count(*) FROM {s}.readings_irregular") == [(0,)]
    assert_same(store.read(), full)


def test_daily_register_readings_and_nan_on_new_days(store: TimescaleStore) -> None:
    daily = frame(["M1"], DAY0 + timedelta(hours=16), 86_400, 10, metric="register_kwh")
    daily = daily.with_columns(value=pl.when(pl.int_range(pl.len()) == 4).then(float("nan"))
                               .otherwise(pl.col("value").abs()))
    r = store.write(daily)
    assert (r.loaded, r.missing) == (9, 1)
    assert_same(store.read(), daily)
    r = store.write(daily)
    assert (r.loaded, r.duplicate, r.missing) == (0, 9, 1)


# -- atomicity --------------------------------------------------------------------------------
def test_failed_write_leaves_nothing(store: TimescaleStore, monkeypatch: pytest.MonkeyPatch,
                                     ) -> None:
    base = frame(["M1"], DAY0, 900, 96)
    store.write(base)
    before_assets = store.assets()
    before = store.read()
    # New assets and days (COPY into the hypertable), a fill of an existing day, and an
    # irregular reading; the failure strikes at the last step, after the day rows went in.
    batch = pl.concat([
        frame(["M2", "M3"], DAY0, 900, 96 * 3),
        frame(["M1"], DAY0 + timedelta(days=1), 900, 96),
        pl.DataFrame({"asset_id": ["M1"], "ts": [DAY0 + timedelta(minutes=7)],
                      "metric": ["energy_kwh"], "value": [1.0]}).with_columns(
            pl.col("ts").cast(TS_DTYPE)),
    ])

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(TimescaleStore, "_copy_irregular", boom)
    with pytest.raises(RuntimeError, match="killed"):
        store.write(batch)
    monkeypatch.undo()
    assert store.read().equals(before)
    assert store.assets().equals(before_assets)
    # The connection is usable and a clean run stores exactly the batch.
    r = store.write(batch)
    assert r.loaded == batch.height
    assert_same(store.read(), pl.concat([base, batch]))


def test_write_uses_one_transaction_on_callers_connection(dsn: str) -> None:
    with temporary_store(dsn) as scratch, psycopg.connect(
            scratch._dsn, autocommit=False) as conn:
        store = TimescaleStore(dsn, conn=conn, schema=scratch.schema)
        with conn.transaction():
            store.write(frame(["M1"], DAY0, 900, 96))  # a savepoint in the caller's transaction
            raise psycopg.Rollback()  # the caller's transaction decides
        assert scratch.read().height == 0
        store.write(frame(["M1"], DAY0, 900, 96))  # idle connection: its own transaction
        assert scratch.read().height == 96
        store.close()
        assert not conn.closed  # never close a connection the caller passed in


# -- SQL access -------------------------------------------------------------------------------
def test_view_and_time_bucket_agree_with_read(store: TimescaleStore) -> None:
    data = pl.concat([
        frame(["M1", "M2"], DAY0 - timedelta(hours=3), 900, 96 * 3),
        frame(["M1"], DAY0 + timedelta(minutes=7), 3600, 30, metric="voltage_v_a"),
    ]).with_columns(value=pl.when(pl.int_range(pl.len()) == 17).then(float("nan"))
                    .otherwise(pl.col("value")))
    store.write(data)
    back = store.read()
    rows = sql_rows(store, "SELECT asset_id, ts, metric, value FROM {s}.readings")
    view = pl.DataFrame(rows, schema=back.schema, orient="row").sort(KEY)
    assert view.equals(back)
    start, end = DAY0, DAY0 + timedelta(days=1, hours=5)
    rows = sql_rows(store, "SELECT * FROM {s}.readings_between(%s, %s)", (start, end))
    between = pl.DataFrame(rows, schema=back.schema, orient="row").sort(KEY)
    assert between.equals(back.filter(pl.col("ts") >= start, pl.col("ts") < end))
    rows = sql_rows(store, "SELECT asset_id, metric, {x}.time_bucket('1 day', ts)::date,"
                           " sum(value), count(*) FROM {s}.readings GROUP BY 1, 2, 3")
    bucket = pl.DataFrame(rows, schema=["asset_id", "metric", "day", "sum", "count"],
                          orient="row")
    want = (back.group_by("asset_id", "metric", day=pl.col("ts").dt.date())
            .agg(sum=pl.col("value").sum(), mean=pl.col("value").mean(),
                 min=pl.col("value").min(), max=pl.col("value").max(),
                 count=pl.len().cast(pl.Int64))
            .sort("asset_id", "metric", "day"))
    got_bucket = bucket.sort("asset_id", "metric", "day")
    assert got_bucket["count"].to_list() == want["count"].to_list()
    assert np.allclose(got_bucket["sum"].to_numpy(), want["sum"].to_numpy(), rtol=1e-12)
    agg = store.daily_aggregate()
    assert agg.columns == ["asset_id", "metric", "day", "sum", "mean", "min", "max", "count"]
    assert agg.select("asset_id", "metric", "day", "count", "min", "max").equals(
        want.select("asset_id", "metric", "day", "count", "min", "max"))
    assert np.allclose(agg["mean"].to_numpy(), want["mean"].to_numpy(), rtol=1e-12)
    part = store.daily_aggregate(assets=["M1"], metrics=["energy_kwh"],
                                 start=DAY0 + timedelta(hours=6), end=DAY0 + timedelta(days=1))
    w = back.filter(pl.col("asset_id") == "M1", pl.col("metric") == "energy_kwh",
                    pl.col("ts") >= DAY0 + timedelta(hours=6),
                    pl.col("ts") < DAY0 + timedelta(days=1))
    assert part["count"].to_list() == [w.height]
    assert part["sum"][0] == pytest.approx(w["value"].sum(), rel=1e-12)
    local = store.daily_aggregate(tz="Asia/Shanghai")
    wl = (back.group_by("asset_id", "metric",
                        day=pl.col("ts").dt.convert_time_zone("Asia/Shanghai").dt.date())
          .agg(count=pl.len().cast(pl.Int64), min=pl.col("value").min())
          .sort("asset_id", "metric", "day"))
    assert local.select("asset_id", "metric", "day", "count", "min").equals(wl)


def test_bytes_per_reading_on_disk(store: TimescaleStore) -> None:
    assets = [f"MTR{i:05d}" for i in range(200)]
    data = frame(assets, DAY0, 900, 96 * 30)
    store.write(data)
    status = store.status()
    assert status["readings"] == data.height
    size = sql_rows(store, "SELECT {x}.hypertable_size('{s}.readings_day')")[0][0]
    assert size / data.height <= 12.0
    assert status["bytes_per_reading"] <= 12.0
    # Chunks inherit the storage settings that spare 5- and 1-minute curves a pglz attempt.
    five = frame(assets[:5], DAY0, 300, 288 * 2, metric="voltage_v_a")
    store.write(five)
    rows = sql_rows(store, "SELECT a.attstorage FROM {x}.show_chunks('{s}.readings_day') c"
                           " JOIN pg_attribute a ON a.attrelid = c AND a.attname = 'vals'")
    assert rows and all(r == ("e",) for r in rows)


# -- schema lifecycle -------------------------------------------------------------------------
def test_init_twice_keeps_data_and_status(store: TimescaleStore) -> None:
    data = frame(["M1"], DAY0, 900, 96)
    store.write(data)
    store.init()
    store.init()
    assert_same(store.read(), data)
    s = store.status()
    assert s["schema_version"] == SCHEMA_VERSION and s["initialised"] is True
    assert s["readings"] == 96 and s["day_rows"] == 1 and s["assets"] == 1
    assert s["first_ts"] == DAY0 and s["last_ts"] == DAY0 + timedelta(hours=23, minutes=45)
    assert s["timescaledb_version"]
    assert sql_rows(store, "SELECT version FROM {s}.schema_version ORDER BY 1") == [
        (v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_older_schema_migrates_forward(dsn: str) -> None:
    with temporary_store(dsn) as scratch:
        # A store left at version 1 (no readings view yet), holding data.
        store = TimescaleStore(dsn, schema=scratch.schema)
        data = frame(["M1"], DAY0, 900, 96)
        store.write(data)
        conn = store._connection()
        conn.execute(store._q("DROP FUNCTION {s}.readings_between"))
        conn.execute(store._q("DROP VIEW {s}.readings"))
        conn.execute(store._q("DELETE FROM {s}.schema_version WHERE version > 1"))
        old = TimescaleStore(dsn, schema=scratch.schema)
        with pytest.raises(SchemaError, match="griddiag db init"):
            old.read()
        old.init()
        assert_same(old.read(), data)
        assert sql_rows(old, "SELECT count(*) FROM {s}.readings") == [(96,)]
        old.close()
        store.close()


def test_newer_or_missing_schema_is_a_schema_error(dsn: str) -> None:
    with TimescaleStore(dsn, schema="griddiag_absent_schema") as missing:
        with pytest.raises(SchemaError, match="griddiag db init"):
            missing.read()
        assert missing.status()["initialised"] is False
    with temporary_store(dsn) as store:
        store._connection().execute(store._q(
            "INSERT INTO {s}.schema_version (version, description) VALUES (999, 'future')"))
        newer = TimescaleStore(dsn, schema=store.schema)
        with pytest.raises(SchemaError, match="newer"):
            newer.read()
        with pytest.raises(SchemaError, match="newer"):
            newer.init()
        newer.close()


def test_open_store_url_schema_parameter(dsn: str) -> None:
    with temporary_store(dsn) as scratch:
        sep = "&" if "?" in dsn else "?"
        with open_store(f"{dsn}{sep}schema={scratch.schema}") as store:
            assert isinstance(store, TimescaleStore) and store.schema == scratch.schema
            store.write(frame(["M1"], DAY0, 900, 4))
        assert scratch.read().height == 4
    with pytest.raises(ConfigError):
        TimescaleStore(dsn, schema="Robert'); DROP TABLE")


# -- errors -----------------------------------------------------------------------------------
def test_password_never_in_errors(dsn: str) -> None:
    secret = "s3cr3t-Pa55word"
    bad_urls = [f"postgresql://griddiag:{secret}@127.0.0.1:1/griddiag",
                f"host=127.0.0.1 port=1 user=griddiag password={secret} dbname=griddiag"]
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    if params.get("host", "").startswith("/") or not params.get("host"):
        # A password-authenticated TCP login to the real server, where it listens on TCP.
        bad_urls.append(f"postgresql://{params.get('user', 'griddiag')}:{secret}@localhost:"
                        f"{params.get('port', 5432)}/{params.get('dbname', 'griddiag')}")
    for url in bad_urls:
        store = TimescaleStore(url)
        assert secret not in store.url and secret not in repr(store)
        try:
            store.read()
        except StoreError as exc:
            chain = [exc, exc.__cause__]
            assert all(secret not in str(e) for e in chain if e is not None)
        else:  # trust authentication ignores the password: nothing to leak
            continue
        finally:
            store.close()


def test_random_write_sequences_match_a_reference_model(store: TimescaleStore) -> None:
    """Writes mixing grids (1 min ... 1 h), partial days, off-grid and sub-second time stamps,
    NaN, conflicts and replacements, checked against a dict of what should be stored."""
    rng = np.random.default_rng(11)
    model: dict[tuple[str, str, int], float] = {}
    base = int(DAY0.timestamp()) * 1_000_000
    for step in range(14):
        mode = "replace" if step % 5 == 4 else "reject"
        rows: dict[tuple[str, str, int], float] = {}
        for _ in range(rng.integers(1, 4)):
            asset = f"A{rng.integers(0, 3)}"
            metric = ["energy_kwh", "voltage_v_a"][rng.integers(0, 2)]
            grid = int(rng.choice([60, 300, 900, 3600, 7]))
            first = int(rng.integers(0, 3 * 86_400 // grid)) * grid
            count = int(rng.integers(1, 400))
            ts = base + (first + np.arange(count) * grid) * 1_000_000
            if rng.random() < 0.3:  # a few readings off any grid, some sub-second
                ts = np.concatenate([ts, base + rng.integers(0, 3 * 86_400_000_000, 5)])
            for t in ts.tolist():
                key = (asset, metric, t)
                known = model.get(key)
                r = rng.random()
                if known is not None and r < 0.6:
                    v = known  # a duplicate
                elif r < 0.05:
                    v = float("nan")
                else:
                    v = float(np.round(rng.standard_normal() * 100, int(rng.integers(0, 4))))
                rows[key] = v
        batch = pl.DataFrame(
            [(a, t, m, v) for (a, m, t), v in rows.items()],
            schema={"asset_id": pl.String, "ts": pl.Int64, "metric": pl.String,
                    "value": pl.Float64}, orient="row",
        ).with_columns(pl.col("ts").cast(TS_DTYPE)).sample(fraction=1.0, shuffle=True,
                                                          seed=step)
        want = {"loaded": 0, "duplicate": 0, "missing": 0, "conflict": 0}
        for key, v in rows.items():
            if np.isnan(v):
                want["missing"] += 1
            elif key not in model:
                want["loaded"] += 1
                model[key] = v
            elif model[key] == v:
                want["duplicate"] += 1
            else:
                want["conflict"] += 1
                if mode == "replace":
                    model[key] = v
        got = store.write(batch, on_conflict=mode)
        assert (got.loaded, got.duplicate, got.missing, got.conflicts.height) == (
            want["loaded"], want["duplicate"], want["missing"], want["conflict"]), step
        assert got.replaced == (want["conflict"] if mode == "replace" else 0)
        expected = pl.DataFrame(
            [(a, t, m, v) for (a, m, t), v in model.items()],
            schema={"asset_id": pl.String, "ts": pl.Int64, "metric": pl.String,
                    "value": pl.Float64}, orient="row",
        ).with_columns(pl.col("ts").cast(TS_DTYPE))
        assert_same(store.read(), expected)
    # Every reading is stored exactly once: in a slot or in the irregular table.
    slots = sql_rows(store, "SELECT coalesce(sum(n_points), 0) FROM {s}.readings_day")[0][0]
    irregular = sql_rows(store, "SELECT count(*) FROM {s}.readings_irregular")[0][0]
    assert slots + irregular == len(model)
    assert sql_rows(store, "SELECT count(*) FROM {s}.readings") == [(len(model),)]


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London"])
def test_daily_aggregate_local_days_across_dst(store: TimescaleStore, tz: str) -> None:
    # 2024-03-10 is 23 hours long in New York, 2024-03-31 in London (whose 23-hour day holds
    # two local midnights of one UTC day); 15-minute, hourly and irregular readings.
    t0 = datetime(2024, 3, 8, tzinfo=UTC)
    data = pl.concat([
        frame(["M1", "M2"], t0, 900, 96 * 26),
        frame(["M1"], t0 + timedelta(minutes=30), 3600, 24 * 26, metric="voltage_v_a", seed=4),
        frame(["M3"], t0 + timedelta(seconds=7), 86_400 // 5 + 13, 5 * 26, seed=5),
    ])
    store.write(data)
    back = store.read()

    def expect(df: pl.DataFrame) -> pl.DataFrame:
        return (df.group_by("asset_id", "metric",
                            day=pl.col("ts").dt.convert_time_zone(tz).dt.date())
                .agg(sum=pl.col("value").sum(), mean=pl.col("value").mean(),
                     min=pl.col("value").min(), max=pl.col("value").max(),
                     count=pl.len().cast(pl.Int64))
                .sort("asset_id", "metric", "day"))

    def check(got: pl.DataFrame, want: pl.DataFrame) -> None:
        assert got.select("asset_id", "metric", "day", "count", "min", "max").equals(
            want.select("asset_id", "metric", "day", "count", "min", "max"))
        assert np.allclose(got["sum"].to_numpy(), want["sum"].to_numpy(), rtol=1e-9, atol=1e-9)
        assert np.allclose(got["mean"].to_numpy(), want["mean"].to_numpy(), rtol=1e-9,
                           atol=1e-9)

    check(store.daily_aggregate(tz=tz), expect(back))
    start, end = t0 + timedelta(days=2, hours=3, minutes=7), t0 + timedelta(days=24, hours=5)
    check(store.daily_aggregate(["M1", "M3"], start=start, end=end, tz=tz),
          expect(back.filter(pl.col("asset_id").is_in(["M1", "M3"]), pl.col("ts") >= start,
                             pl.col("ts") < end)))
    # The same buckets as time_bucket over the readings view, computed by the server.
    rows = sql_rows(store, "SELECT asset_id, metric, ({x}.time_bucket('1 day', ts, %s)"
                           " AT TIME ZONE %s)::date, count(*) FROM {s}.readings"
                           " GROUP BY 1, 2, 3", (tz, tz))
    bucket = pl.DataFrame(rows, schema=["asset_id", "metric", "day", "count"], orient="row")
    assert bucket.sort("asset_id", "metric", "day").equals(
        store.daily_aggregate(tz=tz).select("asset_id", "metric", "day", "count"))
    with pytest.raises(ConfigError, match="time zone"):
        store.daily_aggregate(tz="Mars/Olympus")


def test_batch_of_only_disagreeing_rows(store: TimescaleStore) -> None:
    one = frame(["M1"], DAY0, 900, 1)
    r = store.write(pl.concat([one, one.with_columns(value=pl.lit(7.0))]))
    assert (r.loaded, r.conflicts.height) == (0, 2)
    assert store.read().height == 0
    assert store.write(one.clear()).loaded == 0


def test_irregular_only_readings_come_back_in_frame_order(store: TimescaleStore) -> None:
    # Keys are given in order of first appearance (z before a), metrics by name, not key.
    odd = pl.DataFrame({
        "asset_id": ["z", "z", "a", "a"],
        "ts": [DAY0 + timedelta(seconds=s) for s in (7, 3)] * 2,
        "metric": ["voltage_v_a", "energy_kwh", "voltage_v_a", "energy_kwh"],
        "value": [1.0, 2.0, 3.0, 4.0],
    }).with_columns(pl.col("ts").cast(TS_DTYPE))
    store.write(odd)
    assert store.read().equals(canon(odd))
