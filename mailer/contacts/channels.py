"""A contact's other e-mails and phones, and its id in the CRM it came from.

The import stores them a chunk at a time, so both take whole batches: one query to find
the contacts a chunk's CRM ids name, one to find the values already kept, one insert.
Values are only ever added: a later export that drops a phone does not erase it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from mailer.contacts.models import ChannelKind, Contact, ContactChannel
from mailer.db import table_of
from mailer.storage.copy import copy_insert
from mailer.storage.listparams import in_list_param

_BY_SOURCE = select(Contact.source_id, Contact.id, Contact.email, Contact.owner_id).where(
    Contact.source_system == bindparam("system"), in_list_param(Contact.source_id)
)
_KEPT = select(ContactChannel.contact_id, ContactChannel.kind, ContactChannel.value).where(
    in_list_param(ContactChannel.contact_id)
)

# A contact's other values, as (kind, value) pairs.
Channels = Iterable[tuple[ChannelKind, str]]


def contacts_by_source(
    connection: Connection, system: str, source_ids: list[str]
) -> dict[str, tuple[int, str, int]]:
    """CRM id → (contact id, e-mail, owner id) of the contacts that came with those ids."""
    if not source_ids:
        return {}
    found = connection.execute(_BY_SOURCE, {"system": system, "keys": source_ids})
    return {str(source_id): (cid, email, owner_id) for source_id, cid, email, owner_id in found}


def channels_of(emails: Iterable[str], phones: Iterable[str]) -> list[tuple[ChannelKind, str]]:
    """The (kind, value) pairs of a contact's other e-mails and phones."""
    return [(ChannelKind.EMAIL, e) for e in emails] + [(ChannelKind.PHONE, p) for p in phones]


def keep_channels(session: Session, wanted: Mapping[int, Channels], known: list[int]) -> None:
    """Add the values the contacts do not keep yet; `known` are the contacts that may
    keep some already (contacts inserted just now keep none)."""
    kept: set[tuple[int, str, str]] = set()
    if known:
        rows = session.connection().execute(_KEPT, {"keys": known}).all()
        kept = {(cid, str(kind), value) for cid, kind, value in rows}
    new = list(
        dict.fromkeys(
            (cid, str(kind), value)
            for cid, pairs in wanted.items()
            for kind, value in pairs
            if (cid, str(kind), value) not in kept
        )
    )
    if new:
        copy_insert(session, table_of(ContactChannel), ("contact_id", "kind", "value"), new)
