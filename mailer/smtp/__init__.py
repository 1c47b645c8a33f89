"""Sending over SMTP: settings, the session pool, the pipelining engine and reply sorting.

Callers import from here (`from mailer.smtp import SmtpTransport, Outgoing, ...`).
"""

from mailer.smtp.pool import recipient_domain
from mailer.smtp.replies import Outcome, Outgoing, SendResult, classify_reply
from mailer.smtp.settings import SECURITY_MODES, SmtpSettings
from mailer.smtp.transport import SmtpTransport
from mailer.smtp.wire import wire_payload

__all__ = [
    "SECURITY_MODES",
    "Outcome",
    "Outgoing",
    "SendResult",
    "SmtpSettings",
    "SmtpTransport",
    "classify_reply",
    "recipient_domain",
    "wire_payload",
]
