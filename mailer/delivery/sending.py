"""Delivery: claim due letters, re-check the law, render from the current owner, send,
write the outcome back. Nothing is lost: a worker killed at any point leaves each letter
sent once or still to send; only letters in flight at the kill may go twice, and those
are marked as possible duplicates.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Row, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session

from mailer.contacts.book import mailing_block
from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.db import table_of, utcnow
from mailer.delivery.models import CLAIMABLE, DUE_STATUSES, IN_FLIGHT, Letter, LetterStatus
from mailer.letters.composing import (
    ComposedLetter,
    CompositionError,
    LetterSettings,
    check_letter_tag,
    compose_to,
)
from mailer.letters.lint import LetterLintError
from mailer.letters.rendering import LetterKind, Occasion, Recipient
from mailer.letters.sender import SenderError, SenderIdentity, resolve_sender
from mailer.managers.models import Manager
from mailer.managers.services import find_house_sender
from mailer.smtp.transport import Outcome, Outgoing, SendResult, SmtpTransport
from mailer.storage.listparams import in_list_param
from mailer.tags.models import Tag, contact_tags

# Postfix's defaults as the model: 5 minutes, doubling, at most an hour; give up after 5 days.
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=5)
# A claim older than this belongs to a worker that died (a send takes seconds, not minutes).
STALE_CLAIM = timedelta(minutes=10)
# A worker looks for dead workers' claims this often (seconds) while it has work.
RECOVER_EVERY = 60.0
# Outcomes are committed this often while a batch goes out.
COMMIT_EVERY = 20
# A batch held up by a slow relay renews its claim this often (seconds), well within
# STALE_CLAIM.
RENEW_CLAIMS_EVERY = STALE_CLAIM.total_seconds() / 5


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
    claimed = session.scalars(
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
        .returning(Letter.id)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted(claimed)


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
        count += cast(CursorResult[Any], result).rowcount or 0
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

    The batch is loaded as plain rows and composed at once; all its Message-IDs are
    committed before the first byte goes out, so a retry repeats them. The letters then go
    over `concurrency` SMTP sessions and outcomes are committed every COMMIT_EVERY letters:
    a kill leaves at most the rest of one batch `sending`, to be recovered and marked as
    possible duplicates. Changes go back in a few statements per commit.
    """
    outcomes: Counter[str] = Counter()
    rows = _claimed_rows(session, ids)
    senders = _senders(session, {row.owner_id for row in rows})
    tags = {tag.id: tag for tag in session.scalars(select(Tag))}
    writes = _Writes(now)
    outgoing: list[tuple[Row[Any], ComposedLetter]] = []
    for letter in rows:
        prepared = _prepare(letter, senders, tags, settings, now)
        if isinstance(prepared, ComposedLetter):
            writes.composed(letter, prepared)
            outgoing.append((letter, prepared))
        else:
            writes.finish(letter, prepared)
            outcomes[prepared.status.value] += 1
    writes.commit(session)

    messages = [
        Outgoing(settings.envelope_from or c.sender.address, c.recipient, c.raw)
        for _, c in outgoing
    ]
    for done, (index, result) in enumerate(transport.send_all(messages, sessions=concurrency), 1):
        letter, composed = outgoing[index]
        end = _outcome(letter, result, now)
        writes.finish(letter, end)
        if end.status is LetterStatus.SENT:
            writes.sent(letter, composed)
        elif end.status is LetterStatus.BOUNCED:
            writes.bounced.add(letter.contact_id)  # this address gets no other letter
        outcomes[end.status.value] += 1
        if done % COMMIT_EVERY == 0:
            writes.commit(session)
    writes.commit(session)
    return outcomes


