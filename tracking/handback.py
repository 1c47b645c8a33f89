"""What a judged click leaves behind: a line in the contact's history and, for a person
reading the offer, a task for whoever owns the contact now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.managers.models import Manager
from tracking.models import CampaignLink, Click, Task
from tracking.verdicts import Verdict


def record_history(session: Session, click: Click, now: datetime) -> None:
    """A person's click, or a forwarded one, goes into the contact's history; a machine's
    stays in the clicks table only (the history is what a manager reads)."""
    if click.contact_id is None or click.verdict not in (Verdict.HUMAN, Verdict.FORWARDED):
        return
    label = _label(session, click)
    body = (
        f"Переход по ссылке «{label}»"
        if click.verdict == Verdict.HUMAN
        else f"Письмо переслали коллеге: переход по ссылке «{label}»"
    )
    session.add(
        HistoryEntry(contact_id=click.contact_id, kind=HistoryKind.CLICK, body=body, created_at=now)
    )


def hand_back(session: Session, click: Click, house_assignee: str, now: datetime) -> int:
    """Open a task for the contact's current owner (1), or none when one is open (0).

    The house sender is a persona: its contacts' tasks go to `house_assignee` (a
    manager's e-mail) or to the shared queue (no manager).
    """
    if click.contact_id is None or click.campaign_id is None:
        return 0
    contact = session.get(Contact, click.contact_id)
    if contact is None:
        return 0
    assignee = _assignee(session, contact.owner, house_assignee)
    task = Task(
        contact_id=contact.id,
        campaign_id=click.campaign_id,
        letter_id=click.letter_id,
        click_id=click.id,
        link_id=click.link_id,
        manager_id=assignee.id if assignee else None,
        clicked_at=click.clicked_at,
        created_at=now,
    )
    try:
        with session.begin_nested():  # one open task per contact and campaign: the index
            session.add(task)
    except IntegrityError:
        return 0
    who = assignee.name if assignee else "общая очередь"
    session.add(
        HistoryEntry(
            contact_id=contact.id,
            kind=HistoryKind.TASK,
            body=f"Горячий клик по «{_label(session, click)}»: задача — {who}",
            to_manager_id=assignee.id if assignee else None,
            created_at=now,
        )
    )
    return 1


def _assignee(session: Session, owner: Manager, house_assignee: str) -> Manager | None:
    if not owner.is_house and owner.is_active:
        return owner
    if house_assignee:
        return session.scalar(select(Manager).where(Manager.email == house_assignee))
    return None


def _label(session: Session, click: Click) -> str:
    if click.link_id is None:
        return "удалённая ссылка"
    link = session.get(CampaignLink, click.link_id)
    return link.label if link else "удалённая ссылка"
