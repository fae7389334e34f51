"""The batch sorted once (:class:`griddiag.detectors.grid.SortedReadings`) and the electrical
checks' grid built from it, against the plain references of ``tests/reference_slots.py``."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from griddiag.detectors.electrical import build_grid
from griddiag.detectors.grid import SortedReadings, sorted_readings
from griddiag.exceptions import ConfigError
from griddiag.kernels.slots import group_grids
from tests.reference_slots import (
    electrical_grid_reference,
    group_grids_reference,
    sorted_reference,
)

T0 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1e6)
MIN = 60_000_000


def _frame(rows: list[tuple[str, int, str, float | None]]) -> pl.DataFrame:
    a, t, m, v = zip(*rows) if rows else ((), (), (), ())
    return pl.DataFrame({
        "asset_id": pl.Series(list(a), dtype=pl.String),
        "ts": pl.Series(list(t), dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
        "metric": pl.Series(list(m), dtype=pl.String),
        "value": pl.Series(list(v), dtype=pl.Float64)})


def _check_sorted(readings: pl.DataFrame) -> SortedReadings:
    sr = SortedReadings.of(readings)
    t, v, ids, metrics = sorted_reference(readings)
    np.testing.assert_array_equal(sr.t, t)
    np.testing.assert_array_equal(sr.value, v)  # NaN where NaN, in the same rows
    assert sr.ids.gather(sr.series_asset).to_list() == ids
    assert sr.metrics.gather(sr.series_metric).to_list() == metrics
    assert sr.row_offsets[0] == 0 and sr.row_offsets[-1] == readings.height
    assert sr.row_offsets.shape[0] == len(ids) + 1
    return sr


def _random_frame(rng: np.random.Generator, shuffle: str) -> pl.DataFrame:
    rows = []
    for a in rng.permutation(4)[:rng.integers(1, 5)]:
        for m in ("energy_kwh", "voltage_v_a", "current_a_a")[:rng.integers(1, 4)]:
            n = int(rng.integers(1, 30))
            t = T0 + np.cumsum(rng.choice([0, 15, 15, 15, 30], n)) * MIN
            v = rng.normal(size=n)
            v[rng.random(n) < 0.2] = np.nan
            v[rng.random(n) < 0.05] = np.inf
            rows += [(f"A{a}", int(x), m, float(y)) for x, y in zip(t, v)]
    df = _frame(rows)
    if shuffle == "rows":
        return df.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(1 << 30)))
    if shuffle == "blocks":  # a few blocks per series, moved around whole
        cut = np.sort(rng.choice(np.arange(1, df.height), min(df.height - 1, 6), replace=False))
        parts = [df.slice(a, b - a) for a, b in zip(np.r_[0, cut], np.r_[cut, df.height])]
        return pl.concat([parts[i] for i in rng.permutation(len(parts))])
    return df


@pytest.mark.parametrize("piece_rows", [1, 7, 1 << 20])
@pytest.mark.parametrize("shuffle", ["none", "blocks", "rows"])
def test_sorted_readings_equal_a_plain_sort(monkeypatch, shuffle, piece_rows):
    from griddiag import row_blocks as RB

    # "blocks" frames are concatenated parts, several chunks: compared a chunk at a time
    # (piece_rows=1), a few chunks at a time, or all at once
    monkeypatch.setattr(RB, "PIECE_ROWS", piece_rows)
    rng = np.random.default_rng({"none": 1, "blocks": 2, "rows": 3}[shuffle])
    for _ in range(30):
        _check_sorted(_random_frame(rng, shuffle))


def _assert_same_sorted(got: SortedReadings, want: SortedReadings) -> None:
    assert got.ids.to_list() == want.ids.to_list()
    assert got.metrics.to_list() == want.metrics.to_list()
    for name in ("series_asset", "series_metric", "row_offsets", "t", "value"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)  # NaN where NaN


@pytest.mark.parametrize("shuffle", ["none", "blocks", "rows"])
def test_window_of_sorted_readings_equals_sorting_the_filtered_frame(shuffle):
    """``between`` (what a batch's checks get when they read less history than its
    detectors) is :meth:`SortedReadings.of` of the frame filtered to the window: the same
    codes, rows and ties (equal times keep the frame's order), with series, assets and
    metrics left empty dropped; nothing outside the window returns the arrays themselves."""
    rng = np.random.default_rng({"none": 5, "blocks": 6, "rows": 7}[shuffle])
    for _ in range(40):
        df = _random_frame(rng, shuffle)
        sr = SortedReadings.of(df)
        t = df["ts"].dt.epoch("us")
        for lo, hi in [(None, None), (int(t.min()), None), (None, int(t.max()) + 1),
                       *[tuple(sorted(rng.integers(T0 - MIN, T0 + 600 * MIN, 2).tolist()))
                         for _ in range(4)]]:
            window = df.filter((t >= (lo if lo is not None else t.min()))
                               & (t < (hi if hi is not None else t.max() + 1)))
            got = sr.between(lo, hi)
            _assert_same_sorted(got, SortedReadings.of(window))
            if window.height == df.height:
                assert got is sr


def test_checks_take_sorted_readings_as_they_take_a_frame():
    """A batch's checks get its sorted arrays (``griddiag.detect``): ``sorted_readings``
    returns them as they are, and ``forget_shared`` clears what they hold."""
    from griddiag.detectors.grid import forget_shared

    sr = SortedReadings.of(_random_frame(np.random.default_rng(8), "none"))
    assert sorted_readings(sr) is sr
    sr.shared("k", lambda: 1)
    forget_shared(sr)
    assert not sr.memo


@pytest.mark.parametrize("shuffle", ["none", "blocks", "rows"])
def test_sort_by_blocks_equals_a_stable_sort_or_declines(shuffle):
    """The store's block sort: the frame sorted by ``asset_id, metric, ts`` (ties in the
    frame's order), or ``None`` where moving whole blocks cannot sort it (rows shuffled;
    equal times across two blocks of a series); a frame already in order itself."""
    from griddiag.row_blocks import sort_by_blocks

    rng = np.random.default_rng({"none": 9, "blocks": 10, "rows": 11}[shuffle])
    moved = 0
    for _ in range(40):
        df = _random_frame(rng, shuffle)
        got = sort_by_blocks(df)
        if got is None:
            assert shuffle != "none"
            continue
        want = df.sort("asset_id", "metric", "ts", maintain_order=True)
        assert got.equals(want)
        moved += got is not df
        if df.equals(want):
            assert got is df
        sorted_ = df.sort("asset_id", "metric", "ts", maintain_order=True)
        assert sort_by_blocks(sorted_) is sorted_
    if shuffle != "rows":  # (equal times are common here: many "blocks" frames decline)
        assert moved > 0
    assert sort_by_blocks(_frame([])).height == 0


def test_chunk_reads_equal_the_concatenated_column():
    """The block order reads the times as chunks: steps back (also across a chunk edge) and
    gathers of rows equal those of the concatenated column, empty chunks included."""
    from griddiag import row_blocks as RB

    rng = np.random.default_rng(11)
    for _ in range(50):
        parts = [rng.integers(0, 20, int(rng.integers(0, 6))).astype(np.int64)
                 for _ in range(int(rng.integers(1, 6)))]
        whole = np.concatenate(parts)
        want = np.flatnonzero(whole[1:] < whole[:-1]) + 1
        np.testing.assert_array_equal(RB.steps_back(parts), want)
        rows = rng.integers(0, max(whole.size, 1), int(rng.integers(0, 10))) if whole.size \
            else np.zeros(0, dtype=np.int64)
        np.testing.assert_array_equal(RB.take(parts, rows), whole[rows])


@pytest.mark.parametrize("piece_rows", [1, 3, 1 << 20])
def test_block_starts_across_chunks_with_nulls(monkeypatch, piece_rows):
    from griddiag import row_blocks as RB

    monkeypatch.setattr(RB, "PIECE_ROWS", piece_rows)
    rng = np.random.default_rng(piece_rows)
    for _ in range(40):
        n = int(rng.integers(1, 40))
        a = rng.choice(["A", "B", None], n, p=[0.45, 0.45, 0.1]).tolist()
        m = rng.choice(["e", "v", None], n, p=[0.45, 0.45, 0.1]).tolist()
        cut = np.sort(rng.choice(np.arange(n + 1), int(rng.integers(0, 5))))
        bounds = [0, *cut.tolist(), n]  # chunks of the columns, empty ones included
        asset = pl.concat([pl.Series(a[x:y], dtype=pl.String)
                           for x, y in zip(bounds[:-1], bounds[1:])], rechunk=False)
        metric = pl.Series(m, dtype=pl.String)  # one chunk: cut unlike asset_id
        expected = [i for i in range(n) if i == 0 or (a[i], m[i]) != (a[i - 1], m[i - 1])]
        assert RB.block_starts(asset, metric).tolist() == expected
    assert RB.block_starts(pl.Series([], dtype=pl.String),
                           pl.Series([], dtype=pl.String)).tolist() == []


def test_sorted_input_is_not_copied():
    df = _random_frame(np.random.default_rng(4), "none").sort("asset_id", "metric", "ts")
    sr = _check_sorted(df)
    assert np.shares_memory(sr.value, df["value"].to_numpy())


def test_blocks_of_one_series_kept_in_time_and_row_order():
    a, b = T0, T0 + 15 * MIN
    # the second block of M1 comes first in time: blocks reordered
    _check_sorted(_frame([("M1", b, "e", 2.0), ("M2", a, "e", 9.0), ("M1", a, "e", 1.0)]))
    # two blocks overlap in time, or share an instant (rows of equal time keep their order)
    _check_sorted(_frame([("M1", a, "e", 1.0), ("M1", b, "v", 5.0), ("M1", b, "e", 2.0),
                          ("M1", a, "e", 3.0)]))
    _check_sorted(_frame([("M1", b, "e", 1.0), ("M1", b, "v", 5.0), ("M1", b, "e", 2.0)]))
    # time goes back inside a block
    _check_sorted(_frame([("M1", b, "e", 1.0), ("M1", a, "e", 2.0), ("M0", a, "e", 3.0)]))


def test_empty_one_reading_and_null_values():
    sr = _check_sorted(_frame([]))
    assert sr.height == 0 and sr.series(["e"]).size == 0
    _check_sorted(_frame([("M1", T0, "e", None)]))
    sr = _check_sorted(_frame([("M1", T0, "e", None), ("M1", T0 + MIN, "e", 1.0)]))
    assert np.isnan(sr.value[0])


# -- group_grids -------------------------------------------------------------------------------


def _random_groups(rng: np.random.Generator, own_rows: bool = False):
    """Random series (irregular steps, several readings in one slot, NaN, +-inf) grouped at
    random; ``own_rows``: each series of a group has a column to itself (the electrical
    grids' case, which group_grids fills without counting readings per slot)."""
    ts, vs, roff = [], [], [0]
    for _ in range(int(rng.integers(1, 12))):
        n = int(rng.integers(1, 40))
        step = int(rng.choice([15, 60])) * MIN
        t = T0 + int(rng.integers(0, 4)) * 15 * MIN + np.cumsum(
            rng.choice([0, 1, 1, 1, 2], n) * step + rng.choice([0, 0, 0, 7 * MIN], n))
        v = rng.normal(size=n)
        v[rng.random(n) < 0.15] = np.nan
        v[rng.random(n) < 0.05] = rng.choice([np.inf, -np.inf])
        ts.append(t)
        vs.append(v)
        roff.append(roff[-1] + n)
    n_series = len(ts)
    series = rng.permutation(n_series)[:int(rng.integers(1, n_series + 1))]
    n_groups = int(rng.integers(1, series.size + 1))
    cut = np.sort(rng.choice(np.arange(1, series.size), n_groups - 1, replace=False)) \
        if n_groups > 1 else np.empty(0, dtype=np.int64)
    goff = np.r_[0, cut, series.size].astype(np.int64)
    if own_rows:
        group_of = np.repeat(np.arange(n_groups), np.diff(goff))
        column = np.arange(series.size) - goff[group_of]  # position within the group
        n_cols = int(column.max()) + 1
    else:
        n_cols = int(rng.integers(1, 4))
        column = rng.integers(0, n_cols, series.size)
    return (np.concatenate(ts).astype(np.int64), np.concatenate(vs),
            np.asarray(roff, dtype=np.int64), series.astype(np.int64), column, goff, n_cols)


@pytest.mark.parametrize("own_rows", [False, True])
def test_group_grids_equal_the_loop_reference(own_rows):
    rng = np.random.default_rng(5)
    for _ in range(60):
        args = _random_groups(rng, own_rows)
        got = group_grids(*args, 3_600_000_000)
        want = group_grids_reference(*args, 3_600_000_000)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_group_grids_same_instants_single_point_and_empty():
    t = np.array([T0, T0 + 15 * MIN, T0 + 30 * MIN] * 2 + [T0], dtype=np.int64)
    v = np.array([1.0, np.nan, 3.0, 4.0, 5.0, np.inf, 7.0])
    roff = np.array([0, 3, 6, 7])
    t0, step, off, slots = group_grids(t, v, roff, [0, 1, 2], [0, 1, 0], [0, 2, 3], 2, 3_600)
    np.testing.assert_array_equal(step, [15 * MIN, 3_600])  # one instant: the default step
    np.testing.assert_array_equal(off, [0, 3, 4])
    np.testing.assert_array_equal(slots, [[1.0, np.nan, 3.0, 7.0],
                                          [4.0, 5.0, np.nan, np.nan]])
    t0, step, off, slots = group_grids(t, v, roff, [], [], [0], 2, 3_600)
    assert t0.size == 0 and off.tolist() == [0] and slots.shape == (2, 0)


def test_group_grids_refuses_bad_input():
    t = np.array([T0, T0 + MIN], dtype=np.int64)
    with pytest.raises(ConfigError, match="series"):
        group_grids(t, [1.0, 2.0], [0, 2], [1], [0], [0, 1], 1, 60)
    with pytest.raises(ConfigError, match="column"):
        group_grids(t, [1.0, 2.0], [0, 2], [0], [3], [0, 1], 1, 60)
    with pytest.raises(ConfigError, match="default_step_us"):
        group_grids(t, [1.0, 2.0], [0, 2], [0], [0], [0, 1], 1, 0)


# -- the electrical grid -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_electrical_grid_equals_the_polars_formulation(seed):
    rng = np.random.default_rng(10 + seed)
    df = _random_frame(rng, ["none", "blocks", "rows"][seed % 3])
    for metrics, ids in ((["voltage_v_a", "current_a_a"], None),
                         (["energy_kwh", "voltage_v_a", "current_a_a", "load_kva"], ["A1", "A3"]),
                         (["load_kva"], None)):
        got = build_grid(df, metrics, ids)
        want = electrical_grid_reference(df, metrics, ids)
        assert got.asset_id.tolist() == want["asset_id"].tolist()
        for name in ("offsets", "step_us", "ts_us", "series"):
            np.testing.assert_array_equal(getattr(got, name), want[name])
        assert set(got.values) == set(want["values"])
        for m in metrics:
            np.testing.assert_array_equal(got.values[m], want["values"][m])


def test_electrical_grid_shared_and_read_only():
    df = _random_frame(np.random.default_rng(7), "none")
    g = build_grid(df, ["voltage_v_a", "current_a_a"])
    assert build_grid(df, ["voltage_v_a", "current_a_a"]) is g  # one grid per batch
    assert sorted_readings(df).memo
    with pytest.raises(ValueError):
        g.values["voltage_v_a"][:1] = 0.0  # a check cannot change another's input


def test_shared_builds_once_for_two_lanes_and_forgets():
    """Two lanes asking for one key at once: one builds, the other waits for its result; a
    failed build is not kept; ``forget_shared`` lets go of what was built."""
    import threading
    import time

    from griddiag.detectors.grid import forget_shared

    df = _random_frame(np.random.default_rng(9), "none")
    sr = sorted_readings(df)
    builds, entered = [], threading.Barrier(2)

    def build():
        builds.append(threading.get_ident())
        time.sleep(0.2)  # the other lane asks meanwhile
        return object()

    def lane(out):
        entered.wait(10)  # both lanes ask together
        out.append(sr.shared("grid", build))

    got: list = []
    lanes = [threading.Thread(target=lane, args=(got,)) for _ in range(2)]
    for t in lanes:
        t.start()
    for t in lanes:
        t.join(10)
    assert len(builds) == 1 and len(got) == 2 and got[0] is got[1]

    def fail():
        raise OSError("no memory for the grid")

    with pytest.raises(OSError, match="no memory"):
        sr.shared("other", fail)
    assert sr.shared("other", lambda: 5) == 5  # the failure was not kept
    forget_shared(df)
    assert not sr.memo
    assert sr.shared("grid", build) is not got[0] and len(builds) == 2


def test_sorted_arrays_go_with_their_frame():
    import gc
    import weakref

    df = _random_frame(np.random.default_rng(8), "blocks")
    sr = weakref.ref(sorted_readings(df))
    assert sorted_readings(df) is sr()
    del df
    gc.collect()
    assert sr() is None


@pytest.mark.parametrize("copy_max", [0, 100_000])
def test_gather_blocks_equals_the_index_gather(monkeypatch, copy_max):
    from griddiag import row_blocks as RB

    monkeypatch.setattr(RB, "COPY_BLOCKS_MAX", copy_max)  # 0: always the index gather
    rng = np.random.default_rng(copy_max)
    a = rng.normal(size=500)
    length = rng.integers(0, 20, size=30)
    start = rng.integers(0, 500 - 20, size=30)
    np.testing.assert_array_equal(RB.gather_blocks(a, start, length),
                                  a[RB.block_rows(start, length)])
    assert RB.gather_blocks(a, start[:0], length[:0]).shape == (0,)
    # the same from the chunks of `a` (empty ones too), blocks running across them
    cut = [0, 0, 7, 130, 131, 131, 400, 500]
    parts = [a[x:y] for x, y in zip(cut[:-1], cut[1:])]
    np.testing.assert_array_equal(RB.gather_blocks(parts, start, length),
                                  a[RB.block_rows(start, length)])