# What a batch needs of each claimed letter and its contact, as plain rows in one query:
# several times cheaper than ORM objects. Whether the contact still has the letter's tag
# comes along (a tag removed since planning fails the letter).
_CLAIMED_ROWS = (
    select(
        Letter.id,
        Letter.claim_token,
        Letter.kind,
        Letter.tag_id,
        Letter.occasion_name,
        Letter.occasion_on,
        Letter.message_id,
        Letter.expires_at,
        Letter.attempts,
        Letter.first_attempt_at,
        Letter.last_code,
        Letter.due_at,
        Letter.sent_at,
        Letter.contact_id,
        Contact.email,
        Contact.first_name,
        Contact.middle_name,
        Contact.last_name,
        Contact.company_name,
        Contact.owner_id,
        Contact.has_consent,
        Contact.unsubscribed_at,
        Contact.hard_bounced_at,
        exists()
        .where(
            contact_tags.c.contact_id == Letter.contact_id,
            contact_tags.c.tag_id == Letter.tag_id,
        )
        .label("has_tag"),
    )
    .join(Contact, Contact.id == Letter.contact_id)
    .where(in_list_param(Letter.id, "ids"), Letter.status == LetterStatus.SENDING)
    .order_by(Letter.id)
)


def _claimed_rows(session: Session, ids: list[int]) -> Sequence[Row[Any]]:
    return cast(Sequence[Row[Any]], session.execute(_CLAIMED_ROWS, {"ids": ids}).all())


def _senders(session: Session, owner_ids: set[int]) -> dict[int, SenderIdentity | str]:
    """Who writes for each owner now (the owner, or the house sender for an inactive one),
    or why no one can: resolved once per batch, not per letter."""
    house = find_house_sender(session)
    senders: dict[int, SenderIdentity | str] = {}
    for owner in session.scalars(select(Manager).where(Manager.id.in_(owner_ids))):
        try:
            senders[owner.id] = resolve_sender(owner, house)
        except SenderError as exc:
            senders[owner.id] = str(exc)
    return senders


@dataclass(frozen=True)
class _End:
    """How one attempt at a letter ends."""

    status: LetterStatus
    error: str = ""
    code: int | None = None
    due_at: datetime | None = None  # the next attempt, for a deferred letter


def _prepare(
    letter: Row[Any],
    senders: dict[int, SenderIdentity | str],
    tags: dict[int, Tag],
    settings: LetterSettings,
    now: datetime,
) -> ComposedLetter | _End:
    """The letter ready to send, or how it ends without being sent."""
    if now > letter.expires_at:
        return _End(LetterStatus.EXPIRED, "out of season")
    if reason := mailing_block(letter.has_consent, letter.unsubscribed_at, letter.hard_bounced_at):
        return _End(LetterStatus.CANCELLED, reason)
    sender = senders[letter.owner_id]
    if isinstance(sender, str):
        return _End(LetterStatus.FAILED, sender)
    tag = tags[letter.tag_id]
    if not letter.has_tag:
        return _End(LetterStatus.FAILED, f"{letter.email} has no tag {tag.code}")
    try:
        kind = LetterKind(letter.kind)
        check_letter_tag(tag, kind)
        return compose_to(
            Recipient.of(letter),
            letter.contact_id,
            kind,
            sender=sender,
            tag=tag,
            now=now,
            settings=settings,
            occasion=Occasion(letter.occasion_name, letter.occasion_on)
            if letter.occasion_on
            else None,
            message_id=letter.message_id,
        )
    except (CompositionError, LetterLintError, ValueError) as exc:
        return _End(LetterStatus.FAILED, str(exc))


def _outcome(letter: Row[Any], result: SendResult, now: datetime) -> _End:
    """What the relay's answer means for the letter: sent, bounced, retried or given up."""
    if result.outcome is Outcome.SENT:
        return _End(LetterStatus.SENT, code=result.code)
    if result.outcome is Outcome.BOUNCED:
        return _End(LetterStatus.BOUNCED, result.message, result.code)
    first = letter.first_attempt_at or now
    if now - first >= GIVE_UP_AFTER:
        error = f"gave up after {GIVE_UP_AFTER.days} days: {result.message}"
        return _End(LetterStatus.FAILED, error, result.code)
    due = now + backoff(letter.attempts)
    return _End(LetterStatus.DEFERRED, result.message, result.code, due)


# By id and claim token: once a letter's claim was taken over (recovered as stale and
# claimed by another worker), what this worker learns about it is no longer written.
_CLAIMED_LETTER = update(table_of(Letter)).where(
    table_of(Letter).c.id == bindparam("letter_id"),
    table_of(Letter).c.claim_token == bindparam("token"),
)


