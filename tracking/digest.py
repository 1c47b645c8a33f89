"""The morning digest: one letter a working morning listing a manager's due and overdue
reminders and new hot clicks; either alone makes the letter.

A manager is due when it is a working day on their own clock (the Russian production
calendar) and their DIGEST_HOUR has come; the digest lists their open tasks created before
that hour today and not yet announced, and goes out once that morning: a task created
later waits for the next working morning (it is on the hot-click list meanwhile). Tasks of
the shared queue (no manager) go to nobody's digest. The letter comes from the product
itself: From is the house sender, To the manager.

Unlike a service, `send_digests` owns its units of work, as delivery does: it claims each
manager's tasks (a conditional UPDATE ... WHERE digested_at IS NULL; the rows it returns
are this run's), composes the letters and commits before the first byte goes out, so two
schedulers or a double run never announce a task twice. A digest the relay defers or
refuses gives its claim back (digested_at NULL again) and the next run retries it. A run
killed between the commit and the relay's answer loses that digest, never doubles it.
The day itself is claimed the same way (tracking/digest_days.py), so reminders, which are
listed every working morning until closed, make one digest a day however many runs there are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Exists, Row, exists, select, update
from sqlalchemy.orm import Session

from campaigns.calendar import WorkCalendar
from campaigns.models import Campaign
from mailer.contacts.company import company_display
from mailer.contacts.models import Contact
from mailer.contacts.phones import display_phone
from mailer.delivery.messenger import Messenger
from mailer.letters.composing import LetterSettings
from mailer.letters.mime import Address, build_message, make_message_id
from mailer.letters.rendering import Occasion, letter_environment
from mailer.managers.models import Manager
from mailer.managers.services import find_house_sender
from mailer.smtp import Outcome, Outgoing
from tracking.digest_days import claim_day, give_back_day, had_day, mark_sent
from tracking.models import CampaignLink, Reminder, Task, TaskStatus

log = logging.getLogger(__name__)

TEMPLATES = "_digest"  # in templates/letters/; a folder starting with "_" is no letter kind


@dataclass(frozen=True)
class DigestReport:
    """Digests sent, and digests due but not sent this run (their tasks wait for the next)."""

    sent: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class DigestItem:
    """One hot click as the digest lists it: plain text, escaped by the HTML template."""

    name: str
    company: str
    phone: str
    email: str
    offer: str
    campaign: str
    clicked: str  # on the manager's clock
    task_url: str


@dataclass(frozen=True)
class DueReminder:
    """A reminder due today or overdue, as the digest lists it before the hot clicks."""

    due: str
    is_overdue: bool
    text: str
    name: str
    company: str
    phone: str


@dataclass(frozen=True)
class _Digest:
    manager_id: int
    day: date
    task_ids: list[int]
    outgoing: Outgoing


def send_digests(
    session_factory: Callable[[], Session],
    messenger: Messenger,
    *,
    letter_settings: LetterSettings,
    digest_hour: int,
    now: datetime,
) -> DigestReport:
    """Send every due manager one digest of their new hot clicks; see the module docstring."""
    calendar = WorkCalendar()
    with session_factory() as session:
        due = _due_managers(session, calendar, digest_hour=digest_hour, now=now)
        if not due:
            return DigestReport()
        house = find_house_sender(session)
        if house is None:
            log.warning("digest: no house sender to send from; %s digests wait", len(due))
            return DigestReport(skipped=len(due))
        digests = _prepare(session, due, house, letter_settings, now=now)
        session.commit()  # the claims, before the first byte goes out

        sent: set[int] = set()
        try:
            for index, result in messenger.send_all([d.outgoing for d in digests]):
                digest = digests[index]
                if result.outcome is Outcome.SENT:
                    sent.add(index)
                    mark_sent(session, digest.manager_id, digest.day, now=now)
                else:
                    log.warning("digest to manager %s not sent: %s", digest.manager_id, result)
        finally:
            # Whatever the relay did not take, or never answered for, is announced next run.
            for index, digest in enumerate(digests):
                if index not in sent:
                    _give_back(session, digest.task_ids, claimed_at=now)
                    give_back_day(session, digest.manager_id, digest.day, claimed_at=now)
            session.commit()
    return DigestReport(sent=len(sent), skipped=len(due) - len(sent))


def _prepare(
    session: Session,
    due: list[tuple[Manager, datetime]],
    house: Manager,
    settings: LetterSettings,
    *,
    now: datetime,
) -> list[_Digest]:
    """Claim each due manager's day and new tasks, and compose their letters."""
    digests: list[_Digest] = []
    for manager, cutoff in due:
        day = cutoff.date()
        if not claim_day(session, manager.id, day, now=now):
            continue  # another run is sending this morning's digest
        task_ids = _claim(session, manager.id, cutoff=cutoff, now=now)
        reminders = _due_reminders(session, manager.id, day)
        if not task_ids and not reminders:  # another run took the tasks first
            give_back_day(session, manager.id, day, claimed_at=now)
            continue
        outgoing = _compose(
            session, manager, house, task_ids, reminders, settings, cutoff=cutoff, now=now
        )
        digests.append(_Digest(manager.id, day, task_ids, outgoing))
    return digests


