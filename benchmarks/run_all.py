"""Run griddiag's benchmarks and write ``benchmarks/RESULTS.md`` (what ``make bench`` runs).

Each benchmark is a module listed in ``BENCHMARKS`` with a ``TITLE`` and a function
``run(*, dsn, workdir, quick=False) -> str`` returning its section of RESULTS.md in markdown
(tables, targets and the correctness checks it made). A module raises
``benchmarks.common.CheckFailed`` when a result disagrees with its reference; then, as when any
benchmark fails, nothing is written and the exit code is 1, so a wrong figure never replaces a
right one. Adding a benchmark (detectors, year-over-year) is adding its module to the list.

    .venv/bin/python benchmarks/run_all.py [--only bench_ingest] [--quick] [--output PATH]

``--set bench_inspect.sizes=200,2000`` passes a parameter to one module's ``run`` (an int, or
a comma-separated tuple of ints), e.g. to run the largest sizes on a bigger machine or smaller
ones on a busy one; the section then states the sizes it ran.

With ``--only``, the sections of the benchmarks that were not run are kept from the existing
file (each section carries its own revision, date and load), so one benchmark can be re-run
without losing the others' results.

``GRIDDIAG_TEST_DSN`` (or ``--dsn``) names the TimescaleDB server. ``--quick`` runs tiny data
sets as a smoke test and writes nothing unless ``--output`` is given.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])

from benchmarks.common import CheckFailed, first_touch, load_average, machine, table  # noqa: E402

BENCHMARKS = [
    "benchmarks.bench_ingest",
    "benchmarks.bench_detect",
    "benchmarks.bench_yoy",
    "benchmarks.bench_peers",
    "benchmarks.accuracy_sample",
    "benchmarks.accuracy_peers",
    "benchmarks.nab",
    "benchmarks.sgcc",
    "benchmarks.bench_inspect",
    "benchmarks.bench_dask",
]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def _redact(dsn: str) -> str:
    from griddiag.storage import redact_url

    return redact_url(dsn)


def database_versions(dsn: str | None) -> dict[str, str]:
    if not dsn:
        return {"PostgreSQL": "no server (GRIDDIAG_TEST_DSN unset)"}
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        ts = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
                          ).fetchone()
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("shared_buffers", "synchronous_commit", "max_wal_size")}
    return {
        "PostgreSQL": server,
        "TimescaleDB": ts[0] if ts else "extension not installed in this database",
        "server settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
        "server": _redact(dsn),
    }


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return rev + (" (with uncommitted changes)" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_overrides(items: list[str]) -> dict[str, dict[str, str]]:
    """``["bench_inspect.sizes=200,2000"]`` -> ``{"bench_inspect": {"sizes": "200,2000"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        target, eq, value = item.partition("=")
        module, dot, param = target.partition(".")
        if not (eq and dot and module and param and value):
            raise SystemExit(f"run_all: --set {item!r}: expected MODULE.PARAM=VALUE")
        out.setdefault(module, {})[param] = value
    return out


def run_kwargs(run, values: dict[str, str]) -> dict[str, object]:
    """Overrides typed by ``run``'s signature: a tuple parameter takes ``"200,2000"``, an int
    one ``"400"``."""
    import inspect

    params = inspect.signature(run).parameters
    out: dict[str, object] = {}
    for name, value in values.items():
        if name not in params:
            raise SystemExit(f"run_all: {run.__module__}.run has no parameter {name!r}")
        p = params[name]
        is_tuple = isinstance(p.default, tuple) or "tuple" in str(p.annotation)
        try:
            out[name] = (tuple(int(v) for v in value.split(",")) if is_tuple else int(value))
        except ValueError:
            raise SystemExit(f"run_all: {name}={value!r}: integers expected") from None
    return out


def existing_sections(path: Path) -> dict[str, str]:
    """Sections of a RESULTS.md by benchmark module (the ``_`module`..._`` line under each
    ``## `` title names it)."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for chunk in ("\n" + path.read_text()).split("\n## ")[1:]:
        lines = chunk.splitlines()
        for line in lines[1:4]:
            if line.startswith("_`") and "`" in line[2:]:
                found[line[2:line.index("`", 2)]] = "## " + chunk.rstrip("\n") + "\n"
                break
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=[],
                    help="run only this benchmark (module name, e.g. bench_ingest); repeatable")
    ap.add_argument("--quick", action="store_true", help="tiny data sets: a smoke test")
    ap.add_argument("--output", type=Path, default=None,
                    help=f"where to write the results (default {RESULTS.relative_to(ROOT)}; "
                    "with --quick nothing is written unless given)")
    ap.add_argument("--dsn", default=os.environ.get("GRIDDIAG_TEST_DSN"))
    ap.add_argument("--set", action="append", default=[], metavar="MODULE.PARAM=VALUE",
                    help="a parameter of one benchmark's run(), e.g. bench_inspect.sizes=200,2000")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.set)
    output = args.output or (None if args.quick else RESULTS)

    names = [m for m in BENCHMARKS
             if not args.only or any(m.endswith("." + o) or m == o for o in args.only)]
    if not names:
        print(f"run_all: no benchmark matches {args.only}; known: {BENCHMARKS}",
              file=sys.stderr)
        return 2
    command = "make bench  # = " + shlex.join(
        [os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT))
         else sys.executable, os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    info = machine()
    info.update(database_versions(args.dsn))
    info["griddiag revision"] = git_revision()
    info["load average before"] = load_average()
    info["first touch of fresh memory"] = first_touch()

    sections: dict[str, str] = {}
    failed: list[str] = []
    revision = info["griddiag revision"]
    started = time.perf_counter()
    for name in names:
        module = importlib.import_module(name)
        title = getattr(module, "TITLE", name)
        print(f"run_all: {name} ...", file=sys.stderr, flush=True)
        workdir = Path(tempfile.mkdtemp(prefix="griddiag-bench-"))
        t0 = time.perf_counter()
        try:
            body = module.run(dsn=args.dsn, workdir=workdir, quick=args.quick,
                              **run_kwargs(module.run, overrides.get(name.rsplit(".", 1)[-1],
                                                                     {})))
        except CheckFailed as exc:
            failed.append(name)
            print(f"run_all: {name}: {exc}", file=sys.stderr)
            continue
        except Exception:
            failed.append(name)
            print(f"run_all: {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
            continue
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        sections[name] = (f"## {title}\n\n_`{name}`, {time.perf_counter() - t0:,.0f} s, "
                          f"revision {revision}, {time.strftime('%Y-%m-%d')}, load average "
                          f"{load_average()} after._\n\n{body}\n")
        print(f"run_all: {name} done in {time.perf_counter() - t0:,.0f} s", file=sys.stderr)
    info["load average after"] = load_average()
    info["total time"] = f"{time.perf_counter() - started:,.0f} s"

    header = [
        "# griddiag benchmark results",
        "",
        "Generated by `benchmarks/run_all.py`; do not edit by hand. Every speed figure is a "
        "ratio against a baseline measured in the same run on the same data (STYLE.md "
        "section 10). Figures from a machine shared with other work vary from run to run: "
        "the load average is recorded below.",
        "",
        f"Command: `{command}`",
        "",
        table(["", ""], [[k, v] for k, v in info.items()]),
        "",
    ]
    if output is not None and args.only:
        kept = existing_sections(output)
        header.append("Sections not re-run in this command are kept from earlier runs "
                      "(each names its own revision and date).\n")
        sections = {m: sections.get(m) or kept.get(m) for m in BENCHMARKS
                    if sections.get(m) or kept.get(m)}
    text = "\n".join(header) + "\n" + "\n".join(sections.values())
    if failed:
        print(text)
        print(f"run_all: FAILED: {', '.join(failed)}; "
              f"{output or 'RESULTS.md'} left as it was", file=sys.stderr)
        return 1
    if output is None:
        print(text)
        return 0
    output.write_text(text)
    print(text)
    print(f"run_all: wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
