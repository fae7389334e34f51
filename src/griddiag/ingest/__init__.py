"""Ingestion: utility exports (CSV, Parquet, frames) into a store, bad rows into quarantine.

``ingest(store, source, ...)`` reads long, wide-by-metric, day-curve (State Grid 96-point) and
day-per-column (SGCC) layouts in UTF-8 or GB18030, converts units and local times, loads the
good readings through ``Store.write`` and appends every rejected row, with its line number, raw
text and reason, to ``quarantine.csv``. ``read_source`` does the same without a store.

Modules, in the order data flows through them: ``readers`` (bytes, encodings, CSV, Parquet),
``layouts`` (which column holds what), ``times`` (timestamps and zones), ``validate`` (row
checks), ``quarantine`` (the rejected rows' file), ``api`` (the run and its report).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from griddiag.ingest.api import FileReport, IngestReport, ingest, load_assets, read_source
    from griddiag.ingest.layouts import FORMATS
    from griddiag.ingest.quarantine import read_quarantine

# Loaded on first use (PEP 562): `import griddiag` imports this package (see griddiag/__init__),
# and a detection run must not pay for the readers, their time-zone tables and pyarrow.
_LAZY = {
    "FORMATS": "griddiag.ingest.layouts",
    "FileReport": "griddiag.ingest.api",
    "IngestReport": "griddiag.ingest.api",
    "ingest": "griddiag.ingest.api",
    "load_assets": "griddiag.ingest.api",
    "read_quarantine": "griddiag.ingest.quarantine",
    "read_source": "griddiag.ingest.api",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'griddiag.ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "FORMATS",
    "FileReport",
    "IngestReport",
    "ingest",
    "load_assets",
    "read_quarantine",
    "read_source",
]
