"""Hot-click tasks as a manager reads them, closing them, and the clicks behind them.

A task is a person's click on an offer link; the catalogue clicks the same person made in
the same letter before it are shown beside it as warm interest ("read the catalogue, then
the discount"). Lists are loaded in a fixed number of queries, however long they are, and
a manager's list is restricted in the query itself: what is not theirs is never loaded.

Services flush and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, raiseload

from campaigns.models import Campaign
from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.managers.models import Manager
from mailer.tags.models import Tag
from tracking.models import PENDING, CampaignLink, Click, Task, TaskOutcome, TaskStatus
from tracking.verdicts import REASON_TEXTS, LinkRole, Verdict

SHARED_QUEUE = "общая очередь"  # who a task without a manager waits for
OUTCOME_TEXTS: dict[TaskOutcome, str] = {
    TaskOutcome.TAKEN: "взял в работу",
    TaskOutcome.NOT_INTERESTED: "не интересно",
}
# What a click's verdict may be, as `list_clicks` filters it.
VERDICTS: tuple[str, ...] = (PENDING, *(verdict.value for verdict in Verdict))
_REASON_TEXT_BY_CODE: dict[str, str] = {reason.value: text for reason, text in REASON_TEXTS.items()}


@dataclass(frozen=True)
class WarmClick:
    """A catalogue link the contact opened in the same letter before the offer."""

    label: str
    clicked_at: datetime


@dataclass(frozen=True)
class TaskRow:
    """One task with what the manager needs to make the call."""

    id: int
    status: TaskStatus
    outcome: TaskOutcome | None
    note: str
    contact_id: int
    contact_name: str
    contact_email: str
    company: str  # as people write it: `Тойота (Toyota)`
    phone: str | None
    manager_id: int | None
    manager_name: str  # SHARED_QUEUE when the task has no manager
    campaign_tag: str
    occasion: str
    offer_label: str  # "" when the link has since been removed
    clicked_at: datetime
    created_at: datetime
    closed_at: datetime | None
    warm: tuple[WarmClick, ...]


@dataclass(frozen=True)
class ReasonText:
    """A verdict's reason: its stable code and what it means, in Russian."""

    code: str
    text: str


@dataclass(frozen=True)
class ClickRow:
    """One recorded click with its verdict and the reasons for it."""

    id: int
    clicked_at: datetime
    verdict: str
    reasons: tuple[ReasonText, ...]
    role: str
    link_label: str  # "" when the link has since been removed
    method: str
    ip: str
    user_agent: str
    letter_id: int | None
    contact_id: int | None
    is_honeypot: bool


def list_tasks(
    session: Session,
    *,
    manager_id: int | None = None,
    only_open: bool = False,
    limit: int = 200,
) -> list[TaskRow]:
    """Tasks, newest click first; with `manager_id`, only that manager's."""
    _check_limit(limit)
    stmt = (
        select(Task, Contact, Tag.code, Campaign.occasion_name, Manager.name, CampaignLink.label)
        .join(Contact, Contact.id == Task.contact_id)
        .join(Campaign, Campaign.id == Task.campaign_id)
        .join(Tag, Tag.id == Campaign.tag_id)
        .outerjoin(Manager, Manager.id == Task.manager_id)
        .outerjoin(CampaignLink, CampaignLink.id == Task.link_id)
        # Everything a row shows is selected above: touching anything else is a bug (N+1).
        .options(raiseload(Contact.owner), raiseload(Contact.tags))
        .order_by(Task.clicked_at.desc(), Task.id.desc())
        .limit(limit)
    )
    if manager_id is not None:
        stmt = stmt.where(Task.manager_id == manager_id)
    if only_open:
        stmt = stmt.where(Task.status == TaskStatus.OPEN)
    found = session.execute(stmt).all()
    warm = _warm_clicks(session, {task.letter_id for task, *_ in found if task.letter_id})
    return [
        TaskRow(
            id=task.id,
            status=task.status,
            outcome=task.outcome,
            note=task.note,
            contact_id=contact.id,
            contact_name=contact.full_name,
            contact_email=contact.email,
            company=contact.company_display,
            phone=contact.phone,
            manager_id=task.manager_id,
            manager_name=manager_name if task.manager_id is not None else SHARED_QUEUE,
            campaign_tag=tag_code,
            occasion=occasion,
            offer_label=label or "",
            clicked_at=task.clicked_at,
            created_at=task.created_at,
            closed_at=task.closed_at,
            warm=tuple(
                WarmClick(click_label, clicked_at)
                for contact_id, clicked_at, click_label in warm.get(task.letter_id, ())
                if contact_id == task.contact_id and clicked_at < task.clicked_at
            ),
        )
        for task, contact, tag_code, occasion, manager_name, label in found
    ]


