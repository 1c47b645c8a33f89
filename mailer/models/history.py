"""A contact's history: managers' notes, transfers and (later) letters sent."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, str_enum, utcnow
from mailer.models.manager import Manager


class HistoryKind(enum.StrEnum):
    CALL = "call"
    MEETING = "meeting"
    LETTER = "letter"
    NOTE = "note"
    TRANSFER = "transfer"
    SENT = "sent"  # a campaign letter delivered on the owner's behalf


# What counts as a manager working the contact; transfers do not.
NOTE_KINDS = (HistoryKind.CALL, HistoryKind.MEETING, HistoryKind.LETTER, HistoryKind.NOTE)


class HistoryEntry(Base):
    """One event in a contact's life, with who did it and when."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_contact_kind_created", "contact_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[HistoryKind] = mapped_column(str_enum(HistoryKind))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("managers.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, default="")
    from_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    to_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[Manager | None] = relationship(foreign_keys=[author_id])
    from_manager: Mapped[Manager | None] = relationship(foreign_keys=[from_manager_id])
    to_manager: Mapped[Manager | None] = relationship(foreign_keys=[to_manager_id])
