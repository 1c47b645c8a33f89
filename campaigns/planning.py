"""Planning a year of letters: one row per contact, campaign and year, paced like a person.

Re-planning adds only what is new (a contact tagged in June gets the letters still ahead
of it that year); the unique constraints make a second letter impossible either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, select, text, type_coerce
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
from mailer.contacts.book import mailing_block
from mailer.contacts.models import Contact
from mailer.db import (
    TailedWriter,
    refresh_statistics,
    snapshot_reader,
    stream_rows,
    table_of,
    tailed_copy_writer,
    utcnow,
)
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.models import Manager
from mailer.tags.models import TagKind, contact_tags


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
    session: Session, year: int, *, now: datetime | None = None, cal: WorkCalendar | None = None
) -> PlanReport:
    """Plan every letter of `year` still ahead; commit is the caller's."""
    now = now or utcnow()
    cal = cal or WorkCalendar()
    report = PlanReport(year)
    if not cal.knows_year(year):
        report.calendar_warning = unknown_years_message([year])
    campaigns = list(session.scalars(select(Campaign).where(Campaign.is_active.is_(True))))
    windows: dict[int, Window] = {}
    for campaign in campaigns:
        window = campaign_window(campaign, year, cal)
        if window is not None:
            windows[campaign.tag_id] = window
    managers = {m.id: m for m in session.scalars(select(Manager))}
    _hold_year(session, year)
    # Owner by owner, so memory holds one owner's letters, not the year's. Shifts are sorted
    # by each owner's first new letter: the order one pass over the contacts would give.
    shifts: list[tuple[int, list[str]]] = []
    with (
        tailed_copy_writer(session, _LETTERS, _LetterRows.COLUMNS) as writer,
        # Reads on their own connection (PostgreSQL), so the COPY stays open throughout.
        snapshot_reader(session) as reader,
        closing(_BookedDays(reader, year, managers)) as booked,
    ):
        letters = _LetterRows(writer, year, now, {c.id: c for c in campaigns}, windows)
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
                    f"{owner.name}: {len(result.unplaced)} letters found no day within the cap"
                )
            if said:
                shifts.append((wanted[0][0], said))
            writer.write_tailed(letters.rows(owner, result.times))
    report.added = letters.count
    report.shifts = [said for _, owner_shifts in sorted(shifts) for said in owner_shifts]
    if report.added >= _ANALYZE_AFTER:
        refresh_statistics(session, _LETTERS)
    return report


_ANALYZE_AFTER = 10_000  # letters added; fewer do not change the planner's picture much
_LETTERS = table_of(Letter)
_PLANNING_LOCK = 0x706C616E  # "plan": the advisory lock's first key; the year is the second


def _hold_year(session: Session, year: int) -> None:
    """Plan a year one transaction at a time, so letters can be copied straight in.

    Two planners of one year would both see a letter as new and the second would fail on
    the unique constraint. On PostgreSQL the second waits here until the first commits;
    its reads below then see the first's letters (read committed: a snapshot per
    statement). SQLite lets one transaction write at a time and fails a writer whose
    reads are stale, so a plan there never meets another's letters either.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key, :year)"),
            {"key": _PLANNING_LOCK, "year": year},
        )


def _wanted_by_owner(
    session: Session, year: int, windows: dict[int, Window], today: date, report: PlanReport
) -> Iterator[tuple[int, list[tuple[int, Window, date]]]]:
    """Each owner's letters still to plan, in contact and tag order, with the day each window
    opens for them; what is not wanted is counted in the report on the way."""
    planned = (
        select(Letter.id)
        .where(
            Letter.contact_id == contact_tags.c.contact_id,
            Letter.campaign_id == Campaign.id,
            Letter.year == year,
        )
        .exists()
    )
    rows = stream_rows(
        session,
        select(
            Contact.owner_id,
            contact_tags.c.contact_id,
            contact_tags.c.tag_id,
            Contact.has_consent,
            # Only compared with None: read without UTCDateTime's conversion per value.
            type_coerce(Contact.unsubscribed_at, DateTime(timezone=True)),
            type_coerce(Contact.hard_bounced_at, DateTime(timezone=True)),
            planned,
        )
        .join(Contact, Contact.id == contact_tags.c.contact_id)
        .join(Campaign, Campaign.tag_id == contact_tags.c.tag_id)
        .where(contact_tags.c.tag_id.in_(list(windows)))
        .order_by(Contact.owner_id, contact_tags.c.contact_id, contact_tags.c.tag_id),
    )
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


class _LetterRows:
    """Outbox rows for paced letters: who, which campaign, when, and a tail of what is the
    same for every letter of a campaign to one owner's time zone, encoded once."""

    COLUMNS = (
        "contact_id", "campaign_id", "planned_at", "due_at", "tag_id", "kind", "year", "status",
        "occasion_name", "occasion_on", "attempts", "last_error", "is_possible_duplicate",
        "created_at", "updated_at", "expires_at",
    )  # fmt: skip

    def __init__(
        self,
        writer: TailedWriter,
        year: int,
        now: datetime,
        campaigns: dict[int, Campaign],
        windows: dict[int, Window],
    ) -> None:
        self._writer = writer
        self.now = now
        self.count = 0
        self._windows = {w.campaign_id: w for w in windows.values()}
        self._fixed = {
            w.campaign_id: (
                campaigns[w.campaign_id].tag_id,
                campaigns[w.campaign_id].letter_kind,
                year,
                LetterStatus.PLANNED,
                campaigns[w.campaign_id].occasion_name,
                w.occasion,
                0,
                "",
                False,
                now,
                now,
            )
            for w in windows.values()
        }
        self._tails: dict[tuple[str, int], Any] = {}

    def rows(self, owner: Manager, times: dict[Hashable, datetime]) -> Iterator[tuple[Any, ...]]:
        """One owner's rows in the order pacing placed them."""
        now = self.now
        tails = {campaign: self._tail(owner.timezone, campaign) for campaign in self._fixed}
        self.count += len(times)
        # In contact order, not pacing's: a contact's letters then share the pages of the
        # unique index, and the key check finds the contact row it has just locked.
        for key, at in sorted(times.items()):
            contact_id, campaign_id = cast(tuple[int, int], key)
            if at < now:  # a window already open: what falls in the past goes now
                at = now
            yield contact_id, campaign_id, at, at, tails[campaign_id]

    def _tail(self, timezone: str, campaign_id: int) -> Any:
        """The row's end: the campaign's fixed values and its last day in the owner's zone."""
        key = (timezone, campaign_id)
        if key not in self._tails:
            expires_on = self._windows[campaign_id].expires_on
            expires_at = datetime.combine(expires_on, time(23, 59), ZoneInfo(timezone))
            tail = self._fixed[campaign_id] + (expires_at.astimezone(UTC),)
            self._tails[key] = self._writer.encode_tail(tail)
        return self._tails[key]


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
