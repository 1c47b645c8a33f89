"""Check before adding: a new contact whose phone or company another manager holds is refused.

One rule for `mailer contacts add` and the import alike (README, "The contact book's
rules"): two managers must not own one client. A new contact whose phone, or whose company
in either spelling (`company.company_key`), is held by other managers and not by its own
owner is refused, naming every one of those holders, unless the caller says it is a
different person of the same company (`--same-company`, `--allow-same-company`). When the
new contact's own owner already holds that phone or company, it is another person of a
client they already work with, and it is added, whoever else holds the match too: the
refusal would name a colleague for a client the owner has. A company's two keys (its name
and its alias) are one company: holding it under either spelling is holding it. The e-mail
is each caller's own first check, before this one: `add` refuses a known e-mail outright
and the import updates the contact it names.

The lookups take a whole batch of new contacts at once: one query per kind of key, each
binding the batch's keys as one list parameter, so the import checks a chunk of thousands
of rows with three queries and `add` checks its one contact the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Connection

from mailer.contacts.models import Contact
from mailer.storage.listparams import in_list_param

if TYPE_CHECKING:  # book.py calls the check when adding a contact
    from mailer.contacts.book import ContactFields

PHONE = "phone"
COMPANY = "company"

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


@dataclass(frozen=True)
class Refusal:
    """Why a new contact is refused: what matched, and every other manager who holds it."""

    what: str  # "phone +79161234567" or "company 'Тойота (Toyota)'"
    owner_ids: tuple[int, ...]  # the holders, never the new contact's own owner

    def reason(self, names: Mapping[int, str]) -> str:
        """The reject reason of an import row, naming the holders."""
        holders = ", ".join(sorted(names[i] for i in self.owner_ids))
        return (
            f"owned by someone else: {self.what} belongs to {holders}"
            " (use --allow-same-company for a different person of that company)"
        )


def held_keys(f: ContactFields) -> list[tuple[str, str]]:
    """What a contact holds in the book besides its e-mail: its phone and company keys."""
    keys: list[tuple[str, str]] = []
    if f.phone:
        keys.append((PHONE, f.phone))
    for key in (f.company_key, f.company_alias_key):
        if key and (COMPANY, key) not in keys:
            keys.append((COMPANY, key))
    return keys


@dataclass
class Holders:
    """Who holds each phone and company key of a batch of contacts: owner ids per key."""

    by_key: dict[tuple[str, str], set[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, connection: Connection, batch: Iterable[ContactFields]) -> Holders:
        """The book's holders of the batch's keys, with one query per kind of key."""
        wanted = {key for f in batch for key in held_keys(f)}
        phones = [key for kind, key in wanted if kind == PHONE]
        companies = [key for kind, key in wanted if kind == COMPANY]
        holders = cls()
        for kind, stmt, keys in (
            (PHONE, _PHONE_HOLDERS, phones),
            (COMPANY, _COMPANY_HOLDERS, companies),
            (COMPANY, _ALIAS_HOLDERS, companies),
        ):
            if keys:
                for key, owner_id in connection.execute(stmt, {"keys": keys}).all():
                    holders.by_key.setdefault((kind, str(key)), set()).add(owner_id)
        return holders

    def hold(self, f: ContactFields, owner_id: int) -> None:
        """Count a contact just stored as a holder, for the rest of its batch."""
        for key in held_keys(f):
            self.by_key.setdefault(key, set()).add(owner_id)


def check_new_contact(
    holders: Holders, f: ContactFields, owner_id: int, *, is_same_company_ok: bool
) -> Refusal | None:
    """The check before adding a contact whose e-mail is not in the book: None to add it,
    or why not (see the module's docstring for the rule)."""
    if is_same_company_ok:
        return None
    keys = held_keys(f)
    for kind, what in ((PHONE, f"phone {f.phone}"), (COMPANY, f"company '{f.company}'")):
        owners = [holders.by_key.get(key, set()) for key in keys if key[0] == kind]
        held_by = set().union(*owners)
        if held_by and owner_id not in held_by:
            return Refusal(what, tuple(sorted(held_by)))
    return None
