"""The sum check on a batch of meters, three ways that must agree: one grid of all its metrics
with the pipeline's calendar, the same grid without a calendar (the detector builds the
register series' local days itself), and one grid per metric (:meth:`find_metrics`, which reads
the interval channel in place instead of needing a second grid of it).

The batch is random but fixed-seed and covers what changes which spans are judged: local days
in Asia/Shanghai (register read at local midnight = 16:00 UTC), lost and invented energy, a
stuck register, missing intervals and register readings, a rollover, a meter exchange, an
interval channel that changes from 30 to 15 minutes (two segments), TOU tiers (one stopping),
a meter without register and one without interval channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from griddiag.detectors import build_calendar, to_grid
from griddiag.detectors.meter import SumCheckDetector
from griddiag.exceptions import ConfigError
from tests.frames import one_series

T0 = datetime(2024, 3, 3, 16, tzinfo=UTC)  # 2024-03-04 00:00 in Asia/Shanghai
DAYS = 12


def _long(asset, metric, t0, minutes, values):
    return one_series(values, metric=metric, asset=asset, minutes=minutes, t0=t0)


def _meter(rng, asset, *, tiers=0, split=False, energy=True, register=True, digits=6,
           hourly=False):
    """One meter's readings (``hourly``: its register read every hour, not once a day)."""
    per_day = rng.uniform(5.0, 15.0, DAYS)
    q = np.repeat(per_day / 96, 96)
    q = np.round(q, 4)
    reg = 1000.0 + np.concatenate([[0.0], np.cumsum(q.reshape(DAYS, 96).sum(axis=1))])
    frames = []
    d = int(rng.integers(1, DAYS - 1))
    what = "none" if hourly else rng.choice(["lost", "invented", "stuck", "nan", "gap", "none"])
    if what == "lost":
        q[d * 96:(d + 1) * 96] *= 0.5
    elif what == "invented":
        q[d * 96 + 10:d * 96 + 20] += 1.0
    elif what == "stuck":
        reg[d] = reg[d - 1]
    elif what == "nan":
        q[d * 96 + int(rng.integers(0, 96))] = np.nan
    elif what == "gap":
        reg[d] = np.nan
    if digits < 6:  # a register that wraps: keep it under its limit
        reg = reg % 10.0 ** digits
    if energy:
        if split:  # 30-minute intervals for the first 4 days, then 15-minute
            half = q[:4 * 96].reshape(-1, 2).sum(axis=1)
            frames.append(_long(asset, "energy_kwh", T0, 30, half))
            frames.append(_long(asset, "energy_kwh", T0 + timedelta(days=4), 15, q[4 * 96:]))
        else:
            frames.append(_long(asset, "energy_kwh", T0, 15, q))
    if register and hourly:  # spans are still local days: only their first reading anchors
        hours = 1000.0 + np.concatenate([[0.0], np.cumsum(np.nan_to_num(q).reshape(-1, 4)
                                                          .sum(axis=1))])
        hours[d * 24 + 5:] += 0.3  # the register jumps at 05:00 on day d
        frames.append(_long(asset, "register_kwh", T0, 60, hours))
    elif register:
        frames.append(_long(asset, "register_kwh", T0, 1440, reg))
        share = rng.dirichlet(np.ones(tiers)) if tiers else []
        for i, s in enumerate(share, start=1):
            t = 400.0 * i + np.concatenate([[0.0], np.cumsum(np.diff(reg) * s)])
            if i == 2:
                t[-3:] = t[-3]  # tier 2 stops three days before the end
            frames.append(_long(asset, f"register_kwh_t{i}", T0, 1440, t))
    return frames


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(11)
    frames, assets = [], []
    specs = [dict(), dict(tiers=2), dict(split=True), dict(digits=4), dict(tiers=3),
             dict(register=False), dict(energy=False, tiers=2), dict(), dict(), dict(),
             dict(hourly=True)]
    for i, kw in enumerate(specs):
        asset = f"M{i:02d}"
        frames += _meter(rng, asset, **kw)
        assets.append((asset, kw.get("digits", 6)))
    # a meter exchange on M07: its register restarts near zero on day 6
    readings = pl.concat(frames).with_columns(
        pl.when((pl.col("asset_id") == "M07") & (pl.col("metric") == "register_kwh")
                & (pl.col("ts") >= T0 + timedelta(days=6)))
        .then(pl.col("value") - 990.0).otherwise(pl.col("value")).alias("value"))
    a = pl.DataFrame({"asset_id": [x for x, _ in assets], "kind": ["meter"] * len(assets),
                      "register_digits": [d for _, d in assets],
                      "tz": ["Asia/Shanghai"] * len(assets)},
                     schema_overrides={"register_digits": pl.Int32})
    return readings, a


