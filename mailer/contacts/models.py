"""Client contacts: who they are, who owns them, whether they may be mailed, and their history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, null
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.contacts.addresses import display_email
from mailer.contacts.company import company_display
from mailer.db import Base, UTCDateTime, str_enum, utcnow
from mailer.managers.models import Manager
from mailer.tags.models import Tag, contact_tags


class Contact(Base):
    """A person at a client company, owned by exactly one manager."""

    __tablename__ = "contacts"
    # "Who owns this phone / company?" is answered from the index alone.
    __table_args__ = (
        Index("ix_contacts_phone_owner", "phone", "owner_id"),
        Index("ix_contacts_company_key_owner", "company_key", "owner_id"),
        Index("ix_contacts_company_alias_key_owner", "company_alias_key", "owner_id"),
        # A CRM's id names one person however their e-mail changes between two exports.
        Index("ix_contacts_source", "source_system", "source_id", unique=True),
    )
    # The server defaults below are read when wanted, not returned by every insert.
    __mapper_args__ = {"eager_defaults": False}

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    middle_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    company_name: Mapped[str] = mapped_column(String(300), default="")
    company_alias: Mapped[str] = mapped_column(String(300), default="")
    # Search keys for either spelling of the company: case-folded, ё as е, no quotes.
    company_key: Mapped[str] = mapped_column(String(300), default="")
    company_alias_key: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[str] = mapped_column(String(300), default="")
    # Normalised, lower-case, IDN domain in its ASCII form: what is sent to and compared.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("managers.id", ondelete="RESTRICT"), index=True
    )
    has_consent: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_source: Mapped[str] = mapped_column(Text, default="")
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hard_bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Server defaults and deferred loading: read only by the import and the greeting, and
    # an insert or a load that does not name them (the migrations' tests write through the
    # model at earlier revisions) still works.
    # "г-н" / "г-жа" from the CRM: the greeting's gender when the name alone leaves it open.
    salutation: Mapped[str] = mapped_column(String(8), server_default="", deferred=True)
    # The CRM the contact was imported from ("bitrix24", "amocrm", "file") and its id there.
    source_system: Mapped[str] = mapped_column(String(16), server_default="", deferred=True)
    source_id: Mapped[str | None] = mapped_column(String(64), server_default=null(), deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[Manager] = relationship(lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, order_by=Tag.code)

    @property
    def company_display(self) -> str:
        """The company as people write it: `Тойота (Toyota)`."""
        return company_display(self.company_name, self.company_alias)

    @property
    def email_display(self) -> str:
        """The e-mail as people read it: an IDN domain in Unicode (stored in ASCII)."""
        return display_email(self.email)

    @property
    def full_name(self) -> str:
        parts = (self.last_name, self.first_name, self.middle_name)
        return " ".join(p for p in parts if p)

    def __repr__(self) -> str:
        return f"<Contact {self.email}>"


class ChannelKind(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"


class ContactChannel(Base):
    """A contact's other e-mail or phone (the main ones are on the contact): a CRM keeps
    several, and the owner check matches on every one of them."""

    __tablename__ = "contact_channels"
    __table_args__ = (
        UniqueConstraint("contact_id", "kind", "value", name="uq_contact_channels_value"),
        # "Who holds this phone / e-mail?": the value leads, so a list of values is searched
        # value by value.
        Index("ix_contact_channels_value_kind", "value", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind))
    value: Mapped[str] = mapped_column(String(320))


class HistoryKind(enum.StrEnum):
    CALL = "call"
    MEETING = "meeting"
    LETTER = "letter"
    NOTE = "note"
    TRANSFER = "transfer"
    SENT = "sent"  # a campaign letter delivered on the owner's behalf
    CLICK = "click"  # a person followed a link in a letter
    TASK = "task"  # a hot click handed to the owner, and how the owner closed it
    UNSUBSCRIBE = "unsubscribe"


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
    # A sent letter's entry: which letter (no key: the entry outlives a deleted letter).
    letter_id: Mapped[int | None]
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
