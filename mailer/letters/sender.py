"""Who a letter is from: resolved from the contact's owner at rendering time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from mailer.managers.models import Manager


class SenderError(ValueError):
    """No one can send this letter (no active owner and no house sender)."""


@dataclass(frozen=True)
class SenderIdentity:
    """From, Reply-To, signature, Message-ID domain and clock of one person, never two."""

    manager_id: int
    name: str
    address: str
    signature: str
    timezone: ZoneInfo
    is_house: bool

    @property
    def reply_to(self) -> str:
        return self.address

    @property
    def message_id_domain(self) -> str:
        return self.address.rpartition("@")[2]

    def local_time(self, now: datetime) -> datetime:
        """`now` on the sender's wall clock: the letter's Date and the evening wish use it."""
        return now.astimezone(self.timezone)


def resolve_sender(owner: Manager | None, house: Manager | None) -> SenderIdentity:
    """The owner if active, otherwise the house sender; every field from that one person."""
    person = owner if owner is not None and owner.is_active else house
    if person is None or not person.is_active:
        raise SenderError("the contact has no active owner and there is no active house sender")
    return SenderIdentity(
        manager_id=person.id,
        name=person.name,
        address=person.email,
        signature=person.signature or person.name,
        timezone=ZoneInfo(person.timezone),
        is_house=person.is_house,
    )
