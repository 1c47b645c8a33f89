"""What goes on the wire: a message's DATA payload and an address as MAIL FROM or RCPT TO
take it."""

from __future__ import annotations

import re

_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def wire_payload(raw: bytes) -> bytes:
    """The DATA payload: CRLF line ends (SMTP forbids bare CR/LF), dot-stuffed, terminated."""
    data = raw
    # The regexes cost more than sending; what mailer.letters.mime writes rarely needs them.
    lf = data.count(b"\n")
    if data.count(b"\r") != lf or data.count(b"\r\n") != lf:
        data = _LINE_END.sub(b"\r\n", data)
    if data.startswith(b".") or b"\n." in data:
        data = _LEADING_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def smtp_path(address: str) -> str:
    """`<address>` for MAIL FROM or RCPT TO. The addresses are validated on the way in; a
    CR or LF inside would smuggle in a command, so it is refused here once more."""
    if "\r" in address or "\n" in address:
        raise ValueError(f"CR or LF in an SMTP address: {address!r}")
    address = address.strip()
    return address if address.startswith("<") and address.endswith(">") else f"<{address}>"
