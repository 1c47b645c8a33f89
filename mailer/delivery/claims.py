"""Claims: which worker is sending a letter. Taking due letters, keeping the claim alive
while a batch goes out, and giving back the letters of workers that died.

A claim is one conditional UPDATE (a fresh token on rows still due), so two workers never
take the same letter; on PostgreSQL the candidates are locked FOR UPDATE SKIP LOCKED so
workers do not even wait for each other.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import CursorResult, Engine, case, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mailer.delivery.models import CLAIMABLE, DUE_STATUSES, IN_FLIGHT, Letter, LetterStatus

log = logging.getLogger(__name__)

# A claim not renewed for this long belongs to a worker that died: a live one renews its
# claims every quarter of it (WORKER_CLAIM_LEASE sets it; this is the default).
STALE_CLAIM = timedelta(seconds=60)
# A worker looks for dead workers' claims this often (seconds) while it has work.
RECOVER_EVERY = STALE_CLAIM.total_seconds() / 4


def claim_values(token: str, now: datetime) -> dict[str, Any]:
    """What a claim writes on a letter: one definition for `claim_due` and `send_now`."""
    return {
        "status": LetterStatus.SENDING,
        "claim_token": token,
        "claimed_at": now,
        "began_at": None,
        "attempts": Letter.attempts + 1,
        "first_attempt_at": func.coalesce(Letter.first_attempt_at, now),
        "updated_at": now,
    }


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
        .values(claim_values(token, now))
        .returning(Letter.id)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted(claimed)


def recover_stale_claims(
    session: Session, *, now: datetime, older_than: timedelta = STALE_CLAIM
) -> int:
    """Letters left `sending` by a dead worker go back to the queue.

    Only those whose SMTP transaction may have begun (`began_at`, set just before MAIL
    FROM) may have reached the server: they are marked as possible duplicates and retried
    with the same Message-ID, so most receivers drop a second copy. The rest never left.
    """
    result = session.execute(
        update(Letter)
        .where(IN_FLIGHT, Letter.claimed_at < now - older_than)  # as ix_letters_in_flight says
        .values(
            status=LetterStatus.DEFERRED,
            due_at=now,
            claim_token=None,
            is_possible_duplicate=case(
                (Letter.began_at.is_not(None), True), else_=Letter.is_possible_duplicate
            ),
            began_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return cast(CursorResult[Any], result).rowcount or 0


class ClaimKeeper:
    """Renews a batch's claims from a thread of its own while the batch is out, so a slow
    relay or a locked database never makes a live worker's letters look like a dead one's;
    a killed worker stops renewing and its claims lapse after one lease.

    The renewed time is the batch's `now` plus the time since it started, so a caller
    working at a given moment (a test) keeps its clock.
    """

    def __init__(
        self, engine: Engine, tokens: Collection[str], *, now: datetime, lease: timedelta
    ) -> None:
        self._engine = engine
        self._tokens = sorted(tokens)
        self._now = now
        self._every = lease.total_seconds() / 4
        self._lease = lease.total_seconds()
        self._started = self.renewed = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claim-keeper", daemon=True)

    def __enter__(self) -> Self:
        if self._tokens:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def is_held(self) -> bool:
        """Whether the claims are surely still ours: renewed within the last lease."""
        return time.monotonic() - self.renewed < self._lease

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.renew()
            except DBAPIError as exc:  # locked, or the server away: the next beat tries again
                log.warning("could not renew delivery claims: %s", str(exc).splitlines()[0])

    def renew(self) -> None:
        """Move the claims' time on; on a connection of its own."""
        moment = time.monotonic()
        at = self._now + timedelta(seconds=moment - self._started)
        with Session(self._engine) as session:
            session.execute(
                update(Letter)
                .where(Letter.claim_token.in_(self._tokens), IN_FLIGHT)
                .values(claimed_at=at)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        self.renewed = moment
