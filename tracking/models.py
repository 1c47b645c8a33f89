"""Tracking's tables: a campaign's links, the clicks on them, and the tasks they become.

Other packages' tables are named by string, so `mailer` never imports this package.
Clicks are evidence and are never deleted: their keys to letters and links are set to
NULL when those go, and each click keeps its own copy of whom and which campaign it was.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, str_enum, utcnow
from tracking.verdicts import LinkRole, Verdict


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


class TaskOutcome(enum.StrEnum):
    TAKEN = "taken"
    NOT_INTERESTED = "not-interested"


class CampaignLink(Base):
    """A destination marketing put in a campaign's letter, named by its label."""

    __tablename__ = "campaign_links"
    __table_args__ = (UniqueConstraint("campaign_id", "label", name="uq_campaign_links_label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))
    role: Mapped[LinkRole] = mapped_column(str_enum(LinkRole))
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


PENDING = "pending"  # a click's verdict until it is settled: a burst needs time to show


class Click(Base):
    """One request on a tracked link, with its verdict and the reasons for it."""

    __tablename__ = "clicks"
    __table_args__ = (
        CheckConstraint(
            "verdict IN ('pending', " + ", ".join(f"'{v}'" for v in Verdict) + ")",
            name="verdict_known",
        ),
        Index("ix_clicks_letter", "letter_id"),
        Index("ix_clicks_contact_clicked", "contact_id", "clicked_at"),
        Index(
            "ix_clicks_pending",
            "clicked_at",
            postgresql_where=text("verdict = 'pending'"),
            sqlite_where=text("verdict = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Where it came from in the click journal: loading a journal twice adds nothing.
    journal_key: Mapped[str] = mapped_column(String(80), unique=True)
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_links.id", ondelete="SET NULL")
    )
    is_honeypot: Mapped[bool] = mapped_column(default=False)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16), default="")
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(8))
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(String(32), default="")  # Sec-Purpose: prefetch
    verdict: Mapped[str] = mapped_column(String(16), default=PENDING)  # or a Verdict
    reasons: Mapped[str] = mapped_column(Text, default="")  # comma-separated codes
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Task(Base):
    """A person read the offer: the owner calls them. One open task per contact and campaign."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index(
            "uq_tasks_open_contact_campaign",
            "contact_id",
            "campaign_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_tasks_manager_status", "manager_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    click_id: Mapped[int | None] = mapped_column(ForeignKey("clicks.id", ondelete="SET NULL"))
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_links.id", ondelete="SET NULL")
    )
    # The contact's owner when the click was judged; None: the shared queue.
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("managers.id", ondelete="SET NULL"))
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus), default=TaskStatus.OPEN)
    outcome: Mapped[TaskOutcome | None] = mapped_column(str_enum(TaskOutcome))
    note: Mapped[str] = mapped_column(Text, default="")
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Listed in a morning digest: each hot click is announced once.
    digested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Reminder(Base):
    """A manager's own task on a contact ("перезвонить через 2 дня"): a due date and a text.

    It shares the task list with hot clicks; due and overdue ones lead the morning page.
    """

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_manager_status_due", "manager_id", "status", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # The contact's owner when it was set: whose list it is on.
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("managers.id", ondelete="SET NULL"))
    due_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus), default=TaskStatus.OPEN)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GoneLetter(Base):
    """A deleted letter that was claimed for sending, written by a trigger on `letters`
    (migration 0010): the click path's memory (`directory.py`) forgets it."""

    __tablename__ = "gone_letters"
    __table_args__ = (Index("ix_gone_letters_gone_at", "gone_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int]
    gone_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Digest(Base):
    """A manager's morning digest of one local working day: the row is the claim on that
    day, so two runs never send two; sent_at is set once the relay took the letter."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("manager_id", "day", name="uq_digests_manager_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("managers.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)  # on the manager's clock
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
