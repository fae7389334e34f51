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

import importlib
from typing import TYPE_CHECKING

from griddiag.detect import detect
from griddiag.exceptions import (
    ConfigError,
    DataError,
    GriddiagError,
    InputError,
    SchemaError,
    StoreError,
)
from griddiag.storage import Store, WriteResult, open_store

if TYPE_CHECKING:
    from griddiag.ingest.api import IngestReport, ingest
    from griddiag.inspection.job import InspectionResult, inspect
    from griddiag.yoy.api import compare_years

# `import griddiag` then one `detect` must start fast (issue 3: import to first result under
# 1 s), so the names above are the light ones (polars, numpy, the standard library) and the
# rest load on first use (PEP 562): ingestion pulls in pyarrow, year-over-year scipy, the
# inspection job the report. `detect` and `ingest` are also the names of subpackages: importing
# ``griddiag.ingest.readers`` before anyone touched ``griddiag.ingest`` would leave the
# package, not the function, under that name. The (light) package is therefore loaded now and
# its name cleared, so that ``griddiag.ingest`` always reaches `__getattr__` (a package already
# in sys.modules is not set on its parent again); ``griddiag.detect`` is light and bound above.
_LAZY = {
    "IngestReport": "griddiag.ingest.api",
    "ingest": "griddiag.ingest.api",
    "InspectionResult": "griddiag.inspection.job",
    "inspect": "griddiag.inspection.job",
    "compare_years": "griddiag.yoy.api",
}
importlib.import_module("griddiag.ingest")
del globals()["ingest"]


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("griddiag")
        except PackageNotFoundError:  # running from a source tree without installation
            value = "0.0.0+unknown"
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'griddiag' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "__version__"})


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
