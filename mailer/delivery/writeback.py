"""Writing a batch's changes back: Message-IDs before sending, then outcomes and history,
gathered and written in a few statements per commit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, update
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.db import table_of
from mailer.delivery.claims import ClaimHeartbeat
from mailer.delivery.models import Letter, LetterStatus
from mailer.delivery.retry import AttemptEnd
from mailer.letters.composing import ComposedLetter
from mailer.storage.listparams import in_list_param

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
    heartbeat: ClaimHeartbeat = field(init=False)

    def __post_init__(self) -> None:
        self.heartbeat = ClaimHeartbeat(self.now)

    def composed(self, letter: Row[Any], composed: ComposedLetter) -> None:
        """Its Message-ID and sender, committed before the first byte goes out."""
        self.heartbeat.tokens.add(letter.claim_token)
        self.message_ids.append(
            {
                "letter_id": letter.id,
                "token": letter.claim_token,
                "message_id": composed.message_id,
                "sender_id": composed.sender.manager_id,
            }
        )

    def finish(self, letter: Row[Any], end: AttemptEnd) -> None:
        """How the letter ended: sent ones are grouped, the rest written one row each."""
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
                "author_id": composed.sender.manager_id,
                "body": f"«{composed.letter.subject}»",
                "created_at": self.now,
            }
        )

    def commit(self, session: Session) -> None:
        """Write everything gathered since the last commit, renew the claims, commit."""
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
        self.heartbeat.beat(session)
        session.commit()
        self.message_ids.clear()
        self.sent_ids.clear()
        self.letters.clear()
        self.history.clear()
        self.bounced.clear()
