"""Ingestion into real stores: every layout, encoding and time convention, and the bad-input
corpus of ``tests/corpus`` (see ``make_corpus.py`` there for how each file was made).

Most tests use the embedded Parquet store on a temporary directory; the ones taking the
``store`` fixture (conftest.py) run on TimescaleDB too.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from griddiag.exceptions import ConfigError, InputError
from griddiag.ingest import IngestReport, ingest, read_quarantine, read_source
from griddiag.schema import READINGS_SCHEMA
from griddiag.storage import open_store
from griddiag.storage.base import Store

CORPUS = Path(__file__).parent / "corpus"
KEY = ["asset_id", "metric", "ts"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A copy of the corpus: quarantine folders are created beside the inputs."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns("*.py", "*.quarantine"))
    return dest


@pytest.fixture
def pstore(tmp_path):
    with open_store(tmp_path / "store") as s:
        yield s


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def stored(st: Store) -> pl.DataFrame:
    return st.read().select(list(READINGS_SCHEMA)).sort(KEY)


def canonical(rows: list[tuple[str, datetime, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=READINGS_SCHEMA, orient="row").sort(KEY)


def balanced(r: IngestReport) -> bool:
    return r.rows_read == (r.rows_loaded + r.rows_replaced + r.rows_duplicate
                           + r.rows_rejected + r.rows_missing)


def codes(report: IngestReport) -> dict[int, str]:
    """line -> code of the last run's quarantine rows."""
    q = read_quarantine(report.quarantine_path)  # type: ignore[arg-type]
    q = q.filter(pl.col("run_at") == q["run_at"].max())
    return dict(zip(q["line"].to_list(), q["code"].to_list(), strict=True))


