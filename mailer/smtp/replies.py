"""What one attempt at the relay came to: a reply sorted into sent, deferred, bounced or
rejected.

Also the message an attempt carries (Outgoing), so a caller needs this module's types only
to hand letters over and read the results back.
"""

from __future__ import annotations

import enum
import re
import smtplib
from dataclasses import dataclass

# The stage names that prefix SendResult.message, so a log line says where it went wrong.
CONNECT, AUTH, MAIL, RCPT, DATA, END_OF_DATA = (
    "CONNECT", "AUTH", "MAIL", "RCPT", "DATA", "END-OF-DATA",
)  # fmt: skip


class Outcome(enum.StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    BOUNCED = "bounced"  # refused for good because of the address: suppress it
    REJECTED = "rejected"  # refused for good, but not the address (policy, content, size)
    WITHDRAWN = "withdrawn"  # the caller took it back before any of it went out


# A permanent refusal by its RFC 3463 enhanced status code: what the relay refused, the
# address or this message. Looked up by the whole code, then by class and subject; a 5xx
# with no enhanced code, or one not listed, bounces (the address is suppressed).
PERMANENT_BY_ENHANCED_CODE: dict[str, Outcome] = {
    "5.1": Outcome.BOUNCED,  # addressing: no such mailbox, bad domain
    "5.2.3": Outcome.REJECTED,  # message longer than the mailbox takes
    "5.3.4": Outcome.REJECTED,  # message too big for the system
    "5.6": Outcome.REJECTED,  # message content or media
    "5.7": Outcome.REJECTED,  # security or policy: spam, DMARC, blocked content
}
_ENHANCED_CODE = re.compile(r"(5)\.(\d{1,3})\.(\d{1,3})(?!\S)")


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to; `message` starts with the stage, e.g. "RCPT 550 5.1.1 …"."""

    outcome: Outcome
    code: int | None
    message: str
    # The session dropped after the whole message went out but before the final reply: the
    # relay may have accepted it. Deferred; retry with the same bytes (the same Message-ID).
    is_after_data: bool = False


# A message the caller withdrew while it was still queued: none of it went out.
WITHDRAWN_RESULT = SendResult(Outcome.WITHDRAWN, None, "withdrawn before sending")


@dataclass(frozen=True)
class Outgoing:
    """One message for one recipient, as `SmtpTransport.send_all` takes them."""

    envelope_from: str
    recipient: str
    raw: bytes


def classify_reply(stage: str, code: int, text: str) -> SendResult:
    """2xx sent, 4xx deferred, 5xx bounced or rejected (PERMANENT_BY_ENHANCED_CODE);
    anything else is not trusted and is deferred.

    A 5xx to MAIL FROM is about the sender or the relay (authentication required, relaying
    denied), never the recipient: deferred, so the address is not suppressed and a fixed
    configuration still delivers.
    """
    message = f"{stage} {code} {text}".rstrip()
    if 200 <= code < 300:
        return SendResult(Outcome.SENT, code, message)
    if 500 <= code < 600 and stage != MAIL:
        return SendResult(_permanent_outcome(text), code, message)
    return SendResult(Outcome.DEFERRED, code, message)


def _permanent_outcome(text: str) -> Outcome:
    """What a 5xx refused, by the enhanced status code that opens its text."""
    found = _ENHANCED_CODE.match(text)
    if found is None:
        return Outcome.BOUNCED
    code = ".".join(found.groups())
    by_code = PERMANENT_BY_ENHANCED_CODE
    return by_code.get(code) or by_code.get(code.rsplit(".", 1)[0], Outcome.BOUNCED)


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
