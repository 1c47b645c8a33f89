"""Delivery: claim due letters, re-check the law, render from the current owner, send,
write the outcome back. Nothing is lost: a worker killed at any point leaves each letter
sent once or still to send; only letters in flight at the kill may go twice, and those
are marked as possible duplicates.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailer.composing import CompositionError, LetterSettings, compose_letter
from mailer.contacts import mailing_block
from mailer.db import utcnow
from mailer.letters import LetterKind, Occasion
from mailer.lint import LetterLintError
from mailer.models import (
    CLAIMABLE,
    DUE_STATUSES,
    IN_FLIGHT,
    HistoryEntry,
    HistoryKind,
    Letter,
    LetterStatus,
    Tag,
)
from mailer.sender import SenderError
from mailer.smtp import Outcome, SendResult, SmtpTransport

# Postfix's defaults as the model: 5 minutes, doubling, at most an hour; give up after 5 days.
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=5)
# A claim older than this belongs to a worker that died (a send takes seconds, not minutes).
STALE_CLAIM = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` tries."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def claim_due(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` due letters for this worker and commit the claim.

    One conditional UPDATE marks the rows `sending` with a fresh token, so two workers
    never take the same letter; on PostgreSQL the candidate rows are locked with
    FOR UPDATE SKIP LOCKED so workers do not even wait for each other.
    """
    token = uuid.uuid4().hex
    candidates = (
        select(Letter.id)
        .where(CLAIMABLE, Letter.due_at <= now)  # in those words, so ix_letters_due serves
        .order_by(Letter.due_at, Letter.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    session.execute(
        update(Letter)
        .where(Letter.id.in_(candidates.scalar_subquery()), Letter.status.in_(DUE_STATUSES))
        .values(
            status=LetterStatus.SENDING,
            claim_token=token,
            claimed_at=now,
            attempts=Letter.attempts + 1,
            first_attempt_at=func.coalesce(Letter.first_attempt_at, now),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return list(session.scalars(select(Letter.id).where(Letter.claim_token == token)))


def recover_stale_claims(
    session: Session, *, now: datetime, older_than: timedelta = STALE_CLAIM
) -> int:
    """Letters left `sending` by a dead worker go back to the queue.

    One that already had its Message-ID may have reached the server: it is marked as a
    possible duplicate and retried with the same Message-ID, so most receivers drop it.
    """
    stale = (IN_FLIGHT, Letter.claimed_at < now - older_than)  # as ix_letters_in_flight says
    count = 0
    for maybe_sent in (True, False):
        has_id = Letter.message_id.is_not(None) if maybe_sent else Letter.message_id.is_(None)
        values: dict[str, object] = {
            "status": LetterStatus.DEFERRED,
            "due_at": now,
            "claim_token": None,
            "updated_at": now,
        }
        if maybe_sent:
            values["is_possible_duplicate"] = True
        result = session.execute(
            update(Letter)
            .where(*stale, has_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        count += result.rowcount or 0
    session.commit()
    return count


def deliver_letter(
    session: Session,
    letter_id: int,
    transport: SmtpTransport,
    settings: LetterSettings,
    *,
    now: datetime,
) -> LetterStatus:
    """Send one claimed letter and write its outcome; every path ends in a commit."""
    letter = session.get(Letter, letter_id)
    if letter is None or letter.status is not LetterStatus.SENDING:
        return letter.status if letter else LetterStatus.CANCELLED
    contact = letter.contact
    if now > letter.expires_at:
        return _finish(session, letter, LetterStatus.EXPIRED, now, error="out of season")
    if reason := mailing_block(
        contact.has_consent, contact.unsubscribed_at, contact.hard_bounced_at
    ):
        return _finish(session, letter, LetterStatus.CANCELLED, now, error=reason)
    tag = session.get(Tag, letter.tag_id)
    try:
        composed = compose_letter(
            session,
            contact,
            LetterKind(letter.kind),
            now=now,
            settings=settings,
            tag_code=tag.code if tag else None,
            occasion=Occasion(letter.occasion_name, letter.occasion_on)
            if letter.occasion_on
            else None,
            message_id=letter.message_id,
        )
    except (CompositionError, LetterLintError, SenderError, ValueError) as exc:
        return _finish(session, letter, LetterStatus.FAILED, now, error=str(exc))
    # The Message-ID is saved before the first byte goes out: a retry repeats it.
    letter.message_id = composed.message_id
    letter.sender_id = composed.sender.manager_id
    session.commit()
    result = transport.send(
        settings.envelope_from or composed.sender.address, composed.recipient, composed.raw
    )
    return _record(session, letter, result, now, subject=composed.letter.subject)


def _record(
    session: Session, letter: Letter, result: SendResult, now: datetime, *, subject: str
) -> LetterStatus:
    letter.last_code = result.code
    if result.outcome is Outcome.SENT:
        session.add(
            HistoryEntry(
                contact_id=letter.contact_id,
                kind=HistoryKind.SENT,
                author_id=letter.sender_id,
                body=f"«{subject}»",
                created_at=now,
            )
        )
        letter.sent_at = now
        return _finish(session, letter, LetterStatus.SENT, now)
    if result.outcome is Outcome.BOUNCED:
        letter.contact.hard_bounced_at = now  # 5xx: this address never gets another letter
        return _finish(session, letter, LetterStatus.BOUNCED, now, error=result.message)
    first = letter.first_attempt_at or now
    if now - first >= GIVE_UP_AFTER:
        return _finish(
            session,
            letter,
            LetterStatus.FAILED,
            now,
            error=f"gave up after {GIVE_UP_AFTER.days} days: {result.message}",
        )
    letter.due_at = now + backoff(letter.attempts)
    return _finish(session, letter, LetterStatus.DEFERRED, now, error=result.message)


def _finish(
    session: Session, letter: Letter, status: LetterStatus, now: datetime, *, error: str = ""
) -> LetterStatus:
    letter.status = status
    letter.last_error = error[:2000]
    letter.claim_token = None
    letter.updated_at = now
    session.commit()
    return status


@dataclass
class DeliveryReport:
    claimed: int = 0
    recovered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def deliver_due(
    session_factory: Callable[[], Session],
    transport: SmtpTransport,
    settings: LetterSettings,
    *,
    now: datetime | None = None,
    batch: int = 100,
    concurrency: int = 4,
) -> DeliveryReport:
    """Recover dead workers' claims, then claim and send one batch of due letters."""
    now = now or utcnow()
    report = DeliveryReport()
    with session_factory() as session:
        report.recovered = recover_stale_claims(session, now=now)
        ids = claim_due(session, now=now, limit=batch)
    report.claimed = len(ids)

    def one(letter_id: int) -> LetterStatus:
        with session_factory() as session:
            return deliver_letter(session, letter_id, transport, settings, now=now)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for status in pool.map(one, ids):
            report.outcomes[status.value] += 1
    return report
