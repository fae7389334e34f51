"""The quarantine file: every rejected row with where it came from and why.

``<dir>/quarantine.csv``, UTF-8 with a BOM (so Excel shows Chinese text), every field quoted::

    run_at, file, line, field, code, reason, raw

``run_at`` is the start of the ingest run (UTC, ISO 8601), so re-runs append and stay apart;
``line`` is the 1-based line number in the file (for Parquet files and frames: the 1-based row
number); ``field`` the column at fault, empty when the whole line is; ``code`` a stable
machine-readable reason (see ``griddiag.ingest.validate``); ``raw`` the line as it was in the
file (bytes that are not valid text as ``\\xNN``). Nothing is created while nothing is rejected.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from griddiag.exceptions import InputError
from griddiag.ingest.readers import LINE

__all__ = ["QUARANTINE_COLUMNS", "QUARANTINE_FILE", "Quarantine", "read_quarantine"]

QUARANTINE_FILE = "quarantine.csv"
QUARANTINE_COLUMNS = ("run_at", "file", "line", "field", "code", "reason", "raw")


class Quarantine:
    """Appends rejections to ``directory/quarantine.csv``."""

    def __init__(self, directory: str | Path, run_at: str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / QUARANTINE_FILE
        self.run_at = run_at
        self.rows = 0

    def write(self, file: str, rejects: pl.DataFrame,
              raw: Callable[[Sequence[int]], list[str]]) -> None:
        """Append ``rejects`` (``__line, field, code, reason``) of ``file``; ``raw`` gives the
        text of line numbers."""
        if rejects.height == 0:
            return
        rejects = rejects.sort(LINE, maintain_order=True)
        lines = rejects[LINE].unique(maintain_order=True).to_list()
        texts = dict(zip(lines, raw(lines), strict=True))
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists() or self.path.stat().st_size == 0
            with open(self.path, "a", encoding="utf-8", newline="") as fh:
                if new:
                    fh.write("\ufeff")
                w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
                if new:
                    w.writerow(QUARANTINE_COLUMNS)
                for line, field, code, reason in rejects.select(
                        LINE, "field", "code", "reason").iter_rows():
                    text = texts.get(line, "").replace("\x00", "\\x00")
                    w.writerow((self.run_at, file, line, field or "", code, reason, text))
        except OSError as exc:
            raise InputError(f"cannot write the quarantine file: {exc.strerror or exc}",
                             path=str(self.path)) from exc
        self.rows += rejects.height


def read_quarantine(path: str | Path) -> pl.DataFrame:
    """A quarantine file (or its directory) as a frame, ``line`` as integers."""
    p = Path(path)
    if p.is_dir():
        p = p / QUARANTINE_FILE
    return pl.read_csv(p, infer_schema=False).with_columns(
        pl.col("line").cast(pl.Int64), pl.col("field").fill_null(""),
        pl.col("raw").fill_null(""))
