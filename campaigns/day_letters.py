"""One day of the calendar opened: its letters, a page at a time, newest plan first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from campaigns.day_counts import LetterFilter
from campaigns.letter_days import has_summary
from campaigns.models import Campaign, LetterDay
from mailer.contacts.models import Contact
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.models import Manager
from mailer.tags.models import Tag

PER_PAGE = 50


@dataclass(frozen=True)
class DayLetter:
    """A letter as the day's list shows it: when (owner's time), to whom, from whom, what."""

    letter_id: int
    planned_at: datetime  # in the owner's time zone
    status: LetterStatus
    email: str
    contact_name: str
    company: str
    manager: str
    campaign: str  # the tag code


@dataclass(frozen=True)
class DayPage:
    """A page of a day's letters and how many there are in all."""

    day: date
    total: int
    page: int
    per_page: int
    letters: list[DayLetter]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _on_local_day(zones: list[str], day: date) -> ColumnElement[bool]:
    """The owner's local day as UTC ranges, one per zone in use: exact on both databases."""
    ranges, starts, ends = [], [], []
    for tz in zones:
        zone = ZoneInfo(tz)
        start = datetime.combine(day, time(), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
        starts.append(start)
        ends.append(end)
        ranges.append(
            and_(Manager.timezone == tz, Letter.planned_at >= start, Letter.planned_at < end)
        )
    if not ranges:
        return Letter.id.is_(None)
    # The span of all zones' days: one range test rejects most letters before the zones'.
    return and_(Letter.planned_at >= min(starts), Letter.planned_at < max(ends), or_(*ranges))


def _day_total(session: Session, wanted: LetterFilter, day: date, where: list[Any]) -> int:
    """How many letters the day has: from the summary where it is kept, else counted."""
    if has_summary(session):
        stmt = select(func.sum(LetterDay.letters)).where(
            *wanted.summary_conditions(), LetterDay.day == day
        )
        return int(session.scalar(stmt) or 0)
    return _counted_total(session, where)


def scanned_day_total(session: Session, wanted: LetterFilter, day: date) -> int:
    """The day's total counted from the letters (the benchmark's reference)."""
    zones = sorted(set(session.scalars(select(Manager.timezone).distinct())))
    return _counted_total(session, [*wanted.conditions(), _on_local_day(zones, day)])


def _counted_total(session: Session, where: list[Any]) -> int:
    base = (
        select(Letter.id)
        .join(Contact, Contact.id == Letter.contact_id)
        .join(Manager, Manager.id == Contact.owner_id)
        .where(*where)
    )
    return session.scalar(select(func.count()).select_from(base.subquery())) or 0


def day_letters(
    session: Session, wanted: LetterFilter, day: date, *, page: int = 1, per_page: int = PER_PAGE
) -> DayPage:
    """The letters planned on `day` (owners' local days), by time then id."""
    zones = sorted(set(session.scalars(select(Manager.timezone).distinct())))
    where = [*wanted.conditions(), _on_local_day(zones, day)]
    total = _day_total(session, wanted, day, where)
    page = max(1, page)
    rows = session.execute(
        select(Letter, Contact, Manager.name, Manager.timezone, Tag.code)
        .join(Contact, Contact.id == Letter.contact_id)
        .join(Manager, Manager.id == Contact.owner_id)
        .join(Campaign, Campaign.id == Letter.campaign_id)
        .join(Tag, Tag.id == Campaign.tag_id)
        .where(*where)
        .order_by(Letter.planned_at, Letter.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    letters = [
        DayLetter(
            letter.id,
            letter.planned_at.astimezone(ZoneInfo(tz)),
            letter.status,
            contact.email,
            contact.full_name,
            contact.company_display,
            manager,
            code,
        )
        for letter, contact, manager, tz, code in rows
    ]
    return DayPage(day, total, page, per_page, letters)
