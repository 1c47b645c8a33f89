"""The retry policy: the back-off schedule, and what the relay's answer means for a letter.

Postfix's defaults as the model: 5 minutes, doubling, at most an hour; give up after 5 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailer.delivery.models import LetterStatus
from mailer.smtp import Outcome, SendResult

FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=5)


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` tries."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


@dataclass(frozen=True)
class AttemptEnd:
    """How one attempt at a letter ends."""

    status: LetterStatus
    error: str = ""
    code: int | None = None
    due_at: datetime | None = None  # the next attempt, for a deferred letter
    # The whole message went out and no final reply came: the relay may have taken it.
    is_possible_duplicate: bool = False


def end_of_attempt(
    result: SendResult, *, attempts: int, first_attempt_at: datetime | None, now: datetime
) -> AttemptEnd:
    """What the relay's answer means for the letter: sent, bounced (the address is
    suppressed), failed (refused for good, the address kept), retried or given up."""
    if result.outcome is Outcome.SENT:
        return AttemptEnd(LetterStatus.SENT, code=result.code)
    if result.outcome is Outcome.BOUNCED:
        return AttemptEnd(LetterStatus.BOUNCED, result.message, result.code)
    if result.outcome is Outcome.REJECTED:
        return AttemptEnd(LetterStatus.FAILED, result.message, result.code)
    maybe_sent = result.is_after_data
    first = first_attempt_at or now
    if now - first >= GIVE_UP_AFTER:
        error = f"gave up after {GIVE_UP_AFTER.days} days: {result.message}"
        return AttemptEnd(LetterStatus.FAILED, error, result.code, is_possible_duplicate=maybe_sent)
    due = now + backoff(attempts)
    return AttemptEnd(LetterStatus.DEFERRED, result.message, result.code, due, maybe_sent)