def _due_managers(
    session: Session, calendar: WorkCalendar, *, digest_hour: int, now: datetime
) -> list[tuple[Manager, datetime]]:
    """Active managers with unannounced open tasks or due reminders whose digest time has
    come today, each with that time (tasks created before it are listed); those who had it
    today are not."""
    new_tasks = exists().where(
        Task.manager_id == Manager.id,
        Task.status == TaskStatus.OPEN,
        Task.digested_at.is_(None),
        Task.created_at < now,
    )
    # Somewhere on Earth it is already tomorrow: each manager's own day is checked below.
    maybe_due = _reminders_due(Manager.id, now.date() + timedelta(days=1))
    managers = session.scalars(
        select(Manager)
        .where(Manager.is_active.is_(True), Manager.is_house.is_(False), new_tasks | maybe_due)
        .order_by(Manager.id)
    ).all()
    due = []
    for manager in managers:
        local = now.astimezone(ZoneInfo(manager.timezone))
        if local.hour < digest_hour or not calendar.is_working_day(local.date()):
            continue
        cutoff = local.replace(hour=digest_hour, minute=0, second=0, microsecond=0)
        if had_day(session, manager.id, local.date()) or _had_digest_since(
            session, manager.id, cutoff
        ):
            continue
        if _has_news(session, manager.id, cutoff):
            due.append((manager, cutoff))
    return due


def _reminders_due(manager_id: Any, day: date) -> Exists:
    return exists().where(
        Reminder.manager_id == manager_id,
        Reminder.status == TaskStatus.OPEN,
        Reminder.due_on <= day,
    )


def _has_news(session: Session, manager_id: int, cutoff: datetime) -> bool:
    """Unannounced tasks from before the digest time, or reminders due on that day."""
    new_tasks = exists().where(
        Task.manager_id == manager_id,
        Task.status == TaskStatus.OPEN,
        Task.digested_at.is_(None),
        Task.created_at < cutoff,
    )
    due = _reminders_due(manager_id, cutoff.date())
    return bool(session.scalar(select(new_tasks | due)))


def _had_digest_since(session: Session, manager_id: int, cutoff: datetime) -> bool:
    """A digest that announced tasks today (also one sent before the digests table was)."""
    return bool(
        session.scalar(
            select(exists().where(Task.manager_id == manager_id, Task.digested_at >= cutoff))
        )
    )


