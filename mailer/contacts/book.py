"""The contact book's rules: clean fields, find who already owns a contact, add and update."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from mailer.contacts.addresses import normalise_email
from mailer.contacts.columns import COLUMNS
from mailer.contacts.company import company_key_pair, company_keys, split_company
from mailer.contacts.folding import strip_invisible
from mailer.contacts.models import ChannelKind, Contact, ContactChannel
from mailer.contacts.ownership import Holders, check_new_contact
from mailer.contacts.phones import normalise_phone
from mailer.db import utcnow
from mailer.managers.models import Manager
from mailer.tags.models import Tag


class ContactError(ValueError):
    """A contact that cannot be stored as given; the message says why."""


class DuplicateContactError(ContactError):
    """The contact is already in the book; the matches say who owns it."""

    def __init__(self, matches: list[ExistingMatch]) -> None:
        self.matches = matches
        super().__init__("already in the contact book: " + "; ".join(m.describe() for m in matches))


@dataclass(frozen=True)
class Consent:
    """Consent to advertising letters: given or not, when, and how (its source)."""

    is_given: bool = False
    given_at: datetime | None = None
    source: str = ""


@dataclass
class ContactFields:
    """A contact's fields after cleaning: what the book stores."""

    email: str
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    company_name: str = ""
    company_alias: str = ""
    position: str = ""
    phone: str | None = None
    consent: Consent | None = None  # None: leave as it is on update
    company_key: str = ""
    company_alias_key: str = ""
    # From CRM exports: the other e-mails and phones (normalised), the salutation, and
    # the CRM with the contact's id there.
    extra_emails: tuple[str, ...] = ()
    extra_phones: tuple[str, ...] = ()
    salutation: str = ""
    source_system: str = ""
    source_id: str | None = None

    @property
    def company(self) -> str:
        return (
            f"{self.company_name} ({self.company_alias})"
            if self.company_alias
            else self.company_name
        )

    def columns(self) -> dict[str, object]:
        """Column values for the contacts table (consent excluded)."""
        return {
            "email": self.email,
            "first_name": self.first_name,
            "middle_name": self.middle_name,
            "last_name": self.last_name,
            "company_name": self.company_name,
            "company_alias": self.company_alias,
            "company_key": self.company_key,
            "company_alias_key": self.company_alias_key,
            "position": self.position,
            "phone": self.phone,
            "salutation": self.salutation,
            "source_system": self.source_system,
            "source_id": self.source_id,
        }


def clean_fields(
    *,
    email: str,
    first_name: str = "",
    middle_name: str = "",
    last_name: str = "",
    company: str = "",
    position: str = "",
    phone: str = "",
    consent: Consent | None = None,
    phone_region: str = "RU",
) -> ContactFields:
    """Validate and normalise raw fields; raises ContactError naming the bad field."""
    texts = {
        "first_name": strip_invisible(first_name),
        "middle_name": strip_invisible(middle_name),
        "last_name": strip_invisible(last_name),
        "company": strip_invisible(company),
        "position": strip_invisible(position),
    }
    for name, value in texts.items():
        if "\r" in value or "\n" in value:
            raise ContactError(f"перевод строки в поле «{COLUMNS[name][0]}»: уберите его из ячейки")
    name_, alias = split_company(texts["company"])
    key, alias_key = company_key_pair(texts["company"])
    try:
        return ContactFields(
            email=normalise_email(email),
            first_name=texts["first_name"].strip(),
            middle_name=texts["middle_name"].strip(),
            last_name=texts["last_name"].strip(),
            company_name=name_,
            company_alias=alias,
            position=" ".join(texts["position"].split()),
            phone=normalise_phone(phone, phone_region),
            consent=consent,
            company_key=key,
            company_alias_key=alias_key,
        )
    except ValueError as exc:
        raise ContactError(str(exc)) from None


@dataclass(frozen=True)
class ExistingMatch:
    """An existing contact that looks like the one being added, and what matched."""

    contact: Contact
    matched_by: str  # "email", "phone" or "company"

    @property
    def owner(self) -> Manager:
        return self.contact.owner

    def describe(self) -> str:
        c = self.contact
        who = c.full_name or c.email_display
        company = f", {c.company_display}" if c.company_display else ""
        return (
            f"{self.matched_by} matches {who} <{c.email_display}>{company}, "
            f"owned by {c.owner.name} <{c.owner.email}>"
        )


