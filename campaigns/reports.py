"""Reading the plan: the year at a glance, and why one contact gets or misses a letter."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.calendar import WorkCalendar
from campaigns.models import Campaign
from campaigns.planning import campaign_window
from mailer.contacts.book import mailing_block
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.models import Manager
from mailer.plurals import plural_en
from mailer.tags.models import TagKind


@dataclass
class YearCalendar:
    """Letters of a year counted by ISO week, campaign, manager and day."""

    year: int
    by_week_campaign: Counter[tuple[int, str]] = field(default_factory=Counter)
    by_week_manager: Counter[tuple[int, str]] = field(default_factory=Counter)
    by_day: Counter[date] = field(default_factory=Counter)

    @property
    def weeks(self) -> list[int]:
        return sorted({w for w, _ in self.by_week_campaign})

    def busiest_days(self, n: int = 10) -> list[tuple[date, int]]:
        return sorted(self.by_day.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def year_calendar(session: Session, year: int) -> YearCalendar:
    """The plan of `year` in the senders' local days (cancelled letters left out)."""
    result = YearCalendar(year)
    stmt = (
        select(Letter.planned_at, Campaign.tag_id, Manager.name, Manager.timezone, Campaign.id)
        .join(Campaign, Campaign.id == Letter.campaign_id)
        .join(Contact, Contact.id == Letter.contact_id)
        .join(Manager, Manager.id == Contact.owner_id)
        .where(Letter.year == year, Letter.status != LetterStatus.CANCELLED)
    )
    codes = {c.id: c.tag.code for c in session.scalars(select(Campaign))}
    zones: dict[str, ZoneInfo] = {}
    for planned_at, _tag, manager, tz, campaign_id in session.execute(stmt):
        local = planned_at.astimezone(zones.setdefault(tz, ZoneInfo(tz)))
        week = local.isocalendar().week
        result.by_week_campaign[(week, codes[campaign_id])] += 1
        result.by_week_manager[(week, manager)] += 1
        result.by_day[local.date()] += 1
    return result


def window_text(campaign: Campaign) -> str:
    """The campaign's window as `campaign_window` computes it: a purchase-month campaign's
    letters go in the month's first working days, the others' before the occasion."""
    days = plural_en(campaign.window_days, "working day")
    if campaign.tag.kind is TagKind.MONTH:
        if campaign.window_days == 1:
            return "the month's first working day"
        return f"the month's first {days}"
    before = plural_en(campaign.days_before, "working day")
    return f"{days} ending {before} before the occasion"


@dataclass(frozen=True)
class Explanation:
    """One campaign's verdict for one contact: will, did, or will not, and why.

    `concerns_contact` is false for a campaign of a tag the contact lacks and no letter:
    the explanation shows those as one summary line, the contact's own ones in full."""

    campaign: str
    verdict: str  # "will get", "got", "will not get", "did not get"
    reasons: list[str]
    concerns_contact: bool = True


def explain_contact(
    session: Session,
    contact: Contact,
    year: int,
    *,
    now: datetime | None = None,
    cal: WorkCalendar | None = None,
) -> list[Explanation]:
    """For each active campaign: why this contact will, did or will not get its letter."""
    now = now or utcnow()
    cal = cal or WorkCalendar()
    tags = {t.id for t in contact.tags}
    letters = {
        letter.campaign_id: letter
        for letter in session.scalars(
            select(Letter).where(Letter.contact_id == contact.id, Letter.year == year)
        )
    }
    block = mailing_block(contact.has_consent, contact.unsubscribed_at, contact.hard_bounced_at)
    owner = contact.owner
    sender = owner.name if owner.is_active else "the house sender (owner inactive)"
    out: list[Explanation] = []
    campaigns = session.scalars(
        select(Campaign).where(Campaign.is_active.is_(True)).order_by(Campaign.id)
    )
    for campaign in campaigns:
        name = f"{campaign.tag.code} ({campaign.letter_kind})"
        letter = letters.get(campaign.id)
        if letter is not None:
            out.append(_explain_letter(name, letter, owner, sender, block))
            continue
        if campaign.tag_id not in tags:
            out.append(Explanation(name, "will not get", [f"no tag {campaign.tag.code}"], False))
            continue
        if block:
            out.append(Explanation(name, "will not get", [block]))
            continue
        window = campaign_window(campaign, year, cal)
        if window is None:
            out.append(Explanation(name, "will not get", [f"no occasion in {year}"]))
        elif window.end < now.date():
            out.append(
                Explanation(
                    name, "did not get", [f"tagged after the window closed on {window.end}"]
                )
            )
        else:
            out.append(
                Explanation(
                    name,
                    "will get",
                    [
                        f"tag {campaign.tag.code}, consent given",
                        f"not planned yet (window {window.start}..{window.end}): run the planner",
                        f"from {sender}",
                    ],
                )
            )
    return out


def _explain_letter(
    name: str, letter: Letter, owner: Manager, sender: str, block: str | None
) -> Explanation:
    local = letter.planned_at.astimezone(ZoneInfo(owner.timezone))
    when = f"planned {local:%Y-%m-%d %H:%M} {owner.timezone} (paced within {owner.name}'s hours)"
    if letter.status is LetterStatus.SENT:
        return Explanation(
            name,
            "got",
            [f"sent {letter.sent_at:%Y-%m-%d %H:%M} UTC", f"Message-ID {letter.message_id}"],
        )
    if letter.status in (LetterStatus.PLANNED, LetterStatus.DEFERRED, LetterStatus.SENDING):
        reasons = [when, f"from {sender}"]
        if block:
            reasons.append(f"but {block} now: it will be cancelled at sending")
        if letter.status is LetterStatus.DEFERRED:
            tries = plural_en(letter.attempts, "attempt")
            reasons.append(f"deferred after {tries}: {letter.last_error}")
        return Explanation(name, "will get" if not block else "will not get", reasons)
    return Explanation(name, "did not get", [f"{letter.status.value}: {letter.last_error}"])
