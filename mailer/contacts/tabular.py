"""Reading CRM exports (CSV in any of their encodings and dialects, XLSX) row by row.

Rows keep their verbatim source text, so a rejected row can be written back exactly as it
came. Reading streams: memory stays flat however long the file is.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol, TextIO

from mailer.contacts.exporting import neutralise

XLSX_SUFFIXES = (".xlsx", ".xlsm")
_DELIMITERS = (";", ",", "\t")

# What one row may hold. A contact needs a dozen short cells; a longer cell or a wider row
# is a broken export (or an attack), so the row is rejected before anything reads its cells,
# and a header cell past the limit refuses the file.
MAX_FIELD_CHARS = 4096
MAX_ROW_FIELDS = 200


class TableError(ValueError):
    """A file that cannot be read as a table at all; nothing was imported from it."""


@dataclass(frozen=True)
class SourceRow:
    """One data row: where it starts in the file, its cells, and its text as it was."""

    line: int
    values: list[str]
    raw: str
    problem: str = ""  # why the row is rejected as read (too long or too wide), or ""


class Table(Protocol):
    header: list[str]
    size: int  # for progress: bytes for CSV, rows for XLSX

    def rows(self) -> Iterator[SourceRow]: ...
    def open_rejects(self, path: Path, reason_header: str) -> RejectFile: ...


class RejectFile:
    """Rejected rows written as they happen, each with its reason; opened on the first one."""

    def __init__(
        self,
        path: Path,
        encoding: str,
        start: Callable[[TextIO], None],
        write: Callable[[TextIO, SourceRow, str], None],
    ) -> None:
        self.path = path
        self.count = 0
        self._encoding = encoding
        self._start = start
        self._write = write
        self._out: TextIO | None = None

    def add(self, row: SourceRow, reason: str) -> None:
        if self._out is None:
            # Opened mid-import: a missing folder or a reason the source's encoding cannot
            # hold (a manager's name in cp1251) must not stop it half-way.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self.path.open("w", encoding=self._encoding, newline="", errors="replace")
            self._start(self._out)
        self._write(self._out, row, reason)
        self.count += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


def open_table(path: Path) -> Table:
    """A CSV or XLSX table by the file's suffix."""
    if not path.is_file():
        raise TableError(f"no such file: {path}")
    if path.suffix.lower() in XLSX_SUFFIXES:
        return XlsxTable(path)
    return CsvTable(path)


def size_problem(values: list[str], header: list[str]) -> str:
    """Why a row is too large to import (MAX_ROW_FIELDS, MAX_FIELD_CHARS), or ""."""
    if len(values) > MAX_ROW_FIELDS:
        return f"{len(values)} fields, at most {MAX_ROW_FIELDS}"
    for index, value in enumerate(values):
        if len(value) > MAX_FIELD_CHARS:
            name = header[index] if index < len(header) and header[index] else str(index + 1)
            return f"field '{shorten(name)}' is longer than {MAX_FIELD_CHARS} characters"
    return ""


def shorten(text: str, width: int = 60) -> str:
    """A cell cut to `width` characters for a message."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _check_header(name: str, header: list[str]) -> None:
    for index, cell in enumerate(header):
        if len(cell) > MAX_FIELD_CHARS:
            raise TableError(
                f"{name}: the header of column {index + 1} ('{shorten(cell)}')"
                f" is longer than {MAX_FIELD_CHARS} characters"
            )


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, otherwise cp1251."""
    with path.open("rb") as fh:
        head = fh.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1251"
    return "utf-8"


