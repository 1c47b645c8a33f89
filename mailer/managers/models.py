"""Sales managers ("advisors"): the people letters are sent from."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import CheckConstraint, Index, String, Text, Time, text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, utcnow


class Manager(Base):
    """An owner of contacts; the house sender is a fictional persona for unworked contacts."""

    __tablename__ = "managers"
    __table_args__ = (
        CheckConstraint("daily_cap > 0", name="daily_cap_positive"),
        CheckConstraint("work_starts_at < work_ends_at", name="working_hours_order"),
        # At most one house sender: a partial unique index both databases understand.
        Index(
            "uq_managers_one_house_sender",
            "is_house",
            unique=True,
            sqlite_where=text("is_house"),
            postgresql_where=text("is_house"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    signature: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    work_starts_at: Mapped[time] = mapped_column(Time, default=time(9, 0))
    work_ends_at: Mapped[time] = mapped_column(Time, default=time(18, 0))
    daily_cap: Mapped[int] = mapped_column(default=40)
    is_active: Mapped[bool] = mapped_column(default=True)
    is_house: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Manager {self.email}>"
