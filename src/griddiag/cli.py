"""``griddiag`` command line: parse, open the store, call the library, map errors to exit codes.

Exit codes: 0 done; 1 done, and findings at or above ``--fail-on`` exist; 2 usage or
configuration error; 3 input or store error. Errors are one line on stderr; ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from griddiag.exceptions import ConfigError, GriddiagError

log = logging.getLogger("griddiag")

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_DATA = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a ConfigError (exit 2, one line)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see --help)")


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        help="store URL: a directory (embedded Parquet store) or postgresql://... (TimescaleDB); "
        "default: $GRIDDIAG_STORE, else ./griddiag-data",
    )


def build_parser() -> argparse.ArgumentParser:
    from griddiag import __version__

    parser = _Parser(
        prog="griddiag",
        description="Grid and smart-meter anomaly diagnostics: ingest meter and equipment "
        "data into a store, then detect, compare years and report.",
    )
    parser.add_argument("--version", action="version", version=f"griddiag {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser(
        "demo",
        help="sample utility into the embedded store, then the inspection and its report",
        description="Generate the deterministic sample utility (a substation, feeders, "
        "transformers and meters over three years, with injected anomalies), ingest it "
        "into an embedded store and inspect its latest year against the earlier ones. "
        "Prints the report's path (index.html) on the last line.",
    )
    demo.add_argument("--out", default="griddiag-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--meters", type=int, default=300, help="number of meters (default: 300)")
    demo.add_argument("--lang", choices=["en", "zh-CN"], default="en",
                      help="language of the report (default: %(default)s)")

    db = sub.add_parser("db", help="create, migrate or inspect a store")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_Parser)
    db_init = db_sub.add_parser("init", help="create the schema or migrate it forward")
    _add_store(db_init)
    db_status = db_sub.add_parser("status", help="schema version, counts and time range")
    _add_store(db_status)

    ing = sub.add_parser(
        "ingest",
        help="load CSV/Parquet exports into the store",
        description="Load meter or equipment readings. Bad rows go to a quarantine file with "
        "their line number and reason; good rows are loaded. Re-ingesting a file changes "
        "nothing.",
    )
    ing.add_argument("files", nargs="+", metavar="FILE", help="CSV or Parquet files")
    _add_store(ing)
    ing.add_argument(
        "--format", default="auto",
        choices=["auto", "long", "wide", "day-wide", "day-columns"],
        help="layout of the files (default: detect from the header)",
    )
    ing.add_argument("--tz", help="time zone of naive timestamps (default: asset's tz, else UTC)")
    ing.add_argument("--interval-label", choices=["start", "end"], default=None,
                     help="whether timestamps label the start or the end of each interval "
                     "(default: start, except layouts whose labels say so, e.g. 00:15..24:00)")
    ing.add_argument("--interval", metavar="DURATION",
                     help="interval of end-labelled series, e.g. 15m or 1h (default: inferred)")
    ing.add_argument("--encoding", help="CSV encoding (default: detect UTF-8, BOM or GB18030)")
    ing.add_argument("--ambiguous", choices=["raise", "earliest", "latest"], default="raise",
                     help="how to read local times that are ambiguous or missing at DST "
                     "changes (default: quarantine them)")
    ing.add_argument("--assets", metavar="FILE", help="assets file (CSV or Parquet) to load first")
    ing.add_argument("--metric", help="metric of single-metric layouts (default: energy_kwh)")
    ing.add_argument("--on-conflict", choices=["reject", "replace"], default="reject",
                     help="what to do when a value differs from the stored one "
                     "(default: quarantine it)")
    ing.add_argument("--strict", action="store_true",
                     help="quarantine readings of assets not in the registry instead of "
                     "registering them")
    ing.add_argument("--quarantine", metavar="DIR",
                     help="quarantine folder (default: beside each input file)")

    det = sub.add_parser(
        "detect",
        help="run a detector profile over the store and write the findings",
        description="Run the detectors of a profile over the readings of a store (in batches "
        "of whole transformer areas) and write one row per anomaly event. The output format "
        "follows the extension: .parquet, .csv or .json.",
    )
    _add_store(det)
    period = det.add_mutually_exclusive_group()
    period.add_argument("--year", type=int, help="calendar year in each asset's local time")
    period.add_argument("--start", help="period start, ISO date or time (with --end)")
    det.add_argument("--end", help="period end (exclusive), ISO date or time")
    det.add_argument("--profile", default="default",
                     help="profile name or TOML file (default: %(default)s)")
    det.add_argument("--out", required=True, metavar="FILE",
                     help="findings file: .parquet, .csv or .json")
    det.add_argument("--fail-on", choices=["info", "warning", "critical"],
                     help="exit 1 when findings of this severity or above exist")
    insp = sub.add_parser(
        "inspect",
        help="the annual inspection: detect and compare every asset, write the report",
        description="Inspect every asset of the store for a year (in batches of whole "
        "transformer areas): findings marked new/recurring/resolved against the previous "
        "inspection, year-over-year changes against the baseline years, the run recorded "
        "in the store, and DIR/index.html, findings.parquet, findings.csv, yoy.parquet, "
        "summary.json. Settings may come from griddiag.toml (--config); options win.",
    )
    _add_store(insp)
    insp.add_argument("--config", metavar="FILE",
                      help="settings file (default: $GRIDDIAG_CONFIG, else ./griddiag.toml "
                      "if present)")
    insp.add_argument("--year", help="calendar year in each asset's local time, or 'last' "
                      "(the previous calendar year)")
    insp.add_argument("--baseline", metavar="Y1,Y2",
                      help="years to compare with (default: the two years before, if stored)")
    insp.add_argument("--profile", help="profile name or TOML file (default: default)")
    insp.add_argument("--lang", choices=["en", "zh-CN"], help="report language (default: en)")
    insp.add_argument("--tz", help="time zone of assets without one (default: UTC)")
    insp.add_argument("--out", metavar="DIR", help="output folder ({year} is replaced)")
    insp.add_argument("--batch-assets", type=int, metavar="N",
                      help="assets per batch, whole transformer areas (default: 500)")
    insp.add_argument("--fail-on", choices=["info", "warning", "critical"],
                      help="exit 1 when open findings of this severity or above exist")
    insp.add_argument("--executor", choices=["process", "local", "dask"],
                      help="where the batches run: each in a fresh child process, so peak "
                      "memory is one batch's however large the store (default), all in this "
                      "process, or on a Dask cluster (needs pip install 'griddiag[dask]')")
    where = insp.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="with --executor dask: a running scheduler, e.g. "
                       "tcp://host:8786 (its workers must reach the store by the same URL)")
    where.add_argument("--workers", type=int, metavar="N",
                       help="with --executor dask: start a local cluster of N worker "
                       "processes (default: one per core)")
    cmp_ = sub.add_parser(
        "compare",
        help="compare a year with earlier years (year-over-year diagnostics)",
        description="Compare each asset's (or group's) year with the same local dates of "
        "earlier years and write one row per asset and metric: measures, change class, "
        "date, q-value and reason. The output format follows the extension.",
    )
    _add_store(cmp_)
    cmp_.add_argument("--year", type=int, required=True, help="local calendar year compared")
    cmp_.add_argument("--baseline", help="baseline years, comma-separated (default: the "
                      "previous year with data)")
    cmp_.add_argument("--by", default="asset",
                      choices=["asset", "transformer", "feeder", "customer_class"])
    cmp_.add_argument("--metric", action="append", help="metric to compare (repeatable; "
                      "default: every level metric)")
    cmp_.add_argument("--holiday-country", default="CN",
                      help="holiday calendar (ISO 3166 code, default %(default)s)")
    cmp_.add_argument("--out", required=True, metavar="FILE",
                      help="yoy file: .parquet, .csv or .json")
    return parser


def _cmd_compare(args: argparse.Namespace) -> int:
    from griddiag.storage import open_store
    from griddiag.yoy import compare_years

    out = Path(args.out)
    writers = {".parquet": "write_parquet", ".csv": "write_csv", ".json": "write_json"}
    writer = writers.get(out.suffix.lower())
    if writer is None:
        raise ConfigError(f"--out {args.out!r}: use a .parquet, .csv or .json file name")
    baseline = None
    if args.baseline:
        try:
            baseline = [int(y) for y in args.baseline.split(",") if y.strip()]
        except ValueError:
            raise ConfigError(f"--baseline {args.baseline!r}: give years such as 2023,2024"
                              ) from None
    with open_store(args.store, create=False) as store:
        yoy = compare_years(store, year=args.year, baseline_years=baseline, by=args.by,
                            metrics=args.metric, holiday_country=args.holiday_country)
    out.parent.mkdir(parents=True, exist_ok=True)
    getattr(yoy, writer)(out)
    print(f"{yoy.height} rows ({int(yoy['significant'].sum())} significant changes) "
          f"written to {out}")
    return EXIT_OK


def _json_default(o: object) -> str:
    if isinstance(o, datetime | date):
        return o.isoformat()
    return str(o)


def _cmd_db(args: argparse.Namespace) -> int:
    from griddiag.storage import open_store

    if args.db_command is None:
        raise ConfigError("griddiag db: choose an action: init or status")
    with open_store(args.store, create=args.db_command == "init") as store:
        if args.db_command == "init":
            store.init()
            print(f"store ready: {store.url}")
        else:
            print(json.dumps(store.status(), indent=2, default=_json_default))
    return EXIT_OK


def _cmd_ingest(args: argparse.Namespace) -> int:
    from griddiag.ingest import ingest
    from griddiag.storage import open_store

    with open_store(args.store) as store:
        report = ingest(
            store,
            [Path(f) for f in args.files],
            format=args.format,
            tz=args.tz,
            interval_label=args.interval_label,
            interval=args.interval,
            encoding=args.encoding,
            ambiguous=args.ambiguous,
            on_conflict=args.on_conflict,
            strict=args.strict,
            assets=args.assets,
            metric=args.metric,
            quarantine_dir=args.quarantine,
        )
    print(report.summary())
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from griddiag.demo import run_demo

    path = run_demo(Path(args.out), meters=args.meters, lang=args.lang,
                    progress=_progress("demo inspection"))
    print(path)
    return EXIT_OK


def _progress(what: str):
    """A tqdm bar on a terminal; plain log lines (about every 10 %) otherwise, so a
    scheduler's log shows how far a run got."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = None

        def show(done: int, total: int, message: str) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, desc=what, unit="asset", file=sys.stderr)
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        return show
    last = [-1]

    def log_line(done: int, total: int, message: str) -> None:
        step = done * 10 // max(total, 1)
        if step != last[0]:
            last[0] = step
            log.info("%s: %s", what, message)

    return log_line


