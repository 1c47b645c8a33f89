"""Fresh planner statistics for tables that a bulk write has just filled."""

from __future__ import annotations

from sqlalchemy import Table, text
from sqlalchemy.orm import Session


def refresh_statistics(session: Session, *tables: Table) -> None:
    """ANALYZE on PostgreSQL, whose planner otherwise takes a freshly filled table for empty.

    Stale statistics turn the import's indexed IN lookups into sequential scans: 100,000
    rows then take minutes instead of seconds. SQLite plans from its indexes and needs none.
    """
    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(text(f'ANALYZE "{table.name}"'))
