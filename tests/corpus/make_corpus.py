"""Writes the bad-input corpus of ``tests/test_ingest.py`` (run from anywhere; idempotent).

The files are committed; this script documents how each was made, byte for byte, since several
are deliberately broken (mixed encodings, a cut-off last line, a truncated Parquet file) and an
editor would "repair" them. The expected outcome of every line is in ``tests/test_ingest.py``.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

BAD_LONG = """\
asset_id,timestamp,metric,value
M1,2024-01-01 00:00:00,energy_kwh,1.25
M1,2024-01-01 00:15:00,energy_kwh,0.5
M1,2024-13-01 00:30:00,energy_kwh,0.75
M1,2024-01-01 00:45:00,energy_kwh,abc
M1,2024-01-01 01:00:00,energy_kwh,NaN
M1,2024-01-01 01:15:00,energy_kwh,inf
M1,2024-01-01 01:30:00,energy_kwh,
M2,2024-01-01 00:00:00,voltage_v_a,-230.5
M2,2024-01-01 00:00:00,voltage_v_b,231.5
,2024-01-01 00:00:00,energy_kwh,1
M2,2024-01-01 00:00:00,bogus_metric,1
M2,2024-01-01 00:15:00,energy_kwh,2,extra
M2,2024-01-01 00:30:00,energy_kwh
M3,2024-01-01 00:00:00,energy_kwh,3.5
M3,2024-01-01 00:00:00,energy_kwh,4.5

M4,2024-01-01 00:00:00,energy_kwh,7
M4,2024-01-01 00:00:00,energy_kwh,7
"M5,x",2024-01-01 00:00:00,energy_kwh,"8"
M6,2204-01-01 00:00:00,energy_kwh,1
M6,2024-01-01T00:00:00+08:00,energy_kwh,9
M6,1704067200,energy_kwh,10
M7,2024/1/1 0:15,energy_wh,1500
M7,2024-01-01 00:30,voltage_kv_a,0.2305
M8,"2024-01-01 00:00:00,energy_kwh,1
"""


def main() -> None:
    (HERE / "bad_long.csv").write_bytes(BAD_LONG.encode("utf-8"))

    # UTF-8 file (Chinese header) with one line in GB18030: that line is quarantined
    lines = [
        "户号,时间,指标,数值".encode(),
        "表001,2024-01-01 00:00:00,energy_kwh,1.5".encode(),
        "表002,2024-01-01 00:00:00,energy_kwh,2.5".encode("gb18030"),
        "表003,2024-01-01 00:00:00,energy_kwh,3.5".encode(),
    ]
    (HERE / "mixed_encoding.csv").write_bytes(b"\n".join(lines) + b"\n")

    # GB18030 throughout, as exported by Chinese utility systems (CRLF line ends)
    text = ("户号,数据时间,指标,数值\r\n"
            "电表一,2024-01-01 00:00:00,energy_kwh,1.5\r\n"
            "电表二,2024-01-01 00:00:00,voltage_v_a,220.1\r\n")
    (HERE / "gb18030_long.csv").write_bytes(text.encode("gb18030"))

    # UTF-8 with BOM, wide by metric with unit variants (Wh, kV)
    text = ("asset_id,timestamp,energy_wh,voltage_kv_a,comment\n"
            "T1,2024-01-01 00:00:00,1234,0.231,ok\n"
            "T1,2024-01-01 00:15:00,9,0.2295,\n")
    (HERE / "utf8_bom_wide.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())

    # cut off in the middle of its last line (no line break at the end)
    text = ("asset_id,timestamp,metric,value\n"
            "M1,2024-01-01 00:00:00,energy_kwh,1.5\n"
            "M1,2024-01-01 00:15:00,energy_kwh,2.7")
    (HERE / "truncated.csv").write_bytes(text.encode())

    (HERE / "empty.csv").write_bytes(b"")
    (HERE / "header_only.csv").write_bytes(b"asset_id,timestamp,metric,value\n")
    (HERE / "missing_column.csv").write_bytes(
        b"asset_id,timestamp,metric\nM1,2024-01-01 00:00:00,energy_kwh\n")

    # SGCC electricity-theft data set layout: daily kWh per column, FLAG ignored
    text = ("CONS_NO,FLAG,2014/1/1,2014/1/2,2014/1/3\n"
            "A0001,1,1.5,,2.25\n"
            "A0002,0,NaN,3,x\n")
    (HERE / "sgcc_days.csv").write_bytes(text.encode())

    # a valid Parquet file cut in half: unreadable, loads nothing
    import polars as pl

    full = HERE / ".full.parquet"
    pl.DataFrame({"asset_id": ["M1"] * 1000, "ts": ["2024-01-01 00:00:00"] * 1000,
                  "metric": ["energy_kwh"] * 1000,
                  "value": [float(i) for i in range(1000)]}).write_parquet(full)
    data = full.read_bytes()
    (HERE / "truncated.parquet").write_bytes(data[: len(data) // 2])
    full.unlink()


if __name__ == "__main__":
    main()
