"""Ingestion: utility exports (CSV, Parquet, frames) into a store, bad rows into quarantine.

``ingest(store, source, ...)`` reads long, wide-by-metric, day-curve (State Grid 96-point) and
day-per-column (SGCC) layouts in UTF-8 or GB18030, converts units and local times, loads the
good readings through ``Store.write`` and appends every rejected row, with its line number, raw
text and reason, to ``quarantine.csv``. ``read_source`` does the same without a store.

Modules, in the order data flows through them: ``readers`` (bytes, encodings, CSV, Parquet),
``layouts`` (which column holds what), ``times`` (timestamps and zones), ``validate`` (row
checks), ``quarantine`` (the rejected rows' file), ``api`` (the run and its report).
"""

from griddiag.ingest.api import FileReport, IngestReport, ingest, load_assets, read_source
from griddiag.ingest.layouts import FORMATS
from griddiag.ingest.quarantine import read_quarantine

__all__ = [
    "FORMATS",
    "FileReport",
    "IngestReport",
    "ingest",
    "load_assets",
    "read_quarantine",
    "read_source",
]
