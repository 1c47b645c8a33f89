"""Check before adding: a new contact whose phone or company is in the book is refused.

One rule for `mailer contacts add` and the import alike (README, "The contact book's
rules"): a match by phone, or by company in either spelling, is refused with the name of
the match's owner unless the caller says the new contact is a different person of the same
company (`--same-company`, `--allow-same-company`). Every phone and e-mail counts, the
contact's own and the others a CRM keeps (`contact_channels`); an e-mail names one person,
so a match by e-mail is refused whoever holds it and whatever the caller says. Whose the
match is does not change the answer: a manager's own contact with the same phone is as
likely the same person as a colleague's, and the refusal says whether the holder is
someone else. The e-mail is each caller's own first check, before this one: `add` refuses
a known e-mail outright and the import updates the contact it names.

The lookups take a whole batch of new contacts at once: one query per kind of key, each
binding the batch's keys as one list parameter, so the import checks a chunk of thousands
of rows with a few queries and `add` checks its one contact the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from mailer.contacts.models import Contact, ContactChannel
from mailer.storage.listparams import in_list_param

if TYPE_CHECKING:  # book.py calls the check when adding a contact
    from mailer.contacts.book import ContactFields

PHONE = "phone"
COMPANY = "company"
EMAIL = "email"

# Distinct (key, owner) pairs only: a big company must not fetch all its people.
_PHONE_HOLDERS = (
    select(Contact.phone, Contact.owner_id).where(in_list_param(Contact.phone)).distinct()
)
_COMPANY_HOLDERS = (
    select(Contact.company_key, Contact.owner_id)
    .where(in_list_param(Contact.company_key))
    .distinct()
)
_ALIAS_HOLDERS = (
    select(Contact.company_alias_key, Contact.owner_id)
    .where(in_list_param(Contact.company_alias_key))
    .distinct()
)

# The other e-mails and phones of the book (contact_channels), and the e-mails of contacts
# that are a new contact's other e-mails.
_CHANNEL_HOLDERS = (
    select(ContactChannel.value, Contact.owner_id)
    .join(Contact, Contact.id == ContactChannel.contact_id)
    .where(ContactChannel.kind == bindparam("kind"), in_list_param(ContactChannel.value))
    .distinct()
)
_EMAIL_HOLDERS = select(Contact.email, Contact.owner_id).where(in_list_param(Contact.email))
_ANY_CHANNEL = select(ContactChannel.id).limit(1)


def has_channels_kept(connection: Connection) -> bool:
    """Whether any contact keeps other e-mails or phones (most books keep none)."""
    return connection.execute(_ANY_CHANNEL).first() is not None


@dataclass(frozen=True)
class Refusal:
    """Why a new contact is refused: what matched, and the owner to name."""

    what: str  # "phone +79161234567", "e-mail a@b.ru" or "company 'Тойота (Toyota)'"
    owner_id: int  # another owner when one holds the match, else the new contact's own
    is_someone_else: bool
    is_same_company_ok: bool = True  # whether "a different person of that company" overrides


def held_keys(f: ContactFields) -> list[tuple[str, str]]:
    """What a contact holds in the book besides its e-mail: its phones, its other
    e-mails and its company keys."""
    keys = [(PHONE, f.phone)] if f.phone else []
    if f.extra_phones or f.extra_emails:  # a CRM's; most contacts have none
        keys += [(PHONE, phone) for phone in f.extra_phones if phone != f.phone]
        keys += [(EMAIL, email) for email in f.extra_emails]
    for key in (f.company_key, f.company_alias_key):
        if key and (COMPANY, key) not in keys:
            keys.append((COMPANY, key))
    return keys


@dataclass
class Holders:
    """Who holds each phone and company key of a batch of contacts: owner ids per key."""

    by_key: dict[tuple[str, str], set[int]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, connection: Connection, batch: Iterable[ContactFields], *, has_channels: bool = True
    ) -> Holders:
        """The book's holders of the batch's keys, with one query per kind of key.

        A contact's own e-mail is looked up among the other e-mails only: the callers
        have looked it up among the contacts' e-mails already. A caller that knows the
        book keeps no other e-mails or phones (`has_channels_kept`) skips their lookups.
        """
        batch = list(batch)
        wanted = {key for f in batch for key in held_keys(f)}
        phones = [key for kind, key in wanted if kind == PHONE]
        companies = [key for kind, key in wanted if kind == COMPANY]
        extra_emails = [key for kind, key in wanted if kind == EMAIL]
        emails = list({f.email for f in batch}.union(extra_emails)) if has_channels else []
        holders = cls()
        for kind, stmt, keys, params in (
            (PHONE, _PHONE_HOLDERS, phones, {}),
            (PHONE, _CHANNEL_HOLDERS, phones if has_channels else [], {"kind": "phone"}),
            (EMAIL, _EMAIL_HOLDERS, extra_emails, {}),
            (EMAIL, _CHANNEL_HOLDERS, emails, {"kind": "email"}),
            (COMPANY, _COMPANY_HOLDERS, companies, {}),
            (COMPANY, _ALIAS_HOLDERS, companies, {}),
        ):
            if keys:
                for key, owner_id in connection.execute(stmt, {"keys": keys, **params}).all():
                    holders.by_key.setdefault((kind, str(key)), set()).add(owner_id)
        return holders

    def hold(self, f: ContactFields, owner_id: int) -> None:
        """Count a contact just stored as a holder, for the rest of its batch."""
        for key in [(EMAIL, f.email), *held_keys(f)]:
            self.by_key.setdefault(key, set()).add(owner_id)


def check_new_contact(
    holders: Holders, f: ContactFields, owner_id: int, *, is_same_company_ok: bool
) -> Refusal | None:
    """The check before adding a contact whose e-mail is not in the book: None to add it,
    or why not. The rule is about two managers owning one company: a match held only by
    the new contact's own owner is another person of a client they already work with;
    an e-mail held by anyone is this person, already in the book."""
    for kind, key in [(EMAIL, f.email), *held_keys(f)]:
        holding = holders.by_key.get((kind, key))
        if not holding:
            continue
        others = holding - {owner_id}
        if kind == EMAIL:
            return Refusal(
                f"e-mail {key}", min(others or holding), bool(others), is_same_company_ok=False
            )
        if others and not is_same_company_ok:
            what = f"company '{f.company}'" if kind == COMPANY else f"{kind} {key}"
            return Refusal(what, min(others), is_someone_else=True)
    return None
