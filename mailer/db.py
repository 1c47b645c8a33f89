"""Engine, sessions and the declarative base shared by every package's models."""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from operator import itemgetter
from typing import Any, Protocol, cast

from flask import Flask, current_app
from psycopg import abc as psycopg_abc
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import Format
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Enum,
    Executable,
    Insert,
    MetaData,
    Result,
    Row,
    Table,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
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

# `info` of a foreign key that PostgreSQL keeps by triggers checking a statement's rows at
# once, not by the key's check per row (see migration 0004); SQLite has the key itself.
KEPT_BY_TRIGGERS = {"postgresql": "triggers"}


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
    column, memoised (see _processed), and the driver gets the tuples as they are.
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
    values: Iterable[Sequence[Any]] = _processed(rows, _bind_processors(table, columns, dialect))
    if compiled.positional:
        order = [columns.index(key) for key in compiled.positiontup or []]
        if order != list(range(len(columns))):
            values = map(itemgetter(*order), values)
        params: list[Any] = list(values)
    else:
        params = [dict(zip(columns, row, strict=True)) for row in values]
    connection.exec_driver_sql(str(compiled), params)


def refresh_statistics(session: Session, *tables: Table) -> None:
    """ANALYZE on PostgreSQL, whose planner otherwise takes a freshly filled table for empty.

    Stale statistics turn the import's indexed IN lookups into sequential scans: 100,000
    rows then take minutes instead of seconds. SQLite plans from its indexes and needs none.
    """
    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(text(f'ANALYZE "{table.name}"'))


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


