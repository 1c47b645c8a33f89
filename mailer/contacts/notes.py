"""Managers' notes on contacts, and the contacts nobody has worked for a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.contacts.models import NOTE_KINDS, Contact, HistoryEntry, HistoryKind
from mailer.db import utcnow
from mailer.managers.models import Manager


def add_note(
    session: Session,
    contact: Contact,
    body: str,
    *,
    kind: HistoryKind = HistoryKind.NOTE,
    author: Manager | None = None,
    at: datetime | None = None,
) -> HistoryEntry:
    """Record a call, meeting, letter or free note on the contact."""
    if kind not in NOTE_KINDS:
        raise ValueError(f"'{kind}' is not a kind of note; use one of {', '.join(NOTE_KINDS)}")
    if not body.strip():
        raise ValueError("a note needs some text")
    entry = HistoryEntry(
        contact_id=contact.id,
        kind=kind,
        body=body.strip(),
        author=author,
        created_at=at or utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def contact_history(session: Session, contact: Contact) -> list[HistoryEntry]:
    """The contact's history, oldest first."""
    stmt = (
        select(HistoryEntry)
        .where(HistoryEntry.contact_id == contact.id)
        .order_by(HistoryEntry.created_at, HistoryEntry.id)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class Abandoned:
    """A contact without a note for a while; `last_note_at` is None when it never had one."""

    contact: Contact
    last_note_at: datetime | None

    @property
    def quiet_since(self) -> datetime:
        return self.last_note_at or self.contact.created_at


def abandoned_contacts(
    session: Session, days: int, now: datetime | None = None, *, owner_id: int | None = None
) -> list[Abandoned]:
    """Contacts with no note for `days` days, grouped by owner, the longest-quiet first.

    With `owner_id`, only that owner's (a manager's desk asks for its own in the query).
    """
    if days < 0:
        raise ValueError("days must not be negative")
    cutoff = (now or utcnow()) - timedelta(days=days)
    last_note = (
        select(HistoryEntry.contact_id, func.max(HistoryEntry.created_at).label("last_at"))
        .where(HistoryEntry.kind.in_(NOTE_KINDS))
        .group_by(HistoryEntry.contact_id)
        .subquery()
    )
    quiet_since = func.coalesce(last_note.c.last_at, Contact.created_at)
    stmt = (
        select(Contact, last_note.c.last_at)
        .join(Manager, Contact.owner_id == Manager.id)
        .outerjoin(last_note, last_note.c.contact_id == Contact.id)
        .where(quiet_since < cutoff)
        .order_by(Manager.name, Manager.id, quiet_since, Contact.id)
    )
    if owner_id is not None:
        stmt = stmt.where(Contact.owner_id == owner_id)
    return [Abandoned(c, last) for c, last in session.execute(stmt).all()]
