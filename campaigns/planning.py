"""Planning a year of letters: one row per contact, campaign and year, paced like a person.

Re-planning adds only what is new (a contact tagged in June gets the letters still ahead
of it that year); the unique constraints make a second letter impossible either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.calendar import (
    WorkCalendar,
    month_window,
    occasion_dates,
    occasion_window,
    unknown_years_message,
)
from campaigns.models import Campaign
from campaigns.pacing import OwnerSchedule, PaceRequest, pace
from campaigns.plan_store import LetterTerms, contacts_tagged, hold_year, letter_store
from mailer.contacts.book import mailing_block
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.models import Manager
from mailer.plurals import plural_en
from mailer.storage.snapshot import snapshot_reader
from mailer.storage.streaming import stream_rows
from mailer.tags.models import TagKind


@dataclass(frozen=True)
class Window:
    """Where a campaign's letters go in a year, and when they stop making sense."""

    campaign_id: int
    start: date
    end: date
    occasion: date | None  # None for a purchase-month campaign
    expires_on: date  # last day a letter may still go out


@dataclass
class PlanReport:
    """What planning did and did not do, with reasons a manager can read."""

    year: int
    added: int = 0
    already_planned: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    window_passed: int = 0
    shifts: list[str] = field(default_factory=list)
    calendar_warning: str | None = None


def campaign_window(campaign: Campaign, year: int, cal: WorkCalendar) -> Window | None:
    """The campaign's window in `year`, or None when its rule has no date that year."""
    dates = occasion_dates(campaign.occasion_rule, year)
    if not dates:
        return None
    if campaign.tag.kind is TagKind.MONTH:
        start, end = month_window(year, dates[0].month, campaign.window_days, cal)
        month_end = (dates[0].replace(day=28) + timedelta(days=4)).replace(day=1)
        return Window(campaign.id, start, end, None, month_end - timedelta(days=1))
    occasion = dates[0]
    start, end = occasion_window(occasion, campaign.days_before, campaign.window_days, cal)
    return Window(campaign.id, start, end, occasion, occasion)


def plan_year(
    session: Session,
    year: int,
    *,
    now: datetime | None = None,
    cal: WorkCalendar | None = None,
    campaign_ids: Collection[int] | None = None,
) -> PlanReport:
    """Plan every letter of `year` still ahead (of these campaigns only, when given: an edited
    campaign is re-planned alone, around the other campaigns' letters); commit is the caller's."""
    now = now or utcnow()
    cal = cal or WorkCalendar()
    report = PlanReport(year)
    if not cal.knows_year(year):
        report.calendar_warning = unknown_years_message([year])
    chosen = select(Campaign).where(Campaign.is_active.is_(True))
    if campaign_ids is not None:
        chosen = chosen.where(Campaign.id.in_(list(campaign_ids)))
    campaigns = list(session.scalars(chosen))
    windows: dict[int, Window] = {}
    for campaign in campaigns:
        window = campaign_window(campaign, year, cal)
        if window is not None:
            windows[campaign.tag_id] = window
    managers = {m.id: m for m in session.scalars(select(Manager))}
    hold_year(session, year)
    terms = _Terms(year, {c.id: c for c in campaigns}, windows)
    # Owner by owner, so memory holds one owner's letters, not the year's. Shifts are sorted
    # by each owner's first new letter: the order one pass over the contacts would give.
    shifts: list[tuple[int, list[str]]] = []
    with (
        letter_store(session, created_at=now) as store,
        # Reads on their own connection (PostgreSQL), so the store's COPY stays open.
        snapshot_reader(session) as reader,
        closing(_BookedDays(reader, year, managers)) as booked,
    ):
        for owner_id, wanted in _wanted_by_owner(reader, year, windows, now.date(), report):
            owner = managers[owner_id]
            result = pace(
                [PaceRequest((cid, w.campaign_id), start, w.end) for cid, w, start in wanted],
                _schedule(owner),
                cal,
                booked=booked(owner_id),
                seed=f"{year}:{owner_id}",
            )
            said = [f"{owner.name}: {shift}" for shift in result.earlier]
            if result.unplaced:
                said.append(
                    f"{owner.name}: {plural_en(len(result.unplaced), 'letter')} found no day "
                    "within the cap"
                )
            if said:
                shifts.append((wanted[0][0], said))
            letters = _due(result.times, now)
            store.add(letters, terms.in_zone(owner.timezone))
            report.added += len(letters)
    report.shifts = [said for _, owner_shifts in sorted(shifts) for said in owner_shifts]
    return report