@contextmanager
def snapshot_reader(session: Session) -> Iterator[Session]:
    """A session for long reads that sees what `session` sees now, on its own connection.

    On PostgreSQL it imports the session's snapshot into a REPEATABLE READ transaction, so
    its cursors never interrupt a COPY the session keeps open: the writer streams while
    the reader fetches, and the server checks what was written once, at the COPY's end.
    A snapshot carries only what is committed, so once the session's transaction has
    written anything (a test's rows, a caller's unflushed work) the reader is the session
    itself, as it is on SQLite (one writer, no COPY).
    """
    session.flush()
    if (
        session.get_bind().dialect.name != "postgresql"
        or session.execute(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")).scalar_one()
    ):
        yield session
        return
    snapshot = session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    with session.get_bind().engine.connect() as connection:
        reading = connection.execution_options(isolation_level="REPEATABLE READ")
        with reading.begin():
            # Literal only: SET TRANSACTION SNAPSHOT takes no parameter (checked above).
            reading.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            with Session(bind=reading) as reader:
                yield reader


_SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")


def _fetched(connection: Connection, result: Result[Any]) -> Iterator[Sequence[Row[Any]]]:
    """The result's batches; before each fetch, an open COPY on the connection is ended."""
    partitions = result.partitions()
    while True:
        pause_copy(connection)
        partition = next(partitions, None)
        if partition is None:
            return
        yield partition


def copy_insert(
    session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert many rows given as tuples in `columns` order: binary COPY on PostgreSQL, about
    ten times cheaper per row than an executemany; bulk_insert elsewhere. See copy_writer.
    """
    with copy_writer(session, table, columns) as write:
        write(rows)


@contextmanager
def copy_writer(
    session: Session, table: Table, columns: Sequence[str]
) -> Iterator[Callable[[Iterable[Sequence[Any]]], None]]:
    """A `write(rows)` to call as often as needed, with tuples in `columns` order; all the
    rows are in the table when the block ends (in the session's transaction, as ever).
    Values pass the columns' bind processors, as with bulk_insert.

    On PostgreSQL one COPY stays open across writes, so the server inserts what was sent
    while the caller computes the next rows (on another core). The session may still read
    in the block: before any statement, or a fetch by stream_rows, the open COPY is ended,
    and the next write starts another.
    """
    with tailed_copy_writer(session, table, columns) as writer:
        yield writer.write


class TailedWriter(Protocol):
    """Writes rows whose last columns repeat: `encode_tail` once per set of those values,
    then `write_tailed` with rows of the leading values followed by an encoded tail; or
    `write` with whole rows."""

    def write(self, rows: Iterable[Sequence[Any]]) -> None: ...

    def encode_tail(self, values: Sequence[Any]) -> Any: ...

    def write_tailed(self, rows: Iterable[Sequence[Any]]) -> None: ...


@contextmanager
def tailed_copy_writer(
    session: Session, table: Table, columns: Sequence[str]
) -> Iterator[TailedWriter]:
    """copy_writer's writer, which also takes rows that end in values shared by many (a
    campaign's, say) through `encode_tail` and `write_tailed`.

    On PostgreSQL the shared end is encoded once in COPY's binary form, so a row costs one
    pack of its leading values (integers, timestamps) instead of an encoding per value;
    elsewhere the rows are put together and inserted in chunks.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield _TupleTails(session, table, columns)
        return
    copy = _OpenCopy(session.connection(), table, columns)
    try:
        yield copy
    except BaseException as exc:
        copy.end(exc)
        raise
    copy.end()


class _TupleTails:
    """A TailedWriter by executemany: a tail is its values, added to each row."""

    def __init__(self, session: Session, table: Table, columns: Sequence[str]) -> None:
        self._session, self._table, self._columns = session, table, columns

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        for chunk in _chunks(rows):
            insert_tuples(self._session, self._table, self._columns, chunk)

    def encode_tail(self, values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(values)

    def write_tailed(self, rows: Iterable[Sequence[Any]]) -> None:
        self.write(tuple(row[:-1]) + row[-1] for row in rows)


class _OpenCopy:
    """A binary COPY into one table, begun on the first write and ended before the
    connection is used for anything else (psycopg holds the connection for a COPY)."""

    def __init__(self, connection: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = connection.dialect
        quote = dialect.identifier_preparer.quote
        target = dialect.identifier_preparer.format_table(table)
        names = ", ".join(quote(column) for column in columns)
        self.statement = f"COPY {target} ({names}) FROM STDIN (FORMAT BINARY)"
        attributes = connection.exec_driver_sql(
            "SELECT attname, atttypid::int FROM pg_attribute"
            " WHERE attrelid = %(table)s::regclass AND attnum > 0 AND NOT attisdropped",
            {"table": target},
        )
        types: dict[str, int] = {name: oid for name, oid in attributes}
        self._oids = [types[column] for column in columns]
        self._processors = _bind_processors(table, columns, dialect)
        self._dialect = dialect
        self._connection = connection
        raw = connection.connection.driver_connection
        assert raw is not None  # a live session's connection
        self._raw = raw
        self._open: ExitStack | None = None
        self._is_raw = False
        self._copy: Any = None
        self._packers: dict[int, Callable[[Sequence[Any]], bytes]] = {}
        connection.info[_OPEN_COPY] = self
        event.listen(connection, "before_cursor_execute", self._before_execute)

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        """Send rows, starting a COPY if none is open."""
        with self._errors():
            for chunk in _chunks(rows):
                self._begin(raw=False)
                write_row = self._copy.write_row
                for values in _processed(chunk, self._processors):
                    write_row(values)

    def encode_tail(self, values: Sequence[Any]) -> bytes:
        """The last len(values) columns of a row in COPY's binary form, to be sent with
        many rows by write_tailed: rows sharing them are then encoded in a few packs."""
        first = len(self._oids) - len(values)
        if first < 0:
            raise ValueError(f"{len(values)} values for {len(self._oids)} columns")
        row = list(values)
        for index, process, _ in self._processors:
            if index >= first:
                row[index - first] = process(row[index - first])
        dumped = self._transformer(first).dump_sequence(row, [PyFormat.BINARY] * len(row))
        return b"".join(
            _NULL_FIELD if field is None else _FIELD_SIZE.pack(len(field)) + bytes(field)
            for field in dumped
        )

    def write_tailed(self, rows: Iterable[Sequence[Any]]) -> None:
        """Send rows given as their leading values followed by one encode_tail result.

        Only the leading values are encoded per row; they must be integers (int4, int8)
        or aware timestamps (timestamptz), none NULL.
        """
        with self._errors():
            for chunk in _chunks(rows):
                if not chunk:
                    continue
                pack = self._packer(len(chunk[0]) - 1)
                self._begin(raw=True)
                self._copy.write(b"".join([pack(row) for row in chunk]))

    def _packer(self, count: int) -> Callable[[Sequence[Any]], bytes]:
        if count not in self._packers:
            self._packers[count] = _head_packer(self._oids, count)
        return self._packers[count]

    def end(self, exc: BaseException | None = None) -> None:
        """End the open COPY, if any (and wait for the server to take all it was sent);
        with `exc`, abort it. After the last one, stop watching the connection."""
        self.pause(exc)
        event.remove(self._connection, "before_cursor_execute", self._before_execute)
        self._connection.info.pop(_OPEN_COPY, None)

    def pause(self, exc: BaseException | None = None) -> None:
        """End the open COPY so the connection can serve another statement."""
        if self._open is None:
            return
        if self._is_raw and exc is None:
            with self._errors():
                self._copy.write(_BINARY_TRAILER)
        stack, self._open, self._copy = self._open, None, None
        with self._errors():
            if exc is None:
                stack.close()
            else:
                stack.__exit__(type(exc), exc, exc.__traceback__)

    def _begin(self, *, raw: bool) -> None:
        """Have a COPY open for rows (psycopg encodes them) or for raw binary rows."""
        if self._open is not None and self._is_raw == raw:
            return
        self.pause()
        stack = ExitStack()
        cursor = stack.enter_context(self._raw.cursor())
        self._copy = stack.enter_context(cursor.copy(self.statement))
        self._copy.set_types(self._oids)
        self._open, self._is_raw = stack, raw
        if raw:
            self._copy.write(_BINARY_SIGNATURE)

    def _transformer(self, first: int) -> psycopg_abc.Transformer:
        transformer = Transformer(self._raw)
        transformer.set_dumper_types(self._oids[first:], Format.BINARY)
        return transformer

    def _before_execute(self, *_args: Any) -> None:
        self.pause()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver errors as SQLAlchemy raises them (IntegrityError, ...)."""
        error = self._dialect.loaded_dbapi.Error
        try:
            yield
        except error as exc:
            raise DBAPIError.instance(self.statement, None, exc, error) from exc


def pause_copy(connection: Connection) -> None:
    """End a copy_writer's open COPY on this connection, before reading from it."""
    copy = connection.info.get(_OPEN_COPY)
    if copy is not None:
        copy.pause()


_CHUNK = 10_000
_OPEN_COPY = "mailer.open_copy"

# COPY's binary format: a header, per row a field count and each field as its length
# (-1: NULL) and bytes, and a trailer (a field count of -1).
_BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
_NULL_FIELD = b"\xff\xff\xff\xff"
_FIELD_SIZE = struct.Struct(">i")
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INT4, _INT8, _TIMESTAMPTZ = 23, 20, 1184


def _timestamptz(value: datetime) -> int:
    """Microseconds since PostgreSQL's epoch; naive datetimes are refused as UTCDateTime does."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given where UTC is required")
    return (value - _PG_EPOCH) // _MICROSECOND


def _head_packer(oids: Sequence[int], count: int) -> Callable[[Sequence[Any]], bytes]:
    """row -> its binary COPY bytes, for rows of `count` leading values and an encoded tail."""
    layout = ">h"
    sizes: list[int] = []
    is_timestamp: list[bool] = []
    for oid in oids[:count]:
        if oid not in (_INT4, _INT8, _TIMESTAMPTZ):
            raise TypeError(f"a leading column of type oid {oid}: encode it in the tail")
        layout += "ii" if oid == _INT4 else "iq"
        sizes.append(4 if oid == _INT4 else 8)
        is_timestamp.append(oid == _TIMESTAMPTZ)
    fields = len(oids)
    struct_pack = struct.Struct(layout).pack
    columns = list(enumerate(zip(sizes, is_timestamp, strict=True)))

    def pack(row: Sequence[Any]) -> bytes:
        values: list[Any] = [fields]
        for index, (size, timestamp) in columns:
            value = row[index]
            values += (size, _timestamptz(value) if timestamp else value)
        return struct_pack(*values) + row[count]

    return pack


def _chunks(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    """Rows _CHUNK at a time: a column-wise pass over a chunk is cheaper than row by row."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, _CHUNK)):
        yield chunk


def _bind_processors(
    table: Table, columns: Sequence[str], dialect: Dialect
) -> list[tuple[int, Callable[[Any], Any], str]]:
    """(position, processor, memo key): columns of one type (by repr) share their memo."""
    processors: list[tuple[int, Callable[[Any], Any], str]] = []
    for index, column in enumerate(columns):
        column_type = table.c[column].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, process, repr(column_type)))
    return processors


def _processed(
    chunk: Sequence[Sequence[Any]], processors: list[tuple[int, Callable[[Any], Any], str]]
) -> Iterable[Sequence[Any]]:
    """The chunk's rows with bind processors applied column by column, memoised: rows share
    many values (timestamps, statuses), and a column at a time is cheaper than a row."""
    if not processors:
        return chunk
    columns: list[Sequence[Any]] = list(zip(*chunk, strict=True))
    memos: dict[str, dict[Any, Any]] = {}
    for index, process, key in processors:
        memo = memos.setdefault(key, {})
        try:
            columns[index] = [
                memo[value] if value in memo else memo.setdefault(value, process(value))
                for value in columns[index]
            ]
        except TypeError:  # an unhashable value
            columns[index] = [process(value) for value in columns[index]]
    return zip(*columns, strict=True)


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
