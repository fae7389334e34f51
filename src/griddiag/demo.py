"""``griddiag demo``: the sample utility into the embedded store, then the annual inspection.

1. generate the deterministic sample utility (``griddiag.sample``) one batch of whole
   transformer areas at a time and write each batch into the embedded Parquet store as it
   comes (memory holds one batch, not the utility);
2. write the raw exports an acquisition system would produce for the first batch's areas (a
   long CSV, a State Grid 96-point day-curve file in GB18030, a wide transformer file) and
   ingest them like a utility would: their overlap with the stored readings is counted as
   duplicates and their planted bad lines go to quarantine;
3. inspect the latest sample year against the earlier ones (``griddiag.inspect``) and return
   the report's ``index.html``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from griddiag.ingest import IngestReport, ingest
from griddiag.sample import SampleConfig, SampleUtility, iter_utility_batches, write_exports
from griddiag.storage.parquet import ParquetStore

log = logging.getLogger(__name__)

# Raw exports and how to read them (local time of the sample utility is Asia/Shanghai).
# `sgcc_daily.csv` is left out: its daily totals of `energy_kwh` would sit at the same
# timestamps as the 15-minute readings of the same meters and conflict with them, as they should.
_EXPORTS: tuple[tuple[str, dict[str, object]], ...] = (
    ("readings_long.csv", {}),
    ("day_curves_gb18030.csv", {"interval_label": "end"}),
    ("transformers_wide.csv", {}),
)
SAMPLE_TZ = "Asia/Shanghai"
SAMPLE_YEARS = (2023, 2024, 2025)
# Areas generated and written together: ~55 assets (~8 M readings over three years). Four
# areas (~16 M readings) peaked at 3.5 GB while generated and written; the data do not depend
# on it (the batches concatenate to `generate_utility`'s frames).
_AREAS_PER_BATCH = 2
# Assets per inspection batch (two transformer areas): three years and the detectors' history
# of ~60 assets (~10 M readings) at a time. 100 assets peaked at 3.3 GB; the results do not
# depend on it (INTERFACE.md: batches of whole areas), and each batch shows progress.
_INSPECT_BATCH_ASSETS = 60


def load_sample(out_dir: Path, *, meters: int = 300, years: tuple[int, ...] = SAMPLE_YEARS
                ) -> Path:
    """Generate the sample utility into ``out_dir/store`` batch by batch, write and ingest
    its raw exports, and return the store's path. Running it again reuses the store: every
    reading is then a counted duplicate."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sample_dir = out_dir / "sample"
    store_dir = (out_dir / "store").resolve()
    log.info("generating the sample utility (%d meters, %d years of 15-minute data) into %s",
             meters, len(years), store_dir)
    lines = [f"store: {store_dir}"]
    loaded = duplicate = 0
    truth: list[pl.DataFrame] = []
    assets: list[pl.DataFrame] = []
    first = None
    with ParquetStore(store_dir) as store:
        for batch in iter_utility_batches(meters=meters, years=years,
                                          areas_per_batch=_AREAS_PER_BATCH):
            store.upsert_assets(batch.assets)
            result = store.write(batch.readings)
            loaded += result.loaded
            duplicate += result.duplicate
            truth.append(batch.truth)
            assets.append(batch.assets)
            if first is None:
                first = batch  # the exports are cut from the first areas
            log.info("sample: %d readings of %d assets stored", batch.readings.height,
                     batch.assets.height)
        lines.append(f"sample readings: loaded {loaded:,}, duplicate {duplicate:,}")
        sample_dir.mkdir(parents=True, exist_ok=True)
        pl.concat(assets).write_parquet(sample_dir / "assets.parquet")
        if first is not None:
            config = SampleConfig(meters=meters, years=tuple(years))
            part = SampleUtility(config, first.assets, first.readings, first.truth,
                                 first.weather)
            raw = write_exports(part, sample_dir / "exports")
            truth.append(raw)
            del part, first
            for name, options in _EXPORTS:
                report = ingest(store, sample_dir / "exports" / name, tz=SAMPLE_TZ,
                                quarantine_dir=out_dir / "quarantine", **options)
                lines.append(_line(f"exports/{name}", report))
        pl.concat(truth, how="diagonal_relaxed").sort("asset_id", "start").write_parquet(
            sample_dir / "truth.parquet")
        status = store.status()
    lines.append(
        f"store holds {status['readings']:,} readings of {status['assets']:,} assets "
        f"from {status['first_ts']} to {status['last_ts']}"
    )
    (out_dir / "demo-summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        log.info("%s", line)
    return store_dir


def run_demo(out_dir: Path, *, meters: int = 300, lang: str = "en", progress=None) -> Path:
    """The sample utility into ``out_dir/store``, then the inspection of its latest year
    against the earlier ones into ``out_dir/report``; returns the report's ``index.html``."""
    from griddiag.inspection import inspect

    store_dir = load_sample(out_dir, meters=meters)
    year, baseline = SAMPLE_YEARS[-1], list(SAMPLE_YEARS[:-1])
    with ParquetStore(store_dir, create=False) as store:
        result = inspect(store, year=year, baseline_years=baseline, out_dir=out_dir / "report",
                         lang=lang, progress=progress, batch_assets=_INSPECT_BATCH_ASSETS)
    c = result.counts
    log.info("inspection of %d: %d findings %s, %d significant year-over-year changes",
             year, c["findings"], c["by_severity"], c["yoy_significant"])
    return result.paths["index_html"].resolve()


def _line(name: str, report: IngestReport) -> str:
    return f"{name}: {report.summary()}"
