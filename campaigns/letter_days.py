"""The calendar's counts read from `letter_days`, the per-day summary PostgreSQL keeps.

Migration 0011's triggers keep the summary exact in the writing transaction, whoever
changes letters, contacts' owners or managers' time zones, so no writer calls anything
and a reader never sees it stale. `recount_letter_days` rebuilds it from the letters (after
a restore that skipped triggers, or to check it); `counted_from_letters` is the same count
by a full scan, which the tests and the benchmark compare the summary with.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import ColumnElement, Date, Integer, cast, delete, func, insert, select
from sqlalchemy.orm import Session

from campaigns.models import LetterDay
from mailer.contacts.models import Contact
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.models import Manager
from mailer.storage.aggregates import whole_table_report

DayKey = tuple[int, int, int, date]  # year, owner, campaign, owner's local day


def has_summary(session: Session) -> bool:
    """Whether the database keeps `letter_days` (PostgreSQL; SQLite cannot convert zones)."""
    return session.get_bind().dialect.name == "postgresql"


def summary_owner_days(
    session: Session, conditions: list[ColumnElement[bool]]
) -> Counter[tuple[int, date]]:
    """Letters per owner and local day from the summary, under `summary_conditions`."""
    stmt = (
        select(LetterDay.owner_id, LetterDay.day, func.sum(LetterDay.letters))
        .where(*conditions, LetterDay.letters != 0)
        .group_by(LetterDay.owner_id, LetterDay.day)
    )
    with whole_table_report(session):
        rows = session.execute(stmt).all()
    return Counter({(owner, d): int(n) for owner, d, n in rows if n})


def summary_days(session: Session, conditions: list[ColumnElement[bool]]) -> Counter[date]:
    """Letters per local day (all owners asked for) from the summary."""
    stmt = (
        select(LetterDay.day, func.sum(LetterDay.letters))
        .where(*conditions, LetterDay.letters != 0)
        .group_by(LetterDay.day)
    )
    with whole_table_report(session):
        rows = session.execute(stmt).all()
    return Counter({d: int(n) for d, n in rows if n})


def counted_from_letters(session: Session) -> Counter[DayKey]:
    """The summary's content counted from every letter (PostgreSQL), for checks."""
    day = cast(func.timezone(Manager.timezone, Letter.planned_at), Date)
    keys = (Letter.year, Contact.owner_id, Letter.campaign_id, day)
    stmt = (
        select(Letter.year, Contact.owner_id, Letter.campaign_id, day, func.count())
        .join(Contact, Contact.id == Letter.contact_id)
        .join(Manager, Manager.id == Contact.owner_id)
        .where(Letter.status != LetterStatus.CANCELLED)
        .group_by(*keys)
    )
    with whole_table_report(session):
        rows = session.execute(stmt).all()
    return Counter({(y, o, c, d): n for y, o, c, d, n in rows})


def counted_in_summary(session: Session) -> Counter[DayKey]:
    """The summary's rows that count letters."""
    rows = session.execute(
        select(LetterDay.year, LetterDay.owner_id, LetterDay.campaign_id, LetterDay.day)
        .add_columns(LetterDay.letters)
        .where(LetterDay.letters != 0)
    )
    return Counter({(y, o, c, d): n for y, o, c, d, n in rows})


def recount_letter_days(session: Session) -> int:
    """Rebuild the summary from the letters (PostgreSQL); flushes, no commit. Rows written."""
    if not has_summary(session):
        return 0
    session.flush()
    session.execute(delete(LetterDay))
    counts = counted_from_letters(session)
    if counts:
        session.execute(
            insert(LetterDay),
            [
                {"year": y, "owner_id": o, "campaign_id": c, "day": d, "letters": n}
                for (y, o, c, d), n in counts.items()
            ],
        )
    return len(counts)


def summary_owner_weeks(
    session: Session, conditions: list[ColumnElement[bool]]
) -> dict[tuple[int, date], tuple[int, int]]:
    """Per owner and ISO week (its Monday): the letters and the busiest day's letters.

    Folded in the database: at a million contacts the owner-days are a quarter of a
    million rows, their weeks a fifth of that.
    """
    per_day = (
        select(
            LetterDay.owner_id.label("owner_id"),
            LetterDay.day.label("day"),
            func.sum(LetterDay.letters).label("n"),
        )
        .where(*conditions, LetterDay.letters != 0)
        .group_by(LetterDay.owner_id, LetterDay.day)
        .subquery()
    )
    # date - integer is a date: no round trip through a timestamp with a time zone.
    monday = per_day.c.day - (cast(func.extract("isodow", per_day.c.day), Integer) - 1)
    stmt = (
        select(per_day.c.owner_id, monday, func.sum(per_day.c.n), func.max(per_day.c.n))
        .where(per_day.c.n != 0)
        .group_by(per_day.c.owner_id, monday)
    )
    with whole_table_report(session):
        rows = session.execute(stmt).all()
    return {(o, m): (int(n), int(top)) for o, m, n, top in rows}
