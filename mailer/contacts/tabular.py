"""Reading CRM exports (CSV in any of their encodings and dialects, XLSX) row by row.

A file is read as what it is, not as what its name says: an XLSX renamed `.csv` is read as
the workbook it is (and the report says so), a CSV named `.xlsx` as text, and anything else
(an archive, a program, random bytes) is refused in one line before a byte of it is taken
for a header. Rows keep their verbatim source text, so a rejected row can be written back
exactly as it came. Reading streams: memory stays flat however large the file is.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Protocol, TextIO

from mailer.contacts.csv_table import CsvTable
from mailer.contacts.exporting import neutralise
from mailer.contacts.sniffing import NotATableError, sniff_kind
from mailer.contacts.table_rows import (
    MAX_FIELD_CHARS,
    MAX_ROW_FIELDS,
    RejectFile,
    SourceRow,
    TableError,
    check_header,
    reason_columns,
    shorten,
    size_problem,
    without,
)
from mailer.contacts.xlsx_stream import Limits, Workbook, XlsxError

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_ROW_FIELDS",
    "RejectFile",
    "SourceRow",
    "Table",
    "TableError",
    "open_table",
    "shorten",
]

XLSX_SUFFIXES = (".xlsx", ".xlsm")
# Shared strings an XLSX may hold (kept compactly, parsed only as far as cells use them).
MAX_SHARED_STRINGS = 2_000_000
MAX_SHARED_BYTES = 32 << 20  # with 2,000,000 offsets of 4 bytes, well under the 150 MB peak
XLSX_LIMITS = Limits(MAX_FIELD_CHARS, MAX_ROW_FIELDS, MAX_SHARED_STRINGS, MAX_SHARED_BYTES)


class Table(Protocol):
    header: list[str]  # the first MAX_ROW_FIELDS columns: no row may be wider
    extra_columns: int  # named columns after those
    size: int  # for progress: bytes for CSV, rows for XLSX

    @property
    def description(self) -> str: ...
    def header_hint(self) -> str: ...
    def rows(self) -> Iterator[SourceRow]: ...
    def open_rejects(self, path: Path, reason_header: str) -> RejectFile: ...


def open_table(path: Path, *, sheet: str | None = None) -> Table:
    """A CSV or XLSX table by the file's content; `sheet` picks an XLSX's sheet by name."""
    if not path.is_file():
        raise TableError(f"no such file: {path}")
    try:
        kind = sniff_kind(path)
        if kind == "xlsx":
            return XlsxTable(path, sheet=sheet)
        if sheet is not None:
            raise TableError(f"{path.name} is a CSV file: it has no sheets to choose from")
        return CsvTable(path)
    except NotATableError as exc:
        raise TableError(str(exc)) from None


class XlsxTable:
    """One sheet of an XLSX workbook (the first unless named); formulas read as their values."""

    def __init__(self, path: Path, *, sheet: str | None = None) -> None:
        self.path = path
        book = self._open()
        try:
            names = list(book.sheets)
            if not names:
                raise TableError(f"{path.name} has no sheets")
            if sheet is not None and sheet not in names:
                raise TableError(
                    f"{path.name} has no sheet '{sheet}'; its sheets: {_listed(names)}"
                )
            self.sheet = sheet if sheet is not None else names[0]
            self.sheet_names = names
            rows = self._read(book)
            first = next(rows, None)
            rows.close()
        finally:
            book.close()
        if first is None:
            raise TableError(f"{path.name}: sheet '{self.sheet}' is empty")
        self.size = 0  # rows are not counted before they are read: progress counts rows
        self.header = first.values[:MAX_ROW_FIELDS]
        self.extra_columns = max(first.width - MAX_ROW_FIELDS, 0)  # counted, not named
        check_header(path.name, self.header)
        self._drop = reason_columns(self.header)

    def _open(self) -> Workbook:
        try:
            return Workbook(zipfile.ZipFile(self.path), XLSX_LIMITS)
        except (XlsxError, zipfile.BadZipFile, OSError) as exc:
            raise TableError(f"{self.path.name} is not a readable XLSX file: {exc}") from None

    @property
    def description(self) -> str:
        renamed = "" if self.path.suffix.lower() in XLSX_SUFFIXES else " (named like a CSV)"
        return f"XLSX workbook{renamed}, sheet '{self.sheet}'"

    def header_hint(self) -> str:
        """Where a header was looked for, and which other sheets could hold it."""
        if len(self.sheet_names) < 2:
            return f"sheet '{self.sheet}'"
        return (
            f"sheet '{self.sheet}' (sheets: {_listed(self.sheet_names)};"
            " choose one with --sheet NAME)"
        )

    def _read(self, book: Workbook) -> Generator[_Row]:
        previous = 0
        try:
            for row in book.rows(self.sheet):
                # Rows the sheet skips are blank rows, as a spreadsheet shows them.
                for number in range(previous + 1, row.number):
                    yield _Row(number, [], 0)
                previous = max(previous, row.number)
                yield _Row(row.number, row.values, row.width)
        except XlsxError as exc:
            raise TableError(f"{self.path.name} is not a readable XLSX file: {exc}") from None

    def rows(self) -> Iterator[SourceRow]:
        book = self._open()
        try:
            rows = self._read(book)
            next(rows, None)  # the header
            for row in rows:
                values = row.values
                while len(values) > len(self.header) and not values[-1]:
                    values.pop()
                problem = size_problem(values, self.header, row.width)
                yield SourceRow(row.number, values, "", problem)
        finally:
            book.close()

    def open_rejects(self, path: Path, reason_header: str) -> RejectFile:
        """Rejected rows as CSV (UTF-8 with BOM, `;`): the cells as read, with the reason.

        Neutralised as an export is: these cells are the workbook's values, not the user's
        bytes, and the file is opened in a spreadsheet to be fixed. The importer strips the
        quote again, so a fixed reject file imports as it was. A fixed reject file's old
        reason column is dropped. A cell over the field limit is written cut to it.
        """

        def start(out: TextIO) -> None:
            header = [*without(self.header, self._drop), reason_header]
            csv.writer(out, delimiter=";").writerow(map(neutralise, header))

        def write(out: TextIO, row: SourceRow, reason: str) -> None:
            padded = row.values + [""] * (len(self.header) - len(row.values))
            cells = [*without(padded, self._drop), reason]
            csv.writer(out, delimiter=";").writerow(map(neutralise, cells))

        return RejectFile(path, "utf-8-sig", start, write)


class _Row:
    __slots__ = ("number", "values", "width")

    def __init__(self, number: int, values: list[str], width: int) -> None:
        self.number = number
        self.values = values
        self.width = width


def _listed(names: list[str]) -> str:
    shown = ", ".join(f"'{shorten(n, 40)}'" for n in names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")
