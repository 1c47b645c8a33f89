"""Claims: which worker is sending a letter. Taking due letters, keeping the claim alive
while a batch goes out, and giving back the letters of workers that died.

A claim is one conditional UPDATE (a fresh token on rows still due), so two workers never
take the same letter; on PostgreSQL the candidates are locked FOR UPDATE SKIP LOCKED so
workers do not even wait for each other.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from mailer.delivery.models import CLAIMABLE, DUE_STATUSES, IN_FLIGHT, Letter, LetterStatus

# A claim older than this belongs to a worker that died (a send takes seconds, not minutes).
STALE_CLAIM = timedelta(minutes=10)
# A worker looks for dead workers' claims this often (seconds) while it has work.
RECOVER_EVERY = 60.0
# A batch held up by a slow relay renews its claim this often (seconds), well within
# STALE_CLAIM.
RENEW_CLAIMS_EVERY = STALE_CLAIM.total_seconds() / 5


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


@dataclass
class ClaimHeartbeat:
    """A batch's claims, renewed while it goes out: letters still to be sent stay ours while
    a slow relay holds the batch up, instead of looking like a dead worker's after
    STALE_CLAIM."""

    now: datetime
    tokens: set[str | None] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)
    renewed: float = field(default_factory=time.monotonic)

    def beat(self, session: Session) -> None:
        """Renew the claims if RENEW_CLAIMS_EVERY has passed; the caller commits."""
        if self.tokens and time.monotonic() - self.renewed >= RENEW_CLAIMS_EVERY:
            self.renewed = time.monotonic()
            session.execute(
                update(Letter)
                .where(Letter.claim_token.in_(self.tokens), IN_FLIGHT)
                .values(claimed_at=self.now + timedelta(seconds=time.monotonic() - self.started))
                .execution_options(synchronize_session=False)
            )
