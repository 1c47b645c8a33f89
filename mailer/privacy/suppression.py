"""The erased list as the book and the import consult it: hashes of addresses, never them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Connection, select

from mailer.privacy.models import ErasedAddress
from mailer.storage.listparams import in_list_param

ERASED_REASON = "адрес удалён по просьбе человека: он в списке запрета, снова добавлять его нельзя"
_ERASED = select(ErasedAddress.address_hash).where(in_list_param(ErasedAddress.address_hash))


def address_hash(email: str) -> str:
    """The one-way hash kept for an erased address (of its normalised, lower-case form)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def erased_among(connection: Connection, emails: Iterable[str]) -> set[str]:
    """Which of these (normalised) addresses were erased on request: one query per batch."""
    by_hash = {address_hash(email): email for email in emails}
    if not by_hash:
        return set()
    found = connection.execute(_ERASED, {"keys": list(by_hash)}).scalars()
    return {by_hash[h] for h in found}


def refuse_erased(connection: Connection, email: str) -> None:
    """Adding a contact by hand: an erased address is refused in one line (ValueError)."""
    if erased_among(connection, [email]):
        raise ValueError(f"{ERASED_REASON} ({email})")
