"""Queries read to the end from a server-side cursor, so memory stays flat."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Executable, Result, Row
from sqlalchemy.orm import Session

from mailer.storage.copy import pause_copy


def stream_rows(
    session: Session, stmt: Executable, *, batch: int = 10_000
) -> Generator[Row[*tuple[Any, ...]], None, None]:
    """Rows of a query that is read to the end, `batch` at a time from a server-side cursor,
    so memory stays flat however many there are; the session may write between batches.

    PostgreSQL plans a cursor for its first rows (cursor_tuple_fraction 0.1): for a join of
    millions of rows that means index scans at random, about twice as slow as the hash join
    and sort it picks for a result read whole, so this cursor is planned for all of it.
    """
    if session.autoflush:
        session.flush()
    connection = session.connection()
    options = {"yield_per": batch}
    if connection.dialect.name != "postgresql":
        with connection.execute(stmt, execution_options=options) as result:
            yield from result
        return
    previous = connection.exec_driver_sql(
        "SELECT current_setting('cursor_tuple_fraction')"
    ).scalar_one()
    connection.exec_driver_sql("SELECT set_config('cursor_tuple_fraction', '1', true)")
    try:
        result = connection.execute(stmt, execution_options=options)
    finally:  # the plan is made when the cursor is declared: later queries keep the setting
        connection.exec_driver_sql(
            "SELECT set_config('cursor_tuple_fraction', %(value)s, true)", {"value": previous}
        )
    try:
        for partition in _fetched(connection, result):
            yield from partition
    finally:
        pause_copy(connection)  # closing the cursor needs the connection too
        result.close()


def _fetched(connection: Connection, result: Result[Any]) -> Iterator[Sequence[Row[Any]]]:
    """The result's batches; before each fetch, an open COPY on the connection is ended."""
    partitions = result.partitions()
    while True:
        pause_copy(connection)
        partition = next(partitions, None)
        if partition is None:
            return
        yield partition
