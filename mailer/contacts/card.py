"""A contact's card and what a signed-in user does on it: edit, note, fix, transfer, add.

Each function takes the Actor and loads the contact through `search.get_contact`, so a
manager can act only on its own contacts (anything else is NotFound) and only marketing
transfers. Services flush and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.book import (
    SKIP_BOUNCED,
    SKIP_NO_CONSENT,
    SKIP_UNSUBSCRIBED,
    Consent,
    ContactError,
    add_contact,
    clean_fields,
    mailing_block,
)
from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.contacts.notes import add_note
from mailer.contacts.preferred_names import preferred_name, set_preferred_name
from mailer.contacts.search import NotFound, get_contact
from mailer.contacts.transfers import transfer_contacts
from mailer.delivery.models import Letter
from mailer.letters.greeting import Greeting, greet
from mailer.letters.rendering import Recipient
from mailer.managers.models import Manager
from mailer.privacy.suppression import refuse_erased
from mailer.tags.taxonomy import resolve_tags
from mailer.users.actor import Actor

BLOCK_TEXTS = {
    SKIP_NO_CONSENT: "нет согласия на рассылку",
    SKIP_UNSUBSCRIBED: "отписался",
    SKIP_BOUNCED: "адрес не существует (жёсткий отказ)",
}


@dataclass(frozen=True)
class Card:
    contact: Contact
    greeting: Greeting  # what letters will say, and why
    preferred_name: str
    mailing_block: str  # "" when letters may go; else why not, in Russian
    history: list[HistoryEntry]  # newest first
    letters: list[Letter]  # campaign letters to the contact, newest first


def contact_card(session: Session, actor: Actor, contact_id: int) -> Card:
    contact = get_contact(session, actor, contact_id)
    preferred = preferred_name(session, contact.id)
    greeting = Recipient.of(contact, preferred).greeting()  # the letters' own rule
    block = mailing_block(contact.has_consent, contact.unsubscribed_at, contact.hard_bounced_at)
    history = session.scalars(
        select(HistoryEntry)
        .where(HistoryEntry.contact_id == contact.id)
        .options(
            selectinload(HistoryEntry.author),
            selectinload(HistoryEntry.from_manager),
            selectinload(HistoryEntry.to_manager),
        )
        .order_by(HistoryEntry.created_at.desc(), HistoryEntry.id.desc())
        .limit(500)
    )
    letters = session.scalars(
        select(Letter)
        .where(Letter.contact_id == contact.id)
        .order_by(Letter.planned_at.desc(), Letter.id.desc())
        .limit(200)
    )
    return Card(
        contact,
        greeting,
        preferred,
        BLOCK_TEXTS.get(block or "", block or ""),
        list(history),
        list(letters),
    )


def contact_letter(session: Session, actor: Actor, contact_id: int, letter_id: int) -> Letter:
    """One letter of a contact the actor may see; NotFound for any other pair of ids."""
    contact = get_contact(session, actor, contact_id)
    letter = session.scalar(
        select(Letter).where(Letter.id == letter_id, Letter.contact_id == contact.id)
    )
    if letter is None:
        raise NotFound(f"no letter {letter_id} of contact {contact_id}")
    return letter


def _author(session: Session, actor: Actor) -> Manager | None:
    return session.get(Manager, actor.manager_id) if actor.manager_id else None


def fix_name_fields(session: Session, actor: Actor, contact_id: int) -> Contact:
    """Put the name parts the greeting found into the fields they belong in (one click)."""
    contact = get_contact(session, actor, contact_id)
    parts = greet(contact.first_name, contact.middle_name, contact.last_name).parts
    if not parts.needs_fix or not parts.given_name:
        raise ContactError("поля имени выглядят правильно: исправлять нечего")
    contact.first_name = parts.given_name
    contact.middle_name = parts.patronymic or ""
    contact.last_name = parts.surname or contact.last_name
    session.flush()
    return contact


@dataclass(frozen=True)
class EditForm:
    """The fields the card's form edits (the e-mail is the contact's key and stays)."""

    first_name: str
    middle_name: str
    last_name: str
    company: str
    position: str
    phone: str
    preferred_name: str


def edit_contact(
    session: Session, actor: Actor, contact_id: int, form: EditForm, *, phone_region: str
) -> Contact:
    contact = get_contact(session, actor, contact_id)
    fields = clean_fields(
        email=contact.email,
        first_name=form.first_name,
        middle_name=form.middle_name,
        last_name=form.last_name,
        company=form.company,
        position=form.position,
        phone=form.phone,
        phone_region=phone_region,
    )
    for name, value in fields.columns().items():
        if name != "email":
            setattr(contact, name, value)
    set_preferred_name(session, contact.id, form.preferred_name)
    session.flush()
    return contact


def note_contact(
    session: Session, actor: Actor, contact_id: int, body: str, kind: HistoryKind
) -> HistoryEntry:
    contact = get_contact(session, actor, contact_id)
    return add_note(session, contact, body, kind=kind, author=_author(session, actor))


def transfer_contact(
    session: Session, actor: Actor, contact_id: int, to_manager_id: int, reason: str
) -> Contact:
    """Marketing gives a contact to another owner; for anyone else there is no such action."""
    if not actor.is_marketing:
        raise NotFound("transfer")
    contact = get_contact(session, actor, contact_id)
    to = session.get(Manager, to_manager_id)
    if to is None:
        raise ContactError("нет такого менеджера")
    transfer_contacts(session, [contact], to, by=_author(session, actor), reason=reason.strip())
    return contact


def new_contact(
    session: Session,
    actor: Actor,
    raw: dict[str, str],
    *,
    owner_id: int | None,
    same_company: bool,
    phone_region: str,
) -> Contact:
    """Add a contact under the book's one ownership rule; a manager adds only to itself."""
    owner_ref = actor.manager_id if not actor.is_marketing else owner_id
    owner = session.get(Manager, owner_ref) if owner_ref else None
    if owner is None:
        raise ContactError("укажите владельца контакта")
    consent = raw.get("consent", "").strip()
    fields = clean_fields(
        email=raw.get("email", ""),
        first_name=raw.get("first_name", ""),
        middle_name=raw.get("middle_name", ""),
        last_name=raw.get("last_name", ""),
        company=raw.get("company", ""),
        position=raw.get("position", ""),
        phone=raw.get("phone", ""),
        consent=Consent(True, None, consent) if consent else None,
        phone_region=phone_region,
    )
    refuse_erased(session.connection(), fields.email)
    return add_contact(
        session,
        fields,
        owner=owner,
        tags=resolve_tags(session, raw.get("tags", "")),
        is_same_company_ok=same_company,
    )