def random_readings(n_assets: int = 3, n: int = 40, seed: int = 0) -> pl.DataFrame:
    """Readings over many magnitudes, within each metric's physical range."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2023, 12, 31, 23, 0)
    rows = []
    for a in range(n_assets):
        for metric, sign in (("energy_kwh", 1.0), ("voltage_v_a", 0.0), ("current_a_n", 0.0)):
            for i in range(n):
                x = rng.standard_normal() * 10.0 ** rng.integers(-4, 5)
                rows.append((f"M{a:03d}", t0 + timedelta(minutes=15 * i), metric,
                             x if sign else abs(x)))
    df = pl.DataFrame(rows, schema={"asset_id": pl.String, "ts": pl.Datetime("us"),
                                    "metric": pl.String, "value": pl.Float64}, orient="row")
    return df.with_columns(pl.col("ts").dt.replace_time_zone("UTC")).sort(KEY)


def to_long_csv(df: pl.DataFrame, path: Path, *, header: tuple[str, ...] = (
        "asset_id", "timestamp", "metric", "value"), encoding: str = "utf-8") -> Path:
    out = df.select(
        pl.col("asset_id"), pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S"), "metric", "value")
    out.columns = list(header)
    text = out.write_csv()
    path.write_bytes(("\ufeff" + text).encode("utf-8") if encoding == "utf-8-sig"
                     else text.encode(encoding))
    return path


# -- layouts and encodings ---------------------------------------------------------------------


def test_long_csv_round_trips_exactly(store, tmp_path):
    df = random_readings()
    path = to_long_csv(df, tmp_path / "long.csv")
    report = ingest(store, path)
    assert report.rows_read == report.rows_loaded == df.height
    assert report.rows_rejected == 0 and report.quarantine_path is None
    assert stored(store).equals(df)
    assert {"M000", "M001", "M002"} <= set(store.assets()["asset_id"].to_list())


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_and_chinese_headers_round_trip(pstore, tmp_path, encoding):
    df = random_readings(n=10).with_columns(
        pl.col("asset_id").str.replace("M", "电表"))
    path = to_long_csv(df, tmp_path / "cn.csv", header=("户号", "时间", "指标", "数值"),
                       encoding=encoding)
    report = ingest(pstore, path)
    assert report.files[0].encoding == ("gb18030" if encoding == "gb18030" else "utf-8")
    assert report.rows_loaded == df.height
    assert stored(pstore).equals(df)


def test_gb18030_corpus_with_crlf(corpus, pstore):
    report = ingest(pstore, corpus / "gb18030_long.csv")
    assert report.files[0].encoding == "gb18030"
    assert stored(pstore).equals(canonical([
        ("电表一", utc(2024, 1, 1), "energy_kwh", 1.5),
        ("电表二", utc(2024, 1, 1), "voltage_v_a", 220.1),
    ]))


def test_wide_by_metric_converts_units_exactly(corpus, pstore):
    report = ingest(pstore, corpus / "utf8_bom_wide.csv")
    assert report.files[0].format == "wide"
    assert report.files[0].columns_ignored == ("comment",)
    assert stored(pstore).equals(canonical([
        ("T1", utc(2024, 1, 1, 0, 0), "energy_kwh", 1.234),
        ("T1", utc(2024, 1, 1, 0, 15), "energy_kwh", 0.009),
        ("T1", utc(2024, 1, 1, 0, 0), "voltage_v_a", 231.0),
        ("T1", utc(2024, 1, 1, 0, 15), "voltage_v_a", 229.5),
    ]))


def test_unit_column_and_decimal_exact_scaling(pstore, tmp_path):
    path = write(tmp_path / "u.csv", "meter,time,metric,value,unit\n"
                 "A,2024-01-01 00:00,energy,1234.5,Wh\n"
                 "A,2024-01-01 00:00,voltage_a,0.23051,kV\n"
                 "A,2024-01-01 00:00,energy_kwh,7,Wh\n"
                 "A,2024-01-01 00:15,energy,2,千瓦时\n")
    report = ingest(pstore, path)
    assert codes(report) == {4: "unknown_metric"}  # energy_kwh given in Wh: contradiction
    assert stored(pstore).equals(canonical([
        ("A", utc(2024, 1, 1), "energy_kwh", 1.2345),
        ("A", utc(2024, 1, 1, 0, 15), "energy_kwh", 2.0),
        ("A", utc(2024, 1, 1), "voltage_v_a", 230.51),
    ]))


def day_wide_text(labels: list[str], values: dict[tuple[str, str], list[float]],
                  header: str = "户号,日期") -> str:
    lines = [",".join([header, *labels])]
    for (asset, day), vals in values.items():
        lines.append(",".join([asset, day, *(repr(v) for v in vals)]))
    return "\n".join(lines) + "\n"


def day_values(seed: int = 1) -> dict[tuple[str, str], list[float]]:
    rng = np.random.default_rng(seed)
    return {(a, d): [round(float(x), 3) for x in rng.gamma(2.0, 0.3, 96)]
            for a in ("0001", "0002") for d in ("2024-03-30", "2024-03-31")}


def expected_day_wide(values: dict[tuple[str, str], list[float]], tz_hours: int
                      ) -> pl.DataFrame:
    rows = []
    for (asset, day), vals in values.items():
        start = datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(hours=tz_hours)
        rows += [(asset, start + timedelta(minutes=15 * k), "energy_kwh", v)
                 for k, v in enumerate(vals)]
    return canonical(rows)


@pytest.mark.parametrize("labels", ["end", "start", "numbered"])
def test_day_wide_96_points(pstore, tmp_path, labels):
    names = {
        "end": [f"{m // 60:02d}:{m % 60:02d}" for m in range(15, 1441, 15)],
        "start": [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 1440, 15)],
        "numbered": [f"p{k}" for k in range(1, 97)],
    }[labels]
    values = day_values()
    path = write(tmp_path / "curve.csv", day_wide_text(names, values))
    report = ingest(pstore, path, tz="Asia/Shanghai")
    assert report.files[0].format == "day-wide"
    assert report.rows_read == report.rows_loaded == 4 * 96
    assert stored(pstore).equals(expected_day_wide(values, 8))


def test_day_wide_rejects_start_label_option_for_24h_labels(pstore, tmp_path):
    names = [f"{m // 60:02d}:{m % 60:02d}" for m in range(15, 1441, 15)]
    path = write(tmp_path / "curve.csv", day_wide_text(names, day_values()))
    with pytest.raises(ConfigError, match="interval ends"):
        ingest(pstore, path, interval_label="start")


def test_day_wide_hourly_with_metric_column_and_bad_cells(pstore, tmp_path):
    labels = [f"{h:02d}:00" for h in range(1, 25)]  # 24 hourly end labels
    rows = ["asset,date,metric," + ",".join(labels)]
    rows.append("T9,2024-01-02,voltage_v_a," + ",".join(["230"] * 23 + ["-1"]))
    rows.append("T9,2024-01-02,energy_kwh," + ",".join(["1.5"] * 22 + ["", "x"]))
    rows.append("T9,2024-01-0x,energy_kwh," + ",".join(["1"] * 24))
    path = write(tmp_path / "hourly.csv", "\n".join(rows) + "\n")
    report = ingest(pstore, path, metric="energy_wh")  # the metric column wins
    q = read_quarantine(report.quarantine_path)
    assert sorted(q.select("line", "field", "code").rows()) == [
        (2, "24:00", "out_of_range"), (3, "24:00", "non_numeric_value"),
        (4, "date", "bad_date")]
    assert report.rows_read == 3 * 24
    assert report.rows_missing == 1 and report.rows_rejected == 1 + 1 + 24
    assert report.rows_loaded == 23 + 22
    assert balanced(report)
    out = stored(pstore)
    assert out.filter(pl.col("metric") == "voltage_v_a")["ts"].min() == utc(2024, 1, 2, 0)


def test_day_columns_sgcc_layout(corpus, pstore):
    report = ingest(pstore, corpus / "sgcc_days.csv")
    f = report.files[0]
    assert f.format == "day-columns" and f.columns_ignored == ("FLAG",)
    assert stored(pstore).equals(canonical([
        ("A0001", utc(2014, 1, 1), "energy_kwh", 1.5),
        ("A0001", utc(2014, 1, 3), "energy_kwh", 2.25),
        ("A0002", utc(2014, 1, 2), "energy_kwh", 3.0),
    ]))
    assert codes(report) == {3: "non_numeric_value"}
    assert report.rows_missing == 2 and report.rows_read == 6 and balanced(report)


def test_parquet_and_frame_sources(tmp_path):
    df = random_readings(n=12)
    long = df.rename({"ts": "timestamp"})
    long.write_parquet(tmp_path / "long.parquet")
    wide = df.pivot("metric", index=["asset_id", "ts"], values="value")
    wide.write_parquet(tmp_path / "wide.bin")  # told apart by content, not by name
    for source in (tmp_path / "long.parquet", tmp_path / "wide.bin", df, long.lazy()):
        shutil.rmtree(tmp_path / "s", ignore_errors=True)
        with open_store(tmp_path / "s") as st:
            report = ingest(st, source)
            assert report.rows_loaded == df.height, source
            assert stored(st).equals(df)


def test_parquet_bad_rows_quarantined_by_row_number(pstore, tmp_path):
    pl.DataFrame({"asset_id": ["A", "A", None], "ts": ["2024-01-01 00:00", "nope", "2024-01-01"],
                  "metric": ["voltage_v_a"] * 3, "value": [230.0, 231.0, 1.0]}
                 ).write_parquet(tmp_path / "p.parquet")
    report = ingest(pstore, tmp_path / "p.parquet")
    q = read_quarantine(report.quarantine_path)
    assert q.select("line", "code").rows() == [(2, "bad_timestamp"), (3, "empty_asset_id")]
    assert q["raw"][0] == "A,nope,voltage_v_a,231.0"


def test_column_mapping(pstore, tmp_path):
    path = write(tmp_path / "m.csv", "Meter No;Read At;Channel;Reading\n"
                 "0042;2024-01-01T00:00:00Z;energy_kwh;1.5\n")
    report = ingest(pstore, path, columns={"Meter No": "asset_id", "Read At": "ts",
                                           "Reading": "value"})
    assert report.rows_loaded == 1
    assert stored(pstore)["asset_id"].to_list() == ["0042"]  # leading zeros kept


# -- time ---------------------------------------------------------------------------------------


def test_end_labels_inferred_per_series(pstore, tmp_path):
    path = write(tmp_path / "e.csv", "asset_id,timestamp,metric,value\n"
                 "A,2024-01-01 00:15,energy_kwh,1\n"
                 "A,2024-01-01 00:30,energy_kwh,2\n"
                 "A,2024-01-01 00:45,energy_kwh,3\n"
                 "B,2024-01-01 01:00,energy_kwh,4\n"
                 "B,2024-01-01 02:00,energy_kwh,5\n"
                 "C,2024-01-01 24:00,energy_kwh,6\n")
    report = ingest(pstore, path, interval_label="end")
    assert codes(report) == {7: "interval_unknown"}  # C has one reading
    assert stored(pstore).equals(canonical([
        ("A", utc(2024, 1, 1, 0, 0), "energy_kwh", 1.0),
        ("A", utc(2024, 1, 1, 0, 15), "energy_kwh", 2.0),
        ("A", utc(2024, 1, 1, 0, 30), "energy_kwh", 3.0),
        ("B", utc(2024, 1, 1, 0, 0), "energy_kwh", 4.0),
        ("B", utc(2024, 1, 1, 1, 0), "energy_kwh", 5.0),
    ]))
    # declared: every series is 15-minute, so B lands on new times and C converts
    report = ingest(pstore, path, interval_label="end", interval="15m")
    assert (report.rows_loaded, report.rows_duplicate) == (3, 3)
    assert stored(pstore).filter(pl.col("asset_id") != "A")["ts"].to_list() == [
        utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 0, 45), utc(2024, 1, 1, 1, 0),
        utc(2024, 1, 1, 1, 45), utc(2024, 1, 1, 23, 45)]


def test_end_labels_wide_layout(pstore, tmp_path):
    path = write(tmp_path / "w.csv", "asset_id,timestamp,energy_kwh,voltage_v_a\n"
                 "A,2024-01-01 01:00,1,230\nA,2024-01-01 02:00,2,231\n")
    report = ingest(pstore, path, interval_label="end")
    assert report.rows_loaded == 4
    assert sorted(set(stored(pstore)["ts"].to_list())) == [utc(2024, 1, 1, 0), utc(2024, 1, 1, 1)]


def test_end_labels_wait_for_the_next_chunk(tmp_path):
    """A series whose first reading ends a chunk still gets the interval the next chunk
    shows; results do not depend on the chunk size."""
    lines = ["asset_id,timestamp,metric,value"]
    for a in ("A", "B", "C"):
        for i in range(1, 30):
            lines.append(f"{a},2024-01-01 {i // 4:02d}:{i % 4 * 15:02d},energy_kwh,{i}")
    path = write(tmp_path / "e.csv", "\n".join(lines) + "\n")
    results = []
    for chunk_bytes in (1 << 20, 1024, 100):
        readings, rejects = read_source(path, interval_label="end", chunk_bytes=chunk_bytes,
                                        batch_rows=10)
        assert rejects.height == 0
        results.append(readings.drop("source_line").sort(KEY))
    assert results[0].height == 87 and results[0]["ts"].min() == utc(2024, 1, 1, 0, 0)
    assert all(r.equals(results[0]) for r in results)


DST = ("asset_id,timestamp,metric,value\n"
       "A,2024-03-31 01:45,voltage_v_a,230\n"
       "A,2024-03-31 02:30,voltage_v_a,231\n"   # does not exist in Berlin
       "A,2024-03-31 03:00,voltage_v_a,232\n"
       "A,2024-10-27 02:30,voltage_v_a,233\n"   # happens twice
       "A,2024-10-27 03:30,voltage_v_a,234\n"
       "A,2024-10-27T02:30:00+01:00,voltage_v_b,235\n")  # an offset is absolute


@pytest.mark.parametrize(("ambiguous", "overlap_utc"),
                         [("raise", None), ("earliest", 0), ("latest", 1)])
def test_dst_gap_and_overlap(pstore, tmp_path, ambiguous, overlap_utc):
    path = write(tmp_path / "dst.csv", DST)
    report = ingest(pstore, path, tz="Europe/Berlin", ambiguous=ambiguous)
    expected_codes = {3: "nonexistent_local_time"}
    rows = [("A", utc(2024, 3, 31, 0, 45), "voltage_v_a", 230.0),
            ("A", utc(2024, 3, 31, 1, 0), "voltage_v_a", 232.0),
            ("A", utc(2024, 10, 27, 2, 30), "voltage_v_a", 234.0),
            ("A", utc(2024, 10, 27, 1, 30), "voltage_v_b", 235.0)]
    if overlap_utc is None:
        expected_codes[5] = "ambiguous_local_time"
    else:
        rows.append(("A", utc(2024, 10, 27, overlap_utc, 30), "voltage_v_a", 233.0))
    assert codes(report) == expected_codes
    assert stored(pstore).equals(canonical(rows))
    q = read_quarantine(report.quarantine_path)
    assert "DST gap" in q.filter(pl.col("line") == 3)["reason"][0]


def test_zone_from_asset_attribute_then_tz_option(tmp_path):
    path = write(tmp_path / "z.csv", "asset_id,timestamp,metric,value\n"
                 "SH,2024-06-01 08:00,energy_kwh,1\n"
                 "XX,2024-06-01 08:00,energy_kwh,2\n")
    assets = write(tmp_path / "assets.csv", "asset_id,kind,tz\nSH,meter,Asia/Shanghai\n")
    with open_store(tmp_path / "s1") as st:
        ingest(st, path, assets=assets)
        assert stored(st)["ts"].to_list() == [utc(2024, 6, 1, 0), utc(2024, 6, 1, 8)]
        assert st.assets().filter(pl.col("asset_id") == "SH")["kind"][0] == "meter"
    with open_store(tmp_path / "s2") as st:
        ingest(st, path, assets=assets, tz="Europe/London")
        assert stored(st)["ts"].to_list() == [utc(2024, 6, 1, 7), utc(2024, 6, 1, 7)]


# -- the bad-input corpus ------------------------------------------------------------------------

BAD_LONG_CODES = {
    4: "bad_timestamp", 5: "non_numeric_value", 7: "non_finite_value", 9: "out_of_range",
    11: "empty_asset_id", 12: "unknown_metric", 13: "ragged_line", 14: "ragged_line",
    15: "duplicate_conflict", 16: "duplicate_conflict", 21: "timestamp_out_of_range",
    26: "malformed_quotes",
}


def test_bad_long_corpus(corpus, pstore):
    report = ingest(pstore, corpus / "bad_long.csv")
    assert codes(report) == BAD_LONG_CODES
    assert stored(pstore).equals(canonical([
        ("M1", utc(2024, 1, 1, 0, 0), "energy_kwh", 1.25),
        ("M1", utc(2024, 1, 1, 0, 15), "energy_kwh", 0.5),
        ("M2", utc(2024, 1, 1), "voltage_v_b", 231.5),
        ("M4", utc(2024, 1, 1), "energy_kwh", 7.0),
        ("M5,x", utc(2024, 1, 1), "energy_kwh", 8.0),
        ("M6", utc(2023, 12, 31, 16), "energy_kwh", 9.0),
        ("M6", utc(2024, 1, 1), "energy_kwh", 10.0),
        ("M7", utc(2024, 1, 1, 0, 15), "energy_kwh", 1.5),
        ("M7", utc(2024, 1, 1, 0, 30), "voltage_v_a", 230.5),
    ]))
    # NaN and an empty value are missing readings: neither stored nor quarantined
    assert report.rows_missing == 2 and report.rows_duplicate == 1
    assert report.rows_read == 24 and balanced(report)  # 25 data lines, one blank
    q = read_quarantine(report.quarantine_path)
    row = q.filter(pl.col("line") == 15).row(0, named=True)
    assert row["field"] == "value" and "line 16 has 4.5" in row["reason"]
    assert row["raw"] == "M3,2024-01-01 00:00:00,energy_kwh,3.5"
    assert row["file"] == str(corpus / "bad_long.csv")
    assert report.quarantine_path == corpus / "bad_long.csv.quarantine" / "quarantine.csv"


def test_mixed_encodings_quarantine_only_the_odd_line(corpus, pstore, tmp_path):
    report = ingest(pstore, corpus / "mixed_encoding.csv", quarantine_dir=tmp_path / "q")
    assert codes(report) == {3: "undecodable_line"}
    assert sorted(stored(pstore)["asset_id"].to_list()) == ["表001", "表003"]
    raw = read_quarantine(tmp_path / "q")["raw"][0]
    assert raw.startswith("\\xb1\\xed002,")  # the bytes, shown, not guessed


def test_truncated_last_line_is_quarantined(corpus, pstore, tmp_path):
    report = ingest(pstore, corpus / "truncated.csv", quarantine_dir=tmp_path / "q")
    assert codes(report) == {3: "truncated_line"}
    assert stored(pstore)["value"].to_list() == [1.5]


def test_header_only_loads_nothing_and_writes_no_quarantine(corpus, pstore, tmp_path):
    report = ingest(pstore, corpus / "header_only.csv", quarantine_dir=tmp_path / "q")
    assert report.rows_read == 0 and report.quarantine_path is None
    assert not (tmp_path / "q").exists()


def test_quoted_line_break_and_blank_lines(pstore, tmp_path):
    path = write(tmp_path / "q.csv", 'asset_id,timestamp,metric,value\n\n'
                 'A,2024-01-01 00:00,energy_kwh,1\n'
                 '"B\nC",2024-01-01 00:00,energy_kwh,2\n'
                 '\r\n'
                 '"D",2024-01-01 00:00,"energy_kwh","3"\n')
    report = ingest(pstore, path, quarantine_dir=tmp_path / "qq")
    assert codes(report) == {4: "malformed_quotes", 5: "malformed_quotes"}
    assert stored(pstore)["asset_id"].to_list() == ["A", "D"]


def test_chunk_size_does_not_change_results(corpus, tmp_path):
    text = (corpus / "bad_long.csv").read_text()
    path = write(tmp_path / "big.csv", text + "".join(
        f"Z{i},2024-01-01 00:00:00,energy_kwh,{i}\n" for i in range(300)))
    results = []
    for chunk_bytes in (1 << 20, 1500, 200):
        readings, rejects = read_source(path, chunk_bytes=chunk_bytes)
        results.append((readings.sort(KEY), sorted(rejects.select("line", "code").rows())))
    assert results[0][0].height == 9 + 300
    for r in results[1:]:
        assert r[0].equals(results[0][0]) and r[1] == results[0][1]


@pytest.mark.parametrize(("name", "match"), [
    ("empty.csv", "empty"),
    ("missing_column.csv", "format="),
    ("truncated.parquet", "Parquet"),
    ("does-not-exist.csv", "not found"),
])
def test_unreadable_file_is_one_error_and_loads_nothing(corpus, pstore, tmp_path, name, match):
    good = to_long_csv(random_readings(n=3), tmp_path / "good.csv")
    with pytest.raises(InputError, match=match) as info:
        ingest(pstore, [good, corpus / name])
    assert name in str(info.value)
    assert pstore.read().height == 0  # not even the good file


@pytest.mark.parametrize(("content", "match"), [
    (b"PK\x03\x04rest-of-a-zip", "Excel"),
    (b"\x1f\x8b\x08\x00gz", "gzip"),
    (b"asset_id,ts\x00\x01\x02", "binary"),
    (b"\xff\xfea\x00,\x00", "UTF-16"),
    (b"\n\n  \n", "empty"),
])
def test_not_csv_at_all(pstore, tmp_path, content, match):
    (tmp_path / "x.csv").write_bytes(content)
    with pytest.raises(InputError, match=match):
        ingest(pstore, tmp_path / "x.csv")


def test_unknown_layout_says_how_to_fix(pstore, tmp_path):
    path = write(tmp_path / "u.csv", "meter,foo,bar\n1,2,3\n")
    with pytest.raises(InputError, match=r"cannot tell the layout.*format=.*columns="):
        ingest(pstore, path)


@pytest.mark.parametrize("kwargs", [
    {"tz": "Mars/Olympus"}, {"format": "xml"}, {"interval": "fortnight"},
    {"ambiguous": "guess"}, {"interval_label": "middle"}, {"on_conflict": "merge"},
    {"columns": {"x": "not-a-role"}}, {"metric": "gigawatts"}, {"encoding": "latin-1"},
])
def test_bad_options_are_config_errors(corpus, pstore, tmp_path, kwargs):
    path = to_long_csv(random_readings(n=2), tmp_path / "l.csv")
    if "metric" in kwargs:  # only layouts without a metric column use it
        path = corpus / "sgcc_days.csv"
    with pytest.raises(ConfigError):
        ingest(pstore, path, **kwargs)
    assert pstore.read().height == 0


# -- the store: duplicates, conflicts, strict mode, interruption --------------------------------


def test_reingest_is_a_no_op(corpus, store, tmp_path):
    path = corpus / "bad_long.csv"
    first = ingest(store, path, quarantine_dir=tmp_path / "q")
    before = stored(store)
    second = ingest(store, path, quarantine_dir=tmp_path / "q")
    assert second.rows_loaded == 0
    assert second.rows_duplicate == first.rows_loaded + first.rows_duplicate
    assert second.rows_rejected == first.rows_rejected and balanced(second)
    assert stored(store).equals(before)
    q = read_quarantine(tmp_path / "q")
    assert q["run_at"].n_unique() in (1, 2)  # two runs in the same second share a stamp
    assert q.height == 2 * len(BAD_LONG_CODES)


def test_conflicts_with_stored_values(store, tmp_path):
    a = write(tmp_path / "a.csv", "asset_id,timestamp,metric,value\n"
              "A,2024-01-01 00:00,energy_kwh,1\nA,2024-01-01 00:15,energy_kwh,2\n")
    b = write(tmp_path / "b.csv", "asset_id,timestamp,metric,value\n"
              "A,2024-01-01 00:15,energy_kwh,2.5\nA,2024-01-01 00:00,energy_kwh,1\n"
              "A,2024-01-01 00:30,energy_kwh,3\n")
    ingest(store, a)
    report = ingest(store, b)
    assert (report.rows_loaded, report.rows_duplicate, report.rows_rejected) == (1, 1, 1)
    q = read_quarantine(report.quarantine_path)
    assert q.select("line", "code").rows() == [(2, "store_conflict")]
    assert "2.5 differs from the value 2 already stored" in q["reason"][0]
    assert stored(store)["value"].to_list() == [1.0, 2.0, 3.0]
    report = ingest(store, b, on_conflict="replace")
    assert report.rows_replaced == 1 and report.rows_duplicate == 2 and balanced(report)
    assert stored(store)["value"].to_list() == [1.0, 2.5, 3.0]


def test_strict_mode_quarantines_unknown_assets(tmp_path):
    path = write(tmp_path / "s.csv", "asset_id,timestamp,metric,value\n"
                 "KNOWN,2024-01-01,energy_kwh,1\nNEW,2024-01-01,energy_kwh,2\n")
    assets = pl.DataFrame({"asset_id": ["KNOWN"], "kind": ["meter"]})
    with open_store(tmp_path / "s1") as st:
        report = ingest(st, path, assets=assets, strict=True)
        assert codes(report) == {3: "unknown_asset"}
        assert st.assets()["asset_id"].to_list() == ["KNOWN"]
    with open_store(tmp_path / "s2") as st:
        report = ingest(st, path, assets=assets)
        assert report.assets_new == 1
        kinds = dict(st.assets().select("asset_id", "kind").rows())
        assert kinds == {"KNOWN": "meter", "NEW": "unknown"}


class Interrupted(Exception):
    pass


class DiesAfterWrites(Store):
    """A real store that is 'killed' (raises) after ``n`` writes."""

    def __init__(self, inner: Store, n: int) -> None:
        self.inner, self.n, self.url = inner, n, inner.url

    def write(self, readings, *, on_conflict="reject"):
        if self.n == 0:
            raise Interrupted
        self.n -= 1
        return self.inner.write(readings, on_conflict=on_conflict)

    def init(self):
        self.inner.init()

    def status(self):
        return self.inner.status()

    def read_batches(self, *a, **k):
        return self.inner.read_batches(*a, **k)

    def assets(self):
        return self.inner.assets()

    def upsert_assets(self, assets):
        return self.inner.upsert_assets(assets)


def test_killed_half_way_then_rerun_equals_one_clean_run(tmp_path):
    df = random_readings(n_assets=4, n=50)
    path = to_long_csv(df, tmp_path / "l.csv")
    small = {"chunk_bytes": 2048, "batch_rows": 100}
    with open_store(tmp_path / "clean") as st:
        ingest(st, path, **small)
        clean = stored(st)
    with open_store(tmp_path / "killed") as st:
        with pytest.raises(Interrupted):
            ingest(DiesAfterWrites(st, 3), path, **small)
        assert 0 < st.read().height < df.height
        report = ingest(st, path, **small)
        assert report.rows_loaded + report.rows_duplicate == df.height
        assert stored(st).equals(clean)
    assert clean.equals(df)


def test_store_url_and_progress_bar(tmp_path, capsys):
    path = to_long_csv(random_readings(n=5), tmp_path / "l.csv")
    report = ingest(str(tmp_path / "s"), path, progress=True)
    assert report.rows_loaded == 45
    assert "ingest" in capsys.readouterr().err
    with open_store(tmp_path / "s") as st:
        assert st.read().height == 45


def test_quarantine_file_is_quoted_utf8_with_bom(corpus, pstore, tmp_path):
    report = ingest(pstore, corpus / "bad_long.csv", quarantine_dir=tmp_path / "q")
    data = report.quarantine_path.read_bytes()  # type: ignore[union-attr]
    assert data.startswith(b"\xef\xbb\xbf\"run_at\",\"file\",\"line\",\"field\",\"code\"")
    assert report.summary().startswith("read 24, loaded 9, duplicate 1, rejected 12, missing 2")


def test_unwritable_quarantine_stops_before_loading(corpus, pstore, tmp_path):
    (tmp_path / "not-a-dir").write_text("a file where the quarantine folder should go")
    with pytest.raises(InputError, match="quarantine"):
        ingest(pstore, corpus / "bad_long.csv", quarantine_dir=tmp_path / "not-a-dir")
    assert pstore.read().height == 0
