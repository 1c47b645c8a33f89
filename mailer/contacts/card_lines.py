"""A contact's card as text (`mailer contacts show`): everything the book knows about one
person. (The web desk's card, with its actions, is `card.py`.)

The greeting is the letters' own (`Recipient.greeting`, with the preferred name, as
`render_letter` uses it), so the card shows what the next letter will say, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.contacts.book import mailing_block
from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.contacts.preferred_names import preferred_name
from mailer.letters.rendering import Recipient

# History lines a card shows, the newest.
CARD_HISTORY = 5


def history_line(entry: HistoryEntry) -> str:
    """One history entry as a line: when (UTC), what, who, and what it says."""
    who = entry.author.name if entry.author else "system"
    line = f"{entry.created_at:%Y-%m-%d %H:%M} UTC  {entry.kind.value:<8} {who}"
    if entry.kind is HistoryKind.TRANSFER:
        src = entry.from_manager.name if entry.from_manager else "?"
        dst = entry.to_manager.name if entry.to_manager else "?"
        line += f": {src} → {dst}"
    if entry.body:
        line += f": {entry.body}"
    return line


def tag_names(contact: Contact) -> str:
    """The contact's tags by their Russian names, as the importer reads them back."""
    return ", ".join(t.label for t in contact.tags)


def consent_line(contact: Contact) -> str:
    """Whether consent was given, when (UTC) and the text kept as its source."""
    if not contact.has_consent:
        return "not given" + (f" ({contact.consent_source})" if contact.consent_source else "")
    when = f" on {contact.consent_at:%Y-%m-%d %H:%M} UTC" if contact.consent_at else ""
    source = f": «{contact.consent_source}»" if contact.consent_source else ""
    return f"given{when}{source}"


def mailing_line(contact: Contact) -> str:
    """Whether campaign letters may go to the contact, and why not."""
    block = mailing_block(contact.has_consent, contact.unsubscribed_at, contact.hard_bounced_at)
    return "letters may be sent" if block is None else f"no letters: {block}"


def owner_line(contact: Contact) -> str:
    owner = contact.owner
    line = f"{owner.name} <{owner.email}>"
    if owner.is_house:
        line += " (the house sender)"
    elif not owner.is_active:
        line += " (inactive: letters go from the house sender)"
    return line


@dataclass(frozen=True)
class Card:
    """A contact's card as label/value lines and its newest history lines."""

    title: str
    fields: list[tuple[str, str]]
    history: list[str]
    history_total: int


def contact_card(session: Session, contact: Contact, history: int = CARD_HISTORY) -> Card:
    """The card of a contact: fields, tags, owner, consent, greeting, the last history."""
    preferred = preferred_name(session, contact.id)
    greeting = Recipient.of(contact, preferred).greeting()
    fields = [
        ("last name", contact.last_name),
        ("first name", contact.first_name),
        ("middle name", contact.middle_name),
        *([("preferred name", preferred)] if preferred else []),
        ("company", contact.company_display),
        ("position", contact.position),
        ("e-mail", contact.email_display),
        ("phone", contact.phone or ""),
        ("tags", tag_names(contact)),
        ("owner", owner_line(contact)),
        ("consent", consent_line(contact)),
        ("mailing", mailing_line(contact)),
        ("greeting", f"{greeting.text} ({greeting.reason}: {greeting.message})"),
        ("added", f"{contact.created_at:%Y-%m-%d %H:%M} UTC"),
    ]
    where = HistoryEntry.contact_id == contact.id
    newest = session.scalars(
        select(HistoryEntry)
        .where(where)
        .order_by(HistoryEntry.created_at.desc(), HistoryEntry.id.desc())
        .limit(history)
    ).all()
    total = session.scalar(select(func.count()).select_from(HistoryEntry).where(where)) or 0
    title = f"{contact.full_name or '-'} <{contact.email_display}>"
    return Card(title, fields, [history_line(e) for e in reversed(newest)], total)
