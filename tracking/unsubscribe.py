"""Unsubscribing: the law (38-FZ) and RFC 8058 — at once, for good, idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.delivery.models import DUE_STATUSES, Letter, LetterStatus

REASON = "unsubscribed"


def unsubscribe(session: Session, contact_id: int, *, now: datetime, how: str) -> bool:
    """Unsubscribe a contact: nothing more is planned or sent to it, and what was planned
    is cancelled with the reason. True the first time, False when already unsubscribed
    (a mail client may POST twice); LookupError for a contact no longer in the book."""
    if session.get(Contact, contact_id) is None:
        raise LookupError(f"no contact {contact_id}")
    # One conditional UPDATE: of two POSTs at once, exactly one finds it still subscribed.
    result = session.execute(
        update(Contact)
        .where(Contact.id == contact_id, Contact.unsubscribed_at.is_(None))
        .values(unsubscribed_at=now)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return False
    session.execute(
        update(Letter)
        .where(Letter.contact_id == contact_id, Letter.status.in_(DUE_STATUSES))
        .values(status=LetterStatus.CANCELLED, last_error=REASON, updated_at=now)
    )
    session.add(
        HistoryEntry(
            contact_id=contact_id,
            kind=HistoryKind.UNSUBSCRIBE,
            body=f"Отписался от рассылки ({how})",
            created_at=now,
        )
    )
    session.flush()
    return True
