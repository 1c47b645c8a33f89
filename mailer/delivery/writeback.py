"""Writing a batch's changes back: Message-IDs before sending, which letters are about to
begin, then outcomes and history, gathered and written in a few statements per commit.

A commit that meets a passing database error (a locked SQLite file, a lost connection, a
PostgreSQL restart, a serialization failure) is repeated after a growing pause while the
batch's claims are still held; any other error, or claims that may have lapsed, ends the
worker with WriteBackFailed, which names the letters that may go twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.db import table_of, utcnow
from mailer.delivery.models import Letter, LetterStatus
from mailer.delivery.retry import AttemptEnd
from mailer.letters.composing import ComposedLetter
from mailer.storage.listparams import in_list_param
from mailer.storage.transient import is_transient

log = logging.getLogger(__name__)

# Pauses between tries of a commit that met a passing error: doubling up to the last.
RETRY_PAUSES = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)

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


# Letters about to begin, per claim: those still ours come back; a letter whose claim was
# taken over (its worker looked dead) is not started.
_BEGUN_LETTERS = (
    update(table_of(Letter))
    .where(
        in_list_param(table_of(Letter).c.id, "ids"),
        table_of(Letter).c.claim_token == bindparam("token"),
    )
    .values(began_at=bindparam("at"))
    .returning(table_of(Letter).c.id)
)


class WriteBackFailed(RuntimeError):
    """A batch's outcomes could not be written: the worker stops, naming the letters that
    may reach their recipients twice (they stay `sending`, and come back marked)."""

    def __init__(self, letter_ids: Iterable[int], cause: BaseException) -> None:
        ids = sorted(letter_ids)
        shown = ", ".join(map(str, ids[:20])) + (
            f" and {len(ids) - 20} more" if len(ids) > 20 else ""
        )
        reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        said = f"letters {shown} may be duplicated" if ids else "no letter may be duplicated"
        super().__init__(
            f"could not write delivery outcomes back ({reason}); {said}: they are retried "
            "once their claim lapses and marked as possible duplicates"
        )
        self.letter_ids = ids


def _never_lapses() -> bool:
    return True


@dataclass
class Writes:
    """A batch's changes, gathered and then written in a few statements per commit."""

    now: datetime
    message_ids: list[dict[str, Any]] = field(default_factory=list)
    sent_ids: defaultdict[tuple[str, int | None], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    letters: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    bounced: set[int] = field(default_factory=set)
    beginning: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    # Begun, outcome not yet written: what may go twice if the worker stops now.
    open_ids: set[int] = field(default_factory=set)
    ended_ids: list[int] = field(default_factory=list)  # ended since the last commit
    taken_over: set[int] = field(default_factory=set)  # another worker holds them now
    # Whether the batch's claims are still surely held (its ClaimKeeper's is_held).
    is_held: Callable[[], bool] = _never_lapses

    def composed(self, letter: Row[Any], composed: ComposedLetter) -> None:
        """Its Message-ID and sender, committed before the first byte goes out."""
        self.message_ids.append(
            {
                "letter_id": letter.id,
                "token": letter.claim_token,
                "message_id": composed.message_id,
                "sender_id": composed.sender.manager_id,
            }
        )

    def begin(self, letter: Row[Any]) -> None:
        """The letter's MAIL FROM is about to go: `began_at` is committed first."""
        self.beginning[letter.claim_token].append(letter.id)

    def finish(self, letter: Row[Any], end: AttemptEnd) -> None:
        """How the letter ended: sent ones are grouped, the rest written one row each."""
        self.ended_ids.append(letter.id)
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
                "is_possible_duplicate": letter.is_possible_duplicate or end.is_possible_duplicate,
                "updated_at": self.now,
            }
        )

    def sent(self, letter: Row[Any], composed: ComposedLetter) -> None:
        """The contact's history notes the letter."""
        self.history.append(
            {
                "contact_id": letter.contact_id,
                "kind": HistoryKind.SENT,
                "letter_id": letter.id,
                "author_id": composed.sender.manager_id,
                "body": f"«{composed.letter.subject}»",
                "created_at": self.now,
            }
        )

    def commit(self, session: Session) -> None:
        """Write everything gathered since the last commit and commit; a passing database
        error is waited out while the claims are held (WriteBackFailed otherwise)."""
        attempt = 0
        while True:
            try:
                begun = self._write(session)
                session.commit()
                break
            except DBAPIError as exc:
                _roll_back(session)
                if not is_transient(exc) or not self.is_held():
                    raise WriteBackFailed(self.open_ids, exc) from exc
                pause = RETRY_PAUSES[min(attempt, len(RETRY_PAUSES) - 1)]
                attempt += 1
                log.warning("delivery write-back waits %s s: %s", pause, str(exc).splitlines()[0])
                time.sleep(pause)
        self.open_ids |= begun
        self.open_ids.difference_update(self.ended_ids)
        for ids in self.beginning.values():
            self.taken_over.update(set(ids) - begun)
        self._clear()

    def _write(self, session: Session) -> set[int]:
        """Execute the gathered statements; returns the letters marked begun (still ours)."""
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
        begun: set[int] = set()
        for token, ids in self.beginning.items():
            at = utcnow()
            begun.update(session.scalars(_BEGUN_LETTERS, {"ids": ids, "token": token, "at": at}))
        return begun

    def _clear(self) -> None:
        self.message_ids.clear()
        self.sent_ids.clear()
        self.letters.clear()
        self.history.clear()
        self.bounced.clear()
        self.beginning.clear()
        self.ended_ids.clear()

    @property
    def unwritten(self) -> int:
        """Letters ended since the last commit."""
        return len(self.ended_ids)


def _roll_back(session: Session) -> None:
    try:
        session.rollback()
    except DBAPIError:  # the connection is gone: the session starts afresh on the next use
        pass
