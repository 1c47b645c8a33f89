"""The outbox: one row per planned letter, moved through delivery to its outcome."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.contacts.models import Contact
from mailer.db import Base, UTCDateTime, str_enum, utcnow
from mailer.storage.trigger_keys import kept_by_triggers


class LetterStatus(enum.StrEnum):
    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # consent withdrawn or address suppressed before sending


# Statuses a worker may claim.
DUE_STATUSES = (LetterStatus.PLANNED, LetterStatus.DEFERRED)

# Conditions of the partial indexes, written once for the index and the queries that need
# it: SQLite uses a partial index only for a query that repeats its condition word for word.
CLAIMABLE = text("status IN (" + ", ".join(f"'{status}'" for status in DUE_STATUSES) + ")")
IN_FLIGHT = text(f"status = '{LetterStatus.SENDING}'")
_CLAIMED = text("claim_token IS NOT NULL")


class Letter(Base):
    """A letter planned early and rendered late: who, which campaign, which year, when."""

    __tablename__ = "letters"
    __table_args__ = (
        # The product's promise: never two letters for one tag and year to one contact.
        # One campaign per tag, and the key below makes a letter's tag its campaign's, so
        # one letter per campaign and year is one per tag and year: no second index needed.
        UniqueConstraint(
            "contact_id", "campaign_id", "year", name="uq_letters_contact_campaign_year"
        ),
        # A letter's contact and campaign (how PostgreSQL keeps them: storage/trigger_keys.py).
        ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], ondelete="CASCADE", info=kept_by_triggers()
        ),
        # The letter's tag is its campaign's: one check instead of two (campaign, tag).
        ForeignKeyConstraint(
            ["campaign_id", "tag_id"],
            ["campaigns.id", "campaigns.tag_id"],
            ondelete="CASCADE",
            info=kept_by_triggers(),
        ),
        # The claim's order; sent letters leave it, and no string is compared per entry.
        Index("ix_letters_due", "due_at", "id", postgresql_where=CLAIMABLE, sqlite_where=CLAIMABLE),
        # Stale claims of dead workers.
        Index(
            "ix_letters_in_flight",
            "claimed_at",
            postgresql_where=IN_FLIGHT,
            sqlite_where=IN_FLIGHT,
        ),
        # Only letters being sent carry a token: planned ones add no index entry.
        Index(
            "ix_letters_claim_token",
            "claim_token",
            postgresql_where=_CLAIMED,
            sqlite_where=_CLAIMED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int]
    campaign_id: Mapped[int]
    tag_id: Mapped[int]  # the campaign's tag, kept so delivery needs no join
    kind: Mapped[str] = mapped_column(String(64))
    year: Mapped[int]
    # The day the letter is about, fixed at planning from the campaign (None: a month letter).
    occasion_name: Mapped[str] = mapped_column(String(300), default="")
    occasion_on: Mapped[date | None]
    status: Mapped[LetterStatus] = mapped_column(
        str_enum(LetterStatus),
        default=LetterStatus.PLANNED,
    )
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When a worker may next take it: the planned time, then each retry's back-off.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # After this the letter is out of season (8 March offers are not sent in April).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    # Fixed before the first attempt, so every retry carries the same Message-ID.
    message_id: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("managers.id", ondelete="SET NULL"))
    last_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Was in flight when a worker died: the recipient may have it twice.
    is_possible_duplicate: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship()
