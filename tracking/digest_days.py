"""Which local day each manager already had their morning digest: the `digests` rows.

A row claims (manager, day) before the letter goes out; the unique key makes a second
run's claim a no-op (INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL waiting for the
first run's commit), so two schedulers never send two digests the same day. A refused
digest deletes its claim and the next run tries again; an accepted one gets sent_at.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracking.models import Digest


def claim_day(session: Session, manager_id: int, day: date, *, now: datetime) -> bool:
    """Take the manager's digest of `day` for this run; False when another run has it."""
    values = {"manager_id": manager_id, "day": day, "claimed_at": now}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Digest).values(values).on_conflict_do_nothing().returning(Digest.id)
    return session.scalar(stmt) is not None


def had_day(session: Session, manager_id: int, day: date) -> bool:
    """The manager's digest of `day` went out, or a run is sending it."""
    found = exists().where(Digest.manager_id == manager_id, Digest.day == day)
    return bool(session.scalar(select(found)))


def mark_sent(session: Session, manager_id: int, day: date, *, now: datetime) -> None:
    session.execute(
        update(Digest)
        .where(Digest.manager_id == manager_id, Digest.day == day)
        .values(sent_at=now)
        .execution_options(synchronize_session=False)
    )


def give_back_day(session: Session, manager_id: int, day: date, *, claimed_at: datetime) -> None:
    """Forget this run's claim, so the next run sends the digest."""
    session.execute(
        delete(Digest)
        .where(
            Digest.manager_id == manager_id,
            Digest.day == day,
            Digest.claimed_at == claimed_at,
            Digest.sent_at.is_(None),
        )
        .execution_options(synchronize_session=False)
    )
