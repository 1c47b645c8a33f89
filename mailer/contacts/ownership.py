"""Check before adding: a new contact whose phone or company another manager holds is refused.

One rule for `mailer contacts add` and the import alike (README, "The contact book's
rules"): two managers must not own one client. A new contact whose phone, or whose company
in either spelling (`company.company_key`), is held by other managers and not by its own
owner is refused, naming every one of those holders, unless the caller says it is a
different person of the same company (`--same-company`, `--allow-same-company`). When the
new contact's own owner already holds that phone or company, it is another person of a
client they already work with, and it is added, whoever else holds the match too: the
refusal would name a colleague for a client the owner has. A company's two keys (its name
and its alias) are one company: holding it under either spelling is holding it. Every
phone and e-mail counts, the contact's own and the others a CRM keeps (`contact_channels`);
an e-mail names one person, so a match by e-mail is refused whoever holds it and whatever
the caller says. The e-mail is each caller's own first check, before this one: `add`
refuses a known e-mail outright and the import updates the contact it names.

The lookups take a whole batch of new contacts at once: one query per kind of key, each
binding the batch's keys as one list parameter, so the import checks a chunk of thousands
of rows with a few queries and `add` checks its one contact the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    """Why a new contact is refused: what matched, and every other manager who holds it."""

    kind: str  # PHONE, EMAIL or COMPANY
    value: str  # "+79161234567", "a@b.ru" or "Тойота (Toyota)", as the row gives it
    owner_ids: tuple[int, ...]  # the holders; for an e-mail, whoever holds it
    is_same_company_ok: bool = True  # whether "a different person of that company" overrides
    is_someone_else: bool = True  # False: an e-mail the new contact's own owner holds

    def reason(self, names: Mapping[int, str]) -> str:
        """The reject reason of an import row, in Russian: what matched, who holds it and
        what the manager can do; its kind comes before the colon, for the import page."""
        holders = ", ".join(sorted(names[i] for i in self.owner_ids))
        whom = f"{'менеджера' if len(self.owner_ids) == 1 else 'менеджеров'} {holders}"
        if not self.is_someone_else:
            return (
                f"e-mail уже в базе: {self.value} — у другого контакта того же менеджера"
                f" ({holders}); уберите адрес из одной из карточек"
            )
        if not self.is_same_company_ok:
            return (
                f"e-mail у другого менеджера: {self.value} — уже у {whom};"
                " попросите передать контакт"
            )
        what = {PHONE: "телефон", COMPANY: "компания"}[self.kind]
        shown = f"'{self.value}'" if self.kind == COMPANY else self.value
        return (
            f"{what} у другого менеджера: {shown} — уже у {whom}; если это другой человек"
            " этой компании — импортируйте с --allow-same-company"
        )


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
    or why not (see the module's docstring for the rule)."""
    keys = held_keys(f)
    for kind, key in [(EMAIL, f.email), *keys]:
        if kind == EMAIL and (holding := holders.by_key.get((kind, key))):
            others = holding - {owner_id}
            return Refusal(
                EMAIL,
                key,
                tuple(sorted(others or holding)),
                is_same_company_ok=False,
                is_someone_else=bool(others),
            )
    if is_same_company_ok:
        return None
    # A phone is one person's; a company's keys (name, alias) are one company together.
    groups: list[tuple[tuple[str, str], ...]] = [(key,) for key in keys if key[0] == PHONE]
    groups.append(tuple(key for key in keys if key[0] == COMPANY))
    for group in groups:
        held_by = set().union(*(holders.by_key.get(key, set()) for key in group))
        if held_by and owner_id not in held_by:
            kind, key = group[0]
            value = key if kind == PHONE else f.company
            return Refusal(kind, value, tuple(sorted(held_by)))
    return None
