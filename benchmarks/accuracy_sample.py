"""Accuracy of the meter-data validation detectors on the sample utility's ground truth.

Runs ``griddiag.detect`` with the default profile over ``data_samples/`` (40 meters and
7 transformers, 2023-2025) and compares the findings with ``truth.parquet``:

- per finding kind, **event recall**: the share of truth rows (category anomaly or event with
  that ``finding_kind``, optional ``*_brief`` events left out) overlapped in time by a finding
  of the same asset, metric and kind;
- **precision**: the share of findings of that kind that overlap such a truth row;
- **false events on clean meters**: findings of any kind on the meters ``MANIFEST.json`` lists
  as clean, per meter-year (and the same for the clean transformers).

Overlap is ``finding.start < truth.end and truth.start < finding.end`` (both ``end``
exclusive). Usage: ``python -m benchmarks.accuracy_sample`` (prints a Markdown table).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples"

TITLE = "Detection accuracy on the sample utility's ground truth"

#: The meter-data validation kinds (issue 3's VEE families), scored in the ordinary test suite.
KINDS = ("gap", "spike", "flatline", "zero_consumption", "negative_energy", "rollback",
         "meter_exchange")
#: The electrical and theft/loss kinds, scored here with the whole default profile (their own
#: tests, tests/test_electrical.py and tests/test_theft.py, check them on the sample too).
EXTERNAL_KINDS = ("voltage_deviation", "voltage_unbalance", "phase_loss", "overload",
                  "low_power_factor", "line_loss", "theft_risk")


@dataclass
class Accuracy:
    per_kind: pl.DataFrame  # kind, truth, found, recall, findings, correct, precision
    clean_meter_events: int
    clean_meter_years: float
    clean_transformer_events: int
    clean_transformer_years: float
    seconds: float

    @property
    def false_per_clean_meter_year(self) -> float:
        return self.clean_meter_events / self.clean_meter_years

    @property
    def false_per_clean_transformer_year(self) -> float:
        return self.clean_transformer_events / self.clean_transformer_years

    def markdown(self) -> str:
        lines = ["| kind | truth events | found | recall | findings | correct | precision |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for r in self.per_kind.iter_rows(named=True):
            lines.append(f"| {r['kind']} | {r['truth']} | {r['found']} | {r['recall']:.2f} | "
                         f"{r['findings']} | {r['correct']} | {r['precision']:.2f} |")
        lines.append("")
        lines.append(f"False events on clean meters: {self.clean_meter_events} in "
                     f"{self.clean_meter_years:g} meter-years = "
                     f"{self.false_per_clean_meter_year:.3f} per meter-year; on clean "
                     f"transformers: {self.clean_transformer_events} in "
                     f"{self.clean_transformer_years:g} transformer-years.")
        lines.append(f"Detection time (default profile, all {SAMPLE.name} readings): "
                     f"{self.seconds:.1f} s.")
        return "\n".join(lines)


def _overlaps(findings: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    keys = ["asset_id", "metric", "kind"]
    f = findings.select(*keys, "start", "end").with_row_index("f")
    t = truth.select(*keys, "start", "end").with_row_index("t")
    return f.join(t, on=keys, suffix="_t").filter(
        (pl.col("start") < pl.col("end_t")) & (pl.col("start_t") < pl.col("end")))


def score(findings: pl.DataFrame, truth: pl.DataFrame, manifest: dict,
          seconds: float = 0.0, kinds: tuple[str, ...] = KINDS) -> Accuracy:
    """Compare findings with the sample's truth (see the module docstring)."""
    truth = truth.filter(pl.col("category").is_in(["anomaly", "event"])
                         & pl.col("finding_kind").is_in(kinds)).with_columns(
        pl.col("kind").alias("kind_truth"), pl.col("finding_kind").alias("kind"))
    found = findings.filter(pl.col("kind").is_in(kinds))
    pairs = _overlaps(found, truth)
    # Optional truth events (``overload_brief``: overloads shorter than the rule's minimum
    # duration) make a finding correct but are not required for recall.
    required = ~pl.col("kind_truth").str.ends_with("_brief")
    hit_t = truth.with_row_index("t").with_columns(
        pl.col("t").is_in(pairs["t"].implode()).alias("hit")).filter(required)
    hit_f = found.with_row_index("f").with_columns(
        pl.col("f").is_in(pairs["f"].implode()).alias("hit"))
    rec = hit_t.group_by("kind").agg(pl.len().alias("truth"), pl.col("hit").sum().alias("found"))
    pre = hit_f.group_by("kind").agg(pl.len().alias("findings"),
                                     pl.col("hit").sum().alias("correct"))
    per_kind = (pl.DataFrame({"kind": list(kinds)})
                .join(rec, on="kind", how="left").join(pre, on="kind", how="left")
                .with_columns(pl.col("truth", "found", "findings", "correct").fill_null(0)
                              .cast(pl.Int64))
                .with_columns(
                    (pl.col("found") / pl.col("truth")).alias("recall"),
                    pl.when(pl.col("findings") > 0)
                    .then(pl.col("correct") / pl.col("findings")).otherwise(1.0)
                    .alias("precision"))
                .select("kind", "truth", "found", "recall", "findings", "correct",
                        "precision"))
    years = len(manifest["config"]["years"])
    meters, transformers = manifest["clean_meters"], manifest["clean_transformers"]
    return Accuracy(
        per_kind,
        findings.filter(pl.col("asset_id").is_in(meters)).height, len(meters) * years,
        findings.filter(pl.col("asset_id").is_in(transformers)).height,
        len(transformers) * years, seconds)


def evaluate(sample: Path = SAMPLE, *, external: bool = True) -> Accuracy:
    """Detect on the sample with the default profile and score the findings.

    ``external=False`` leaves out the profile's electrical and theft checks (the ordinary
    test suite does, to stay fast: the kinds scored here are the meter-data ones).
    """
    import dataclasses

    import griddiag
    from griddiag.detectors import load_profile

    profile = load_profile("default")
    if not external:
        profile = dataclasses.replace(profile, external=())
    readings = pl.read_parquet(sample / "readings.parquet")
    assets = pl.read_parquet(sample / "assets.parquet")
    truth = pl.read_parquet(sample / "truth.parquet")
    manifest = json.loads((sample / "MANIFEST.json").read_text())
    t = time.perf_counter()
    findings = griddiag.detect(readings, assets=assets, profile=profile)
    kinds = KINDS + EXTERNAL_KINDS if external else KINDS
    return score(findings, truth, manifest, time.perf_counter() - t, kinds)


def run(*, dsn: str | None = None, workdir: str | Path | None = None,
        quick: bool = False) -> str:
    """The RESULTS.md section: every kind, the whole default profile (``run_all`` calls it)."""
    acc = evaluate()
    return (
        "Default profile over `data_samples/` (40 meters, 7 transformers, 2023-2025, "
        "15-minute energy, hourly transformer data); truth from `truth.parquet`. Reproduce: "
        "`python -m benchmarks.accuracy_sample`. The thresholds were chosen on this same "
        "sample, so these figures are not a held-out estimate.\n\n" + acc.markdown()
    )


def main() -> None:
    print(run())


if __name__ == "__main__":
    main()
