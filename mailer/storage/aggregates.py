"""Planner settings for a report that reads a whole table once: no JIT, room to hash.

PostgreSQL compiles a query with JIT when its estimated cost is high, which a GROUP BY
over millions of letters is: on these machines the compilation alone took longer than
the aggregation it was meant to speed up (1.3 s of 3.0 s at 400,000 letters). A hash of
a million contacts also needs more than the default 4 MB `work_mem` to stay in memory.
Both are set for the statements inside the block only and put back afterwards; SQLite
has neither and is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

_SETTINGS = {"jit": "off", "work_mem": "64MB"}


@contextmanager
def whole_table_report(session: Session) -> Iterator[None]:
    """Run the block's queries as one-off aggregates over large tables (PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    names = list(_SETTINGS)
    current = ", ".join(f"current_setting(:n{i})" for i in range(len(names)))
    before = session.execute(
        text(f"SELECT {current}"), {f"n{i}": name for i, name in enumerate(names)}
    ).one()
    _set_local(session, _SETTINGS)
    yield
    # After an error the transaction is rolled back, and its local settings with it.
    _set_local(session, dict(zip(names, before, strict=True)))


def _set_local(session: Session, settings: dict[str, str]) -> None:
    """Set each for the rest of the transaction, in one round trip."""
    calls = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(settings)))
    params = {}
    for i, (name, value) in enumerate(settings.items()):
        params[f"n{i}"], params[f"v{i}"] = name, value
    session.execute(text(f"SELECT {calls}"), params)
