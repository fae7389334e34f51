"""Deterministic sample utility: topology, 15-minute readings, ground truth and raw exports.

A substation, feeders, distribution transformers (three-phase voltage and current, load, oil
temperature) and customer meters (interval energy, cumulative register) over whole calendar
years in Asia/Shanghai, with weather, Chinese holidays and injected anomalies of known kinds.
Parameters are calibrated against real public series (see ``data_samples/README.md``).

>>> from griddiag.sample import generate_utility
>>> u = generate_utility(meters=40, meters_per_transformer=10)     # doctest: +SKIP
>>> u.readings, u.assets, u.truth, u.weather, u.clean_meters        # doctest: +SKIP
"""

from griddiag.sample.exports import write_exports
from griddiag.sample.files import write_parquet, write_sample
from griddiag.sample.generator import (
    DEFAULT_SEED,
    SampleBatch,
    SampleConfig,
    SampleUtility,
    generate_utility,
    iter_utility_batches,
)
from griddiag.sample.truth import KINDS, TRUTH_SCHEMA

__all__ = [
    "DEFAULT_SEED",
    "KINDS",
    "TRUTH_SCHEMA",
    "SampleBatch",
    "SampleConfig",
    "SampleUtility",
    "generate_utility",
    "iter_utility_batches",
    "write_exports",
    "write_parquet",
    "write_sample",
]
