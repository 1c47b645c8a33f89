"""Accounts of the web desks: who signs in, with which role, and as which manager."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, str_enum, utcnow
from mailer.managers.models import Manager


class Role(enum.StrEnum):
    MARKETING = "marketing"  # sees and edits everything
    MANAGER = "manager"  # sees only the contacts, tasks and clicks of its manager


class User(Base):
    """One person's account; a manager's account is linked to the manager it works as."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Werkzeug's `scrypt:...$salt$hash`: never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    # Part of the session's user id: a new password signs every other session out.
    session_token: Mapped[str] = mapped_column(String(32))
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    manager: Mapped[Manager | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
