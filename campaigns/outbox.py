"""The outbox as marketing reads it: letters by status, the ones in trouble with their
retry or bounce details, and one contact's letters with why they did or did not go out.

The explanation is `campaigns explain`'s (`reports.explain_contact`), so the page and the
command never disagree. Read only: nothing here changes a letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from campaigns.reports import Explanation, explain_contact
from mailer.contacts.folding import fold
from mailer.contacts.models import Contact
from mailer.db import utcnow
from mailer.delivery.models import Letter, LetterStatus
from mailer.delivery.retry import GIVE_UP_AFTER
from mailer.tags.models import Tag

TROUBLE = (LetterStatus.DEFERRED, LetterStatus.BOUNCED, LetterStatus.FAILED)
PER_PAGE = 50
SEARCH_LIMIT = 20


def status_counts(session: Session, *, year: int | None = None) -> dict[LetterStatus, int]:
    """Letters per status (every status present, zero where none), in one GROUP BY."""
    stmt = select(Letter.status, func.count()).group_by(Letter.status)
    if year is not None:
        stmt = stmt.where(Letter.year == year)
    found = {status: n for status, n in session.execute(stmt)}
    return {status: found.get(status, 0) for status in LetterStatus}


@dataclass(frozen=True)
class TroubleLetter:
    """A letter the relay has not taken: deferred (with its next try), bounced or failed."""

    letter_id: int
    email: str
    campaign: str
    status: LetterStatus
    attempts: int
    last_code: int | None
    last_error: str
    next_attempt_at: datetime | None  # deferred only
    gives_up_at: datetime | None  # deferred only: retries stop then
    is_possible_duplicate: bool
    updated_at: datetime


def trouble_letters(
    session: Session,
    *,
    statuses: tuple[LetterStatus, ...] = TROUBLE,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> tuple[int, list[TroubleLetter]]:
    """(how many in all, one page of them, the latest change first)."""
    where = Letter.status.in_(statuses)
    total = session.scalar(select(func.count()).select_from(Letter).where(where)) or 0
    rows = session.execute(
        select(Letter, Contact.email, Tag.code)
        .join(Contact, Contact.id == Letter.contact_id)
        .join(Campaign, Campaign.id == Letter.campaign_id)
        .join(Tag, Tag.id == Campaign.tag_id)
        .where(where)
        .order_by(Letter.updated_at.desc(), Letter.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    )
    out = []
    for letter, email, code in rows:
        deferred = letter.status is LetterStatus.DEFERRED
        first = letter.first_attempt_at
        out.append(
            TroubleLetter(
                letter.id,
                email,
                code,
                letter.status,
                letter.attempts,
                letter.last_code,
                letter.last_error,
                letter.due_at if deferred else None,
                first + GIVE_UP_AFTER if deferred and first else None,
                letter.is_possible_duplicate,
                letter.updated_at,
            )
        )
    return total, out


@dataclass(frozen=True)
class ContactOutbox:
    """One contact's letters of a year and the explanation per campaign."""

    contact: Contact
    letters: list[tuple[Letter, str]]  # with the campaign's tag code
    explanations: list[Explanation]


def search_contacts(session: Session, query: str, *, limit: int = SEARCH_LIMIT) -> list[Contact]:
    """Contacts whose e-mail, surname or company (either spelling) holds the query."""
    folded, lowered = fold(query), query.strip().lower()
    if not folded:
        return []
    stmt = (
        select(Contact)
        .where(
            or_(
                Contact.email.contains(lowered, autoescape=True),
                # SQLite folds case for ASCII only: the surname as typed and capitalised.
                Contact.last_name.contains(query.strip(), autoescape=True),
                Contact.last_name.contains(query.strip().capitalize(), autoescape=True),
                Contact.company_key.contains(folded, autoescape=True),
                Contact.company_alias_key.contains(folded, autoescape=True),
            )
        )
        .order_by(Contact.email)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def contact_outbox(
    session: Session, contact: Contact, year: int, *, now: datetime | None = None
) -> ContactOutbox:
    """The contact's letters of `year` and why each campaign did or did not reach them."""
    letters = list(
        session.execute(
            select(Letter, Tag.code)
            .join(Campaign, Campaign.id == Letter.campaign_id)
            .join(Tag, Tag.id == Campaign.tag_id)
            .where(Letter.contact_id == contact.id, Letter.year == year)
            .order_by(Letter.planned_at)
        )
    )
    return ContactOutbox(
        contact,
        [(letter, code) for letter, code in letters],
        explain_contact(session, contact, year, now=now or utcnow()),
    )
