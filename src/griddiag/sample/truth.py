"""Ground truth of a sample utility: what was injected, where, when and how large.

One row per injected anomaly, event or change (``TRUTH_SCHEMA``). ``start``/``end`` are UTC
instants, ``end`` exclusive (the end of the last affected interval); for a register kind on a
daily register they are the reading instants. ``finding_kind`` is the kind a griddiag finding
for this row should carry (null where nothing should be reported, e.g. a legitimate register
rollover, which detectors must *not* flag as a rollback).

Categories:

- ``anomaly``: a fault or data error detectors should find;
- ``event``: a legitimate event detectors must tell apart from an anomaly (rollover, meter
  exchange);
- ``change``: a real change of consumption for the year-over-year comparison;
- ``weather``: a weather event that explains load (heat wave);
- ``raw_data``: a problem planted in the raw export files only (never in canonical readings).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from griddiag.schema import TS_DTYPE

__all__ = ["KINDS", "TRUTH_SCHEMA", "KindInfo", "truth_frame", "truth_row"]

TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "asset_id": pl.String(),
    "metric": pl.String(),
    "kind": pl.String(),
    "category": pl.String(),
    "finding_kind": pl.String(),
    "start": TS_DTYPE,
    "end": TS_DTYPE,
    "magnitude": pl.Float64(),
    "unit": pl.String(),
    "notes": pl.String(),
    "source_file": pl.String(),
    "source_line": pl.Int64(),
}


@dataclass(frozen=True)
class KindInfo:
    """Catalogue entry: category, expected finding kind, metric and unit of ``magnitude``."""

    category: str
    finding_kind: str | None
    metric: str
    unit: str
    meaning: str


KINDS: dict[str, KindInfo] = {
    # meter data errors (the register keeps counting the true energy)
    "gap": KindInfo("anomaly", "gap", "energy_kwh", "intervals",
                    "intervals missing: rows absent, or present with NaN (see notes)"),
    "spike": KindInfo("anomaly", "spike", "energy_kwh", "kWh",
                      "one interval reports a value 30-60x the meter's typical energy"),
    "flatline": KindInfo("anomaly", "flatline", "energy_kwh", "kWh",
                         "the value repeats unchanged (stuck acquisition)"),
    "negative_energy": KindInfo("anomaly", "negative_energy", "energy_kwh", "kWh",
                                "import energy reported with a negative sign"),
    "register_stuck": KindInfo("anomaly", "flatline", "register_kwh", "readings",
                               "register reading frozen, then catches up"),
    "rollback": KindInfo("anomaly", "rollback", "register_kwh", "kWh",
                         "register reading drops and continues from the lower value"),
    # customer behaviour that is a fault
    "zero_run": KindInfo("anomaly", "zero_consumption", "energy_kwh", "h",
                         "supply disconnected (arrears): true zero consumption"),
    "theft": KindInfo("anomaly", "theft_risk", "energy_kwh", "fraction",
                      "meter under-registers by `magnitude` from `start` (bypass)"),
    "supply_interruption": KindInfo("anomaly", "zero_consumption", "energy_kwh", "h",
                                    "no supply: the meter's phase was lost at the transformer"),
    # legitimate register events
    "rollover": KindInfo("event", None, "register_kwh", "kWh",
                         "register passes 10^digits and restarts at 0 (not a rollback)"),
    "meter_exchange": KindInfo("event", "meter_exchange", "register_kwh", "kWh",
                               "meter replaced: register restarts near 0"),
    # year-over-year changes
    "growth": KindInfo("change", "growth", "energy_kwh", "ratio",
                       "all intervals scaled by `magnitude` from `start`"),
    "step_change": KindInfo("change", "step_change", "energy_kwh", "ratio",
                            "consumption scaled by `magnitude` from `start`"),
    "peak_shift": KindInfo("change", "peak_shift", "energy_kwh", "h",
                           "daily shape moved by `magnitude` hours (peak 19:00 -> 13:00)"),
    "new_cooling_load": KindInfo("change", "new_cooling_load", "energy_kwh", "1/K",
                                 "extra cooling slope (share of base per K above balance)"),
    "vacancy": KindInfo("change", "vacancy", "energy_kwh", "kWh/day",
                        "premises vacant: standby consumption only"),
    # transformer
    "overload": KindInfo("anomaly", "overload", "load_kva", "ratio",
                         "load above rated kVA for >= 2 h; magnitude = peak load / rated"),
    "overload_brief": KindInfo("event", "overload", "load_kva", "ratio",
                               "load above rated kVA for < 2 h (may be reported, not required)"),
    "voltage_sag": KindInfo("anomaly", "voltage_deviation", "voltage_v_a", "V",
                            "all phases below 198 V (GB/T 12325: 220 V -10 %); min voltage"),
    "voltage_swell": KindInfo("anomaly", "voltage_deviation", "voltage_v_a", "V",
                              "all phases above 235.4 V (GB/T 12325: 220 V +7 %); max voltage"),
    "voltage_unbalance": KindInfo("anomaly", "voltage_unbalance", "voltage_v_a", "%",
                                  "phase voltages unbalanced beyond GB/T 15543 (2 %); mean "
                                  "max-deviation-from-mean / mean"),
    "phase_loss": KindInfo("anomaly", "phase_loss", "voltage_v_a", "V",
                           "one phase lost (blown fuse): its voltage near 0 and current 0"),
    "low_power_factor": KindInfo("anomaly", "low_power_factor", "power_factor", "1",
                                 "capacitor bank out: power factor below 0.9; mean pf"),
    "line_loss": KindInfo("anomaly", "line_loss", "active_power_kw", "%",
                          "supply minus metered energy rises by `magnitude` points (theft)"),
    "oil_flatline": KindInfo("anomaly", "flatline", "oil_temp_c", "degC",
                             "oil temperature sensor stuck"),
    "transformer_gap": KindInfo("anomaly", "gap", "*", "intervals",
                                "all transformer metrics missing (communication loss)"),
    "heat_wave": KindInfo("weather", None, "ambient_temp_c", "K",
                          "daily mean temperature raised by up to `magnitude`"),
    # raw export problems
    "duplicate_row": KindInfo("raw_data", None, "", "", "exact duplicate line"),
    "conflicting_duplicate": KindInfo("raw_data", None, "", "",
                                      "same key as an earlier line, different value"),
    "bad_timestamp": KindInfo("raw_data", None, "", "", "timestamp that cannot be parsed"),
    "bad_value": KindInfo("raw_data", None, "", "", "value that is not a number"),
}


def truth_row(kind: str, asset_id: str, start: dt.datetime, end: dt.datetime, *,
              magnitude: float | None = None, metric: str | None = None, notes: str = "",
              source_file: str | None = None, source_line: int | None = None) -> dict:
    """One truth row; category, finding kind, unit and default metric come from ``KINDS``."""
    info = KINDS[kind]
    return {
        "asset_id": asset_id,
        "metric": metric if metric is not None else info.metric,
        "kind": kind,
        "category": info.category,
        "finding_kind": info.finding_kind,
        "start": start,
        "end": end,
        "magnitude": None if magnitude is None else float(magnitude),
        "unit": info.unit or None,
        "notes": notes or info.meaning,
        "source_file": source_file,
        "source_line": source_line,
    }


def truth_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows as a frame with ``TRUTH_SCHEMA``, sorted by asset, start, kind."""
    if not rows:
        return pl.DataFrame(schema=TRUTH_SCHEMA)
    return pl.DataFrame(rows, schema=TRUTH_SCHEMA).sort(["asset_id", "start", "kind", "metric"])
