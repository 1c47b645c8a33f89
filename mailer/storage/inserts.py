"""Many rows inserted with one executemany, optionally skipping those a unique key refuses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Insert, Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mailer.storage.binds import ColumnBinds


def bulk_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], *, skip_conflicts: bool = False
) -> None:
    """Insert many rows of the same keys with one executemany; optionally skip rows that
    would break a unique constraint (ON CONFLICT DO NOTHING, SQLite and PostgreSQL)."""
    if not rows:
        return
    columns = list(rows[0])
    tuples = [tuple(row[column] for column in columns) for row in rows]
    insert_tuples(session, table, columns, tuples, skip_conflicts=skip_conflicts)


def insert_tuples(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_conflicts: bool = False,
) -> None:
    """bulk_insert for rows given as tuples in `columns` order, with one executemany.

    SQLAlchemy builds executemany parameters row by row, which for a wide table costs
    several times the insert itself; here the columns' bind processors run column by
    column, memoised (ColumnBinds), and the driver gets the tuples as they are.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    stmt: Insert = insert(table)
    if skip_conflicts and dialect.name == "postgresql":
        stmt = pg_insert(table).on_conflict_do_nothing()
    elif skip_conflicts:
        stmt = sqlite_insert(table).on_conflict_do_nothing()
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    values: Iterable[Sequence[Any]] = ColumnBinds(table, columns, dialect).chunk(rows)
    if compiled.positional:
        order = [columns.index(key) for key in compiled.positiontup or []]
        if order != list(range(len(columns))):
            values = map(itemgetter(*order), values)
        params: list[Any] = list(values)
    else:
        params = [dict(zip(columns, row, strict=True)) for row in values]
    connection.exec_driver_sql(str(compiled), params)