def _wanted_by_owner(
    session: Session, year: int, windows: dict[int, Window], today: date, report: PlanReport
) -> Iterator[tuple[int, list[tuple[int, Window, date]]]]:
    """Each owner's letters still to plan, in contact and tag order, with the day each window
    opens for them; what is not wanted is counted in the report on the way."""
    rows = contacts_tagged(session, year, windows)
    opens = {tag_id: (w, max(w.start, today)) for tag_id, w in windows.items()}
    skipped = report.skipped
    for owner_id, owner_rows in groupby(rows, key=itemgetter(0)):
        wanted = []
        for _, contact_id, tag_id, has_consent, unsubscribed_at, bounced_at, done in owner_rows:
            window, start = opens[tag_id]
            if done:
                report.already_planned += 1
            elif reason := mailing_block(has_consent, unsubscribed_at, bounced_at):
                skipped[reason] += 1
            elif window.end < today:
                report.window_passed += 1
            else:
                wanted.append((contact_id, window, start))
        if wanted:
            yield owner_id, wanted


def _due(times: dict[Any, datetime], now: datetime) -> list[tuple[int, int, datetime]]:
    """(contact id, campaign id, due time) of paced letters, keyed (contact id, campaign id);
    in a window already open, what pacing put in the past goes now."""
    return [
        (contact, campaign, now if at < now else at) for (contact, campaign), at in times.items()
    ]


class _Terms:
    """Each campaign's letter terms in a time zone: its fixed values and its last moment."""

    def __init__(
        self, year: int, campaigns: dict[int, Campaign], windows: dict[int, Window]
    ) -> None:
        self._year = year
        self._campaigns = campaigns
        self._windows = list(windows.values())
        self._by_zone: dict[str, list[LetterTerms]] = {}

    def in_zone(self, timezone: str) -> list[LetterTerms]:
        """Every campaign's terms; a letter expires at 23:59 of its last day in the zone."""
        if timezone not in self._by_zone:
            zone = ZoneInfo(timezone)
            self._by_zone[timezone] = [
                LetterTerms(
                    w.campaign_id,
                    self._campaigns[w.campaign_id].tag_id,
                    self._campaigns[w.campaign_id].letter_kind,
                    self._year,
                    self._campaigns[w.campaign_id].occasion_name,
                    w.occasion,
                    datetime.combine(w.expires_on, time(23, 59), zone).astimezone(UTC),
                )
                for w in self._windows
            ]
        return self._by_zone[timezone]


def _schedule(owner: Manager) -> OwnerSchedule:
    return OwnerSchedule(owner.timezone, owner.work_starts_at, owner.work_ends_at, owner.daily_cap)


class _BookedDays:
    """Letters already planned per local day of an owner, so a re-plan respects the cap.

    Read alongside the contacts, owner by owner, instead of all at once: owners must be
    asked for in ascending id order.
    """

    def __init__(self, session: Session, year: int, managers: dict[int, Manager]) -> None:
        stmt = (
            select(Contact.owner_id, Letter.planned_at)
            .join(Contact, Contact.id == Letter.contact_id)
            .where(Letter.year == year, Letter.status != LetterStatus.CANCELLED)
            .order_by(Contact.owner_id)
        )
        self._managers = managers
        self._rows = stream_rows(session, stmt)
        self._groups = groupby(self._rows, key=itemgetter(0))
        self._current = next(self._groups, None)

    def __call__(self, owner_id: int) -> Counter[date] | None:
        while self._current is not None and self._current[0] < owner_id:
            self._current = next(self._groups, None)
        if self._current is None or self._current[0] != owner_id:
            return None
        zone = ZoneInfo(self._managers[owner_id].timezone)
        days = Counter(planned_at.astimezone(zone).date() for _, planned_at in self._current[1])
        self._current = next(self._groups, None)
        return days

    def close(self) -> None:
        """Close the cursor of owners not asked for."""
        self._rows.close()
