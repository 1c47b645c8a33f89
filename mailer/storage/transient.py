"""Which database errors pass by themselves: a busy SQLite file, a lost connection, a
PostgreSQL server restarting, a serialization failure or a deadlock. The work that met one
is worth repeating after a pause; any other error is a bug or a broken setup and is not.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# SQLSTATE classes and codes that a retry of the same work can get past.
_TRANSIENT_CLASSES = ("08",)  # connection exceptions
_TRANSIENT_CODES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now
    "53300",  # too_many_connections
}
# SQLite says it in words: another connection holds the lock longer than the busy timeout.
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
# Drivers that lose the server mid-statement say it in words too.
_LOST = (
    "server closed the connection",
    "connection is closed",
    "connection reset",
    "terminating connection",
)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is a database error that repeating the work after a pause can pass."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code and (code in _TRANSIENT_CODES or code[:2] in _TRANSIENT_CLASSES):
        return True
    text = str(exc.orig).lower()
    return any(words in text for words in _SQLITE_BUSY + _LOST)
