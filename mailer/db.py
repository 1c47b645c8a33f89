"""Engine, sessions and the declarative base shared by every package's models.

Speed tricks for bulk reads and writes (binary COPY, snapshot readers, bind-processor
memos) live in mailer.storage; this module is only what every model and session needs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import DateTime, Engine, Enum, MetaData, Table, create_engine, event
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


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table (typed as a plain FromClause by SQLAlchemy's stubs)."""
    return cast(Table, model.__table__)


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to the app; connections open lazily."""
    config = app.extensions["mailer.settings"]
    engine = make_engine(config.database_url, sqlite_busy_timeout_ms=config.sqlite_busy_timeout_ms)
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
