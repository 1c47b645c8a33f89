"""Moving contacts between owners; every move is kept in the contact's history."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.db import utcnow
from mailer.managers.models import Manager


class TransferError(ValueError):
    """A transfer that cannot be made; the message says why."""


def transfer_contacts(
    session: Session,
    contacts: Iterable[Contact],
    to: Manager,
    *,
    by: Manager | None = None,
    reason: str = "",
) -> int:
    """Give the contacts to `to`; returns how many changed owner (ones already there stay)."""
    if not to.is_active:
        raise TransferError(f"{to.name} <{to.email}> is not active; activate them first")
    now = utcnow()
    moved = 0
    for contact in contacts:
        if contact.owner_id == to.id:
            continue
        session.add(
            HistoryEntry(
                contact_id=contact.id,
                kind=HistoryKind.TRANSFER,
                author=by,
                from_manager_id=contact.owner_id,
                to_manager_id=to.id,
                body=reason,
                created_at=now,
            )
        )
        contact.owner = to
        contact.updated_at = now
        moved += 1
    session.flush()
    return moved
