"""Sources to chunks: files (CSV, Parquet) and frames, read in bounded pieces with line numbers.

A reader knows bytes, encodings and CSV syntax, nothing about readings. It yields ``Chunk``s:
the source's columns (strings for CSV, the stored types for Parquet and frames) plus
``__line``, the row's 1-based line number in the file (for Parquet and frames: its 1-based row
number), and the lines it could not split into fields at all, as rejections.

CSV assumptions, and what happens when a file breaks them
----------------------------------------------------------
- **One record per physical line.** Quoted fields may contain the separator and ``""``, but not
  a line break (exports of metering systems never write one). A quoted line break makes each
  half a line with the wrong number of fields, so both halves are quarantined; line numbers stay
  right for every other line.
- **Encoding.** UTF-8 (with or without BOM) or GB18030 (which includes GBK and GB2312), chosen
  from the header and the first MiB (see ``detect_encoding``); ``encoding=`` overrides it. A line
  that is not valid in the file's encoding is quarantined (``undecodable_line``); the rest of the
  file is read. Lines in the *other* encoding are not guessed at: GB18030 accepts most byte
  strings, so guessing would turn a bad line into wrong asset ids.
- **Blank lines** are skipped; they hold no reading.
- **A last line without a line break** is quarantined (``truncated_line``): a file cut off while
  being copied ends that way, and its last value may be cut short (``12.3`` of ``12.345``) while
  still looking valid.

Speed: a chunk (64 MiB) is parsed by polars' CSV reader in one call. Field counts are checked with
byte counts (the total number of separators must equal lines x (columns - 1), and polars refuses
lines with too many fields); only a chunk that fails those checks is split line by line (still
vectorised; Python handles quoted lines only).
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError, InputError

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "Chunk",
    "CsvSource",
    "FrameSource",
    "ParquetSource",
    "Source",
    "detect_encoding",
    "open_source",
    "read_table_file",
]

DEFAULT_CHUNK_BYTES = 64 << 20
FRAME_CHUNK_ROWS = 1_000_000
_HEAD_BYTES = 1 << 20
# Parquet files whose uncompressed size is below this are read whole (a complete decode before
# anything is loaded); larger ones are decoded once up front to check every page, then again.
_PARQUET_READ_WHOLE_BYTES = 1 << 30

LINE = "__line"
REJECT_SCHEMA = {LINE: pl.Int64, "field": pl.String, "code": pl.String, "reason": pl.String}

_BOM_UTF8 = codecs.BOM_UTF8
_BOM_GB18030 = b"\x84\x31\x95\x33"
_ENCODING_NAMES = {
    "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "utf_8": "utf-8",
    "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030",
}


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


@dataclass
class Chunk:
    """One bounded piece of a source.

    ``frame`` holds the source's columns and ``__line``; ``rejects`` the lines that could not be
    split into fields (``__line, field, code, reason``); ``raw(lines)`` returns the original
    text of the given line numbers (for the quarantine file); ``nbytes`` is how much of the
    source this chunk consumed (for the progress bar).
    """

    frame: pl.DataFrame
    rejects: pl.DataFrame
    raw: Callable[[Sequence[int]], list[str]]
    nbytes: int = 0
    first_line: int = 0
    last_line: int = -1


class Source:
    """A readable source: ``name`` (for messages and the quarantine), ``columns``, chunks."""

    name: str
    path: Path | None = None
    columns: list[str]
    size: int = 0
    kind: str = ""
    encoding: str | None = None

    def chunks(self, columns: Sequence[str], numeric: Sequence[str] = ()) -> Iterator[Chunk]:
        """Chunks holding ``columns``; ``numeric`` names columns expected to hold numbers
        (a CSV reader parses them as floats where the whole chunk allows)."""
        raise NotImplementedError


# -- encodings ---------------------------------------------------------------------------------


def _valid(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(head: bytes, header: bytes) -> str:
    """``"utf-8"`` or ``"gb18030"`` for a file starting with ``head`` (BOM removed).

    A non-ASCII header decides (utility exports put Chinese in the header: 户号, 时间); else
    the non-ASCII lines of ``head`` vote: valid UTF-8 is strong evidence of UTF-8 (GB18030 text
    is almost never valid UTF-8), so GB18030 wins only with more votes.
    """
    if not header.isascii():
        if _valid(header, "utf-8"):
            return "utf-8"
        if _valid(header, "gb18030"):
            return "gb18030"
    if head.isascii():
        return "utf-8"
    utf8 = gb = 0
    for line in head.split(b"\n")[:-1] or [head]:
        if line.isascii():
            continue
        if _valid(line, "utf-8"):
            utf8 += 1
        elif _valid(line, "gb18030"):
            gb += 1
    return "gb18030" if gb > utf8 else "utf-8"


def _normalise_encoding(encoding: str | None) -> str | None:
    if encoding is None:
        return None
    key = encoding.strip().lower()
    if key not in _ENCODING_NAMES:
        raise ConfigError(
            f"encoding {encoding!r} is not supported; use 'utf-8' or 'gb18030' (also for "
            "GBK/GB2312), or leave it out to detect it"
        )
    return _ENCODING_NAMES[key]


def _transcode(chunk: bytes, encoding: str) -> tuple[bytes, dict[int, bytes]]:
    """``chunk`` as UTF-8, with lines invalid in ``encoding`` blanked; ``{index: raw bytes}``
    of those lines (0-based line index within the chunk)."""
    if encoding == "utf-8":
        if chunk.isascii() or _valid(chunk, "utf-8"):
            return chunk, {}
        bad: dict[int, bytes] = {}
        lines = chunk.split(b"\n")
        for i, line in enumerate(lines):
            if not line.isascii() and not _valid(line, "utf-8"):
                bad[i] = line
                lines[i] = b""
        return b"\n".join(lines), bad
    try:
        return chunk.decode(encoding).encode("utf-8"), {}
    except UnicodeDecodeError:
        pass
    bad = {}
    text: list[str] = []
    for i, line in enumerate(chunk.split(b"\n")):
        try:
            text.append(line.decode(encoding))
        except UnicodeDecodeError:
            bad[i] = line
            text.append("")
    return "\n".join(text).encode("utf-8"), bad


# -- CSV -----------------------------------------------------------------------------------------


def _sniff_separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = raw.strip().lstrip("\ufeff").strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}__{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _check_magic(head: bytes, path: Path) -> None:
    if head.startswith(b"PK\x03\x04"):
        raise InputError(
            "this is a zip archive or an Excel workbook, not CSV; save the sheet as CSV "
            "(UTF-8) or Parquet", path=str(path))
    if head.startswith(b"\x1f\x8b"):
        raise InputError("this file is gzip-compressed; decompress it first", path=str(path))
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("this file is UTF-16; save it as UTF-8 or GB18030 CSV", path=str(path))
    if b"\x00" in head[:65536]:
        raise InputError("this is a binary file, not CSV or Parquet", path=str(path))


class CsvSource(Source):
    """A delimited text file: header sniffed at open, data read in chunks of whole lines."""

    kind = "csv"

    def __init__(self, path: Path, *, encoding: str | None = None,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.path = path
        self.name = str(path)
        self.chunk_bytes = max(int(chunk_bytes), 1)
        self.size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
        if not head.strip(b" \t\r\n" + _BOM_UTF8):
            raise InputError("the file is empty (no header line)", path=self.name)
        _check_magic(head, path)
        bom = b""
        if head.startswith(_BOM_UTF8):
            bom = _BOM_UTF8
        elif head.startswith(_BOM_GB18030):
            bom = _BOM_GB18030
        body = head[len(bom):]
        # the header is the first non-blank line
        pos, line_no = 0, 1
        while True:
            nl = body.find(b"\n", pos)
            line = body[pos:] if nl < 0 else body[pos:nl]
            if line.strip(b" \t\r") or nl < 0:
                break
            pos, line_no = nl + 1, line_no + 1
        if nl < 0 and len(head) == _HEAD_BYTES:
            raise InputError("the first line is longer than 1 MiB; this is not a CSV file",
                             path=self.name)
        header = line.rstrip(b"\r")
        forced = _normalise_encoding(encoding)
        if forced is None:
            self.encoding = ("utf-8" if bom == _BOM_UTF8 else "gb18030" if bom
                             else detect_encoding(body, header))
        else:
            self.encoding = forced
        try:
            header_text = header.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise InputError(f"the header line is not valid {self.encoding}; pass encoding=",
                             path=self.name, row=line_no) from exc
        self.sep = _sniff_separator(header_text)
        try:
            names = next(csv.reader([header_text], delimiter=self.sep, strict=True))
        except (csv.Error, StopIteration) as exc:
            raise InputError(f"cannot split the header line: {exc}", path=self.name,
                             row=line_no) from exc
        self.columns = _unique_names(names)
        self.header_line = line_no
        self.data_offset = len(bom) + (len(body) if nl < 0 else nl + 1)

    def chunks(self, columns: Sequence[str], numeric: Sequence[str] = ()) -> Iterator[Chunk]:
        del columns  # a CSV line is split whole; the layout picks columns afterwards
        numeric_set = set(numeric)
        line_no = self.header_line + 1
        with open(self.path, "rb") as fh:  # type: ignore[arg-type]
            pos = self.data_offset
            size = max(self.chunk_bytes, 1)
            while True:
                fh.seek(pos)
                buf = fh.read(size)
                if not buf:
                    return
                last = pos + len(buf) >= self.size and len(buf) < size
                cut = len(buf) if last else buf.rfind(b"\n") + 1
                if cut == 0:  # one line longer than a chunk: read more at once
                    if len(buf) < size:  # the file ended inside that line
                        cut, last = len(buf), True
                    else:
                        size *= 2
                        continue
                piece = buf if cut == len(buf) else buf[:cut]
                chunk, n_lines = self._chunk(piece, pos, line_no, numeric_set,
                                             truncated=last and not piece.endswith(b"\n"))
                yield chunk
                line_no += n_lines
                pos += cut
                size = max(self.chunk_bytes, 1)
                if last:
                    return

    def _chunk(self, piece: bytes, offset: int, first_line: int, numeric: set[str], *,
               truncated: bool) -> tuple[Chunk, int]:
        encoding = self.encoding or "utf-8"
        data, undecodable = _transcode(piece, encoding)
        frame, rejects, n_lines = parse_csv_lines(data, self.columns, self.sep, first_line,
                                                  numeric=numeric)
        extra = []
        if undecodable:
            extra.append(pl.DataFrame({
                LINE: [first_line + i for i in undecodable],
                "field": [None] * len(undecodable),
                "code": "undecodable_line",
                "reason": f"the line is not valid {self.encoding} like the rest of the file "
                          "(mixed encodings?)",
            }, schema=REJECT_SCHEMA))
        if truncated:
            last_line = first_line + n_lines - 1
            tail = data[data.rfind(b"\n") + 1:]
            if n_lines - 1 not in undecodable and tail.strip(b" \t\r"):
                frame = frame.filter(pl.col(LINE) != last_line)
                rejects = rejects.filter(pl.col(LINE) != last_line)
                extra.append(pl.DataFrame({
                    LINE: [last_line], "field": [None], "code": "truncated_line",
                    "reason": "the file ends without a line break, so this last line may be cut "
                              "short (file truncated?); if it is complete, add a line break "
                              "and ingest again",
                }, schema=REJECT_SCHEMA))
        if extra:
            rejects = pl.concat([rejects, *extra])
        path, length = self.path, len(piece)
        bad_raw = {i: line.decode(encoding, "backslashreplace").rstrip("\r")
                   for i, line in undecodable.items()}

        def raw(lines: Sequence[int]) -> list[str]:
            # Re-read the chunk's bytes: holding them until a batch is written would multiply
            # memory; rejected rows are few and the bytes are in the page cache.
            if not len(lines):
                return []
            with open(path, "rb") as fh:  # type: ignore[arg-type]
                fh.seek(offset)
                text, _ = _transcode(fh.read(length), encoding)
            return _raw_lines(text, first_line, lines, bad_raw)

        chunk = Chunk(frame, rejects, raw, nbytes=len(piece), first_line=first_line,
                      last_line=first_line + n_lines - 1)
        return chunk, n_lines


def _raw_lines(data: bytes, first_line: int, lines: Sequence[int],
               undecodable: dict[int, str]) -> list[str]:
    if not len(lines):
        return []
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(data)]))
    out = []
    for line in lines:
        i = int(line) - first_line
        if i in undecodable:
            out.append(undecodable[i])
        elif 0 <= i < len(starts):
            out.append(data[starts[i]:ends[i]].decode("utf-8", "replace").rstrip("\r"))
        else:
            out.append("")
    return out


def _count(data: bytes, byte: int) -> int:
    # numpy's compare-and-count is ~2x faster than bytes.count on large buffers
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == byte))


def parse_csv_lines(data: bytes, names: list[str], sep: str, first_line: int, *,
                    numeric: Sequence[str] | set[str] = ()) -> tuple[pl.DataFrame, pl.DataFrame,
                                                                     int]:
    """Split UTF-8 ``data`` (whole lines) into string columns ``names`` plus ``__line``.

    Returns ``(frame, rejects, n_lines)``: lines with the wrong number of fields or broken
    quoting are in ``rejects``, blank lines in neither; ``n_lines`` counts physical lines.
    """
    schema: dict[str, pl.DataType] = {n: pl.String() for n in names}
    if not data:
        return pl.DataFrame(schema={**schema, LINE: pl.Int64}), empty_rejects(), 0
    frame = None
    if numeric:
        # numbers parsed by the CSV reader itself are cheaper than strings cast afterwards;
        # one value that is not a number fails the chunk, which is then read as strings
        typed = {n: pl.Float64() if n in numeric else pl.String() for n in names}
        frame = _parse_fast(data, typed, sep)
    if frame is None:
        frame = _parse_fast(data, schema, sep)
    if frame is not None:
        return (frame.with_columns(pl.int_range(first_line, first_line + frame.height,
                                                dtype=pl.Int64).alias(LINE)),
                empty_rejects(), frame.height)
    return _parse_linewise(data, names, sep, first_line)


def _parse_fast(data: bytes, schema: dict[str, pl.DataType], sep: str) -> pl.DataFrame | None:
    """polars' CSV parser on the whole chunk, or ``None`` when a line might be ragged, blank
    or joined to the next by a quoted line break."""
    try:
        frame = pl.read_csv(
            data, has_header=False, schema=schema, separator=sep, quote_char='"',
            empty_string_is_null=False, infer_schema=False, raise_if_empty=False,
        )
    except Exception:
        return None
    quoted = b'"' in data
    if not quoted and frame.height:
        # A short line leaves its last field empty (polars fills it); a blank line too. With
        # no empty last field and no line refused as too long, every line has all fields.
        last = frame.get_column(frame.columns[-1])
        if last.null_count() == 0 and (last.dtype != pl.String or not (last == "").any()):
            return frame
    seps = _count(data, ord(sep))
    if quoted:
        # a quoted line break joins two lines into one record
        if frame.height != _count(data, 10) + (0 if data.endswith(b"\n") else 1):
            return None
        # separators inside quoted fields are not field boundaries
        seps -= sum(frame.select(
            pl.col(c).str.count_matches(sep, literal=True).sum() for c, t in schema.items()
            if t == pl.String
        ).row(0))
    # Without quotes polars makes one record of every line, blank ones included. It refuses
    # lines with too many fields; with none too long, a matching total of separators means
    # none is too short (or blank) either.
    if seps != frame.height * (len(schema) - 1):
        return None
    return frame


def _free_byte(data: bytes) -> str:
    for b in ("\x1f", "\x1e", "\x1d", "\x1c", "\x01", "\x02"):
        if b.encode() not in data:
            return b
    raise InputError("the file contains control characters in every byte value polars could "
                     "use as a line splitter; this is not a CSV file")


def _parse_linewise(data: bytes, names: list[str], sep: str,
                    first_line: int) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    ncols = len(names)
    lines = pl.read_csv(
        data, has_header=False, separator=_free_byte(data), quote_char=None,
        schema={"l": pl.String}, empty_string_is_null=False, infer_schema=False,
        raise_if_empty=False,
    )
    if lines.height != data.count(b"\n") + (0 if data.endswith(b"\n") else 1):
        # never seen; keep line numbers exact regardless
        text = data.decode("utf-8").split("\n")
        if data.endswith(b"\n"):
            text.pop()
        lines = pl.DataFrame({"l": [t.removesuffix("\r") for t in text]},
                             schema={"l": pl.String})
    n_lines = lines.height
    lines = lines.with_columns(pl.int_range(first_line, first_line + lines.height,
                                            dtype=pl.Int64).alias(LINE))
    lines = lines.filter(~pl.col("l").str.contains(r"^\s*$"))
    has_quote = pl.col("l").str.contains('"', literal=True)
    plain = lines.filter(~has_quote).with_columns(pl.col("l").str.split(sep).alias("f"))
    plain = plain.with_columns(pl.col("f").list.len().alias("n"))
    good = plain.filter(pl.col("n") == ncols).select(
        *[pl.col("f").list.get(i).alias(n) for i, n in enumerate(names)], LINE)
    bad_lines = [plain.filter(pl.col("n") != ncols).select(LINE, "n")]

    quoted = lines.filter(has_quote)
    if quoted.height:
        rows: list[list[str]] = []
        ok_lines: list[int] = []
        q_bad: list[tuple[int, int]] = []
        # RFC 4180 fields: quoted whole (inner quotes doubled) or free of quotes; Python's csv
        # module would take a stray quote inside a field (the tail of a broken record) as text
        esc = re.escape(sep)
        field_re = rf'(?:"(?:[^"]|"")*"|[^"{esc}]*)'
        well_formed = re.compile(rf"\s*{field_re}(?:{esc}{field_re})*\s*")
        for text, line in zip(quoted["l"].to_list(), quoted[LINE].to_list(), strict=True):
            try:
                if not well_formed.fullmatch(text):
                    raise csv.Error("misplaced quote")
                fields = next(csv.reader([text], delimiter=sep, strict=True))
            except csv.Error:
                q_bad.append((line, -1))
                continue
            if len(fields) == ncols:
                rows.append(fields)
                ok_lines.append(line)
            else:
                q_bad.append((line, len(fields)))
        if rows:
            cols = list(zip(*rows, strict=True))
            qframe = pl.DataFrame(
                {n: pl.Series(n, cols[i], dtype=pl.String) for i, n in enumerate(names)}
            ).with_columns(pl.Series(LINE, ok_lines, dtype=pl.Int64))
            good = pl.concat([good, qframe]).sort(LINE)
        if q_bad:
            bad_lines.append(pl.DataFrame(q_bad, schema={LINE: pl.Int64, "n": pl.Int64},
                                          orient="row"))
    bad = pl.concat([b.with_columns(pl.col("n").cast(pl.Int64)) for b in bad_lines])
    rejects = bad.select(
        LINE,
        pl.lit(None, pl.String).alias("field"),
        pl.when(pl.col("n") < 0).then(pl.lit("malformed_quotes"))
        .otherwise(pl.lit("ragged_line")).alias("code"),
        pl.when(pl.col("n") < 0).then(pl.lit("unbalanced or misplaced quote characters"))
        .otherwise(pl.format("the line has {} fields, the header has {}", pl.col("n"),
                             pl.lit(ncols))).alias("reason"),
    )
    return good, rejects.sort(LINE), n_lines


# -- Parquet and frames ------------------------------------------------------------------------


def _typed_raw(frame: pl.DataFrame) -> Callable[[Sequence[int]], list[str]]:
    def raw(lines: Sequence[int]) -> list[str]:
        if not len(lines):
            return []
        sub = frame.filter(pl.col(LINE).is_in(pl.Series(list(lines), dtype=pl.Int64).implode()))
        cols = [c for c in sub.columns if c != LINE]
        texts = {
            row[LINE]: ",".join("" if row[c] is None else str(row[c]) for c in cols)
            for row in sub.iter_rows(named=True)
        }
        return [texts.get(int(x), "") for x in lines]

    return raw


def _frame_chunks(frame: pl.DataFrame, columns: Sequence[str], offset: int,
                  rows: int) -> Iterator[Chunk]:
    frame = frame.select(list(columns))
    for start in range(0, frame.height, rows):
        part = frame.slice(start, rows)
        part = part.with_columns(pl.int_range(offset + start + 1, offset + start + 1 + part.height,
                                              dtype=pl.Int64).alias(LINE))
        yield Chunk(part, empty_rejects(), _typed_raw(part), nbytes=0,
                    first_line=offset + start + 1, last_line=offset + start + part.height)


class FrameSource(Source):
    """A polars frame given directly; ``__line`` is the 1-based row number."""

    kind = "frame"

    def __init__(self, frame: pl.DataFrame | pl.LazyFrame, *, name: str = "<frame>",
                 rows: int = FRAME_CHUNK_ROWS) -> None:
        self.frame = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        self.name = name
        self.columns = list(self.frame.columns)
        self.rows = rows

    def chunks(self, columns: Sequence[str], numeric: Sequence[str] = ()) -> Iterator[Chunk]:
        yield from _frame_chunks(self.frame, columns, 0, self.rows)


class ParquetSource(Source):
    """A Parquet file; checked completely before its first row is used (all or nothing)."""

    kind = "parquet"

    def __init__(self, path: Path, *, rows: int = FRAME_CHUNK_ROWS) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.name = str(path)
        self.size = path.stat().st_size
        self.rows = rows
        try:
            self._file = pq.ParquetFile(path)
            self.columns = list(self._file.schema_arrow.names)
            meta = self._file.metadata
            self.uncompressed = sum(meta.row_group(i).total_byte_size
                                    for i in range(meta.num_row_groups))
        except Exception as exc:
            raise InputError(f"not a readable Parquet file (truncated or corrupt?): {exc}",
                             path=self.name) from exc

    def chunks(self, columns: Sequence[str], numeric: Sequence[str] = ()) -> Iterator[Chunk]:
        cols = list(columns)
        try:
            if self.uncompressed <= _PARQUET_READ_WHOLE_BYTES:
                frame = pl.from_arrow(self._file.read(columns=cols))
                batches: Iterator[pl.DataFrame] | None = None
            else:
                for _ in self._file.iter_batches(columns=cols, batch_size=self.rows):
                    pass  # decode every page before loading anything
                frame = None
                batches = (pl.from_arrow(b) for b in  # type: ignore[misc]
                           self._file.iter_batches(columns=cols, batch_size=self.rows))
        except Exception as exc:
            raise InputError(f"cannot decode the Parquet file (corrupt?): {exc}",
                             path=self.name) from exc
        if frame is not None:
            assert isinstance(frame, pl.DataFrame)
            n = max(frame.height, 1)
            for chunk in _frame_chunks(frame, cols, 0, self.rows):
                chunk.nbytes = int(self.size * chunk.frame.height / n)
                yield chunk
            return
        offset = 0
        assert batches is not None
        total = max(self._file.metadata.num_rows, 1)
        for batch in batches:
            for chunk in _frame_chunks(batch, cols, offset, self.rows):
                chunk.nbytes = int(self.size * chunk.frame.height / total)
                yield chunk
            offset += batch.height


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def open_source(source: str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame, *,
                encoding: str | None = None,
                chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Source:
    """Open a path (CSV or Parquet, told apart by content) or wrap a frame.

    Raises ``InputError`` for a file that cannot be read at all: missing, a directory, empty,
    binary, an Excel workbook, a truncated Parquet file, an unreadable header.
    """
    if isinstance(source, pl.DataFrame | pl.LazyFrame):
        return FrameSource(source)
    path = Path(source)
    if not path.exists():
        raise InputError("file not found", path=str(path))
    if path.is_dir():
        raise InputError("is a directory, not a file", path=str(path))
    try:
        if _is_parquet(path):
            return ParquetSource(path)
        return CsvSource(path, encoding=encoding, chunk_bytes=chunk_bytes)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc


def read_table_file(path: str | os.PathLike[str], *, encoding: str | None = None) -> pl.DataFrame:
    """A small CSV or Parquet file (an assets registry) read whole, all CSV columns as strings."""
    src = open_source(path, encoding=encoding)
    if isinstance(src, ParquetSource):
        try:
            out = pl.read_parquet(src.path)  # type: ignore[arg-type]
        except Exception as exc:
            raise InputError(f"cannot decode the Parquet file: {exc}", path=src.name) from exc
        return out
    assert isinstance(src, CsvSource)
    frames: list[pl.DataFrame] = []
    for chunk in src.chunks(src.columns):
        if chunk.rejects.height:
            first = chunk.rejects.row(0, named=True)
            raise InputError(first["reason"], path=src.name, row=first[LINE])
        frames.append(chunk.frame.drop(LINE))
    if not frames:
        return pl.DataFrame(schema={c: pl.String for c in src.columns})
    return pl.concat(frames)
