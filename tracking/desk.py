"""The morning page ("Горячие клики"): what to do today, in one read.

Due reminders first, then open hot-click tasks (newest first) with the warm catalogue
clicks before them, each click's verdict and reasons, and the contact's last notes;
forwarded clicks on the actor's contacts; for marketing, every manager's tasks and the
latest clicks with their verdicts. A fixed number of queries, restricted by the Actor.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.contacts.models import NOTE_KINDS, Contact, HistoryEntry
from mailer.contacts.search import NotFound
from mailer.users.actor import Actor
from tracking.models import Click, Task
from tracking.reminders import ReminderRow, open_reminders
from tracking.tasks import ClickRow, ReasonText, TaskRow, list_clicks, list_tasks, reason_texts
from tracking.verdicts import Verdict

NOTES_PER_CONTACT = 2


@dataclass(frozen=True)
class ForwardedClick:
    contact_id: int
    contact_name: str
    clicked_at: object
    reasons: tuple[ReasonText, ...]


@dataclass
class HotDesk:
    due: list[ReminderRow]
    later: list[ReminderRow]
    tasks: list[TaskRow]
    verdicts: dict[int, tuple[str, tuple[ReasonText, ...]]] = field(default_factory=dict)
    notes: dict[int, list[HistoryEntry]] = field(default_factory=dict)
    forwarded: list[ForwardedClick] = field(default_factory=list)
    clicks: list[ClickRow] = field(default_factory=list)  # marketing: the latest, judged


def hot_desk(session: Session, actor: Actor, today: date) -> HotDesk:
    reminders = open_reminders(session, actor)
    if actor.is_marketing:
        tasks = list_tasks(session, limit=200)
    elif actor.manager_id is None:
        tasks = []
    else:
        tasks = list_tasks(session, manager_id=actor.manager_id, only_open=True, limit=200)
    desk = HotDesk(
        due=[r for r in reminders if r.is_due(today)],
        later=[r for r in reminders if not r.is_due(today)],
        tasks=tasks,
    )
    desk.verdicts = _verdicts(session, [t.id for t in tasks])
    desk.notes = _last_notes(session, {t.contact_id for t in tasks})
    desk.forwarded = _forwarded(session, actor)
    if actor.is_marketing:
        desk.clicks = list_clicks(session, limit=50)
    return desk


def visible_task(session: Session, actor: Actor, task_id: int) -> int:
    """The task's id if the actor may close it; NotFound otherwise (404, not 403)."""
    found = session.scalar(select(Task.id).where(Task.id == task_id, actor.owns(Task.manager_id)))
    if found is None:
        raise NotFound(f"no task {task_id}")
    return found


def _verdicts(
    session: Session, task_ids: list[int]
) -> dict[int, tuple[str, tuple[ReasonText, ...]]]:
    if not task_ids:
        return {}
    stmt = (
        select(Task.id, Click.verdict, Click.reasons)
        .join(Click, Click.id == Task.click_id)
        .where(Task.id.in_(task_ids))
    )
    return {
        task_id: (verdict, reason_texts(reasons))
        for task_id, verdict, reasons in session.execute(stmt)
    }


def _last_notes(session: Session, contact_ids: set[int]) -> dict[int, list[HistoryEntry]]:
    """The latest notes of each contact (a window function: one query for all)."""
    if not contact_ids:
        return {}
    order = (HistoryEntry.created_at.desc(), HistoryEntry.id.desc())
    ranked = (
        select(
            HistoryEntry.id,
            func.row_number().over(partition_by=HistoryEntry.contact_id, order_by=order).label("n"),
        )
        .where(HistoryEntry.contact_id.in_(sorted(contact_ids)), HistoryEntry.kind.in_(NOTE_KINDS))
        .subquery()
    )
    stmt = (
        select(HistoryEntry)
        .join(ranked, ranked.c.id == HistoryEntry.id)
        .where(ranked.c.n <= NOTES_PER_CONTACT)
        .order_by(*order)
    )
    notes: defaultdict[int, list[HistoryEntry]] = defaultdict(list)
    for entry in session.scalars(stmt):
        notes[entry.contact_id].append(entry)
    return dict(notes)


def _forwarded(session: Session, actor: Actor) -> list[ForwardedClick]:
    """Clicks by someone the letter was forwarded to, on the actor's contacts."""
    stmt = (
        select(Click, Contact)
        .join(Contact, Contact.id == Click.contact_id)
        .where(Click.verdict == Verdict.FORWARDED.value, actor.owns(Contact.owner_id))
        .order_by(Click.clicked_at.desc(), Click.id.desc())
        .limit(20)
    )
    return [
        ForwardedClick(c.id, c.full_name or c.email, click.clicked_at, reason_texts(click.reasons))
        for click, c in session.execute(stmt)
    ]
