"""`mailer greeting --csv`: a greeting column for every row of a contact file.

The file is read as the importer reads it (`contacts.tabular`: CSV in UTF-8 with or
without BOM or cp1251, `,` `;` or tab, or XLSX) and its name columns are found by the
importer's headers (`contacts.columns`: `Имя`, `Отчество`, `Фамилия`, `first_name`…), so
the product's own export works as it is.
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from mailer.contacts.columns import COLUMNS, HEADER_FIELDS
from mailer.contacts.exporting import restore
from mailer.contacts.folding import fold
from mailer.contacts.tabular import CsvTable, Table, TableError, open_table
from mailer.letters.greeting import greet

NAME_FIELDS = ("first_name", "middle_name", "last_name")
# The added columns, in English or Russian as the file's own headers are.
ADDED_EN = ("greeting", "greeting_reason")
ADDED_RU = ("Приветствие", "Причина приветствия")


class GreetingFileError(ValueError):
    """A file whose rows cannot be greeted; the message says why."""


def name_columns(header: list[str]) -> dict[str, int]:
    """Name field → column index, by the importer's headers; the first name is required."""
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        field = HEADER_FIELDS.get(fold(name).strip(" *:"))
        if field in NAME_FIELDS and field not in found:
            found[field] = index
    if "first_name" not in found:
        expected = f"'{COLUMNS['first_name'][0]}' or 'first_name'"
        raise GreetingFileError(
            f"no first-name column ({expected}); found: {', '.join(header) or '-'}"
        )
    return found


@contextmanager
def _opened(path: str, stdin: BinaryIO) -> Iterator[Table]:
    """The table at `path`, or of standard input for `-` (copied to a file, as the reader
    detects encoding and separator from the whole file)."""
    try:
        if path != "-":
            yield open_table(Path(path))
            return
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "stdin.csv"
            with copy.open("wb") as out:
                shutil.copyfileobj(stdin, out)
            yield open_table(copy)
    except TableError as exc:
        raise GreetingFileError(f"cannot read {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise GreetingFileError(f"cannot read {path}: not text ({exc.reason})") from None


def greet_file(path: str, out: TextIO, *, explain: bool, stdin: BinaryIO | None = None) -> int:
    """Copy the file's rows to `out` as CSV with the greeting (and reason) appended; the
    number of rows greeted. Re-running on its own output refreshes the added columns."""
    with _opened(path, stdin or sys.stdin.buffer) as table:
        header = list(table.header)
        columns = name_columns(header)
        russian = not header[columns["first_name"]].isascii()
        added = list((ADDED_RU if russian else ADDED_EN)[: 2 if explain else 1])
        slots = [header.index(c) if c in header else None for c in added]
        out_header = header + [c for c, slot in zip(added, slots, strict=True) if slot is None]
        delimiter = table.delimiter if isinstance(table, CsvTable) else ";"
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        writer.writerow(out_header)
        count = 0
        for row in table.rows():
            if not any(v.strip() for v in row.values):  # a blank line stays a blank line
                writer.writerow([])
                continue
            names = [restore(_cell(row.values, columns.get(f))) for f in NAME_FIELDS]
            result = greet(*names)
            values = [result.text, result.reason][: len(added)]
            cells = list(row.values) + [""] * (len(header) - len(row.values))
            for value, slot in zip(values, slots, strict=True):
                if slot is None:
                    cells.append(value)
                else:
                    cells[slot] = value
            writer.writerow(cells)
            count += 1
    return count


def _cell(values: list[str], index: int | None) -> str:
    return values[index] if index is not None and index < len(values) else ""
