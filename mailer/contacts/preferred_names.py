"""The name a client asked to be called ("Саша", not "Александра"): letters greet with it.

Its own table, so the contacts table (and every INSERT into it) stays as it was.
Services flush and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mailer.db import Base, UTCDateTime, utcnow

MAX_LENGTH = 200


class PreferredName(Base):
    """At most one per contact; none means the greeting is read from the name fields."""

    __tablename__ = "preferred_names"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(MAX_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def preferred_name(session: Session, contact_id: int) -> str:
    """The contact's preferred name, or "" when it has none."""
    stmt = select(PreferredName.name).where(PreferredName.contact_id == contact_id)
    return session.scalar(stmt) or ""


def set_preferred_name(session: Session, contact_id: int, name: str) -> None:
    """Set or (with a blank name) clear it; a name with line breaks or too long is refused."""
    name = " ".join(name.split())
    if len(name) > MAX_LENGTH:
        raise ValueError(f"предпочтительное имя длиннее {MAX_LENGTH} символов")
    row = session.get(PreferredName, contact_id)
    if not name:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(PreferredName(contact_id=contact_id, name=name))
    else:
        row.name = name
    session.flush()
