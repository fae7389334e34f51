"""Command line: ``python -m griddiag.sample --out DIR [options]``.

Generates a sample utility and writes it with `griddiag.sample.files.write_sample`. The
committed ``data_samples/`` folder is regenerated with::

    python -m griddiag.sample --out data_samples --meters 40 --meters-per-transformer 8 \\
        --transformer-interval-minutes 60
"""

from __future__ import annotations

import argparse
import sys
import time

from griddiag.exceptions import GriddiagError
from griddiag.sample.files import write_sample
from griddiag.sample.generator import DEFAULT_SEED, generate_utility


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m griddiag.sample",
                                 description="Generate a deterministic sample utility.")
    ap.add_argument("--out", required=True, help="output folder (created if missing)")
    ap.add_argument("--meters", type=int, default=300)
    ap.add_argument("--years", type=int, nargs="+", default=[2023, 2024, 2025])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--interval-minutes", type=int, default=15)
    ap.add_argument("--meters-per-transformer", type=int, default=30)
    ap.add_argument("--register-interval-minutes", type=int, default=1440)
    ap.add_argument("--transformer-interval-minutes", type=int, default=None,
                    help="transformer reporting period (default: --interval-minutes)")
    ap.add_argument("--anomaly-rate", type=float, default=0.01)
    ap.add_argument("--export-days", type=int, default=31,
                    help="days of the interval export files (from 1 Jan of the last year)")
    ap.add_argument("--no-exports", action="store_true", help="skip the raw export files")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        utility = generate_utility(
            meters=args.meters, years=args.years, seed=args.seed,
            interval_minutes=args.interval_minutes,
            meters_per_transformer=args.meters_per_transformer,
            register_interval_minutes=args.register_interval_minutes,
            transformer_interval_minutes=args.transformer_interval_minutes,
            anomaly_rate=args.anomaly_rate)
        t1 = time.perf_counter()
        manifest = write_sample(utility, args.out, export_days=args.export_days,
                                exports=not args.no_exports)
    except GriddiagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    t2 = time.perf_counter()
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(f"generated {manifest['rows']['readings']:,} readings of "
          f"{args.meters} meters in {t1 - t0:.1f} s; wrote {total / 1e6:.1f} MB in "
          f"{t2 - t1:.1f} s")
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
