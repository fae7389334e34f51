"""``griddiag demo``: the sample utility into the embedded store, the way a utility would load it.

1. generate the deterministic sample utility (``griddiag.sample``) and write it like an
   acquisition system would: canonical Parquet readings plus raw exports (a long CSV, a State
   Grid 96-point day-curve file in GB18030, a wide transformer file);
2. ingest the assets and readings into the embedded Parquet store, then the raw exports, whose
   overlap with the readings is counted as duplicates and whose planted bad lines go to
   quarantine;
3. write ``demo-summary.txt`` and return what a user should open next.
"""

from __future__ import annotations

import logging
from pathlib import Path

from griddiag.ingest import IngestReport, ingest
from griddiag.sample import generate_utility, write_sample
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


def run_demo(out_dir: Path, *, meters: int = 300) -> Path:
    """Generate, export and ingest the sample utility under ``out_dir``; return the store path.

    Running it again reuses the store: every reading is then a counted duplicate.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    sample_dir = out_dir / "sample"
    log.info("generating the sample utility (%d meters, 3 years of 15-minute data)", meters)
    utility = generate_utility(meters=meters)
    write_sample(utility, sample_dir)
    del utility  # the frames are on disk now; keep the demo's memory to one copy

    store_dir = (out_dir / "store").resolve()
    lines = [f"store: {store_dir}"]
    with ParquetStore(store_dir) as store:
        report = ingest(store, sample_dir / "readings.parquet",
                        assets=sample_dir / "assets.parquet")
        lines.append(_line("readings.parquet", report))
        for name, options in _EXPORTS:
            report = ingest(store, sample_dir / "exports" / name, tz=SAMPLE_TZ,
                            quarantine_dir=out_dir / "quarantine", **options)
            lines.append(_line(f"exports/{name}", report))
        status = store.status()
    lines.append(
        f"store holds {status['readings']:,} readings of {status['assets']:,} assets "
        f"from {status['first_ts']} to {status['last_ts']}"
    )
    (out_dir / "demo-summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        log.info("%s", line)
    return store_dir


def _line(name: str, report: IngestReport) -> str:
    return f"{name}: {report.summary()}"
