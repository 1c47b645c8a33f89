"""Leases: which process currently holds a role (the scheduler) across machines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime


class Lease(Base):
    """A named role held by one process until `expires_at`, renewed while it lives."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