def find_existing(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    company: str | None = None,
    phone_region: str = "RU",
) -> list[ExistingMatch]:
    """Contacts already in the book by e-mail, phone or company in either spelling."""
    matches: dict[int, ExistingMatch] = {}

    def collect(stmt: object, how: str) -> None:
        for contact in session.scalars(stmt.order_by(Contact.id)):  # type: ignore[attr-defined]
            matches.setdefault(contact.id, ExistingMatch(contact, how))

    if email and email.strip():
        address = normalise_email(email)
        other = _with_channel(ChannelKind.EMAIL, address)
        collect(select(Contact).where(or_(Contact.email == address, other)), "email")
    if phone and (number := normalise_phone(phone, phone_region)):
        other = _with_channel(ChannelKind.PHONE, number)
        collect(select(Contact).where(or_(Contact.phone == number, other)), "phone")
    if company and (keys := company_keys(strip_invisible(company))):
        collect(
            select(Contact).where(
                or_(Contact.company_key.in_(keys), Contact.company_alias_key.in_(keys))
            ),
            "company",
        )
    elif company and company.strip() and not (email or phone):
        # `ООО` alone names no company: "nobody owns it" would be a false all-clear.
        raise ContactError(f"company '{company.strip()}' is only a legal form: give its name")
    return list(matches.values())


def _with_channel(kind: ChannelKind, value: str) -> ColumnElement[bool]:
    """Contacts that keep this value among their other e-mails or phones."""
    held = select(ContactChannel.contact_id).where(
        ContactChannel.kind == kind, ContactChannel.value == value
    )
    return Contact.id.in_(held)


def add_contact(
    session: Session,
    fields: ContactFields,
    *,
    owner: Manager,
    tags: Iterable[Tag] = (),
    is_same_company_ok: bool = False,
) -> Contact:
    """Add a new contact; refused with the owner's name when it is already in the book.

    The same e-mail is never added twice; a match by phone or company is refused by the
    book's one rule (`check_new_contact`, which the import applies too) unless the caller
    says this is a different person of the same company.
    """
    is_known = session.scalar(select(Contact.id).where(Contact.email == fields.email))
    refusal = check_new_contact(
        Holders.of(session.connection(), [fields]),
        fields,
        owner.id,
        is_same_company_ok=is_same_company_ok,
    )
    if is_known or refusal:
        # The error lists the matching contacts and their owners, as `contacts check` does:
        # the e-mail's, or every contact of the managers the refusal names.
        holders = set(refusal.owner_ids) if refusal else set()
        matches = find_existing(
            session, email=fields.email, phone=fields.phone, company=fields.company
        )
        raise DuplicateContactError(
            [m for m in matches if m.matched_by == "email" or m.contact.owner_id in holders]
        )
    consent = fields.consent or Consent()
    contact = Contact(
        **fields.columns(),
        owner=owner,
        has_consent=consent.is_given,
        consent_at=consent.given_at or (utcnow() if consent.is_given else None),
        consent_source=consent.source,
    )
    contact.tags = list(dict.fromkeys(tags))
    session.add(contact)
    session.flush()
    return contact


SKIP_NO_CONSENT = "no consent"
SKIP_UNSUBSCRIBED = "unsubscribed"
SKIP_BOUNCED = "hard-bounced"


def mailing_block(
    has_consent: bool, unsubscribed_at: datetime | None, hard_bounced_at: datetime | None
) -> str | None:
    """Why a contact may get no advertising letter (the law), or None when it may."""
    if unsubscribed_at is not None:
        return SKIP_UNSUBSCRIBED
    if hard_bounced_at is not None:
        return SKIP_BOUNCED
    if not has_consent:
        return SKIP_NO_CONSENT
    return None


def find_contact(session: Session, email: str) -> Contact:
    """A contact by e-mail, or ContactError."""
    contact = session.scalar(select(Contact).where(Contact.email == normalise_email(email)))
    if contact is None:
        raise ContactError(f"no contact with e-mail {email.strip()}")
    return contact


@dataclass(frozen=True)
class ContactFilter:
    """Which contacts an operation applies to; empty fields do not filter."""

    owner: Manager | None = None
    tag: Tag | None = None
    company: str | None = None
    emails: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.owner or self.tag or self.company or self.emails)


def select_contacts(session: Session, criteria: ContactFilter) -> list[Contact]:
    """Contacts matching every given criterion, oldest first."""
    stmt = select(Contact).order_by(Contact.id)
    if criteria.owner is not None:
        stmt = stmt.where(Contact.owner_id == criteria.owner.id)
    if criteria.tag is not None:
        stmt = stmt.where(Contact.tags.any(Tag.id == criteria.tag.id))
    if criteria.company:
        keys = company_keys(strip_invisible(criteria.company))
        stmt = stmt.where(or_(Contact.company_key.in_(keys), Contact.company_alias_key.in_(keys)))
    if criteria.emails:
        stmt = stmt.where(Contact.email.in_([normalise_email(e) for e in criteria.emails]))
    return list(session.scalars(stmt))
