"""A CSV export read row by row, each row with its verbatim text for the reject file.

Lines are read with a length limit, so neither one endless line nor a row of fifty million
separators is ever held whole; the header may be longer (a million columns are named and
counted), but only its first MAX_ROW_FIELDS cells are kept, as no row may be wider.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from mailer.contacts.sniffing import detect_encoding
from mailer.contacts.table_rows import (
    MAX_FIELD_CHARS,
    MAX_HEADER_BYTES,
    MAX_HEADER_COLUMNS,
    MAX_ROW_BYTES,
    MAX_ROW_FIELDS,
    RejectFile,
    SourceRow,
    TableError,
    check_header,
    reason_columns,
    size_problem,
)

_DELIMITERS = (";", ",", "\t")
_QUOTED = re.compile(r'"[^"]*"')
_CSV_MESSAGES = {
    "new-line character seen in unquoted field": "a carriage return (CR) inside a field",
}


class CsvTable:
    """A CSV file; quoted fields may span lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.encoding = detect_encoding(path)
        self.bytes_read = 0
        self._line = 0  # physical lines read
        self._consumed: list[str] = []
        self._consumed_bytes = 0
        self._lines = self._read_lines()
        first = next(self._lines, None)
        if first is None or not first.strip():
            raise TableError(f"{path.name} is empty or has no header line")
        self.newline = "\r\n" if first.endswith("\r\n") else "\n"
        self.delimiter = detect_delimiter(first)
        self.header, self.extra_columns = self._split_header(first)
        check_header(path.name, self.header)
        self._drop = reason_columns(self.header)
        self._take_raw()

    @property
    def description(self) -> str:
        names = {";": "';'", ",": "','", "\t": "tab"}
        return f"CSV, {self.encoding.label}, separated by {names[self.delimiter]}"

    def header_hint(self) -> str:
        """Where the header was looked for."""
        return "line 1"

    def _split_header(self, line: str) -> tuple[list[str], int]:
        """The first MAX_ROW_FIELDS header cells, and how many named columns follow them.

        A long unquoted line is never copied whole: a million-column header costs its text.
        """
        d = self.delimiter
        if line.count(d) >= MAX_HEADER_COLUMNS:
            raise TableError(
                f"{self.path.name}: the header has more than {MAX_HEADER_COLUMNS:,} columns"
            )
        if '"' in line:
            try:
                cells = next(csv.reader([line.rstrip("\r\n")], delimiter=d))
            except csv.Error as exc:
                if "field limit" in str(exc):  # a cell past csv's own limit, far past ours
                    exc = csv.Error(f"a header cell is longer than {MAX_FIELD_CHARS} characters")
                raise TableError(f"{self.path.name}, line 1: {_explain(exc)}") from None
            return cells[:MAX_ROW_FIELDS], sum(1 for c in cells[MAX_ROW_FIELDS:] if c.strip())
        end = -1
        for _ in range(MAX_ROW_FIELDS):
            end = line.find(d, end + 1)
            if end < 0:
                return line.rstrip("\r\n").split(d), 0
        named = re.compile(f"[^{re.escape(d)}]*[^\\s{re.escape(d)}]").finditer(line, end + 1)
        return line[:end].split(d), sum(1 for _ in named)

    def _read_lines(self) -> Iterator[str]:
        # Binary lines split on b"\n", which is never part of a multibyte character in
        # UTF-8 or cp1251, so the byte count gives honest progress.
        codec = "utf-8" if self.encoding.codec == "utf-8-sig" else self.encoding.codec
        with self.path.open("rb") as fh:
            if self.encoding.codec == "utf-8-sig":
                self.bytes_read += len(fh.read(3))
            limit = MAX_HEADER_BYTES
            while bline := fh.readline(limit + 1):
                self._line += 1
                self.bytes_read += len(bline)
                self._consumed_bytes += len(bline)
                if self._consumed_bytes > limit:
                    raise TableError(self._too_long(limit, is_line=len(bline) > limit))
                line = bline.decode(codec)
                del bline  # a header line may be megabytes: hold it once
                self._consumed.append(line)
                yield line
                limit = MAX_ROW_BYTES

    def _too_long(self, limit: int, *, is_line: bool) -> str:
        if self._line == 1:
            return f"{self.path.name}: the header line is longer than {limit >> 20} MB"
        what = "a line" if is_line else "a row (an unclosed quote?)"
        return (
            f"{self.path.name}, line {self._line}: {what} is longer than {limit >> 20} MB;"
            " nothing from this line on was read"
        )

    def _take_raw(self) -> str:
        raw = "".join(self._consumed)
        self._consumed.clear()
        self._consumed_bytes = 0
        return raw

    def rows(self) -> Iterator[SourceRow]:
        reader = csv.reader(self._lines, delimiter=self.delimiter, strict=False)
        while True:
            line = self._line + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raw = self._take_raw()
                # csv drops the rest of the line it stopped on and starts afresh on the next:
                # right when the row's quotes are balanced (it ended on that line), but inside
                # an open quote everything after would be read askew, so the file stops here.
                if "field limit" not in str(exc) or raw.count('"') % 2:
                    raise TableError(
                        f"{self.path.name}, line {line}: {_explain(exc)}"
                        " (an unclosed quote?); nothing from this line on was read"
                    ) from None
                # The row's text as its one cell: not a blank line, and rejected whole.
                problem = (
                    f"слишком длинное поле: больше {csv.field_size_limit()} символов"
                    " — сократите текст"
                )
                yield SourceRow(line, [raw], raw, problem)
            else:
                raw = self._take_raw()
                problem = size_problem(values, self.header)
                if len(values) > MAX_ROW_FIELDS:  # rejected: its cells are never read
                    values = values[: MAX_ROW_FIELDS + 1]
                yield SourceRow(line, values, raw, problem)

    def open_rejects(self, path: Path, reason_header: str) -> RejectFile:
        """The header and every rejected row verbatim, each with its reason appended.

        A fixed reject file imported again loses its old reason column here: a row rejected
        again carries only the new reason.
        """
        tail = self.delimiter

        def start(out: TextIO) -> None:
            header = self._without_reasons(
                self._header_line(), len(self.header) + self.extra_columns
            )
            out.write(header + tail + _quote(reason_header) + self.newline)

        def write(out: TextIO, row: SourceRow, reason: str) -> None:
            out.write(self._without_reasons(row.raw, len(row.values)) + tail + _quote(reason))
            out.write(self.newline)

        return RejectFile(path, self.encoding.codec, start, write)

    def _header_line(self) -> str:
        """The header line as it is in the file, read again: not kept all along, as a header
        line may be megabytes long."""
        codec = "utf-8" if self.encoding.codec == "utf-8-sig" else self.encoding.codec
        with self.path.open("rb") as fh:
            if self.encoding.codec == "utf-8-sig":
                fh.read(3)
            return fh.readline(MAX_HEADER_BYTES + 1).decode(codec)

    def _without_reasons(self, raw: str, width: int) -> str:
        text = raw.rstrip("\r\n")
        if not self._drop:
            return text
        spans = field_spans(text, self.delimiter)
        if len(spans) != width:  # not the row csv read: keep the user's bytes as they are
            return text
        dropped = set(self._drop)
        return self.delimiter.join(s for i, s in enumerate(spans) if i not in dropped)


def detect_delimiter(header_line: str) -> str:
    """The separator used most in the header line outside quotes."""
    unquoted = _QUOTED.sub("", header_line) if '"' in header_line else header_line
    best = max(_DELIMITERS, key=unquoted.count)
    return best if unquoted.count(best) else ","


def field_spans(text: str, delimiter: str) -> list[str]:
    """A CSV record's fields as they are written (quotes and all), split as csv splits them."""
    spans: list[str] = []
    start = 0
    while True:
        end = start
        if text.startswith('"', start):  # a quoted field: `""` inside is a quote
            end = start + 1
            while (end := text.find('"', end)) >= 0 and text.startswith('"', end + 1):
                end += 2
            end = len(text) if end < 0 else end + 1
        cut = text.find(delimiter, end)
        if cut < 0:
            spans.append(text[start:])
            return spans
        spans.append(text[start:cut])
        start = cut + 1


def _explain(exc: csv.Error) -> str:
    text = str(exc)
    return next((ours for theirs, ours in _CSV_MESSAGES.items() if text.startswith(theirs)), text)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
