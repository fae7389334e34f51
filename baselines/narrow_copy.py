"""Baseline: the plain narrow layout, one row per reading, loaded with binary COPY.

This is what a TimescaleDB user would write first: ``(asset int, metric smallint, ts
timestamptz, value float8)`` with a unique index, a hypertable on ``ts``, and rows sent with
``COPY ... FROM STDIN (FORMAT BINARY)``. The payload is built with NumPy (one structured array,
no Python per row), so the figure is the server's own ceiling for this layout, not psycopg's
per-row overhead. griddiag's day-curve layout is benchmarked against it in the same run.
"""

from __future__ import annotations

import numpy as np

# PostgreSQL binary COPY: signature, flags, header extension length (all big-endian).
_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds

_ROW = np.dtype([
    ("nfields", ">i2"),
    ("asset_len", ">i4"), ("asset", ">i4"),
    ("metric_len", ">i4"), ("metric", ">i2"),
    ("ts_len", ">i4"), ("ts", ">i8"),
    ("value_len", ">i4"), ("value", ">f8"),
])

SCHEMA_SQL = """
DROP TABLE IF EXISTS {table};
CREATE TABLE {table} (
    asset  integer     NOT NULL,
    metric smallint    NOT NULL,
    ts     timestamptz NOT NULL,
    value  float8      NOT NULL
);
SELECT create_hypertable('{table}', 'ts', chunk_time_interval => interval '30 days');
CREATE UNIQUE INDEX ON {table} (asset, metric, ts);
"""


def narrow_copy_payload(
    asset: np.ndarray, metric: np.ndarray, ts_unix_us: np.ndarray, value: np.ndarray
) -> bytes:
    """The complete binary COPY stream for narrow rows."""
    rows = np.empty(asset.size, dtype=_ROW)
    rows["nfields"] = 4
    rows["asset_len"], rows["metric_len"], rows["ts_len"], rows["value_len"] = 4, 2, 8, 8
    rows["asset"] = asset
    rows["metric"] = metric
    rows["ts"] = ts_unix_us - _PG_EPOCH_US
    rows["value"] = value
    return _HEADER + rows.tobytes() + _TRAILER


def create_narrow(conn, table: str) -> None:
    """(Re)create the empty narrow hypertable with its unique index."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(SCHEMA_SQL.format(table=table))


def copy_narrow(conn, table: str, asset, metric, ts_unix_us, value) -> None:
    """COPY the readings into an existing narrow table in one transaction."""
    with conn.transaction(), conn.cursor() as cur:
        payload = narrow_copy_payload(asset, metric, ts_unix_us, value)
        with cur.copy(f"COPY {table} (asset, metric, ts, value) FROM STDIN (FORMAT BINARY)") as cp:
            step = 8 << 20
            view = memoryview(payload)
            for i in range(0, len(view), step):
                cp.write(view[i:i + step])


def load_narrow(conn, table: str, asset, metric, ts_unix_us, value) -> None:
    """Create the narrow hypertable and COPY the readings."""
    create_narrow(conn, table)
    copy_narrow(conn, table, asset, metric, ts_unix_us, value)


def table_bytes(conn, table: str) -> int:
    """Heap, indexes and TOAST of the hypertable and all its chunks."""
    with conn.cursor() as cur:
        cur.execute("SELECT hypertable_size(%s)", (table,))
        return int(cur.fetchone()[0])


_OUT_ROW = np.dtype([
    ("nfields", ">i2"),
    ("asset_len", ">i4"), ("asset", ">i4"),
    ("ts_len", ">i4"), ("ts", ">i8"),
    ("value_len", ">i4"), ("value", ">f8"),
])


def read_narrow(conn, table: str, start_unix_us: int, end_unix_us: int,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All readings with start <= ts < end as NumPy arrays (asset, ts in Unix µs, value), by
    binary ``COPY ... TO STDOUT`` of the narrow table: the plain way to read it back fast. No
    order is asked for (the server's cheapest plan)."""
    from datetime import UTC, datetime, timedelta

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    lo = (epoch + timedelta(microseconds=start_unix_us)).isoformat()
    hi = (epoch + timedelta(microseconds=end_unix_us)).isoformat()
    parts: list[bytes] = []
    with conn.cursor() as cur, cur.copy(
            f"COPY (SELECT asset, ts, value FROM {table} WHERE ts >= '{lo}' AND ts < '{hi}')"
            " TO STDOUT (FORMAT BINARY)") as cp:
        for data in cp:
            parts.append(bytes(data))
    buf = b"".join(parts)
    body = buf[len(_HEADER):len(buf) - len(_TRAILER)]
    rows = np.frombuffer(body, _OUT_ROW)
    return (rows["asset"].astype(np.int32), rows["ts"].astype(np.int64) + _PG_EPOCH_US,
            rows["value"].astype(np.float64))


def daily_aggregate_narrow(conn, table: str, start_unix_us: int, end_unix_us: int) -> list:
    """Per asset and UTC day: sum, mean, min, max and count with ``time_bucket`` in SQL."""
    from datetime import UTC, datetime, timedelta

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT asset, time_bucket('1 day', ts) AS day, sum(value), avg(value),"
            f" min(value), max(value), count(*) FROM {table}"
            " WHERE ts >= %s AND ts < %s GROUP BY 1, 2",
            (epoch + timedelta(microseconds=start_unix_us),
             epoch + timedelta(microseconds=end_unix_us)))
        return cur.fetchall()