def _sorted(f: pl.DataFrame) -> pl.DataFrame:
    return f.sort("asset_id", "metric", "start")


def test_one_grid_with_or_without_calendar_and_per_metric_grids_agree(batch):
    readings, assets = batch
    det = SumCheckDetector()
    joint = to_grid(readings, assets=assets)
    with_calendar = det.find(build_calendar(joint, holiday_country="CN"))
    # the checks made on this batch: both comparisons fire, so the agreement means something
    assert set(with_calendar["metric"]) == {"energy_kwh", "register_kwh"}
    assert with_calendar.height >= 4
    assert_frame_equal(det.find(joint), with_calendar)
    grids = {m: to_grid(readings.filter(pl.col("metric") == m), assets=assets)
             for m in readings["metric"].unique().to_list()}
    # per-metric grids may carry a calendar of their own (built for other detectors)
    grids["register_kwh_t1"] = build_calendar(grids["register_kwh_t1"], holiday_country="CN")
    assert_frame_equal(_sorted(det.find_metrics(grids)), _sorted(with_calendar))
    # the scores of evaluate() sit on the total register's slots of the grid
    score = det.score(joint)
    assert score.shape == joint.values.shape
    reg_slots = np.repeat(joint.series["metric"].to_numpy() == "register_kwh",
                          np.diff(joint.offsets))
    assert np.isnan(score[~reg_slots]).all() and np.isfinite(score[reg_slots]).any()


def test_local_days_follow_the_asset_time_zone(batch):
    # the same batch read as UTC: other days, same agreement with and without a calendar
    readings, assets = batch
    det = SumCheckDetector()
    utc = assets.with_columns(pl.lit("UTC").alias("tz"))
    g = to_grid(readings, assets=utc)
    assert_frame_equal(det.find(g), det.find(build_calendar(g, holiday_country=None)))


def test_find_metrics_edges(batch):
    readings, assets = batch
    det = SumCheckDetector()
    energy = to_grid(readings.filter(pl.col("metric") == "energy_kwh"), assets=assets)
    # no total register: nothing to compare against
    assert det.find_metrics({"energy_kwh": energy}).height == 0
    assert det.find_metrics({}).height == 0
    with pytest.raises(ConfigError, match="voltage_v_a"):
        det.find_metrics({"voltage_v_a": energy})
    # registers only: the tier comparison alone
    regs = {m: to_grid(readings.filter(pl.col("metric") == m), assets=assets)
            for m in ("register_kwh", "register_kwh_t1", "register_kwh_t2",
                      "register_kwh_t3")}
    f = det.find_metrics(regs)
    assert f.height and (f["metric"] == "register_kwh").all()


def test_an_hourly_register_is_compared_per_local_day(batch):
    readings, assets = batch
    f = SumCheckDetector().find(to_grid(readings, assets=assets)).filter(
        pl.col("asset_id") == "M10")
    assert f.height == 1  # the day of the jump, not its hours
    start = f["start"][0].astimezone(UTC)
    assert (start - T0) % timedelta(days=1) == timedelta(0)
    assert f["end"][0] - start == timedelta(days=1)


@pytest.mark.parametrize("seed", range(6))
def test_bin_to_readings_any_pair_of_steps_matches_reference(seed):
    # register readings finer or coarser than the intervals, starting before or after them,
    # several interval series (segments) feeding one register series, and unpaired series
    from griddiag import kernels as K
    from tests import reference as R

    rng = np.random.default_rng(900 + seed)
    values, offsets = R.random_batch(rng, max_len=60)
    n_series, n_reg = offsets.shape[0] - 1, 4
    r_off = np.concatenate([[0], np.cumsum(rng.integers(0, 12, n_reg))]).astype(np.int64)
    t0 = rng.integers(-20, 40, n_series) * 15
    step = rng.choice([15, 30], n_series)
    smap = rng.integers(-1, n_reg, n_series)
    r_t0 = rng.integers(-50, 100, n_reg) * 5
    r_step = rng.choice([5, 15, 60, 1440], n_reg)
    got = K.bin_to_readings(values, offsets, t0, step, smap, r_t0, r_step, r_off)
    ref = R.bin_to_readings(values, offsets, t0, step, smap, r_t0, r_step, r_off)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(got[1], ref[1])
