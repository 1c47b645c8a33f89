"""Campaigns: which letter each tag gets once a year, around which day, in which window."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, utcnow
from mailer.tags.models import Tag


class Campaign(Base):
    """One tag's yearly letter; one campaign per tag, so one letter per tag and year."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("days_before >= 0", name="days_before_not_negative"),
        CheckConstraint("window_days > 0", name="window_days_positive"),
        # What letters' (campaign_id, tag_id) key refers to: a letter's tag is its campaign's.
        # An index, not a constraint: SQLite adds one without rebuilding the table (whose
        # drop would cascade to the letters).
        Index("uq_campaigns_id_tag_id", "id", "tag_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), unique=True)
    letter_kind: Mapped[str] = mapped_column(String(64))
    occasion_name: Mapped[str] = mapped_column(String(300))
    # RFC 5545 RRULE of the yearly occasion; marketing may pick another professional day.
    occasion_rule: Mapped[str] = mapped_column(String(300))
    # Letters go out in `window_days` working days ending `days_before` working days before
    # the occasion; for a purchase-month tag, in the first `window_days` working days of it.
    days_before: Mapped[int] = mapped_column(default=5)
    window_days: Mapped[int] = mapped_column(default=10)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tag: Mapped[Tag] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Campaign {self.tag.code if self.tag else self.tag_id}>"


class LetterDay(Base):
    """A year's letters of one owner and campaign on one of the owner's local days.

    The calendar's counts, kept exact by PostgreSQL triggers (migration 0011) whoever
    writes letters; cancelled letters are not counted, and rows may hold zero. SQLite
    cannot convert time zones in a trigger: there the table stays empty and the calendar
    counts letters directly (`campaigns/letter_days.py` says which).
    """

    __tablename__ = "letter_days"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    letters: Mapped[int]
