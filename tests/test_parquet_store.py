"""What only the embedded store has: partition files, compaction, crash safety, migration."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from griddiag.storage import parquet as pq
from griddiag.storage.parquet import ParquetStore
from tests.test_store_contract import make_readings, sorted_frame


def test_year_partitions_and_only_that_years_files_are_read(tmp_path):
    store = ParquetStore(tmp_path / "s")
    df = make_readings(["m1", "m2"], ["energy_kwh"], 16)  # 2024-12-31 22:00 .. 2025-01-01 01:45
    store.write(df)
    years = sorted(p.name for p in (tmp_path / "s" / "readings").iterdir())
    assert years == ["year=2024", "year=2025"]
    assert store._partition_files([2025], None)
    assert all("year=2025" in str(f) for f in store._partition_files([2025], None))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    got = store.read(start=start, end=datetime(2026, 1, 1, tzinfo=UTC))
    assert got.equals(sorted_frame(df.filter(pl.col("ts") >= start)))


def test_many_writes_compact_and_keep_every_reading_once(tmp_path, monkeypatch):
    monkeypatch.setattr(pq, "_MAX_PARTS", 3)
    store = ParquetStore(tmp_path / "s")
    monkeypatch.setattr(store, "n_buckets", 1)  # one partition per year: every write hits it
    frames = [make_readings([f"m{i}"], ["energy_kwh"], 8, seed=i) for i in range(7)]
    for f in frames:
        store.write(f)
    folder = tmp_path / "s" / "readings" / "year=2024" / "bucket=00"
    names = sorted(p.name for p in folder.iterdir())
    assert any(n.startswith("c") for n in names)  # compacted at least once
    assert len(store._partition(2024, 0).live_files()) <= 4
    assert store.read().equals(sorted_frame(pl.concat(frames)))
    # Writing everything again is all duplicates, across base and parts alike.
    res = store.write(pl.concat(frames))
    assert (res.loaded, res.duplicate) == (0, sum(f.height for f in frames))


def test_crash_after_compaction_leaves_no_double_readings(tmp_path, monkeypatch):
    """A base written but the files it covers not yet deleted (a crash in between) must not
    show those readings twice, and the next write removes the stale files."""
    store = ParquetStore(tmp_path / "s")
    monkeypatch.setattr(store, "n_buckets", 1)
    a = make_readings(["m1"], ["energy_kwh"], 8)
    b = make_readings(["m2"], ["energy_kwh"], 8)
    store.write(a)
    store.write(b)
    partition = store._partition(2024, 0)
    stale_parts = partition.live_files()
    monkeypatch.setattr(pq._Partition, "remove_stale", lambda self: None)  # "crash"
    store._compact(partition, 2024)
    assert all(p.exists() for p in stale_parts)
    assert store.read().equals(sorted_frame(pl.concat([a, b])))
    monkeypatch.undo()
    store = ParquetStore(tmp_path / "s")
    monkeypatch.setattr(store, "n_buckets", 1)
    store.write(make_readings(["m3"], ["energy_kwh"], 2))
    assert not any(p.exists() for p in stale_parts)


def test_replace_rewrites_the_partition_once(tmp_path):
    store = ParquetStore(tmp_path / "s")
    df = make_readings(["m1"], ["energy_kwh"], 4)
    store.write(df)
    store.write(df.head(2).with_columns(pl.col("value") + 1), on_conflict="replace")
    vals = store.read()["value"].to_list()
    assert vals[:2] == [v + 1 for v in df["value"].to_list()[:2]]
    assert vals[2:] == df["value"].to_list()[2:]
    assert store.audit().height == 2


def test_v1_store_is_migrated_on_open(tmp_path):
    root = tmp_path / "old"
    store = ParquetStore(root)
    df = make_readings(["m1", "m2"], ["energy_kwh"], 6)
    store.write(df)
    # Rebuild the v1 layout: one file per partition, marker at version 1.
    for year_dir in (root / "readings").iterdir():
        for folder in list(year_dir.iterdir()):
            rows = pl.read_parquet(folder.glob("*.parquet").__next__())
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()
            rows.write_parquet(year_dir / f"{folder.name}.parquet")
    marker = root / "griddiag-store.json"
    meta = json.loads(marker.read_text())
    meta["schema_version"] = 1
    marker.write_text(json.dumps(meta))

    migrated = ParquetStore(root)
    assert migrated.status()["schema_version"] == pq.SCHEMA_VERSION
    assert not list((root / "readings").glob("year=*/bucket=*.parquet"))
    assert migrated.read().equals(sorted_frame(df))


def test_status_reads_footers_and_scans_a_file_without_statistics(tmp_path, monkeypatch):
    store = ParquetStore(tmp_path / "s")
    df = make_readings(["m1", "m2", "m3"], ["energy_kwh"], 40)
    store.write(df)
    st = store.status()
    assert (st["readings"], st["first_ts"], st["last_ts"]) == (
        df.height, df["ts"].min(), df["ts"].max())
    # a file written by another tool without ts statistics: its rows are scanned instead
    no_stats = lambda path: (pl.scan_parquet(path).select(pl.len()).collect().item(),  # noqa: E731
                             None, None)
    monkeypatch.setattr(pq, "_file_footer", no_stats)
    assert store.status() == st
