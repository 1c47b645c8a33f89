"""What one attempt at the relay came to: a reply sorted into sent, deferred or bounced.

Also the message an attempt carries (Outgoing), so a caller needs this module's types only
to hand letters over and read the results back.
"""

from __future__ import annotations

import enum
import smtplib
from dataclasses import dataclass

# The stage names that prefix SendResult.message, so a log line says where it went wrong.
CONNECT, AUTH, MAIL, RCPT, DATA, END_OF_DATA = (
    "CONNECT", "AUTH", "MAIL", "RCPT", "DATA", "END-OF-DATA",
)  # fmt: skip


class Outcome(enum.StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    BOUNCED = "bounced"


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to; `message` starts with the stage, e.g. "RCPT 550 5.1.1 …"."""

    outcome: Outcome
    code: int | None
    message: str
    # The session dropped after the whole message went out but before the final reply: the
    # relay may have accepted it. Deferred; retry with the same bytes (the same Message-ID).
    is_after_data: bool = False


@dataclass(frozen=True)
class Outgoing:
    """One message for one recipient, as `SmtpTransport.send_all` takes them."""

    envelope_from: str
    recipient: str
    raw: bytes


def classify_reply(stage: str, code: int, text: str) -> SendResult:
    """2xx sent, 4xx deferred, 5xx bounced; anything else is not trusted and is deferred.

    A 5xx to MAIL FROM is about the sender or the relay (authentication required, relaying
    denied), never the recipient: deferred, so the address is not suppressed and a fixed
    configuration still delivers.
    """
    message = f"{stage} {code} {text}".rstrip()
    if 200 <= code < 300:
        return SendResult(Outcome.SENT, code, message)
    if 500 <= code < 600 and stage != MAIL:
        return SendResult(Outcome.BOUNCED, code, message)
    return SendResult(Outcome.DEFERRED, code, message)


def reply_text(reply: bytes | str) -> str:
    """A reply's text on one line, whitespace collapsed."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def deferred_by(stage: str, exc: BaseException, *, is_after_data: bool = False) -> SendResult:
    """DEFERRED at `stage` because of `exc`: the relay's code and text if it gave them."""
    code = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else None
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = f"{exc.smtp_code} {reply_text(exc.smtp_error)}"
    else:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return SendResult(Outcome.DEFERRED, code, f"{stage} {detail}", is_after_data=is_after_data)
