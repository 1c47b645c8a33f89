"""Columns' bind processors applied a chunk of rows at a time, column by column, memoised.

SQLAlchemy runs a type's bind processor per value and per row; for many rows of a wide
table that costs several times the insert itself. Rows written in bulk share many values
(timestamps, statuses), so here each column is processed in one pass over a chunk and a
value is converted once per chunk: what the driver is handed is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

CHUNK = 10_000

_Processor = tuple[int, Callable[[Any], Any], str]


def in_chunks(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    """Rows CHUNK at a time: a column-wise pass over a chunk is cheaper than row by row."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


class ColumnBinds:
    """The bind processors of some of a table's columns, in the order rows give them."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        # (position, processor, memo key): columns of one type (by repr) share their memo.
        self._processors: list[_Processor] = []
        for index, column in enumerate(columns):
            column_type = table.c[column].type
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._processors.append((index, process, repr(column_type)))

    def chunk(self, chunk: Sequence[Sequence[Any]]) -> Iterable[Sequence[Any]]:
        """The chunk's rows as the driver takes them."""
        if not self._processors:
            return chunk
        columns: list[Sequence[Any]] = list(zip(*chunk, strict=True))
        memos: dict[str, dict[Any, Any]] = {}
        for index, process, key in self._processors:
            memo = memos.setdefault(key, {})
            try:
                columns[index] = [
                    memo[value] if value in memo else memo.setdefault(value, process(value))
                    for value in columns[index]
                ]
            except TypeError:  # an unhashable value
                columns[index] = [process(value) for value in columns[index]]
        return zip(*columns, strict=True)

    def row_end(self, values: Sequence[Any], first: int) -> list[Any]:
        """The last columns of one row, from position `first` on, as the driver takes them."""
        row = list(values)
        for index, process, _ in self._processors:
            if index >= first:
                row[index - first] = process(row[index - first])
        return row
