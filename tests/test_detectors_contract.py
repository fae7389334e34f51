"""One contract over every detector (river's ``test_estimators.py``, scikit-learn-contrib's
``test_common.py``): parameters are fields, scoring is pure, NaN in gives NaN out, one score
per slot, events lie inside the data, findings have the exact schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from griddiag.detectors import DETECTORS, build_calendar, to_grid
from griddiag.detectors.grid import empty_grid
from griddiag.schema import FINDINGS_SCHEMA, METRICS

T0 = datetime(2024, 1, 1, tzinfo=UTC)
METRIC_FOR = {"interval_energy": ("energy_kwh", 15), "cumulative_register": ("register_kwh",
                                                                             1440),
              "instantaneous": ("voltage_v_a", 60)}


def _series(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "cumulative_register":
        v = 1000.0 + np.cumsum(rng.uniform(5, 15, n))
        v[n // 2] -= 80.0  # a rollback
        v[n // 3: n // 3 + 4] = v[n // 3]  # stuck
    elif kind == "instantaneous":
        v = 228.0 + 3 * np.sin(np.arange(n) / 4.0) + rng.normal(0, 0.5, n)
        v[n // 2: n // 2 + 3] = 190.0  # a sag
    else:
        v = 0.2 + 0.15 * np.sin(np.arange(n) * 2 * np.pi / 96) ** 2 + rng.gamma(2, 0.02, n)
        v[n // 2] = 5.0  # a spike
        v[n // 4: n // 4 + 30] = 0.0  # zero run
        v[n // 5] = -0.2
    v[rng.random(n) < 0.02] = np.nan
    v[10:14] = np.nan
    return np.round(v, 2)


def _metric_for(det, kind: str) -> str:
    """The kind's usual metric, else the first metric of that kind the detector takes
    (the reverse-energy check reads only the export channel)."""
    metric = METRIC_FOR[kind][0]
    if det.applies_to(metric):
        return metric
    return next(m for m, x in METRICS.items() if x.kind == kind and det.applies_to(m))


def _grid(kind: str, seed: int = 0, metric: str | None = None):
    metric, minutes = metric or METRIC_FOR[kind][0], METRIC_FOR[kind][1]
    rng = np.random.default_rng(seed)
    n = {"interval_energy": 96 * 70, "cumulative_register": 200, "instantaneous": 24 * 70}[kind]
    frames = []
    for a in ("M1", "M2", "M3"):
        v = _series(kind, rng, n)
        frames.append(pl.DataFrame({
            "asset_id": a, "ts": [T0 + timedelta(minutes=minutes * i) for i in range(n)],
            "metric": metric, "value": v}))
    r = pl.concat(frames).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    assets = pl.DataFrame({"asset_id": ["M1", "M2", "M3"], "kind": "meter",
                           "register_digits": 6, "tz": "Asia/Shanghai"})
    return build_calendar(to_grid(r, assets=assets), holiday_country="CN")


CASES = [(name, kind) for name, cls in sorted(DETECTORS.items()) for kind in cls.metric_kinds]


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_detector_contract(name, kind):
    cls = DETECTORS[name]
    det = cls()
    params = det.get_params()
    metric = _metric_for(det, kind)
    grid = _grid(kind, metric=metric)
    values = grid.values.copy()
    assert det.applies_to(metric)

    s1 = det.score(grid)
    s2 = det.score(grid)
    # one score per slot, pure, and the input untouched
    assert s1.shape == grid.values.shape
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(grid.values, values)
    assert det.get_params() == params
    # NaN in -> NaN out (the gap detector scores exactly the missing slots)
    missing = ~np.isfinite(grid.values)
    if cls.scores_missing:
        assert np.isnan(s1[~missing]).all() and not np.isnan(s1[missing]).any()
    else:
        assert np.isnan(s1[missing]).all()

    f = det.find(grid, label=name)
    assert f.schema == pl.Schema(FINDINGS_SCHEMA)
    assert f.equals(det.find(grid, label=name))
    first = grid.ts_us.min()
    last = grid.ts_us.max() + grid.series["interval_us"].max()
    start = f["start"].dt.epoch("us").to_numpy()
    end = f["end"].dt.epoch("us").to_numpy()
    assert ((start >= first) & (end <= last) & (start < end)).all()
    assert f["severity"].is_in(["info", "warning", "critical"]).all()
    assert f["coverage"].is_between(0, 1).all()
    assert (f["reason"].str.len_chars() > 20).all()
    assert f["asset_id"].is_in(["M1", "M2", "M3"]).all()


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detector_on_empty_and_tiny_grids(name):
    det = DETECTORS[name]()
    empty = build_calendar(empty_grid())
    assert det.score(empty).shape == (0,)
    assert det.find(empty).schema == pl.Schema(FINDINGS_SCHEMA)
    kind = DETECTORS[name].metric_kinds[0]
    metric = _metric_for(det, kind)
    one = pl.DataFrame({"asset_id": ["M1"], "ts": [T0], "metric": [metric], "value": [1.0]},
                       schema={"asset_id": pl.String, "ts": pl.Datetime("us", "UTC"),
                               "metric": pl.String, "value": pl.Float64})
    g = build_calendar(to_grid(one))
    assert det.score(g).shape == (1,)
    assert det.find(g).schema == pl.Schema(FINDINGS_SCHEMA)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detector_is_frozen(name):
    det = DETECTORS[name]()
    with pytest.raises(AttributeError):
        det.severity = "critical"  # type: ignore[misc]
    assert det.with_params(severity="critical").severity == "critical"
    assert det.severity != "critical" or DETECTORS[name]().severity == "critical"


def test_empty_findings_are_independent_frames():
    # every detector that finds nothing returns schema.empty_findings(): a clone of one frame,
    # so a caller that changes its frame in place must not change the next caller's
    from griddiag.schema import empty_findings

    first = empty_findings()
    first.insert_column(0, pl.Series("note", [], dtype=pl.String))
    first.columns = [c.upper() for c in first.columns]
    again = empty_findings()
    assert again.schema == pl.Schema(FINDINGS_SCHEMA) and again.height == 0
