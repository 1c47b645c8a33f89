"""Erasing a contact on request (the law on personal data), and keeping it erased.

The contact row stays as an anonymous trace, so the history's dates and kinds, the sent
letters' statistics and the clicks keep their place; every personal field is blanked, the
e-mail is replaced by `erased-<id>@erased.invalid`, notes' texts are removed, and the
original address survives only as a SHA-256 hash on the erased list, which `add_contact`
and the import consult: the address cannot be brought back into mailings.
Services flush and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import column, delete, table, update
from sqlalchemy.orm import Session

from mailer.contacts.addresses import normalise_email
from mailer.contacts.models import NOTE_KINDS, Contact, HistoryEntry, HistoryKind
from mailer.contacts.preferred_names import PreferredName
from mailer.contacts.search import NotFound, get_contact
from mailer.delivery.models import DUE_STATUSES, Letter, LetterStatus
from mailer.privacy.models import ErasedAddress
from mailer.privacy.suppression import address_hash
from mailer.users.actor import Actor

ERASED_DOMAIN = "erased.invalid"  # RFC 2606: never a real address
ERASED_TEXT = "Персональные данные удалены по запросу."
_BLANK = {
    "first_name": "",
    "middle_name": "",
    "last_name": "",
    "company_name": "",
    "company_alias": "",
    "company_key": "",
    "company_alias_key": "",
    "position": "",
    "phone": None,
    "consent_source": "",
    "has_consent": False,
    "consent_at": None,
}
# Free texts a manager wrote about the contact in tracking's tables.
_TRACKING_TEXTS = [
    (table("tasks", column("contact_id"), column("note")), "note"),
    (table("reminders", column("contact_id"), column("text")), "text"),
    (table("reminders", column("contact_id"), column("note")), "note"),
]


def erase_contact(session: Session, actor: Actor, contact_id: int, *, now: datetime) -> Contact:
    """Marketing erases a contact; for anyone else there is no such action (NotFound)."""
    if not actor.is_marketing:
        raise NotFound("erase")
    contact = get_contact(session, actor, contact_id)
    if contact.email.endswith("@" + ERASED_DOMAIN):
        raise ValueError("контакт уже удалён")
    digest = address_hash(normalise_email(contact.email))
    if session.get(ErasedAddress, digest) is None:
        session.add(ErasedAddress(address_hash=digest, erased_at=now))
    for name, value in _BLANK.items():
        setattr(contact, name, value)
    contact.email = f"erased-{contact.id}@{ERASED_DOMAIN}"
    contact.unsubscribed_at = contact.unsubscribed_at or now
    contact.tags = []
    session.execute(delete(PreferredName).where(PreferredName.contact_id == contact.id))
    session.execute(
        update(HistoryEntry)
        .where(HistoryEntry.contact_id == contact.id, HistoryEntry.kind.in_(NOTE_KINDS))
        .values(body="")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Letter)
        .where(Letter.contact_id == contact.id, Letter.status.in_(DUE_STATUSES))
        .values(status=LetterStatus.CANCELLED, last_error="erased on request")
        .execution_options(synchronize_session=False)
    )
    for texts, name in _TRACKING_TEXTS:  # tracking's tables, named by string
        session.execute(update(texts).where(texts.c.contact_id == contact.id).values({name: ""}))
    session.add(
        HistoryEntry(
            contact_id=contact.id,
            kind=HistoryKind.UNSUBSCRIBE,
            author_id=actor.manager_id,
            body=ERASED_TEXT,
            created_at=now,
        )
    )
    session.flush()
    return contact
