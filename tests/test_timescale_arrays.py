"""Decoding PostgreSQL's binary arrays (``array_send``) into NumPy, as the TimescaleDB store
reads its day rows, spreading the day rows into readings (``_expand``) and putting the
irregular readings among them (``_merge_in``): every shape of row against a plain reference;
and the server's own bytes, when a TimescaleDB server is named."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from griddiag.storage.timescale import DAY_US, _DayRows, _expand, _merge_in, _unpack_arrays

FLOAT8, INT8 = 701, 20


def _send(values: list[float | int | None], elem: str) -> bytes:
    """``array_send`` of a 1-D array (an empty one has no dimension, as PostgreSQL sends)."""
    oid, fmt = (FLOAT8, ">d") if elem == ">f8" else (INT8, ">q")
    if not values:
        return struct.pack(">iii", 0, 0, oid)
    out = [struct.pack(">iiiii", 1, int(any(v is None for v in values)), oid, len(values), 1)]
    for v in values:
        out.append(struct.pack(">i", -1) if v is None else struct.pack(">i", 8)
                   + struct.pack(fmt, v))
    return b"".join(out)


def _reference(rows: list[list], elem: str) -> tuple[np.ndarray, np.ndarray]:
    dtype = np.float64 if elem == ">f8" else np.int64
    flat = [np.nan if v is None else v for r in rows for v in r]
    return np.array(flat, dtype=dtype), np.array([len(r) for r in rows], dtype=np.int64)


@pytest.mark.parametrize("shape", ["one length", "several lengths", "nulls and empties"])
@pytest.mark.parametrize("elem", [">f8", ">i8"])
def test_unpack_arrays_matches_a_per_element_reference(shape, elem):
    rng = np.random.default_rng(len(shape))
    lengths = {"one length": [96], "several lengths": [96, 24, 1, 48],
               "nulls and empties": [96, 24, 1, 0]}[shape]
    rows = []
    for _ in range(200):
        n = int(rng.choice(lengths))
        if elem == ">f8":
            r = [float(x) for x in rng.normal(size=n) * 10.0 ** rng.integers(-6, 7, n)]
            r = [float("nan") if rng.random() < 0.05 else x for x in r]  # NaN is a value
        else:
            r = [int(x) for x in rng.integers(-2**62, 2**62, n)]
        if shape == "nulls and empties" and elem == ">f8":
            r = [None if rng.random() < 0.1 else x for x in r]
        rows.append(r)
    flat, dims = _unpack_arrays([_send(r, elem) for r in rows], elem)
    want_flat, want_dims = _reference(rows, elem)
    np.testing.assert_array_equal(dims, want_dims)
    np.testing.assert_array_equal(flat, want_flat)  # NaN where NaN or NULL
    assert flat.dtype == want_flat.dtype


@pytest.mark.parametrize("lengths", [[96], [96, 24], [96, 24, 1, 0, 144]])
def test_expand_matches_a_per_slot_reference(lengths):
    # day rows as the server returns them (any order, NaN for a missing slot, every length
    # the profile's intervals give), taken in an order that sorts them or in a subset of them,
    # whole or cut to a read's window
    rng = np.random.default_rng(len(lengths))
    n = rng.choice(lengths, size=300).astype(np.int32)
    start = np.concatenate([[0], np.cumsum(n[:-1])]).astype(np.int64)
    flat = rng.normal(size=int(n.sum()))
    flat[rng.random(flat.size) < 0.1] = np.nan
    day = rng.integers(19_000, 19_800, size=n.size).astype(np.int32)
    asset = rng.integers(0, 5, size=n.size)
    uniform = lengths[0] if len(lengths) == 1 else 0
    rows = _DayRows(asset, np.zeros(n.size, np.int64), day, n, start, flat, uniform)
    # a read's window ends inside a day (an inspection's local year in UTC days)
    lo, hi = 19_100 * DAY_US + DAY_US // 3, 19_700 * DAY_US + 7 * DAY_US // 24
    for order, window in [(np.lexsort((day, asset)), (None, None)),
                          (rng.permutation(n.size)[:120], (None, None)),
                          (np.lexsort((day, asset)), (lo, hi)), (np.arange(n.size), (lo, None)),
                          (np.arange(n.size), (None, hi))]:
        want_i, want_ts, want_v = [], [], []
        for i in order.tolist():
            for k in range(int(n[i])):
                v, t = flat[start[i] + k], int(day[i]) * DAY_US + k * (DAY_US // int(n[i]))
                if (not np.isnan(v) and (window[0] is None or t >= window[0])
                        and (window[1] is None or t < window[1])):
                    want_i.append(i)
                    want_ts.append(t)
                    want_v.append(v)
        got_i, got_ts, got_v = _expand(rows, order, *window)
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_array_equal(got_ts, want_ts)
        np.testing.assert_array_equal(got_v, want_v)
        assert got_ts.dtype == np.int64 and got_v.dtype == np.float64


@pytest.mark.parametrize("n_extra", [0, 1, 40, 3000])
def test_merge_in_equals_a_stable_sort_of_both(n_extra):
    # the day rows' readings (sorted by asset, metric, ts) and the irregular ones (any order;
    # some at a day reading's instant, some at each other's, some in series with no day row)
    rng = np.random.default_rng(n_extra)
    a, m = rng.integers(0, 6, 5000), rng.integers(0, 4, 5000)
    t = rng.integers(0, 400, 5000) * 900
    o = np.lexsort((t, m, a))
    base = (a[o], m[o], t[o], rng.normal(size=5000))
    extra = (rng.integers(0, 8, n_extra), rng.integers(0, 5, n_extra),
             rng.integers(0, 400, n_extra) * 450, rng.normal(size=n_extra))
    both = [np.concatenate([x, y]) for x, y in zip(base, extra, strict=True)]
    want = np.lexsort((both[2], both[1], both[0]))  # stable: a base reading first on a tie
    for got, col in zip(_merge_in(base, extra), both, strict=True):
        np.testing.assert_array_equal(got, col[want])


@pytest.mark.timescale
def test_unpack_arrays_reads_the_servers_bytes():
    dsn = os.environ.get("GRIDDIAG_TEST_DSN")
    if not dsn:
        pytest.skip("GRIDDIAG_TEST_DSN is not set (run `make db` and export the DSN it prints)")
    import psycopg

    rows = [[1.5, -2.25, 3e-7], [4.0], [None, 5.5], [], [6.0, 7.0, 8.0]]
    with psycopg.connect(dsn) as conn:
        blobs = [conn.execute("SELECT array_send(%s::float8[])", (r,), binary=True
                              ).fetchone()[0] for r in rows]
    assert blobs[0] == _send(rows[0], ">f8")  # the synthetic rows above are the server's
    flat, dims = _unpack_arrays(blobs, ">f8")
    want_flat, want_dims = _reference(rows, ">f8")
    np.testing.assert_array_equal(dims, want_dims)
    np.testing.assert_array_equal(flat, want_flat)
    clean = [b for b, r in zip(blobs, rows, strict=True) if r and None not in r]
    np.testing.assert_array_equal(_unpack_arrays(clean, ">f8")[0],
                                  [1.5, -2.25, 3e-7, 4.0, 6.0, 7.0, 8.0])