def detect_delimiter(header_line: str) -> str:
    """The separator used most in the header line outside quotes."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class CsvTable:
    """A CSV file; quoted fields may span lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.encoding = detect_encoding(path)
        self.bytes_read = 0
        self._consumed: list[str] = []
        self._lines = self._read_lines()
        first = next(self._lines, None)
        if first is None or not first.strip():
            raise TableError(f"{path.name} is empty or has no header line")
        self.header_raw = first
        self.newline = "\r\n" if first.endswith("\r\n") else "\n"
        self.delimiter = detect_delimiter(first)
        try:
            self.header = next(csv.reader([first], delimiter=self.delimiter))
        except csv.Error:  # a cell past csv's own limit, far past ours
            raise TableError(
                f"{path.name}: a header cell is longer than {MAX_FIELD_CHARS} characters"
            ) from None
        _check_header(path.name, self.header)
        self._consumed.clear()

    def _read_lines(self) -> Iterator[str]:
        # Binary lines split on b"\n", which is never part of a multibyte character in
        # UTF-8 or cp1251, so the byte count gives honest progress.
        encoding = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        with self.path.open("rb") as fh:
            for number, bline in enumerate(fh):
                self.bytes_read += len(bline)
                if number == 0 and bline.startswith(codecs.BOM_UTF8):
                    bline = bline[len(codecs.BOM_UTF8) :]
                line = bline.decode(encoding)
                self._consumed.append(line)
                yield line

    def rows(self) -> Iterator[SourceRow]:
        reader = csv.reader(self._lines, delimiter=self.delimiter, strict=False)
        # The reader never saw the header line, so file line = reader.line_num + 1.
        line = 2
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raw = "".join(self._consumed)
                self._consumed.clear()
                # csv drops the rest of the line it stopped on and starts afresh on the next:
                # right when the row's quotes are balanced (it ended on that line), but inside
                # an open quote everything after would be read askew, so the file stops here.
                if "field limit" not in str(exc) or raw.count('"') % 2:
                    raise TableError(
                        f"{self.path.name}, line {line}: {exc}"
                        " (an unclosed quote?); nothing from this line on was read"
                    ) from None
                # The row's text as its one cell: not a blank line, and rejected whole.
                problem = f"a field is longer than {csv.field_size_limit()} characters"
                yield SourceRow(line, [raw], raw, problem)
            else:
                raw = "".join(self._consumed)
                self._consumed.clear()
                yield SourceRow(line, values, raw, size_problem(values, self.header))
            line = reader.line_num + 2

    def open_rejects(self, path: Path, reason_header: str) -> RejectFile:
        """The header and every rejected row verbatim, each with its reason appended."""
        tail = self.delimiter

        def start(out: TextIO) -> None:
            out.write(self.header_raw.rstrip("\r\n") + tail + _quote(reason_header) + self.newline)

        def write(out: TextIO, row: SourceRow, reason: str) -> None:
            out.write(row.raw.rstrip("\r\n") + tail + _quote(reason) + self.newline)

        return RejectFile(path, self.encoding, start, write)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class XlsxTable:
    """The first sheet of an XLSX workbook; formulas are read as their cached values."""

    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook

        self.path = path
        try:
            self._book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise TableError(f"{path.name} is not a readable XLSX file: {exc}") from None
        self._sheet = self._book.worksheets[0]
        self.size = max((self._sheet.max_row or 1) - 1, 0)
        self._iter = self._sheet.iter_rows(values_only=True)
        first = next(self._iter, None)
        if first is None:
            raise TableError(f"{path.name} is empty or has no header row")
        self.header = [_cell_text(v) for v in first]
        while self.header and not self.header[-1]:
            self.header.pop()
        _check_header(path.name, self.header)

    def rows(self) -> Iterator[SourceRow]:
        try:
            for number, cells in enumerate(self._iter, start=2):
                values = [_cell_text(v) for v in cells]
                while len(values) > len(self.header) and not values[-1]:
                    values.pop()
                yield SourceRow(number, values, "", size_problem(values, self.header))
        finally:
            self._book.close()

    def open_rejects(self, path: Path, reason_header: str) -> RejectFile:
        """Rejected rows as CSV (UTF-8 with BOM, `;`): the cells as read, with the reason.

        Neutralised as an export is: these cells are the workbook's values, not the user's
        bytes, and the file is opened in a spreadsheet to be fixed. The importer strips the
        quote again, so a fixed reject file imports as it was.
        """

        def start(out: TextIO) -> None:
            csv.writer(out, delimiter=";").writerow(map(neutralise, [*self.header, reason_header]))

        def write(out: TextIO, row: SourceRow, reason: str) -> None:
            csv.writer(out, delimiter=";").writerow(map(neutralise, [*row.values, reason]))

        return RejectFile(path, "utf-8-sig", start, write)


def _cell_text(value: object) -> str:
    """A cell as the text a person sees in it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