def _claim(session: Session, manager_id: int, *, cutoff: datetime, now: datetime) -> list[int]:
    """Mark the manager's unannounced tasks as this run's; the ids are the ones it got."""
    claimed = session.scalars(
        update(Task)
        .where(
            Task.manager_id == manager_id,
            Task.status == TaskStatus.OPEN,
            Task.digested_at.is_(None),
            Task.created_at < cutoff,
        )
        .values(digested_at=now)
        .returning(Task.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed)


def _give_back(session: Session, task_ids: Sequence[int], *, claimed_at: datetime) -> None:
    session.execute(
        update(Task)
        .where(Task.id.in_(task_ids), Task.digested_at == claimed_at)
        .values(digested_at=None)
        .execution_options(synchronize_session=False)
    )


_ITEM_ROWS = (
    select(
        Task.id,
        Task.clicked_at,
        Contact.first_name,
        Contact.middle_name,
        Contact.last_name,
        Contact.company_name,
        Contact.company_alias,
        Contact.phone,
        Contact.email,
        Campaign.occasion_name,
        CampaignLink.label,
    )
    .join(Contact, Contact.id == Task.contact_id)
    .join(Campaign, Campaign.id == Task.campaign_id)
    .outerjoin(CampaignLink, CampaignLink.id == Task.link_id)
    .order_by(Task.clicked_at, Task.id)
)


def _compose(
    session: Session,
    manager: Manager,
    house: Manager,
    task_ids: list[int],
    reminders: list[DueReminder],
    settings: LetterSettings,
    *,
    cutoff: datetime,
    now: datetime,
) -> Outgoing:
    """The digest's bytes for one manager, rendered on their clock."""
    zone = ZoneInfo(manager.timezone)
    rows = cast(Sequence[Row[Any]], session.execute(_ITEM_ROWS.where(Task.id.in_(task_ids))).all())
    items = [_item(row, zone, settings.public_base_url) for row in rows]
    local = now.astimezone(zone)
    context: dict[str, Any] = {
        "greeting": _greeting(local),
        "day": Occasion("", local.date()).date_text,
        "count": len(items),
        "items": items,
        "digest_time": f"{cutoff.hour}:{cutoff:%M}",
        "reminders": reminders,
    }
    env = letter_environment()
    subject = " ".join(env.get_template(f"{TEMPLATES}/subject.txt").render(context).split())
    text = env.get_template(f"{TEMPLATES}/body.txt").render(context).strip() + "\n"
    html = env.get_template(f"{TEMPLATES}/body.html").render(context).strip() + "\n"
    raw = build_message(
        sender=Address(house.name, house.email),
        to=Address(manager.name, manager.email),
        reply_to=None,
        subject=subject,
        text=text,
        html=html,
        message_id=make_message_id(house.email.rpartition("@")[2]),
        date=local,
        extra_headers=[("Auto-Submitted", "auto-generated")],  # RFC 3834: no auto-replies
    )
    return Outgoing(settings.envelope_from or house.email, manager.email, raw)


def _item(row: Row[Any], zone: ZoneInfo, base_url: str) -> DigestItem:
    name = _line(" ".join(p for p in (row.last_name, row.first_name, row.middle_name) if p))
    company = _line(company_display(row.company_name, row.company_alias))
    return DigestItem(
        name=name or "Имя не указано",
        company=company or "Компания не указана",
        phone=display_phone(row.phone),
        email=row.email,
        offer=_line(row.label or "") or "ссылка удалена",
        campaign=_line(row.occasion_name),
        clicked=f"{row.clicked_at.astimezone(zone):%d.%m.%Y, %H:%M}",
        task_url=f"{base_url}/tasks/{row.id}",
    )


def _due_reminders(session: Session, manager_id: int, today: date) -> list[DueReminder]:
    """The manager's open reminders due today or overdue: they lead the digest."""
    stmt = (
        select(Reminder.due_on, Reminder.text, Contact)
        .join(Contact, Contact.id == Reminder.contact_id)
        .where(
            Reminder.manager_id == manager_id,
            Reminder.status == TaskStatus.OPEN,
            Reminder.due_on <= today,
        )
        .order_by(Reminder.due_on, Reminder.id)
        .limit(100)
    )
    return [
        DueReminder(
            due=f"{due_on:%d.%m.%Y}",
            is_overdue=due_on < today,
            text=_line(text),
            name=_line(contact.full_name) or contact.email,
            company=_line(contact.company_display),
            phone=display_phone(contact.phone),
        )
        for due_on, text, contact in session.execute(stmt)
    ]


def _greeting(local: datetime) -> str:
    """The digest comes in the morning, unless the hour is set later or a run was missed."""
    if local.hour < 12:
        return "Доброе утро!"
    return "Добрый день!" if local.hour < 18 else "Добрый вечер!"


def _line(value: str) -> str:
    return " ".join(value.split())
