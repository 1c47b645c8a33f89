"""The tag taxonomy: industry, holiday and New Year purchase-month tags and their aliases."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, str_enum, utcnow


class TagKind(enum.StrEnum):
    INDUSTRY = "industry"
    HOLIDAY = "holiday"
    MONTH = "month"


contact_tags = Table(
    "contact_tags",
    Base.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
    # When the tag was put on: a contact tagged in June still gets that year's later letters.
    Column("tagged_at", UTCDateTime, nullable=False, default=utcnow),
)


class Tag(Base):
    """One interest a client has shown; codes are what campaigns and exports refer to."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[TagKind] = mapped_column(str_enum(TagKind))
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    occasion_name: Mapped[str] = mapped_column(String(300), default="")
    occasion_rule: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    aliases: Mapped[list[TagAlias]] = relationship(
        back_populates="tag", cascade="all, delete-orphan", order_by="TagAlias.id"
    )

    def __repr__(self) -> str:
        return f"<Tag {self.code}>"


class TagAlias(Base):
    """A word managers type for a tag, stored normalised (case-folded, ё as е)."""

    __tablename__ = "tag_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(200), unique=True)

    tag: Mapped[Tag] = relationship(back_populates="aliases")
