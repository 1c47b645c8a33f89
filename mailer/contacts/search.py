"""The contact book as a signed-in user sees it: one search box, filters, keyset pages.

Every query here starts from what the actor may see (`Actor.owns`): a manager's search,
count and page hold only its own contacts, and another manager's contact is not found.
Pages are keyset pages on the primary key (newest first), so page 2,000 costs what page
1 does, at any size of the book.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.folding import fold
from mailer.contacts.models import Contact
from mailer.managers.models import Manager
from mailer.tags.models import Tag, contact_tags
from mailer.users.actor import Actor

PAGE_SIZE = 50


class NotFound(LookupError):
    """No such object for this actor: absent, or someone else's (the same answer, 404)."""


@dataclass(frozen=True)
class ContactQuery:
    """What the list page asks for."""

    text: str = ""
    tag_code: str = ""
    owner_id: int | None = None  # marketing's filter; a manager always sees only its own
    after_id: int | None = None  # the last id of the previous page


@dataclass(frozen=True)
class ContactPage:
    rows: list[Contact]
    next_after_id: int | None  # None: this is the last page
    total: int | None  # counted only without a text or tag filter (their count scans)


def visible(actor: Actor) -> Select[Contact]:
    """Every contact the actor may see, as a statement to narrow further."""
    return select(Contact).where(actor.owns(Contact.owner_id))


def get_contact(session: Session, actor: Actor, contact_id: int) -> Contact:
    """The contact if the actor may see it; NotFound otherwise, whichever the reason."""
    contact = session.scalar(visible(actor).where(Contact.id == contact_id))
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    return contact


def _text_match(text: str) -> ColumnElement[bool]:
    """Name, e-mail, phone or either spelling of the company contains the text.

    SQLite folds only ASCII letters, so names are tried as typed, lower-case and
    capitalised; company keys are stored folded (case, ё/е, quotes), like the query.
    """
    text = " ".join(text.split())
    variants = {text, text.lower(), text.capitalize(), text.title()}
    names = [
        column.contains(v, autoescape=True)
        for column in (Contact.last_name, Contact.first_name, Contact.middle_name)
        for v in variants
    ]
    key = fold(text)
    conditions = [
        *names,
        Contact.email.contains(text.lower(), autoescape=True),
        Contact.company_key.contains(key, autoescape=True),
        Contact.company_alias_key.contains(key, autoescape=True),
    ]
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 4:
        conditions.append(Contact.phone.contains(digits[1:] if len(digits) > 10 else digits))
    return or_(*conditions)


def _filtered(actor: Actor, query: ContactQuery) -> Select[Contact]:
    stmt = visible(actor)
    if query.text.strip():
        stmt = stmt.where(_text_match(query.text))
    if query.tag_code:
        tagged = (
            select(contact_tags.c.contact_id)
            .join(Tag, Tag.id == contact_tags.c.tag_id)
            .where(Tag.code == query.tag_code)
        )
        stmt = stmt.where(Contact.id.in_(tagged))
    if query.owner_id is not None:
        stmt = stmt.where(Contact.owner_id == query.owner_id)
    return stmt


def search_contacts(
    session: Session, actor: Actor, query: ContactQuery, *, limit: int = PAGE_SIZE
) -> ContactPage:
    """One page of the actor's contacts matching the query, newest first."""
    stmt = _filtered(actor, query)
    total = None
    if not query.text.strip() and not query.tag_code:  # an index count: owner or all
        total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    if query.after_id is not None:
        stmt = stmt.where(Contact.id < query.after_id)
    stmt = stmt.options(selectinload(Contact.tags)).order_by(Contact.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return ContactPage(rows, rows[-1].id if more and rows else None, total)


def owners_for(session: Session, actor: Actor) -> list[Manager]:
    """The owners the actor may filter by: everyone for marketing, itself for a manager."""
    stmt = select(Manager).where(actor.owns(Manager.id)).order_by(Manager.is_house, Manager.name)
    return list(session.scalars(stmt))


def tag_choices(session: Session) -> list[Tag]:
    return list(session.scalars(select(Tag).order_by(Tag.kind, Tag.label)))
