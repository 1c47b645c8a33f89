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
from sqlalchemy.orm import Session, joinedload

from mailer.composing import ComposedLetter, CompositionError, LetterSettings, compose_letter
from mailer.contacts import mailing_block
from mailer.db import utcnow
from mailer.letters import LetterKind, Occasion
from mailer.lint import LetterLintError
from mailer.managers import find_house_sender
from mailer.models import (
    DUE_STATUSES,
    Contact,
    HistoryEntry,
    HistoryKind,
    Letter,
    LetterStatus,
    Manager,
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
# Outcomes are committed this often while a batch goes out.
COMMIT_EVERY = 20


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
        .where(Letter.status.in_(DUE_STATUSES), Letter.due_at <= now)
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
    stale = (Letter.status == LetterStatus.SENDING, Letter.claimed_at < now - older_than)
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


def deliver_claimed(
    session: Session,
    ids: list[int],
    transport: SmtpTransport,
    settings: LetterSettings,
    *,
    now: datetime,
    concurrency: int = 4,
) -> Counter[str]:
    """Send this worker's claimed letters and write their outcomes back.

    The batch is loaded in a few queries and composed at once; all its Message-IDs are
    committed before the first byte goes out, so a retry repeats them. The letters then go
    over `concurrency` SMTP sessions and outcomes are committed every few letters, which
    keeps the letters a kill could catch in flight to a handful.
    """
    outcomes: Counter[str] = Counter()
    house = find_house_sender(session)
    tag_codes: dict[int, str] = {
        tag_id: code for tag_id, code in session.execute(select(Tag.id, Tag.code))
    }
    outgoing: list[tuple[Letter, ComposedLetter]] = []
    for letter in _claimed_letters(session, ids):
        prepared = _prepare(letter, house, tag_codes, settings, now)
        if isinstance(prepared, LetterStatus):
            outcomes[prepared.value] += 1
        else:
            outgoing.append((letter, prepared))
    session.commit()

    def send(item: tuple[Letter, ComposedLetter]) -> SendResult:
        composed = item[1]
        envelope_from = settings.envelope_from or composed.sender.address
        return transport.send(envelope_from, composed.recipient, composed.raw)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for done, (item, result) in enumerate(
            zip(outgoing, pool.map(send, outgoing), strict=True), 1
        ):
            letter, composed = item
            status = _record(session, letter, result, now, subject=composed.letter.subject)
            outcomes[status.value] += 1
            if done % COMMIT_EVERY == 0:
                session.commit()
    session.commit()
    return outcomes


def _claimed_letters(session: Session, ids: list[int]) -> list[Letter]:
    """The claimed letters with their contacts, owners and tags, in three queries."""
    query = (
        select(Letter)
        .where(Letter.id.in_(ids), Letter.status == LetterStatus.SENDING)
        .options(joinedload(Letter.contact).selectinload(Contact.tags))
        .order_by(Letter.id)
    )
    return list(session.scalars(query).unique())


def _prepare(
    letter: Letter,
    house: Manager | None,
    tag_codes: dict[int, str],
    settings: LetterSettings,
    now: datetime,
) -> ComposedLetter | LetterStatus:
    """The letter ready to send, or the status it ends in without being sent."""
    contact = letter.contact
    if now > letter.expires_at:
        return _finish(letter, LetterStatus.EXPIRED, now, error="out of season")
    if reason := mailing_block(
        contact.has_consent, contact.unsubscribed_at, contact.hard_bounced_at
    ):
        return _finish(letter, LetterStatus.CANCELLED, now, error=reason)
    try:
        composed = compose_letter(
            contact,
            LetterKind(letter.kind),
            house_sender=house,
            now=now,
            settings=settings,
            tag_code=tag_codes.get(letter.tag_id),
            occasion=Occasion(letter.occasion_name, letter.occasion_on)
            if letter.occasion_on
            else None,
            message_id=letter.message_id,
        )
    except (CompositionError, LetterLintError, SenderError, ValueError) as exc:
        return _finish(letter, LetterStatus.FAILED, now, error=str(exc))
    letter.message_id = composed.message_id
    letter.sender_id = composed.sender.manager_id
    return composed


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
        return _finish(letter, LetterStatus.SENT, now)
    if result.outcome is Outcome.BOUNCED:
        letter.contact.hard_bounced_at = now  # 5xx: this address never gets another letter
        return _finish(letter, LetterStatus.BOUNCED, now, error=result.message)
    first = letter.first_attempt_at or now
    if now - first >= GIVE_UP_AFTER:
        return _finish(
            letter,
            LetterStatus.FAILED,
            now,
            error=f"gave up after {GIVE_UP_AFTER.days} days: {result.message}",
        )
    letter.due_at = now + backoff(letter.attempts)
    return _finish(letter, LetterStatus.DEFERRED, now, error=result.message)


def _finish(
    letter: Letter, status: LetterStatus, now: datetime, *, error: str = ""
) -> LetterStatus:
    letter.status = status
    letter.last_error = error[:2000]
    letter.claim_token = None
    letter.updated_at = now
    return status


@dataclass
class DeliveryReport:
    claimed: int = 0
    recovered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, other: DeliveryReport) -> None:
        self.claimed += other.claimed
        self.recovered += other.recovered
        self.outcomes.update(other.outcomes)


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
        report.outcomes = deliver_claimed(
            session, ids, transport, settings, now=now, concurrency=concurrency
        )
    return report
