"""What the CSV and XLSX readers share: rows as read, their limits, and the reject file.

A contact needs a dozen short cells; a longer cell or a wider row is a broken export (or an
attack). The limits keep an import's memory flat whatever the file holds: a row too large is
rejected before anything reads its cells, a line or header past all reason refuses the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mailer.contacts.columns import IGNORED_HEADERS
from mailer.contacts.folding import fold

MAX_FIELD_CHARS = 4096
MAX_ROW_FIELDS = 200
# A CSV line, and a row spanning lines (quoted newlines): 200 fields of 4,096 characters fit.
MAX_ROW_BYTES = 2 << 20
# The header line may be longer (a header of a million columns is named and counted).
MAX_HEADER_BYTES = 16 << 20
MAX_HEADER_COLUMNS = 1 << 20
# Rows a reader hands on at once stay under this many characters, whatever chunk_size says.
MAX_CHUNK_CHARS = 4 << 20


class TableError(ValueError):
    """A file that cannot be read as a table at all; nothing was imported from it."""


@dataclass(frozen=True)
class SourceRow:
    """One data row: where it starts in the file, its cells, and its text as it was."""

    line: int
    values: list[str]
    raw: str
    problem: str = ""  # why the row is rejected as read (too long or too wide), or ""


def size_problem(values: list[str], header: list[str], width: int = 0) -> str:
    """Why a row is too large to import (MAX_ROW_FIELDS, MAX_FIELD_CHARS), or "".

    `width` is the row's real number of fields when `values` holds only the first ones.
    """
    fields = max(width, len(values))
    if fields > MAX_ROW_FIELDS:
        return (
            f"слишком много ячеек: {fields}, допустимо не больше {MAX_ROW_FIELDS}"
            " — проверьте разделители в строке"
        )
    for index, value in enumerate(values):
        if len(value) > MAX_FIELD_CHARS:
            name = header[index] if index < len(header) and header[index] else str(index + 1)
            return (
                f"слишком длинное поле '{shorten(name)}': больше {MAX_FIELD_CHARS} символов"
                " — сократите текст"
            )
    return ""


def shorten(text: str, width: int = 60) -> str:
    """A cell cut to `width` characters for a message."""
    return text if len(text) <= width else text[: width - 1] + "…"


def check_header(name: str, header: list[str]) -> None:
    """A header cell past the field limit refuses the file: the columns cannot be trusted."""
    for index, cell in enumerate(header):
        if len(cell) > MAX_FIELD_CHARS:
            raise TableError(
                f"{name}: the header of column {index + 1} ('{shorten(cell)}')"
                f" is longer than {MAX_FIELD_CHARS} characters"
            )


def reason_columns(header: list[str]) -> list[int]:
    """Columns a reject file added: a fixed reject file's old reasons, dropped from new rejects."""
    return [i for i, name in enumerate(header) if fold(name).strip(" *:") in IGNORED_HEADERS]


def without(values: list[str], drop: list[int]) -> list[str]:
    """`values` without the columns `drop` names."""
    if not drop:
        return values
    dropped = set(drop)
    return [v for i, v in enumerate(values) if i not in dropped]


def take_chunk(rows: Iterator[SourceRow], count: int) -> list[SourceRow]:
    """Up to `count` rows, fewer when they hold more than MAX_CHUNK_CHARS: a chunk of huge
    rows must not hold a gigabyte while it travels to the storing process."""
    chunk: list[SourceRow] = []
    chars = 0
    for row in rows:
        chunk.append(row)
        chars += len(row.raw) + sum(map(len, row.values))
        if len(chunk) >= count or chars >= MAX_CHUNK_CHARS:
            break
    return chunk


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