def _warm_clicks(
    session: Session, letter_ids: set[int]
) -> dict[int | None, list[tuple[int | None, datetime, str]]]:
    """People's catalogue clicks of these letters, oldest first: (contact, time, label)."""
    if not letter_ids:
        return {}
    stmt = (
        select(Click.letter_id, Click.contact_id, Click.clicked_at, CampaignLink.label)
        .outerjoin(CampaignLink, CampaignLink.id == Click.link_id)
        .where(
            Click.letter_id.in_(sorted(letter_ids)),
            Click.verdict == Verdict.HUMAN.value,
            Click.role == LinkRole.CATALOGUE.value,
        )
        .order_by(Click.clicked_at, Click.id)
    )
    by_letter: defaultdict[int | None, list[tuple[int | None, datetime, str]]] = defaultdict(list)
    for letter_id, contact_id, clicked_at, label in session.execute(stmt):
        by_letter[letter_id].append((contact_id, clicked_at, label or LinkRole.CATALOGUE.value))
    return by_letter


def close_task(
    session: Session,
    task_id: int,
    *,
    outcome: TaskOutcome,
    note: str = "",
    now: datetime,
    author_id: int | None = None,
) -> Task:
    """Close an open task with its outcome and note, and say so in the contact's history."""
    if now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    outcome = TaskOutcome(outcome)
    note = note.strip()
    # A conditional UPDATE, not check-then-act: of two managers closing one task at once,
    # exactly one closes it (PostgreSQL re-checks the status after the other's commit).
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status == TaskStatus.OPEN)
        .values(status=TaskStatus.DONE, outcome=outcome, note=note, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    closed = cast(CursorResult[Any], result).rowcount == 1
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise LookupError(f"no task {task_id}")
    if not closed:
        raise ValueError(f"task {task_id} is already closed")
    session.add(
        HistoryEntry(
            contact_id=task.contact_id,
            kind=HistoryKind.TASK,
            author_id=author_id,
            body=_closing_text(session, task, outcome, note),
            created_at=now,
        )
    )
    session.flush()
    return task


def _closing_text(session: Session, task: Task, outcome: TaskOutcome, note: str) -> str:
    """`Задача по клику «скидка» (mar8) закрыта: взял в работу. <note>`"""
    label = None
    if task.link_id is not None:
        label = session.scalar(select(CampaignLink.label).where(CampaignLink.id == task.link_id))
    tag_code = session.scalar(
        select(Tag.code)
        .join(Campaign, Campaign.tag_id == Tag.id)
        .where(Campaign.id == task.campaign_id)
    )
    what = f"Задача по клику «{label}»" if label else "Задача по клику"
    text = f"{what} ({tag_code}) закрыта: {OUTCOME_TEXTS[outcome]}."
    return f"{text} {note}" if note else text


def list_clicks(
    session: Session,
    *,
    letter_id: int | None = None,
    verdict: str | None = None,
    limit: int = 200,
) -> list[ClickRow]:
    """Recorded clicks, newest first, with their reasons in Russian."""
    _check_limit(limit)
    stmt = (
        select(Click, CampaignLink.label)
        .outerjoin(CampaignLink, CampaignLink.id == Click.link_id)
        .order_by(Click.clicked_at.desc(), Click.id.desc())
        .limit(limit)
    )
    if letter_id is not None:
        stmt = stmt.where(Click.letter_id == letter_id)
    if verdict is not None:
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}; use one of {', '.join(VERDICTS)}")
        stmt = stmt.where(Click.verdict == verdict)
    return [
        ClickRow(
            id=click.id,
            clicked_at=click.clicked_at,
            verdict=click.verdict,
            reasons=reason_texts(click.reasons),
            role=click.role,
            link_label=label or "",
            method=click.method,
            ip=click.ip,
            user_agent=click.user_agent,
            letter_id=click.letter_id,
            contact_id=click.contact_id,
            is_honeypot=click.is_honeypot,
        )
        for click, label in session.execute(stmt)
    ]


def reason_texts(codes: str) -> tuple[ReasonText, ...]:
    """Stored comma-separated reason codes, each with its Russian text (an unknown code as is)."""
    return tuple(
        ReasonText(code, _REASON_TEXT_BY_CODE.get(code, code))
        for code in (part.strip() for part in codes.split(","))
        if code
    )


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