# Sent letters of one claim, in one statement: the common outcome, with nothing per letter
# but its id.
_SENT_LETTERS = (
    update(table_of(Letter))
    .where(
        in_list_param(table_of(Letter).c.id, "ids"),
        table_of(Letter).c.claim_token == bindparam("token"),
    )
    .values(
        status=LetterStatus.SENT,
        last_error="",
        last_code=bindparam("code"),
        claim_token=None,
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)


@dataclass
class _Writes:
    """A batch's changes, gathered and then written in a few statements per commit."""

    now: datetime
    message_ids: list[dict[str, Any]] = field(default_factory=list)
    sent_ids: defaultdict[tuple[str, int | None], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    letters: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    bounced: set[int] = field(default_factory=set)
    tokens: set[str | None] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)
    renewed: float = field(default_factory=time.monotonic)

    def composed(self, letter: Row[Any], composed: ComposedLetter) -> None:
        """Its Message-ID and sender, committed before the first byte goes out."""
        self.tokens.add(letter.claim_token)
        self.message_ids.append(
            {
                "letter_id": letter.id,
                "token": letter.claim_token,
                "message_id": composed.message_id,
                "sender_id": composed.sender.manager_id,
            }
        )

    def finish(self, letter: Row[Any], end: _End) -> None:
        if end.status is LetterStatus.SENT:
            self.sent_ids[letter.claim_token, end.code].append(letter.id)
            return
        self.letters.append(
            {
                "letter_id": letter.id,
                "token": letter.claim_token,
                "status": end.status,
                "last_error": end.error[:2000],
                "last_code": letter.last_code if end.code is None else end.code,
                "claim_token": None,
                "due_at": end.due_at or letter.due_at,
                "sent_at": letter.sent_at,
                "updated_at": self.now,
            }
        )

    def sent(self, letter: Row[Any], composed: ComposedLetter) -> None:
        self.history.append(
            {
                "contact_id": letter.contact_id,
                "kind": HistoryKind.SENT,
                "author_id": composed.sender.manager_id,
                "body": f"«{composed.letter.subject}»",
                "created_at": self.now,
            }
        )

    def commit(self, session: Session) -> None:
        # Core executemany: the ORM's bulk paths cost more Python per row than the SQL.
        if self.message_ids:
            session.execute(_CLAIMED_LETTER, self.message_ids)
        for (token, code), ids in self.sent_ids.items():
            session.execute(
                _SENT_LETTERS, {"ids": ids, "token": token, "code": code, "now": self.now}
            )
        if self.letters:
            session.execute(_CLAIMED_LETTER, self.letters)
        if self.history:
            session.execute(insert(table_of(HistoryEntry)), self.history)
        if self.bounced:
            session.execute(
                update(Contact)
                .where(Contact.id.in_(self.bounced), Contact.hard_bounced_at.is_(None))
                .values(hard_bounced_at=self.now)
                .execution_options(synchronize_session=False)
            )
        # A heartbeat: letters still to be sent stay ours while a slow relay holds the
        # batch up, instead of looking like a dead worker's after STALE_CLAIM.
        if self.tokens and time.monotonic() - self.renewed >= RENEW_CLAIMS_EVERY:
            self.renewed = time.monotonic()
            session.execute(
                update(Letter)
                .where(Letter.claim_token.in_(self.tokens), IN_FLIGHT)
                .values(claimed_at=self.now + timedelta(seconds=time.monotonic() - self.started))
                .execution_options(synchronize_session=False)
            )
        session.commit()
        self.message_ids.clear()
        self.sent_ids.clear()
        self.letters.clear()
        self.history.clear()
        self.bounced.clear()


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
    batch: int = 250,
    concurrency: int = 4,
    recover: bool = True,
) -> DeliveryReport:
    """Recover dead workers' claims (unless told not to: a busy worker does it once in a
    while, not before every batch), then claim and send one batch of due letters."""
    now = now or utcnow()
    report = DeliveryReport()
    with session_factory() as session:
        if recover:
            report.recovered = recover_stale_claims(session, now=now)
        ids = claim_due(session, now=now, limit=batch)
        report.claimed = len(ids)
        report.outcomes = deliver_claimed(
            session, ids, transport, settings, now=now, concurrency=concurrency
        )
    return report
