"""Per-kind recall and precision of peer detectors on the sample utility's injected anomalies.

The same series and truth as ``benchmarks/accuracy_sample.py`` (``data_samples/``: 40 meters,
2023-2025), scored with its matching code (:func:`benchmarks.accuracy_sample.score`: a truth
event is found when an event of the same asset, metric and kind overlaps it in time). Peers
run on every meter's ``energy_kwh`` (15-minute) and ``register_kwh`` (daily) series, each
series on its own regular grid (missing readings NaN):

- ADTK-style ``PersistAD`` (c = 3), ``LevelShiftAD`` (c = 6) and ``ThresholdAD(low=0)`` from
  ``baselines/adtk_style.py`` (ADTK's semantics; window one day of 15-minute energy, one week
  of daily register readings);
- PyOD ``ECOD`` and ``IForest`` on each series' days as vectors (96 slots of energy; for the
  daily register the 7 daily increments of a week), the usual way to put a time series to a
  multivariate detector; missing slots take the slot's median over the series' days (PyOD
  takes no NaN); a day is flagged when PyOD's ``labels_`` say so, with ``contamination =
  0.01`` (the sample's configured anomaly rate: a prior the peers are given, griddiag is not).

A peer says "anomalous here", not which kind: each peer event counts for every kind, so a
kind's recall is the share of its truth events that any peer event overlaps, and its precision
the share of peer events that overlap a truth event of that kind (so per-kind precision is low
by construction; the "any kind" row gives the share of peer events that overlap any truth
event). griddiag (default profile, meter-data checks, as in ``accuracy_sample``) is scored on
the same truth rows: meter assets, metrics ``energy_kwh`` and ``register_kwh``.

    .venv/bin/python -m benchmarks.accuracy_peers
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.accuracy_sample import KINDS, SAMPLE, score
from benchmarks.common import table

TITLE = "Accuracy on the sample utility: griddiag vs PyOD and ADTK-style peers, per kind"
METRICS = ("energy_kwh", "register_kwh")
CONTAMINATION = 0.01


def series(readings: pl.DataFrame, meters: list[str]):
    """(asset, metric, t0_us, step_us, values) per meter series on its regular grid."""
    r = readings.filter(pl.col("asset_id").is_in(meters) & pl.col("metric").is_in(METRICS))
    r = r.select("asset_id", "metric", pl.col("ts").dt.epoch("us").alias("t"), "value")
    out = []
    for (aid, met), g in r.sort("asset_id", "metric", "t").group_by(
            ["asset_id", "metric"], maintain_order=True):
        t = g["t"].to_numpy()
        d = np.diff(t)
        steps, counts = np.unique(d[d > 0], return_counts=True)
        step = int(steps[np.argmax(counts)])
        slot = (t - t[0]) // step
        v = np.full(int(slot[-1]) + 1, np.nan)
        v[slot] = g["value"].to_numpy()
        out.append((aid, met, int(t[0]), step, v))
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    f = np.concatenate([[False], flags.astype(bool), [False]])
    d = np.diff(f.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _day_matrix(v: np.ndarray, per_day: int) -> np.ndarray:
    n = v.shape[0] // per_day * per_day
    m = v[:n].reshape(-1, per_day)
    med = np.nanmedian(np.where(np.isfinite(m), m, np.nan), axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    return np.where(np.isfinite(m), m, med)


def peer_flags(name: str, v: np.ndarray, metric: str) -> np.ndarray:
    from baselines import adtk_style as A

    off = np.array([0, v.shape[0]], dtype=np.int64)
    window = 96 if metric == "energy_kwh" else 7
    if name == "ADTK-style PersistAD":
        return A.persist_ad(v, off, window=window, c=3.0)
    if name == "ADTK-style LevelShiftAD":
        return A.level_shift_ad(v, off, window=window, c=6.0)
    if name == "ADTK-style ThresholdAD(low=0)":
        return A.threshold_ad(v, off, low=0.0)
    # PyOD on days (energy) or weeks of daily increments (register)
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest

    if metric == "energy_kwh":
        per, x = 96, v
    else:
        per, x = 7, np.concatenate([[np.nan], np.diff(v)])
    m = _day_matrix(x, per)
    if m.shape[0] < 10:
        return np.zeros(v.shape[0], dtype=bool)
    model = (ECOD(contamination=CONTAMINATION) if name == "PyOD ECOD"
             else IForest(contamination=CONTAMINATION, random_state=0))
    lab = model.fit(m).labels_.astype(bool)
    out = np.zeros(v.shape[0], dtype=bool)
    out[:lab.shape[0] * per] = np.repeat(lab, per)
    return out


PEERS = ("ADTK-style PersistAD", "ADTK-style LevelShiftAD", "ADTK-style ThresholdAD(low=0)",
         "PyOD ECOD", "PyOD IForest")


def peer_events(name: str, ser) -> pl.DataFrame:
    rows = []
    for aid, met, t0, step, v in ser:
        for a, b in _runs(peer_flags(name, v, met)):
            rows.append((aid, met, t0 + int(a) * step, t0 + int(b) * step))
    return pl.DataFrame(rows, schema={"asset_id": pl.String, "metric": pl.String,
                                      "start": pl.Int64, "end": pl.Int64}, orient="row"
                        ).with_columns(pl.col("start", "end").cast(pl.Datetime("us", "UTC")))


def _every_kind(events: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([events.with_columns(kind=pl.lit(k)) for k in KINDS])


def _any_precision(events: pl.DataFrame, truth: pl.DataFrame) -> tuple[int, int]:
    t = truth.select("asset_id", "metric", pl.col("start").alias("ts"), pl.col("end").alias("te"))
    e = events.with_row_index("e")
    hit = e.join(t, on=["asset_id", "metric"]).filter(
        (pl.col("start") < pl.col("te")) & (pl.col("ts") < pl.col("end")))["e"].n_unique()
    return hit, events.height


def run(*, dsn: str | None = None, workdir: str | Path | None = None,
        quick: bool = False) -> str:
    import dataclasses

    import griddiag
    from griddiag.detectors import load_profile

    readings = pl.read_parquet(SAMPLE / "readings.parquet")
    assets = pl.read_parquet(SAMPLE / "assets.parquet")
    truth = pl.read_parquet(SAMPLE / "truth.parquet")
    manifest = json.loads((SAMPLE / "MANIFEST.json").read_text())
    meters = assets.filter(pl.col("kind") == "meter")["asset_id"].to_list()
    if quick:
        meters = meters[:8]
    truth = truth.filter(pl.col("asset_id").is_in(meters) & pl.col("metric").is_in(METRICS))
    ser = series(readings, meters)

    results: dict[str, pl.DataFrame] = {}
    anyp: dict[str, tuple[int, int]] = {}
    seconds: dict[str, float] = {}
    profile = dataclasses.replace(load_profile("default"), external=())
    t0 = time.perf_counter()
    found = griddiag.detect(readings.filter(pl.col("asset_id").is_in(meters)), assets=assets,
                            profile=profile)
    seconds["griddiag (default profile)"] = time.perf_counter() - t0
    found = found.filter(pl.col("metric").is_in(METRICS))
    results["griddiag (default profile)"] = score(found, truth, manifest, kinds=KINDS).per_kind
    anyp["griddiag (default profile)"] = _any_precision(
        found.filter(pl.col("kind").is_in(KINDS)), truth.filter(
            pl.col("finding_kind").is_in(KINDS) & pl.col("category").is_in(["anomaly", "event"])))
    for name in PEERS:
        t0 = time.perf_counter()
        ev = peer_events(name, ser)
        seconds[name] = time.perf_counter() - t0
        results[name] = score(_every_kind(ev), truth, manifest, kinds=KINDS).per_kind
        anyp[name] = _any_precision(ev, truth.filter(
            pl.col("finding_kind").is_in(KINDS) & pl.col("category").is_in(["anomaly", "event"])))

    names = list(results)
    base = results[names[0]]
    rows = []
    for i, kind in enumerate(base["kind"].to_list()):
        row = [kind, int(base["truth"][i])]
        for n in names:
            r = results[n].row(i, named=True)
            rec = f"{r['recall']:.2f}" if r["truth"] else "–"
            pre = f"{r['precision']:.2f}" if r["findings"] else "–"
            row.append(f"{rec} / {pre}")
        rows.append(row)
    rows.append(["any kind (precision: events overlapping any truth event)", "",
                 *[f"{anyp[n][0]} of {anyp[n][1]} = "
                   f"{(anyp[n][0] / anyp[n][1]) if anyp[n][1] else float('nan'):.2f}"
                   for n in names]])
    rows.append(["seconds", "", *[f"{seconds[n]:.1f}" for n in names]])
    return "\n".join([
        f"{'QUICK RUN (8 meters): ' if quick else ''}Same series and truth as the sample "
        f"accuracy above ({len(meters)} meters, 2023-2025; truth rows of meters on "
        "`energy_kwh` and `register_kwh`), matched with `accuracy_sample.score`. Each cell is "
        "**recall / precision**. Peers do not name a kind: each peer event counts for every "
        "kind, so per-kind precision of a peer is low by construction; the last rows give "
        "the precision against any truth event and the time. Reproduce: "
        "`.venv/bin/python -m benchmarks.accuracy_peers`.",
        "",
        table(["kind", "truth events", *names], rows),
        "",
        "griddiag's thresholds were chosen on this sample (see above); the peers run with "
        "ADTK's documented defaults (c = 3 / 6) and PyOD with contamination = 0.01 (the "
        "sample's anomaly rate), untuned.",
        "",
    ])


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    print(run(quick=ap.parse_args().quick))


if __name__ == "__main__":
    main()
