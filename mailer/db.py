"""Engine, sessions and the declarative base shared by every package's models."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import DateTime, Engine, Enum, MetaData, Table, create_engine, event, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names keep Alembic migrations reproducible across databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for all tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every database; SQLite stores naive UTC text."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_class: type[enum.StrEnum]) -> Enum:
    """A StrEnum column stored as its values with a CHECK constraint on both databases."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


def utcnow() -> datetime:
    """Aware UTC now; the only clock the models use."""
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = 10_000, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": sqlite_busy_timeout_ms / 1000}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def bulk_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], *, skip_conflicts: bool = False
) -> None:
    """Insert many rows of the same keys with one executemany; optionally skip rows that
    would break a unique constraint (ON CONFLICT DO NOTHING, SQLite and PostgreSQL).

    SQLAlchemy builds executemany parameters row by row, which for a wide table costs
    several times the insert itself; here each column's bind processor is looked up once,
    and its result memoised, since a chunk's rows share their timestamps.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    stmt = insert(table)
    if skip_conflicts:
        dialect_insert = {"sqlite": sqlite_insert, "postgresql": pg_insert}[dialect.name]
        stmt = dialect_insert(table).on_conflict_do_nothing()
    compiled = stmt.compile(dialect=dialect, column_keys=list(rows[0]))
    keys = list(compiled.positiontup or []) if compiled.positional else list(rows[0])
    processors = []
    for index, key in enumerate(keys):
        process = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, process, {}))
    params: list[Any] = []
    for row in rows:
        values = [row[k] for k in keys]
        for index, process, memo in processors:
            raw = values[index]
            try:
                values[index] = memo[raw]
            except KeyError:
                values[index] = memo[raw] = process(raw)
            except TypeError:  # unhashable value
                values[index] = process(raw)
        params.append(
            tuple(values) if compiled.positional else dict(zip(keys, values, strict=True))
        )
    connection.exec_driver_sql(str(compiled), params)


def refresh_statistics(session: Session, *tables: Table) -> None:
    """ANALYZE on PostgreSQL, whose planner otherwise takes a freshly filled table for empty.

    Stale statistics turn the import's indexed IN lookups into sequential scans: 100,000
    rows then take minutes instead of seconds. SQLite plans from its indexes and needs none.
    """
    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(text(f'ANALYZE "{table.name}"'))


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to the app; connections open lazily."""
    engine = make_engine(
        app.config["DATABASE_URL"],
        sqlite_busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
    )
    app.extensions["mailer.engine"] = engine
    app.extensions["mailer.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)


def get_engine(app: Flask | None = None) -> Engine:
    """The app's engine."""
    return (app or current_app).extensions["mailer.engine"]


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session for one unit of work: rolled back on error, always closed."""
    factory: sessionmaker[Session] = (app or current_app).extensions["mailer.sessionmaker"]
    session = factory()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
