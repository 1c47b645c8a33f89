"""Planning a year of letters: one row per contact, campaign and year, paced like a person.

Re-planning adds only what is new (a contact tagged in June gets the letters still ahead
of it that year); the unique constraints make a second letter impossible either way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
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
from mailer.contacts import mailing_block
from mailer.db import bulk_insert, utcnow
from mailer.models import Contact, Letter, LetterStatus, Manager, TagKind, contact_tags


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
    planned = {
        (cid, camp): owner
        for cid, camp, owner in session.execute(
            select(Letter.contact_id, Letter.campaign_id, Contact.owner_id)
            .join(Contact, Contact.id == Letter.contact_id)
            .where(Letter.year == year)
        )
    }
    managers = {m.id: m for m in session.scalars(select(Manager))}
    wanted: dict[int, list[tuple[int, Window]]] = defaultdict(list)  # owner → letters
    rows = session.execute(
        select(
            contact_tags.c.contact_id,
            contact_tags.c.tag_id,
            Contact.owner_id,
            Contact.has_consent,
            Contact.unsubscribed_at,
            Contact.hard_bounced_at,
        )
        .join(Contact, Contact.id == contact_tags.c.contact_id)
        .where(contact_tags.c.tag_id.in_(list(windows)))
        .order_by(contact_tags.c.contact_id, contact_tags.c.tag_id)
    )
    today = now.date()
    for contact_id, tag_id, owner_id, has_consent, unsubscribed_at, bounced_at in rows:
        window = windows[tag_id]
        if (contact_id, window.campaign_id) in planned:
            report.already_planned += 1
        elif reason := mailing_block(has_consent, unsubscribed_at, bounced_at):
            report.skipped[reason] += 1
        elif window.end < today:
            report.window_passed += 1
        else:
            wanted[owner_id].append((contact_id, window))
    booked = _booked_days(session, year, managers)
    by_id = {c.id: c for c in campaigns}
    new_rows: list[dict[str, object]] = []
    for owner_id, letters in wanted.items():
        owner = managers[owner_id]
        tz = ZoneInfo(owner.timezone)
        requests = [
            PaceRequest((contact_id, w.campaign_id), max(w.start, today), w.end)
            for contact_id, w in letters
        ]
        result = pace(
            requests, _schedule(owner), cal, booked=booked.get(owner_id), seed=f"{year}:{owner_id}"
        )
        for shift in result.earlier:
            report.shifts.append(f"{owner.name}: {shift}")
        by_key = dict(((contact_id, w.campaign_id), w) for contact_id, w in letters)
        for (contact_id, campaign_id), at in result.times.items():
            window = by_key[(contact_id, campaign_id)]
            at = max(at, now)  # a window already open: what falls in the past goes now
            campaign = by_id[campaign_id]
            new_rows.append(
                {
                    "contact_id": contact_id,
                    "campaign_id": campaign_id,
                    "tag_id": campaign.tag_id,
                    "kind": campaign.letter_kind,
                    "year": year,
                    "status": LetterStatus.PLANNED,
                    "occasion_name": campaign.occasion_name,
                    "occasion_on": window.occasion,
                    "planned_at": at,
                    "due_at": at,
                    "expires_at": datetime.combine(window.expires_on, time(23, 59), tz).astimezone(
                        UTC
                    ),
                    "attempts": 0,
                    "last_error": "",
                    "is_possible_duplicate": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if result.unplaced:
            report.shifts.append(
                f"{owner.name}: {len(result.unplaced)} letters found no day within the cap"
            )
    for start in range(0, len(new_rows), 10_000):
        bulk_insert(
            session, Letter.__table__, new_rows[start : start + 10_000], skip_conflicts=True
        )
    report.added = len(new_rows)
    return report


def _schedule(owner: Manager) -> OwnerSchedule:
    return OwnerSchedule(owner.timezone, owner.work_starts_at, owner.work_ends_at, owner.daily_cap)


def _booked_days(
    session: Session, year: int, managers: dict[int, Manager]
) -> dict[int, dict[date, int]]:
    """Letters already planned per owner and local day, so a re-plan respects the cap."""
    booked: dict[int, dict[date, int]] = defaultdict(Counter)
    stmt = (
        select(Contact.owner_id, Letter.planned_at)
        .join(Contact, Contact.id == Letter.contact_id)
        .where(Letter.year == year, Letter.status != LetterStatus.CANCELLED)
    )
    zones = {mid: ZoneInfo(m.timezone) for mid, m in managers.items()}
    for owner_id, planned_at in session.execute(stmt):
        booked[owner_id][planned_at.astimezone(zones[owner_id]).date()] += 1
    return booked
