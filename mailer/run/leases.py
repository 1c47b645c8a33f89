"""Holding a role with a lease row: exactly one scheduler is active at a time.

The same conditional UPDATE works on SQLite and PostgreSQL: a process takes the lease
when it is free or expired, and keeps it by renewing before it runs out. A process that
dies simply stops renewing, and another takes over after the lease time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from mailer.db import table_of
from mailer.run.models import Lease
from mailer.storage.inserts import bulk_insert


def acquire(session: Session, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease; True when `holder` holds it until now + ttl. Commits."""
    bulk_insert(
        session,
        table_of(Lease),
        [{"name": name, "holder": "", "expires_at": now}],
        skip_conflicts=True,
    )
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return cast(CursorResult[Any], result).rowcount == 1


def release(session: Session, name: str, holder: str, *, now: datetime) -> None:
    """Give the lease up at once (on a clean shutdown). Commits."""
    session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def holder_of(session: Session, name: str, *, now: datetime) -> str | None:
    """Who holds the lease now, if anyone."""
    lease = session.scalar(select(Lease).where(Lease.name == name))
    return lease.holder if lease and lease.expires_at > now and lease.holder else None