def _parse_year(text: str | int | None, tz: str | None) -> int:
    if text is None:
        raise ConfigError("griddiag inspect: --year is required (a year, or 'last'), on the "
                          "command line or in the config file's [inspect] table")
    if str(text).strip().lower() == "last":
        from datetime import UTC
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo(tz) if tz else UTC).year - 1
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--year {text!r} is not a year (e.g. 2025) or 'last'") from None


def _cmd_inspect(args: argparse.Namespace) -> int:
    from griddiag.config_file import load_config
    from griddiag.inspection import inspect
    from griddiag.storage import open_store

    cfg = load_config(args.config)
    opts = cfg.inspect
    tz = args.tz or cfg.tz
    year = _parse_year(args.year if args.year is not None else opts.get("year"), tz)
    baseline = opts.get("baseline")
    if args.baseline is not None:
        try:
            baseline = [int(y) for y in args.baseline.split(",") if y.strip()]
        except ValueError:
            raise ConfigError(f"--baseline {args.baseline!r}: expected years separated by "
                              "commas, e.g. 2023,2024") from None
    out = args.out or opts.get("out")
    if out is None:
        raise ConfigError("griddiag inspect: --out DIR is required (or [inspect] out in the "
                          "config file)")
    out = Path(str(out).replace("{year}", str(year)))
    fail_on = args.fail_on or opts.get("fail_on")
    if fail_on is not None and fail_on not in ("info", "warning", "critical"):
        raise ConfigError(f"fail_on {fail_on!r}: expected info, warning or critical")
    with open_store(args.store or cfg.store, create=False) as store:
        result = inspect(store, year=year, baseline_years=baseline,
                         profile=args.profile or cfg.profile or "default", out_dir=out,
                         lang=args.lang or opts.get("lang", "en"),
                         batch_assets=args.batch_assets or opts.get("batch_assets", 500),
                         progress=_progress(f"inspect {year}"), tz=tz,
                         holiday_country=cfg.holiday_country,
                         executor=args.executor or opts.get("executor", "process"),
                         scheduler=args.scheduler or opts.get("scheduler"),
                         workers=args.workers or opts.get("workers"))
    c = result.counts
    print(f"run {result.run_id}: {c['findings']} findings "
          f"({', '.join(f'{k} {v}' for k, v in c['by_severity'].items()) or 'none'}), "
          f"{c['resolved']} resolved since the previous inspection, "
          f"{c['yoy_significant']} significant year-over-year changes")
    print(result.paths["index_html"])
    if fail_on is not None and result.at_or_above(fail_on):
        return EXIT_FINDINGS
    return EXIT_OK


