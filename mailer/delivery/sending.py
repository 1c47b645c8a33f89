"""Delivery: claim due letters, re-check the law, render from the current owner, send,
write the outcome back. Nothing is lost: a worker killed at any point leaves each letter
sent once or still to send; only letters in flight at the kill may go twice, and those
are marked as possible duplicates.

The parts live beside this send loop: the claim (`claims.py`), the retry policy
(`retry.py`), writing outcomes back (`writeback.py`) and what it sends through
(`messenger.py`, any object that can `send_all`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, exists, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mailer.contacts.book import mailing_block
from mailer.contacts.models import Contact
from mailer.contacts.preferred_names import PreferredName
from mailer.db import utcnow
from mailer.delivery.claims import STALE_CLAIM, ClaimKeeper, claim_due, recover_stale_claims
from mailer.delivery.messenger import Messenger
from mailer.delivery.models import Letter, LetterStatus
from mailer.delivery.retry import AttemptEnd, end_of_attempt
from mailer.delivery.writeback import Writes
from mailer.letters.composing import (
    ComposedLetter,
    CompositionError,
    LetterSettings,
    check_letter_tag,
    compose_to,
)
from mailer.letters.links import campaign_link_ids
from mailer.letters.lint import LetterLintError
from mailer.letters.rendering import LetterKind, Occasion, Recipient
from mailer.letters.sender import SenderError, SenderIdentity, resolve_sender
from mailer.managers.models import Manager
from mailer.managers.services import find_house_sender
from mailer.smtp import Outcome, Outgoing
from mailer.storage.listparams import in_list_param
from mailer.storage.transient import is_transient
from mailer.tags.models import Tag, contact_tags

# Outcomes are committed this often while a batch goes out.
COMMIT_EVERY = 20
# A batch out longer than this (seconds) re-checks, at its next commit, that its contacts
# still may get a letter: one who unsubscribes meanwhile gets none of those still queued.
RECHECK_AFTER = 5.0


def deliver_claimed(
    session: Session,
    ids: list[int],
    messenger: Messenger,
    settings: LetterSettings,
    *,
    now: datetime,
    concurrency: int = 4,
    lease: timedelta = STALE_CLAIM,
) -> Counter[str]:
    """Send this worker's claimed letters and write their outcomes back.

    The batch is loaded as plain rows and composed at once; all its Message-IDs are
    committed before the first byte goes out, so a retry repeats them. While the letters go
    out over `concurrency` SMTP sessions a ClaimKeeper renews the claims every quarter
    `lease`; every COMMIT_EVERY letters, just before the first of them gets its MAIL FROM,
    they are committed as begun (with the outcomes so far), so a kill leaves at most those
    and the ones in flight to be marked as possible duplicates. A batch out longer than
    RECHECK_AFTER re-checks consent and suppression (one query) and cancels the letters
    still queued for contacts who may no longer get one.
    """
    outcomes: Counter[str] = Counter()
    writes = Writes(now)
    outgoing = _compose_batch(session, ids, settings, writes, outcomes, now)
    writes.commit(session)
    tokens = {letter.claim_token for letter, _ in outgoing}
    with ClaimKeeper(session.get_bind().engine, tokens, now=now, lease=lease) as keeper:
        writes.is_held = keeper.is_held
        messages = [
            Outgoing(settings.envelope_from or c.sender.address, c.recipient, c.raw)
            for _, c in outgoing
        ]
        _send(session, outgoing, messages, messenger, writes, outcomes, concurrency)
    return outcomes


def _send(
    session: Session,
    outgoing: list[tuple[Row[Any], ComposedLetter]],
    messages: list[Outgoing],
    messenger: Messenger,
    writes: Writes,
    outcomes: Counter[str],
    concurrency: int,
) -> None:
    """Hand the composed letters to the messenger and write back what becomes of them."""
    unanswered = set(range(len(outgoing)))
    withdrawn: dict[int, str] = {}  # index → why it is not sent; the messenger reads it

    def begin(indices: Sequence[int]) -> None:
        for index in indices:
            writes.begin(outgoing[index][0])
        writes.commit(session)
        for index in indices:
            if outgoing[index][0].id in writes.taken_over:
                withdrawn[index] = _TAKEN_OVER

    checked_at = time.monotonic()
    results = messenger.send_all(
        messages,
        sessions=concurrency,
        withdrawn=withdrawn,
        on_start=begin,
        start_chunk=COMMIT_EVERY,
    )
    for done, (index, result) in enumerate(results, 1):
        letter, composed = outgoing[index]
        unanswered.discard(index)
        if result.outcome is Outcome.WITHDRAWN:
            if withdrawn[index] == _TAKEN_OVER:
                continue  # another worker holds it now: its outcome is that worker's
            end = AttemptEnd(LetterStatus.CANCELLED, withdrawn[index])
        else:
            end = end_of_attempt(
                result,
                attempts=letter.attempts,
                first_attempt_at=letter.first_attempt_at,
                now=writes.now,
            )
        writes.finish(letter, end)
        if end.status is LetterStatus.SENT:
            writes.sent(letter, composed)
        elif end.status is LetterStatus.BOUNCED:
            writes.bounced.add(letter.contact_id)  # this address gets no other letter
        outcomes[end.status.value] += 1
        if end.is_possible_duplicate:
            outcomes[POSSIBLE_DUPLICATE] += 1
        if writes.unwritten >= COMMIT_EVERY:
            writes.commit(session)
        if done % COMMIT_EVERY == 0 and unanswered:
            if time.monotonic() - checked_at >= RECHECK_AFTER:
                checked_at = time.monotonic()
                withdrawn.update(_withdrawn(session, outgoing, unanswered))
    writes.commit(session)


# Why a letter is withdrawn when its claim was taken over before it began.
_TAKEN_OVER = "claim taken over by another worker"


def _compose_batch(
    session: Session,
    ids: list[int],
    settings: LetterSettings,
    writes: Writes,
    outcomes: Counter[str],
    now: datetime,
) -> list[tuple[Row[Any], ComposedLetter]]:
    """The batch's letters ready to send; the others' endings are written and counted."""
    rows = _claimed_rows(session, ids)
    senders = _senders(session, {row.owner_id for row in rows})
    tags = {tag.id: tag for tag in session.scalars(select(Tag))}
    links = campaign_link_ids(session, (row.campaign_id for row in rows))
    outgoing: list[tuple[Row[Any], ComposedLetter]] = []
    for letter in rows:
        prepared = _prepare(letter, senders, tags, links[letter.campaign_id], settings, now)
        if isinstance(prepared, ComposedLetter):
            writes.composed(letter, prepared)
            outgoing.append((letter, prepared))
        else:
            writes.finish(letter, prepared)
            outcomes[prepared.status.value] += 1
    return outgoing


def _withdrawn(
    session: Session, outgoing: list[tuple[Row[Any], ComposedLetter]], unanswered: set[int]
) -> dict[int, str]:
    """Letters still queued whose contacts may no longer get one (unsubscribed meanwhile);
    none if the database cannot say right now (the next re-check asks again)."""
    try:
        blocked = _blocked_contacts(session, {outgoing[i][0].contact_id for i in unanswered})
    except DBAPIError as exc:
        if not is_transient(exc):
            raise
        session.rollback()
        return {}
    return {i: reason for i in unanswered if (reason := blocked.get(outgoing[i][0].contact_id))}


# The report's count of letters whose whole message went out without a final reply: the
# relay may have taken them, so the retry may be a second copy (with the same Message-ID).
POSSIBLE_DUPLICATE = "possible_duplicate"


def _blocked_contacts(session: Session, contact_ids: set[int]) -> dict[int, str]:
    """Which of these contacts may no longer get a letter, and why: one query."""
    return {
        row.id: mailing_block(row.has_consent, row.unsubscribed_at, row.hard_bounced_at) or ""
        for row in session.execute(_BLOCKED_CONTACTS, {"ids": sorted(contact_ids)})
    }


_BLOCKED_CONTACTS = select(
    Contact.id, Contact.has_consent, Contact.unsubscribed_at, Contact.hard_bounced_at
).where(
    in_list_param(Contact.id, "ids"),
    or_(
        Contact.has_consent.is_(False),
        Contact.unsubscribed_at.is_not(None),
        Contact.hard_bounced_at.is_not(None),
    ),
)


# What a batch needs of each claimed letter and its contact, as plain rows in one query:
# several times cheaper than ORM objects. Whether the contact still has the letter's tag
# comes along (a tag removed since planning fails the letter).
_CLAIMED_ROWS = (
    select(
        Letter.id,
        Letter.claim_token,
        Letter.kind,
        Letter.campaign_id,
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
        Letter.is_possible_duplicate,
        Letter.contact_id,
        Contact.email,
        Contact.first_name,
        Contact.middle_name,
        Contact.last_name,
        Contact.company_name,
        Contact.salutation,
        Contact.owner_id,
        Contact.has_consent,
        Contact.unsubscribed_at,
        Contact.hard_bounced_at,
        select(PreferredName.name)  # the name the client asked to be called, if any
        .where(PreferredName.contact_id == Letter.contact_id)
        .scalar_subquery()
        .label("preferred_name"),
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


def _prepare(
    letter: Row[Any],
    senders: dict[int, SenderIdentity | str],
    tags: dict[int, Tag],
    link_ids: Mapping[str, int],
    settings: LetterSettings,
    now: datetime,
) -> ComposedLetter | AttemptEnd:
    """The letter ready to send, or how it ends without being sent."""
    if now > letter.expires_at:
        return AttemptEnd(LetterStatus.EXPIRED, "out of season")
    if reason := mailing_block(letter.has_consent, letter.unsubscribed_at, letter.hard_bounced_at):
        return AttemptEnd(LetterStatus.CANCELLED, reason)
    sender = senders[letter.owner_id]
    if isinstance(sender, str):
        return AttemptEnd(LetterStatus.FAILED, sender)
    tag = tags[letter.tag_id]
    if not letter.has_tag:
        return AttemptEnd(LetterStatus.FAILED, f"{letter.email} has no tag {tag.code}")
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
            links=settings.links(letter.id, letter.contact_id, link_ids),
            occasion=Occasion(letter.occasion_name, letter.occasion_on)
            if letter.occasion_on
            else None,
            message_id=letter.message_id,
        )
    except (CompositionError, LetterLintError, ValueError) as exc:
        return AttemptEnd(LetterStatus.FAILED, str(exc))


@dataclass
class DeliveryReport:
    claimed: int = 0
    recovered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    repaced: int = 0  # overdue letters moved under their owners' caps (campaigns.backlog)

    def add(self, other: DeliveryReport) -> None:
        self.claimed += other.claimed
        self.recovered += other.recovered
        self.repaced += other.repaced
        self.outcomes.update(other.outcomes)


def deliver_due(
    session_factory: Callable[[], Session],
    messenger: Messenger,
    settings: LetterSettings,
    *,
    now: datetime | None = None,
    batch: int = 250,
    concurrency: int = 4,
    recover: bool = True,
    lease: timedelta = STALE_CLAIM,
) -> DeliveryReport:
    """Recover dead workers' claims (unless told not to: a busy worker does it once in a
    while, not before every batch), then claim and send one batch of due letters."""
    now = now or utcnow()
    report = DeliveryReport()
    with session_factory() as session:
        if recover:
            report.recovered = recover_stale_claims(session, now=now, older_than=lease)
        ids = claim_due(session, now=now, limit=batch)
        report.claimed = len(ids)
        report.outcomes = deliver_claimed(
            session, ids, messenger, settings, now=now, concurrency=concurrency, lease=lease
        )
    return report
