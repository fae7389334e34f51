"""Property: for any mix of good and bad lines, ingest loads exactly the good readings and
quarantines every bad line with the right code and line number.

Each example is a CSV file built line by line from a small vocabulary of good readings and
kinds of damage; a plain-Python model (``expected``) says what must happen to every line. The
file goes into a real Parquet store, read in chunks of random size.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from griddiag.ingest import ingest, read_quarantine
from griddiag.schema import READINGS_SCHEMA
from griddiag.storage import open_store

T0 = datetime(2024, 1, 1)
ASSETS = ["A", "B", "电表7"]
METRICS = {"energy_kwh": (-100.0, 100.0), "voltage_v_a": (0.0, 500.0)}
HEADER = b"asset_id,timestamp,metric,value"


@dataclass(frozen=True)
class Line:
    """One line of the file and what must become of it."""

    text: bytes
    code: str | None = None  # quarantine code, None for a reading (or a blank line)
    key: tuple[str, datetime, str] | None = None
    value: float | None = None  # None with a key: a missing value
    blank: bool = False


def ts_text(k: int) -> str:
    return (T0 + timedelta(minutes=15 * k)).strftime("%Y-%m-%d %H:%M:%S")


@st.composite
def good(draw: st.DrawFn, key: tuple[str, int, str] | None = None,
         value: float | None = None) -> Line:
    asset, k, metric = key or (draw(st.sampled_from(ASSETS)), draw(st.integers(0, 20)),
                               draw(st.sampled_from(sorted(METRICS))))
    lo, hi = METRICS[metric]
    x = value if value is not None else draw(
        st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    x = x + 0.0  # -0.0 and 0.0 are one value to a store (==)
    fields = [asset, ts_text(k), metric, repr(x)]
    if draw(st.booleans()):
        fields = [f'"{f}"' for f in fields]
    return Line(",".join(fields).encode(), key=(asset, T0 + timedelta(minutes=15 * k), metric),
                value=x)


@st.composite
def bad(draw: st.DrawFn) -> Line:
    asset = draw(st.sampled_from(ASSETS))
    k = draw(st.integers(0, 20))
    kind = draw(st.sampled_from([
        "bad_timestamp", "non_numeric_value", "non_finite_value", "unknown_metric",
        "out_of_range", "empty_asset_id", "ragged_short", "ragged_long", "undecodable_line",
        "missing", "blank", "malformed_quotes",
    ]))
    ts, metric, value = ts_text(k), "energy_kwh", "1.5"
    if kind == "bad_timestamp":
        ts = draw(st.sampled_from(["2024-13-01 00:00:00", "yesterday", "2024-02-30 10:00"]))
    elif kind == "non_numeric_value":
        value = draw(st.sampled_from(["abc", "\"1,5\"", "0x10", "--1"]))
    elif kind == "non_finite_value":
        value = draw(st.sampled_from(["inf", "-Infinity", "1e999"]))
    elif kind == "unknown_metric":
        metric = draw(st.sampled_from(["power", "energy_kwhh", "voltage_v_d"]))
    elif kind == "out_of_range":
        metric, value = "voltage_v_a", draw(st.sampled_from(["-1", "-230.5", "2e6"]))
    elif kind == "empty_asset_id":
        asset = draw(st.sampled_from(["", "  "]))
    elif kind == "missing":
        value = draw(st.sampled_from(["", "NaN", "nan", "NA", "null", "-"]))
        return Line(f"{asset},{ts},{metric},{value}".encode(),
                    key=(asset, T0 + timedelta(minutes=15 * k), metric))
    elif kind == "blank":
        return Line(draw(st.sampled_from([b"", b"   ", b"\r"])), blank=True)
    text = f"{asset},{ts},{metric},{value}".encode()
    if kind == "ragged_short":
        return Line(f"{asset},{ts},{metric}".encode(), code="ragged_line")
    if kind == "ragged_long":
        return Line(text + b",extra", code="ragged_line")
    if kind == "undecodable_line":
        return Line(b"\xff" + text, code="undecodable_line")  # valid in no encoding
    if kind == "malformed_quotes":
        return Line(f'{asset},"{ts},{metric},{value}'.encode(), code="malformed_quotes")
    return Line(text, code=kind)


@st.composite
def files(draw: st.DrawFn) -> tuple[list[Line], bool]:
    lines: list[Line] = []
    for _ in range(draw(st.integers(0, 40))):
        choice = draw(st.sampled_from(["good", "good", "bad", "repeat", "conflict"]))
        previous = [ln for ln in lines if ln.value is not None]
        if choice in ("repeat", "conflict") and previous:
            p = draw(st.sampled_from(previous))
            assert p.key is not None and p.value is not None
            asset, ts, metric = p.key
            k = int((ts - T0) / timedelta(minutes=15))
            value = p.value if choice == "repeat" else p.value + 1.0
            lines.append(draw(good(key=(asset, k, metric), value=value)))
        elif choice == "bad":
            lines.append(draw(bad()))
        else:
            lines.append(draw(good()))
    return lines, draw(st.booleans())


def expected(lines: list[Line], final_newline: bool):
    """(codes by line number, stored readings, counts) the model predicts."""
    codes: dict[int, str] = {}
    groups: dict[tuple[str, datetime, str], list[tuple[int, float]]] = {}
    read = missing = 0
    last = len(lines) + 1  # line number of the last line (the header is line 1)
    for n, line in enumerate(lines, start=2):
        if line.blank:
            continue
        read += 1
        if n == last and not final_newline and line.code != "undecodable_line":
            codes[n] = "truncated_line"
        elif line.code:
            codes[n] = line.code
        elif line.value is None:
            missing += 1
        else:
            assert line.key is not None
            groups.setdefault(line.key, []).append((n, line.value))
    rows, duplicate = [], 0
    for key, seen in groups.items():
        if len({v for _, v in seen}) > 1:
            codes.update({n: "duplicate_conflict" for n, _ in seen})
        else:
            rows.append((key[0], key[1].replace(tzinfo=UTC), key[2], seen[0][1]))
            duplicate += len(seen) - 1
    frame = pl.DataFrame(rows, schema=READINGS_SCHEMA, orient="row").sort(
        "asset_id", "metric", "ts")
    return codes, frame, {"read": read, "missing": missing, "duplicate": duplicate,
                          "loaded": frame.height, "rejected": len(codes)}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files(), st.sampled_from([48, 300, 1 << 20]))
def test_good_lines_loaded_bad_lines_quarantined(file_and_end, chunk_bytes):
    lines, final_newline = file_and_end
    data = b"\n".join([HEADER, *(ln.text for ln in lines)]) + (b"\n" if final_newline else b"")
    codes, rows, counts = expected(lines, final_newline)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_bytes(data)
        with open_store(Path(tmp) / "store") as store:
            report = ingest(store, path, chunk_bytes=chunk_bytes)
            assert report.rows_read == counts["read"]
            assert (report.rows_loaded + report.rows_rejected + report.rows_duplicate
                    + report.rows_missing) == report.rows_read
            assert report.rows_missing == counts["missing"]
            assert report.rows_duplicate == counts["duplicate"]
            assert report.rows_rejected == counts["rejected"]
            assert store.read().select(list(READINGS_SCHEMA)).sort(
                "asset_id", "metric", "ts").equals(rows)
            if codes:
                q = read_quarantine(report.quarantine_path)  # type: ignore[arg-type]
                assert dict(zip(q["line"].to_list(), q["code"].to_list(), strict=True)) == codes
                raw = dict(zip(q["line"].to_list(), q["raw"].to_list(), strict=True))
                for n, code in codes.items():
                    if code != "undecodable_line":
                        assert raw[n] == lines[n - 2].text.decode().rstrip("\r")
            else:
                assert report.quarantine_path is None
            again = ingest(store, path, chunk_bytes=chunk_bytes)
            assert again.rows_loaded == 0
            assert again.rows_duplicate == counts["loaded"] + counts["duplicate"]


KEYS = st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["energy_kwh", "voltage_v_a"]),
                st.integers(0, 3), st.sampled_from([1.0, 2.0]))


@settings(max_examples=200, deadline=None)
@given(st.lists(KEYS, max_size=30), st.booleans())
def test_dedupe_matches_a_plain_reference(rows, blocks):
    """The fast uniqueness shortcuts (series blocks, key hashes) never change the outcome."""
    from griddiag.ingest.layouts import Layout
    from griddiag.ingest.validate import dedupe

    if blocks:  # series blocks in time order, as exports usually come
        rows = sorted(rows, key=lambda r: (r[1], r[0], r[2]))

    frame = pl.DataFrame(
        [(a, T0.replace(tzinfo=UTC) + timedelta(hours=k), m, v, i + 2, -1)
         for i, (a, m, k, v) in enumerate(rows)],
        schema={"asset_id": pl.String, "ts": pl.Datetime("us", "UTC"), "metric": pl.String,
                "value": pl.Float64, "source_line": pl.Int64, "source_column": pl.Int32},
        orient="row")
    unique, rejects, n_dup = dedupe(frame, Layout("long", "asset_id", value="value"))
    groups: dict[tuple[str, str, int], list[tuple[int, float]]] = {}
    for i, (a, m, k, v) in enumerate(rows):
        groups.setdefault((a, m, k), []).append((i + 2, v))
    keep = {g[0][0] for g in groups.values() if len({v for _, v in g}) == 1}
    conflicting = {ln for g in groups.values() if len({v for _, v in g}) > 1 for ln, _ in g}
    assert set(unique["source_line"].to_list()) == keep
    assert set(rejects["__line"].to_list()) == conflicting
    assert n_dup == sum(len(g) - 1 for g in groups.values() if len({v for _, v in g}) == 1)
