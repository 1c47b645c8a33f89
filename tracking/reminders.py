"""Reminders: a manager's own tasks on contacts, sharing the list with hot clicks.

A reminder is on the list of the contact's owner when it was set. Due and overdue ones
lead the morning page and the digest. Every query goes through the Actor, so a manager
sets, sees and closes only reminders on its own contacts.
Services flush and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.contacts.search import NotFound, get_contact
from mailer.managers.models import Manager
from mailer.users.actor import Actor
from tracking.models import Reminder, TaskStatus

MAX_TEXT = 1000


@dataclass(frozen=True)
class ReminderRow:
    id: int
    due_on: date
    text: str
    contact_id: int
    contact_name: str
    company: str
    phone: str | None
    manager_id: int | None
    status: TaskStatus
    contact_email: str
    manager_name: str  # "" when its manager is gone

    def is_due(self, today: date) -> bool:
        return self.due_on <= today


def add_reminder(
    session: Session, actor: Actor, contact_id: int, due_on: date, text: str, *, today: date
) -> Reminder:
    """Set a reminder on a contact the actor may see; not in the past, with some text."""
    contact = get_contact(session, actor, contact_id)
    text = " ".join(text.split())
    if not text:
        raise ValueError("напишите, о чём напомнить")
    if len(text) > MAX_TEXT:
        raise ValueError(f"текст напоминания длиннее {MAX_TEXT} символов")
    if due_on < today:
        raise ValueError(f"дата {due_on:%d.%m.%Y} уже прошла")
    reminder = Reminder(
        contact_id=contact.id, manager_id=contact.owner_id, due_on=due_on, text=text
    )
    session.add(reminder)
    session.flush()
    return reminder


def open_reminders(
    session: Session, actor: Actor, *, manager_id: int | None = None, due_by: date | None = None
) -> list[ReminderRow]:
    """Open reminders the actor may see, the earliest due first; `due_by`: only those due."""
    stmt = _rows_query(actor, manager_id).where(Reminder.status == TaskStatus.OPEN)
    if due_by is not None:
        stmt = stmt.where(Reminder.due_on <= due_by)
    return _rows(session, stmt)


def list_reminders(
    session: Session, actor: Actor, *, manager_id: int | None = None, only_open: bool = False
) -> list[ReminderRow]:
    """Reminders the actor may see, closed ones too unless `only_open`, earliest due first."""
    stmt = _rows_query(actor, manager_id)
    if only_open:
        stmt = stmt.where(Reminder.status == TaskStatus.OPEN)
    return _rows(session, stmt)


def _rows_query(actor: Actor, manager_id: int | None) -> Select[Reminder, Contact, str]:
    stmt = (
        select(Reminder, Contact, Manager.name)
        .join(Contact, Contact.id == Reminder.contact_id)
        .outerjoin(Manager, Manager.id == Reminder.manager_id)
        .where(actor.owns(Reminder.manager_id))
        .order_by(Reminder.due_on, Reminder.id)
        .limit(500)
    )
    if manager_id is not None:
        stmt = stmt.where(Reminder.manager_id == manager_id)
    return stmt


def _rows(session: Session, stmt: Select[Reminder, Contact, str]) -> list[ReminderRow]:
    return [
        ReminderRow(
            id=r.id,
            due_on=r.due_on,
            text=r.text,
            contact_id=c.id,
            contact_name=c.full_name or c.email,
            company=c.company_display,
            phone=c.phone,
            manager_id=r.manager_id,
            status=r.status,
            contact_email=c.email,
            manager_name=manager_name or "",
        )
        for r, c, manager_name in session.execute(stmt)
    ]


def close_reminder(
    session: Session, actor: Actor, reminder_id: int, *, note: str = "", now: datetime
) -> Reminder:
    """Mark it done and say so in the contact's history."""
    reminder = session.scalar(
        select(Reminder).where(Reminder.id == reminder_id, actor.owns(Reminder.manager_id))
    )
    if reminder is None:
        raise NotFound(f"no reminder {reminder_id}")
    if reminder.status is TaskStatus.DONE:
        raise ValueError("напоминание уже закрыто")
    reminder.status = TaskStatus.DONE
    reminder.note = note.strip()
    reminder.closed_at = now
    body = f"Напоминание «{reminder.text}» выполнено." + (
        f" {reminder.note}" if reminder.note else ""
    )
    session.add(
        HistoryEntry(
            contact_id=reminder.contact_id,
            kind=HistoryKind.TASK,
            author_id=actor.manager_id,
            body=body,
            created_at=now,
        )
    )
    session.flush()
    return reminder
