"""compare_years on a store: hourly aggregates computed by the store (TimescaleDB in SQL,
Parquet with a lazy scan) give the frame path's yoy frame; yearly summaries of baseline years
are cached in the store, reused by the next comparison and invalidated by a write to that
year; ``griddiag compare`` on the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from griddiag.cli import main
from griddiag.storage.base import Store
from griddiag.yoy import compare_years, hourly_aggregate
from griddiag.yoy.summary import HOURLY_SCHEMA

TZ = "Asia/Shanghai"


def _readings(ids, years, *, rng, interval="15m", growth=None):
    ts = pl.datetime_range(datetime(min(years) - 1, 12, 31, 16, tzinfo=UTC),
                           datetime(max(years), 12, 31, 16, tzinfo=UTC), interval,
                           closed="left", eager=True).dt.cast_time_unit("us")
    local_h = ts.dt.convert_time_zone(TZ).dt.hour().to_numpy()
    shape = 0.4 + np.exp(-0.5 * ((local_h - 19) / 2.0) ** 2)
    parts = []
    for a in ids:
        v = shape * np.exp(rng.normal(0, 0.15, ts.len()))
        if growth and a in growth:
            v = np.where(ts.dt.year().to_numpy() == max(years), v * growth[a], v)
        v[rng.random(ts.len()) < 0.01] = np.nan  # a few missing readings
        parts.append(pl.DataFrame({"asset_id": a, "ts": ts, "metric": "energy_kwh",
                                   "value": v}))
    return pl.concat(parts)


def _assets(ids, tz=TZ):
    return pl.DataFrame({"asset_id": ids, "kind": "meter", "tz": tz})


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(21)
    ids = [f"S{i:02d}" for i in range(6)]
    frame = _readings(ids, [2024, 2025], rng=rng, growth={"S00": 1.3})
    assets = _assets(ids).with_columns(
        pl.when(pl.col("asset_id") == "S05").then(pl.lit("Asia/Kolkata"))
        .otherwise(pl.col("tz")).alias("tz"))
    want = compare_years(frame, year=2025, assets=assets)
    return frame, assets, ids, want


def _same_yoy(got: pl.DataFrame, want: pl.DataFrame) -> None:
    got, want = got.sort("asset_id", "metric"), want.sort("asset_id", "metric")
    assert got.columns == want.columns and got.height == want.height
    for c in got.columns:
        if got[c].dtype == pl.Float64:
            np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-9,
                                       atol=1e-12, equal_nan=True, err_msg=c)
        elif c not in ("reason",):
            assert got[c].equals(want[c]), c


def test_store_hourly_aggregate_matches_frame(store, case):
    frame, assets, ids, _ = case
    store.upsert_assets(assets)
    store.write(frame)
    tz = dict(assets.select("asset_id", "tz").iter_rows())
    lo, hi = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, 7, 30, tzinfo=UTC)
    got = store.hourly_aggregate(ids, ["energy_kwh"], lo, hi, tz=tz)
    part = frame.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi))
    want = hourly_aggregate(part, assets)
    assert dict(got.schema) == HOURLY_SCHEMA
    assert got.select("asset_id", "metric", "hour", "count").equals(
        want.select("asset_id", "metric", "hour", "count"))
    for c in ("sum", "max", "min"):
        np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-12)
    # India's local hours start at half past the UTC hour
    kolkata = got.filter(pl.col("asset_id") == "S05")["hour"].dt.minute().unique().to_list()
    assert kolkata == [30]
    # the generic implementation (read batches, reduce with the kernel) agrees
    base = Store.hourly_aggregate(store, ids, ["energy_kwh"], lo, hi, tz=tz)
    assert base.select("asset_id", "metric", "hour", "count").equals(
        got.select("asset_id", "metric", "hour", "count"))


def test_store_path_gives_the_frame_path_yoy(store, case):
    frame, assets, ids, want = case
    store.upsert_assets(assets)
    store.write(frame)

    def no_raw_reads(*args, **kwargs):
        raise AssertionError("compare_years read raw readings from the store")

    store.read_batches = no_raw_reads  # the store aggregates; raw years never leave it
    got = compare_years(store, year=2025, batch_assets=2)
    _same_yoy(got, want)
    row = got.filter(pl.col("asset_id") == "S00").row(0, named=True)
    assert row["change_class"] == "growth" and row["significant"]


class _Counting:
    """Records the (assets, start) of every hourly aggregate the store computes."""

    def __init__(self, store):
        self.calls = []
        inner = store.hourly_aggregate

        def counted(assets=None, metrics=None, start=None, end=None, **kw):
            self.calls.append((tuple(sorted(assets)), start))
            return inner(assets, metrics, start, end, **kw)

        store.hourly_aggregate = counted

    def years(self):
        return sorted((s.year + 1, len(a)) for a, s in self.calls)


def test_baseline_summaries_are_cached_and_invalidated(store, case):
    frame, assets, ids, want = case
    store.upsert_assets(assets)
    store.write(frame)
    counting = _Counting(store)
    first = compare_years(store, year=2025)
    assert counting.years() == [(2024, 6), (2025, 6)]  # both years aggregated
    counting.calls.clear()
    second = compare_years(store, year=2025)
    assert counting.years() == [(2025, 6)]  # the baseline year came from the cache
    _same_yoy(second, first)
    _same_yoy(second, want)
    # appending the next year's readings keeps 2024's summaries valid
    nxt = frame.filter(pl.col("asset_id") == "S01").with_columns(
        pl.col("ts").dt.offset_by("1y")).filter(pl.col("ts") >= datetime(2026, 1, 2,
                                                                         tzinfo=UTC))
    store.write(nxt)
    counting.calls.clear()
    compare_years(store, year=2025, baseline_years=[2024])
    assert counting.years() == [(2025, 6)]
    # correcting a 2024 reading of S02 invalidates its 2024 summary, and the result follows
    fix = frame.filter((pl.col("asset_id") == "S02")
                       & (pl.col("ts") >= datetime(2024, 6, 1, tzinfo=UTC))
                       & (pl.col("ts") < datetime(2024, 6, 2, tzinfo=UTC))
                       & pl.col("value").is_not_nan())
    store.write(fix.with_columns(pl.col("value") * 5), on_conflict="replace")
    counting.calls.clear()
    third = compare_years(store, year=2025)
    redone = [a for a, s in counting.calls if s.year + 1 == 2024]
    assert redone and all("S02" in a for a in redone)
    assert len(redone[0]) < len(ids) or store.__class__.__name__ == "ParquetStore"
    expect = compare_years(frame.join(fix.select("asset_id", "ts", "metric"),
                                      on=["asset_id", "ts", "metric"], how="anti")
                           .vstack(fix.with_columns(pl.col("value") * 5)),
                           year=2025, assets=assets)
    _same_yoy(third, expect)
    assert third.filter(pl.col("asset_id") == "S02")["energy_baseline_kwh"].item() > \
        first.filter(pl.col("asset_id") == "S02")["energy_baseline_kwh"].item()


def test_cache_can_be_switched_off(store, case):
    frame, assets, ids, want = case
    store.upsert_assets(assets)
    store.write(frame)
    compare_years(store, year=2025)
    counting = _Counting(store)
    got = compare_years(store, year=2025, use_cache=False)
    assert counting.years() == [(2024, 6), (2025, 6)]
    _same_yoy(got, want)


def test_cli_compare(tmp_path, capsys):
    rng = np.random.default_rng(5)
    ids = ["C1", "C2", "C3"]
    frame = _readings(ids, [2024, 2025], rng=rng, interval="1h", growth={"C1": 1.5})
    store = str(tmp_path / "store")
    assert main(["db", "init", "--store", store]) == 0
    from griddiag.storage import open_store

    with open_store(store) as s:
        s.upsert_assets(_assets(ids))
        s.write(frame)
    out = tmp_path / "out" / "yoy.csv"
    assert main(["compare", "--store", store, "--year", "2025", "--baseline", "2024",
                 "--out", str(out)]) == 0
    assert "3 rows" in capsys.readouterr().out
    yoy = pl.read_csv(out)
    assert yoy.height == 3 and set(yoy["asset_id"]) == set(ids)
    row = yoy.filter(pl.col("asset_id") == "C1").row(0, named=True)
    assert row["change_class"] == "growth" and row["significant"]
    assert row["energy_change_pct"] == pytest.approx(50.0, abs=5.0)
    assert (yoy["period_end"].cast(pl.String) == date(2026, 1, 1).isoformat()).all()
    # usage errors: exit code 2, one line on stderr
    assert main(["compare", "--store", store, "--year", "2025", "--baseline", "20x4",
                 "--out", str(out)]) == 2
    assert main(["compare", "--store", store, "--year", "2025", "--out",
                 str(tmp_path / "yoy.txt")]) == 2
    err = capsys.readouterr().err
    assert "--baseline" in err and ".parquet" in err
