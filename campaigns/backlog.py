"""A backlog after an outage: letters whose time passed while nothing was sending are
re-paced into their owner's next working hours under the daily cap, so an outage never
turns into a blast from one manager's address.

The plan says so: a moved letter's planned time moves with its due time (the calendar and
`campaigns explain` show the new one), and `first_planned_at` keeps the time it had. A
letter moved past the end of its season expires unsent rather than break the cap.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from itertools import groupby
from operator import itemgetter
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from campaigns.calendar import WorkCalendar
from campaigns.pacing import OwnerSchedule, catch_up
from mailer.contacts.models import Contact
from mailer.db import table_of, utcnow
from mailer.delivery.models import CLAIMABLE, DUE_STATUSES, Letter, LetterStatus
from mailer.managers.models import Manager

# A running worker takes a letter within a minute of its time; one due longer ago than
# this was missed by an outage.
OVERDUE_AFTER = timedelta(minutes=15)

_LETTERS = table_of(Letter)
_MOVE = (
    update(_LETTERS)
    .where(
        _LETTERS.c.id == bindparam("letter_id"),
        _LETTERS.c.due_at == bindparam("was_due"),  # another worker's re-pacing came first
        CLAIMABLE,  # still waiting (an expanding IN cannot go into an executemany)
    )
    .values(
        due_at=bindparam("at"),
        planned_at=bindparam("at"),
        first_planned_at=func.coalesce(_LETTERS.c.first_planned_at, _LETTERS.c.planned_at),
        updated_at=bindparam("now"),
    )
)


def repace_overdue(
    session: Session,
    *,
    now: datetime | None = None,
    cal: WorkCalendar | None = None,
    overdue_after: timedelta = OVERDUE_AFTER,
) -> int:
    """Move every owner's overdue letters to their next working hours, at most the daily cap
    a day with what that day already holds; returns how many moved. Flushes; the caller
    commits. One indexed query when nothing is overdue."""
    now = now or utcnow()
    cutoff = now - overdue_after
    overdue = session.execute(
        select(Letter.id, Letter.due_at, Contact.owner_id)
        .join(Contact, Contact.id == Letter.contact_id)
        .where(CLAIMABLE, Letter.due_at < cutoff)
        .order_by(Contact.owner_id, Letter.expires_at, Letter.due_at, Letter.id)
    ).all()
    if not overdue:
        return 0
    cal = cal or WorkCalendar()
    owners = {
        m.id: m
        for m in session.scalars(select(Manager).where(Manager.id.in_({r[2] for r in overdue})))
    }
    moves = []
    for owner_id, rows in groupby(overdue, key=itemgetter(2)):
        letters = list(rows)
        owner = owners[owner_id]
        schedule = OwnerSchedule(
            owner.timezone, owner.work_starts_at, owner.work_ends_at, owner.daily_cap
        )
        booked = _booked_days(session, owner, now=now, cutoff=cutoff)
        times = catch_up(len(letters), schedule, cal, now=now, booked=booked, seed=owner_id)
        moves += [
            {"letter_id": letter.id, "was_due": letter.due_at, "at": at, "now": now}
            for letter, at in zip(letters, times, strict=False)
        ]
    if moves:
        session.execute(_MOVE, moves)
    return len(moves)


def _booked_days(
    session: Session, owner: Manager, *, now: datetime, cutoff: datetime
) -> Counter[date]:
    """The owner's letters per local day from today on: sent today, or still to go at their
    time (the overdue ones, about to move, left out)."""
    zone = ZoneInfo(owner.timezone)
    midnight = datetime.combine(now.astimezone(zone).date(), time(), zone)
    sent_today = and_(Letter.status == LetterStatus.SENT, Letter.sent_at >= midnight)
    to_go = and_(Letter.status.in_((*DUE_STATUSES, LetterStatus.SENDING)), Letter.due_at >= cutoff)
    rows = session.execute(
        select(Letter.status, Letter.sent_at, Letter.due_at)
        .join(Contact, Contact.id == Letter.contact_id)
        .where(Contact.owner_id == owner.id, or_(sent_today, to_go))
    )
    return Counter(
        (sent_at if status == LetterStatus.SENT and sent_at else due_at).astimezone(zone).date()
        for status, sent_at, due_at in rows
    )
