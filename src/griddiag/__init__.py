"""griddiag: grid and smart-meter anomaly diagnostics.

Data flows one way: ingest -> store -> detect -> compare -> report.

Words used with one meaning throughout:

asset
    Anything with readings or children: a meter, distribution transformer, feeder or substation.
reading
    One value of one metric of one asset for one interval (``asset_id, ts, metric, value``).
interval
    The period a reading covers; ``ts`` is its *start*, in UTC.
metric
    What is measured, with the unit in its name (``energy_kwh``, ``voltage_v_a``).
register
    A cumulative meter register (``register_kwh``): grows, rolls over at its digit limit.
store
    Where readings live: the embedded Parquet directory or a TimescaleDB database.
quarantine
    Rows an ingest could not accept, kept with their line number, raw text and reason.
score
    How anomalous a slot is (higher = more; NaN = no score), apart from any threshold.
flag
    A slot whose score crossed the profile's threshold.
finding / event
    Flagged slots merged into one interval, with peak, magnitude, coverage, reason and action.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from griddiag.detect import detect
from griddiag.exceptions import (
    ConfigError,
    DataError,
    GriddiagError,
    InputError,
    SchemaError,
    StoreError,
)
from griddiag.ingest import IngestReport, ingest
from griddiag.inspection import InspectionResult, inspect
from griddiag.storage import Store, WriteResult, open_store
from griddiag.yoy.api import compare_years

try:
    __version__ = version("griddiag")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"


__all__ = [
    "ConfigError",
    "DataError",
    "GriddiagError",
    "IngestReport",
    "InputError",
    "InspectionResult",
    "SchemaError",
    "Store",
    "StoreError",
    "WriteResult",
    "__version__",
    "compare_years",
    "detect",
    "ingest",
    "inspect",
    "open_store",
]
