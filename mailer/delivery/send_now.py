"""Sending one planned letter at once, for a check support asks for: the contact's letter
of one campaign and year goes through the normal path (claim, re-check, render from the
current owner, SMTP, outcome and history written back), only sooner.

Like `deliver_due` it is a job that commits as it goes (the claim, then the outcomes);
a refusal changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from mailer.contacts.book import mailing_block
from mailer.contacts.models import Contact
from mailer.delivery.messenger import Messenger
from mailer.delivery.models import DUE_STATUSES, Letter, LetterStatus
from mailer.delivery.sending import deliver_claimed
from mailer.letters.composing import LetterSettings
from mailer.tags.models import Tag


class SendNowError(ValueError):
    """The letter may not or cannot go now; the message says why."""


@dataclass(frozen=True)
class SendNowResult:
    """How the attempt ended, as the letter's row now says."""

    letter_id: int
    status: LetterStatus
    message_id: str | None
    last_error: str
    due_at: datetime  # a deferred letter's retry


def send_planned_now(
    session: Session,
    contact: Contact,
    tag_code: str,
    year: int | None,
    messenger: Messenger,
    settings: LetterSettings,
    *,
    now: datetime,
) -> SendNowResult:
    """Send the contact's planned letter of the tag's campaign and `year` (None: the first
    one still waiting from this year on) now.

    Refused (SendNowError, nothing changed) when the contact may get no letter (consent,
    unsubscribe, hard bounce), when no such letter waits to be sent, or when its season
    is over (delivery would expire it unsent).
    """
    letter = _waiting_letter(session, contact, tag_code, year, now)
    letter_id = letter.id
    _claim(session, letter_id, now)
    deliver_claimed(session, [letter_id], messenger, settings, now=now, concurrency=1)
    session.expire_all()
    done = session.get_one(Letter, letter_id)
    return SendNowResult(letter_id, done.status, done.message_id, done.last_error, done.due_at)


def _waiting_letter(
    session: Session, contact: Contact, tag_code: str, year: int | None, now: datetime
) -> Letter:
    if block := mailing_block(
        contact.has_consent, contact.unsubscribed_at, contact.hard_bounced_at
    ):
        raise SendNowError(f"{contact.email} may get no letters: {block}")
    tag = session.scalar(select(Tag).where(Tag.code == tag_code.strip()))
    if tag is None:
        raise SendNowError(f"no campaign tag {tag_code!r} (see `mailer campaigns list`)")
    letter = session.scalar(
        select(Letter)
        .where(
            Letter.contact_id == contact.id,
            Letter.tag_id == tag.id,
            Letter.year == year if year else Letter.year >= now.year,
        )
        # With no year: the first letter still waiting, else the first ended one (whose
        # status the refusal then names).
        .order_by(Letter.status.in_(DUE_STATUSES).desc(), Letter.year)
    )
    if letter is None:
        year_text = year or f"{now.year} or later"
        raise SendNowError(f"{contact.email} has no {tag.code} letter planned for {year_text}")
    what = f"{contact.email}'s {tag.code} letter of {letter.year}"
    if letter.status is LetterStatus.SENT:
        raise SendNowError(f"{what} was already sent on {letter.sent_at:%Y-%m-%d %H:%M} UTC")
    if letter.status is LetterStatus.SENDING:
        raise SendNowError(f"{what} is being sent by a worker right now")
    if letter.status not in DUE_STATUSES:
        said = f": {letter.last_error}" if letter.last_error else ""
        raise SendNowError(f"{what} is {letter.status.value}{said}")
    if now > letter.expires_at:
        raise SendNowError(f"{what} is out of season since {letter.expires_at:%Y-%m-%d}")
    return letter


def _claim(session: Session, letter_id: int, now: datetime) -> None:
    """Claim the one letter as `claim_due` claims a batch (a fresh token on a row still
    due), so a worker cannot take it meanwhile; committed, as claims are."""
    result = session.execute(
        update(Letter)
        .where(Letter.id == letter_id, Letter.status.in_(DUE_STATUSES))
        .values(
            status=LetterStatus.SENDING,
            claim_token=uuid.uuid4().hex,
            claimed_at=now,
            attempts=Letter.attempts + 1,
            first_attempt_at=func.coalesce(Letter.first_attempt_at, now),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        session.rollback()
        raise SendNowError("a worker took the letter meanwhile; see `mailer campaigns explain`")
    session.commit()
