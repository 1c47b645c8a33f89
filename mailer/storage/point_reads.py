"""One small read by key, as cheap as the driver allows: for a request's hot path.

A pooled SQLAlchemy connection costs more per query than the query itself (checkout, a
pre-ping round trip on PostgreSQL, result objects), which on the click endpoint was most
of the request. `PointReader` keeps one driver connection per thread, in autocommit (a
read never holds a transaction open), and sends one statement with positional values,
prepared by the server where the driver can. A broken connection is replaced once.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, event

_NAMED = re.compile(r":(\w+)")


class PointReader:
    """`first(**values)`: the first row of one fixed SELECT, or None."""

    def __init__(self, engine: Engine, sql: str) -> None:
        self.engine = engine
        self.names = _NAMED.findall(sql)
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self.sql = _NAMED.sub(marker, sql)
        self.is_postgresql = engine.dialect.name == "postgresql"
        self._local = threading.local()
        self._opened: list[tuple[int, Any]] = []  # (pid, connection) of every thread
        self._lock = threading.Lock()
        event.listen(engine, "engine_disposed", lambda _engine: self.close_all())

    def first(self, **values: Any) -> Sequence[Any] | None:
        params = tuple(values[name] for name in self.names)
        try:
            return self._run(params)
        except self.engine.dialect.loaded_dbapi.OperationalError:
            self.close()  # the server went away or restarted: one fresh try
            return self._run(params)

    def close(self) -> None:
        """Close this thread's connection (the next read opens another)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            self._close(connection)

    def close_all(self) -> None:
        """Close every thread's connection: the engine is being disposed of."""
        with self._lock:
            opened, self._opened = self._opened, []
        for pid, connection in opened:
            if pid == os.getpid():  # a forked child leaves its parent's connections alone
                self._close(connection)

    def _close(self, connection: Any) -> None:
        with self._lock:
            self._opened = [(pid, c) for pid, c in self._opened if c is not connection]
        try:
            connection.close()
        except self.engine.dialect.loaded_dbapi.Error:
            pass  # already gone

    def _run(self, params: tuple[Any, ...]) -> Sequence[Any] | None:
        connection = self._connection()
        if self.is_postgresql:
            return connection.execute(self.sql, params, prepare=True).fetchone()
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, params)
            return cursor.fetchone()
        finally:
            cursor.close()

    def _connection(self) -> Any:
        connection: Any = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():  # never share across a fork
            # The driver's own connection, outside the pool: it lives as long as the thread.
            proxied = self.engine.raw_connection()
            connection = proxied.driver_connection
            proxied.detach()
            if self.is_postgresql:
                connection.autocommit = True
            self._local.connection, self._local.pid = connection, os.getpid()
            with self._lock:
                self._opened.append((os.getpid(), connection))
        return connection
