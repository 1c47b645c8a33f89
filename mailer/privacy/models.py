"""The suppression list of erased addresses: a one-way hash, never the address itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, utcnow


class ErasedAddress(Base):
    """An address whose owner asked to be forgotten; a later import must not bring it back."""

    __tablename__ = "erased_addresses"

    # SHA-256 of the normalised address, hex: the address cannot be read back from it.
    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
