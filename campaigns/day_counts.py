"""The year's letters counted per day in the database, for the calendar page's heatmap.

On PostgreSQL the counts come from the per-day summary its triggers keep exact
(`campaigns/letter_days.py`, migration 0011): at most a few hundred thousand rows at a
million contacts instead of every letter. The scan below is SQLite's path, and the
benchmark's and tests' reference (`scanned_letters_per_day`, `scanned_owner_days`).

A letter's day is its owner's local day, as the CLI calendar counts it. PostgreSQL
converts each planned time with `AT TIME ZONE` and groups by the local date, so a year
of millions of letters comes back as at most 366 rows per owner asked for. SQLite has
no time zones: it groups by the owner's zone and the UTC hour, and the few thousand
buckets are folded into local days here. That is exact for zones whose offset is a
whole number of hours (all of Russia's); elsewhere a bucket's letters take the local day
the hour begins in, which letters paced into working hours never straddle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, Select, cast, func, select
from sqlalchemy.orm import Session

from campaigns.letter_days import has_summary, summary_days, summary_owner_days
from campaigns.models import LetterDay
from mailer.contacts.models import Contact
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.models import Manager
from mailer.storage.aggregates import whole_table_report


@dataclass(frozen=True)
class LetterFilter:
    """Which letters a calendar counts: a year's, maybe one owner's and one campaign's."""

    year: int
    manager_id: int | None = None
    campaign_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE of every calendar query (cancelled letters are not in the plan)."""
        where = [Letter.year == self.year, Letter.status != LetterStatus.CANCELLED]
        if self.manager_id is not None:
            where.append(Contact.owner_id == self.manager_id)
        if self.campaign_id is not None:
            where.append(Letter.campaign_id == self.campaign_id)
        return where

    def summary_conditions(self) -> list[ColumnElement[bool]]:
        """The same choice of letters in `letter_days` (which never counts cancelled ones)."""
        where = [LetterDay.year == self.year]
        if self.manager_id is not None:
            where.append(LetterDay.owner_id == self.manager_id)
        if self.campaign_id is not None:
            where.append(LetterDay.campaign_id == self.campaign_id)
        return where


def _joined(columns: Iterable[Any], wanted: LetterFilter) -> Select[Any]:
    return (
        select(*columns)
        .select_from(Letter)
        .join(Contact, Contact.id == Letter.contact_id)
        .join(Manager, Manager.id == Contact.owner_id)
        .where(*wanted.conditions())
    )


def local_day(session: Session) -> ColumnElement[date] | None:
    """The owner's local date of a letter as SQL, where the database knows time zones."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return cast(func.timezone(Manager.timezone, Letter.planned_at), Date)


def letters_per_day(session: Session, wanted: LetterFilter) -> Counter[date]:
    """Letters per local day of the owners (the heatmap's cells)."""
    if has_summary(session):
        return summary_days(session, wanted.summary_conditions())
    return scanned_letters_per_day(session, wanted)


def owner_days(session: Session, wanted: LetterFilter) -> Counter[tuple[int, date]]:
    """Letters per owner and local day (each manager's load)."""
    if has_summary(session):
        return summary_owner_days(session, wanted.summary_conditions())
    return scanned_owner_days(session, wanted)


def scanned_letters_per_day(session: Session, wanted: LetterFilter) -> Counter[date]:
    """`letters_per_day` counted from the letters themselves."""
    day = local_day(session)
    if day is not None:
        with whole_table_report(session):
            rows = session.execute(_joined([day, func.count()], wanted).group_by(day)).all()
        return Counter({d: n for d, n in rows})
    per_owner = scanned_owner_days(session, wanted)
    days: Counter[date] = Counter()
    for (_, d), n in per_owner.items():
        days[d] += n
    return days


def scanned_owner_days(session: Session, wanted: LetterFilter) -> Counter[tuple[int, date]]:
    """`owner_days` counted from the letters themselves."""
    day = local_day(session)
    if day is not None:
        stmt = _joined([Contact.owner_id, day, func.count()], wanted)
        with whole_table_report(session):
            rows = session.execute(stmt.group_by(Contact.owner_id, day)).all()
        return Counter({(owner, d): n for owner, d, n in rows})
    hour = func.substr(Letter.planned_at, 1, 13)  # 'YYYY-MM-DD HH' of the stored UTC text
    stmt = _joined([Contact.owner_id, Manager.timezone, hour, func.count()], wanted)
    zones: dict[str, ZoneInfo] = {}
    out: Counter[tuple[int, date]] = Counter()
    for owner, tz, bucket, n in session.execute(
        stmt.group_by(Contact.owner_id, Manager.timezone, hour)
    ):
        utc = datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC)
        out[(owner, utc.astimezone(zones.setdefault(tz, ZoneInfo(tz))).date())] += n
    return out
