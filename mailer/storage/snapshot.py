"""A second connection that reads what a session sees, so the session's COPY stays open."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

_SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")


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