def _parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not an ISO date or time (e.g. 2024-01-01 or "
                          "2024-01-01T00:00+08:00)") from None
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


_FINDINGS_WRITERS = {".parquet": "write_parquet", ".csv": "write_csv", ".json": "write_json"}


def _cmd_detect(args: argparse.Namespace) -> int:
    from griddiag.detect import detect
    from griddiag.storage import open_store

    out = Path(args.out)
    writer = _FINDINGS_WRITERS.get(out.suffix.lower())
    if writer is None:
        raise ConfigError(f"--out {args.out!r}: use a .parquet, .csv or .json file name")
    if (args.start is None) != (args.end is None):
        raise ConfigError("--start and --end go together (or use --year)")
    with open_store(args.store) as store:
        findings = detect(store, profile=args.profile, year=args.year,
                          start=_parse_time(args.start, "--start"),
                          end=_parse_time(args.end, "--end"))
    out.parent.mkdir(parents=True, exist_ok=True)
    getattr(findings, writer)(out)
    print(f"{findings.height} findings written to {out}")
    if args.fail_on is not None:
        from griddiag.schema import SEVERITIES

        at_or_above = SEVERITIES[SEVERITIES.index(args.fail_on):]
        if findings["severity"].is_in(at_or_above).any():
            return EXIT_FINDINGS
    return EXIT_OK


_COMMANDS = {"db": _cmd_db, "ingest": _cmd_ingest, "demo": _cmd_demo, "detect": _cmd_detect,
             "inspect": _cmd_inspect, "compare": _cmd_compare}


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return EXIT_USAGE
        return _COMMANDS[args.command](args)
    except GriddiagError as exc:
        if debug:
            log.exception("failed")
        print(f"griddiag: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("griddiag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
