"""Where planning reads and stores: what it needs of the book, and its letters as rows.

Planning (campaigns/planning.py) says what to plan: a letter's contact, campaign and due
time, and the terms all of a campaign's letters to one owner's time zone share. Here that
becomes rows of the letters table, streamed into one COPY on PostgreSQL: each letter's own
values are packed in front of its terms, which are encoded once (a tailed copy writer).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import DateTime, Row, select, text, type_coerce
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from mailer.contacts.models import Contact
from mailer.db import table_of
from mailer.delivery.models import Letter, LetterStatus
from mailer.storage.copy import TailedWriter, tailed_copy_writer
from mailer.storage.streaming import stream_rows
from mailer.storage.table_statistics import refresh_statistics
from mailer.tags.models import contact_tags


@dataclass(frozen=True)
class LetterTerms:
    """What every letter of one campaign in one year to one owner's time zone shares."""

    campaign_id: int
    tag_id: int
    kind: str
    year: int
    occasion_name: str
    occasion_on: date | None  # None for a purchase-month campaign
    expires_at: datetime  # aware UTC


class LetterStore:
    """New letters of a plan, written as rows as they come (see letter_store)."""

    def __init__(self, writer: TailedWriter, created_at: datetime) -> None:
        self._writer = writer
        self._created_at = created_at
        self._tails: dict[LetterTerms, Any] = {}
        self.count = 0

    def add(
        self, letters: Iterable[tuple[int, int, datetime]], terms: Iterable[LetterTerms]
    ) -> None:
        """Letters as (contact id, campaign id, due time), with the terms of their campaigns."""
        tails = {each.campaign_id: self._tail(each) for each in terms}
        # In contact order: a contact's letters then share the pages of the unique index,
        # and the key check finds the contact row it has just locked.
        rows = sorted(letters)
        self.count += len(rows)
        self._writer.write_tailed((c, k, at, at, tails[k]) for c, k, at in rows)

    def _tail(self, terms: LetterTerms) -> Any:
        """The row's end after contact, campaign and times, encoded once per terms."""
        if terms not in self._tails:
            now = self._created_at
            values = (
                terms.tag_id, terms.kind, terms.year, LetterStatus.PLANNED, terms.occasion_name,
                terms.occasion_on, 0, "", False, now, now, terms.expires_at,
            )  # fmt: skip
            self._tails[terms] = self._writer.encode_tail(values)
        return self._tails[terms]


# Each letter's own values, then its terms (and what a new letter starts with).
_COLUMNS = (
    "contact_id", "campaign_id", "planned_at", "due_at", "tag_id", "kind", "year", "status",
    "occasion_name", "occasion_on", "attempts", "last_error", "is_possible_duplicate",
    "created_at", "updated_at", "expires_at",
)  # fmt: skip
_ANALYZE_AFTER = 10_000  # letters added; fewer do not change the planner's picture much
_LETTERS = table_of(Letter)
_PLANNING_LOCK = 0x706C616E  # "plan": the advisory lock's first key; the year is the second


@contextmanager
def letter_store(session: Session, *, created_at: datetime) -> Iterator[LetterStore]:
    """A store for a plan's new letters; all of them are in the table when the block ends."""
    with tailed_copy_writer(session, _LETTERS, _COLUMNS) as writer:
        store = LetterStore(writer, created_at)
        yield store
    if store.count >= _ANALYZE_AFTER:
        refresh_statistics(session, _LETTERS)


def hold_year(session: Session, year: int) -> None:
    """Plan a year one transaction at a time, so letters can be copied straight in.

    Two planners of one year would both see a letter as new and the second would fail on
    the unique constraint. On PostgreSQL the second waits here until the first commits;
    its reads below then see the first's letters (read committed: a snapshot per
    statement). SQLite lets one transaction write at a time and fails a writer whose
    reads are stale, so a plan there never meets another's letters either.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key, :year)"),
            {"key": _PLANNING_LOCK, "year": year},
        )


def contacts_tagged(
    session: Session, year: int, tag_ids: Iterable[int]
) -> Iterator[Row[*tuple[Any, ...]]]:
    """(owner id, contact id, tag id, has consent, unsubscribed at, hard bounced at, whether
    the year's letter is planned) for the contacts with these tags, by owner, contact, tag.

    The two timestamps only say whether they are set: they are read without UTCDateTime's
    conversion, which would otherwise run per value for millions of rows.
    """
    planned = (
        select(Letter.id)
        .where(
            Letter.contact_id == contact_tags.c.contact_id,
            Letter.campaign_id == Campaign.id,
            Letter.year == year,
        )
        .exists()
    )
    return stream_rows(
        session,
        select(
            Contact.owner_id,
            contact_tags.c.contact_id,
            contact_tags.c.tag_id,
            Contact.has_consent,
            type_coerce(Contact.unsubscribed_at, DateTime(timezone=True)),
            type_coerce(Contact.hard_bounced_at, DateTime(timezone=True)),
            planned,
        )
        .join(Contact, Contact.id == contact_tags.c.contact_id)
        .join(Campaign, Campaign.tag_id == contact_tags.c.tag_id)
        .where(contact_tags.c.tag_id.in_(list(tag_ids)))
        .order_by(Contact.owner_id, contact_tags.c.contact_id, contact_tags.c.tag_id),
    )
