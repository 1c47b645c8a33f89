"""One letter as finished bytes: a multipart/alternative message written out by hand.

The standard library's `EmailMessage` route costs about 5 ms of CPU a letter; this writes
the same message as strings in about 0.1 ms (bench/mime.py), and stays as strict. Each
header field is written by `mailer.letters.mime_headers` (ASCII, folded, encoded words where
needed, refused where it could be misread; its docstring has the rules); this module puts
the fields and the bodies together, and checks every message before it leaves: the header
block has exactly the fields that were put there, and no encoded word in it decodes to a
line break or control character.

Callers import from here: the header checks, errors and date format are re-exported.
"""

from __future__ import annotations

import binascii
import os
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter

from mailer.letters.mime_headers import (
    FOLD_AT,
    FORBIDDEN,
    MAX_LINE,
    HeaderInjectionError,
    address_field,
    ascii_domain,
    check_header_block,
    checked_message_id,
    extra_field,
    format_date,
    subject_field,
)

__all__ = [
    "Address",
    "HeaderInjectionError",
    "build_message",
    "check_header_block",
    "format_date",
    "make_message_id",
]

# What build_message writes, for the cheap check of its own output.
_FIXED_FIELDS = (b"Subject:", b"Date:", b"Message-ID:", b"MIME-Version:", b"Content-Type:")
_WSP = (b" ", b"\t")
_HEAD_BYTES = bytes(range(0x20, 0x7F)) + b"\t\r\n"  # all a header block may hold
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_OUR_WORD = re.compile(rb"=\?utf-8\?b\?([A-Za-z0-9+/]*={0,2})\?=")


@dataclass(frozen=True)
class Address:
    """A mailbox as it goes into From, To or Reply-To; the domain is ASCII (IDN punycode)."""

    name: str  # display name, any Unicode, "" for none
    address: str  # normalised; an IDN domain is converted, a non-ASCII local part refused


def build_message(
    *,
    sender: Address,
    to: Address,
    reply_to: Address | None,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Serialise one multipart/alternative letter (text then HTML) as CRLF-terminated bytes."""
    lines = [address_field("From", sender.name, sender.address),
             address_field("To", to.name, to.address)]  # fmt: skip
    fields = [b"From:", b"To:"]
    if reply_to is not None:
        lines.append(address_field("Reply-To", reply_to.name, reply_to.address))
        fields.append(b"Reply-To:")
    (text_cte, text_body), (html_cte, html_body) = parts = _encode_body(text), _encode_body(html)
    boundary = _boundary(*parts)
    lines += [
        subject_field(subject),
        "Date: " + format_date(date),
        "Message-ID: " + checked_message_id(message_id),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    fields += _FIXED_FIELDS
    for name, value in extra_headers:
        lines.append(extra_field(name, value))
        fields.append(name.encode("ascii") + b":")
    head = "\r\n".join(lines).encode("ascii")
    _check_built_header_block(head, fields)
    delimiter = b"--" + boundary.encode("ascii")
    return b"".join((
        head, b"\r\n\r\n",
        delimiter, b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ",
        text_cte, b"\r\n\r\n", text_body, b"\r\n",
        delimiter, b"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: ",
        html_cte, b"\r\n\r\n", html_body, b"\r\n",
        delimiter, b"--\r\n",
    ))  # fmt: skip


def make_message_id(domain: str, unique: str | None = None) -> str:
    """A Message-ID `<unique@domain>`, random unless given, so replies thread to this letter."""
    left = secrets.token_hex(16) if unique is None else unique
    return checked_message_id(f"<{left}@{ascii_domain('Message-ID', domain)}>")


def _check_built_header_block(head: bytes, fields: Sequence[bytes]) -> None:
    """The cheap equivalent of check_header_block for a block build_message itself wrote.

    It can be stricter than a parse because it knows the writer: printable ASCII and tabs
    only, CRLF only, each line either a continuation with text on it or the next `Name:` of
    `fields` (in order), none past 998, and every `=?` the start of one of our own encoded
    words, each of which is decoded and checked like any other value.
    """
    if head.translate(None, _HEAD_BYTES) or not (
        head.count(b"\r") == head.count(b"\n") == head.count(b"\r\n")
    ):
        raise HeaderInjectionError("the header block has a control byte, bare CR/LF or non-ASCII")
    lines = head.split(b"\r\n")
    if max(map(len, lines)) > MAX_LINE:
        raise HeaderInjectionError("a header line is longer than 998 characters")
    starts = [line[: line.find(b":") + 1] for line in lines if line[:1] not in _WSP]
    if starts != fields or not all(map(bytes.strip, lines)):
        raise HeaderInjectionError(f"header fields {starts} are not the expected {fields}")
    parts = _OUR_WORD.split(head)  # text, payload, text, payload, ..., text
    if b"=?" in b" ".join(parts[::2]):
        raise HeaderInjectionError("the header block has a '=?' that is not our encoded word")
    for payload in parts[1::2]:
        try:
            decoded = binascii.a2b_base64(payload, strict_mode=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise HeaderInjectionError(f"an encoded word does not decode: {exc}") from None
        if FORBIDDEN.search(decoded) is not None:
            raise HeaderInjectionError(f"an encoded word decodes to a control char: {decoded!r}")


def _encode_body(text: str) -> tuple[bytes, bytes]:
    """(Content-Transfer-Encoding, body) for a text with every line break made CRLF.

    ASCII with short lines goes as is (7bit); mostly-ASCII text as quoted-printable, which
    stays readable; Cyrillic-heavy text as base64, which for it is half the size of QP and
    faster to write (both are binascii C code; bench/mime.py measures them).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\n", "\r\n")
    if text.isascii() and max(map(len, text.split("\r\n"))) <= FOLD_AT:
        if _BODY_CONTROL.search(text) is None:
            return b"7bit", text.encode("ascii")
    data = text.encode("utf-8")
    # QP writes a non-ASCII byte in 3 characters, base64 every byte in 4/3: with 2-byte
    # (Cyrillic) characters QP is the smaller one while they are under ~1 byte in 11 extra.
    if (len(data) - len(text)) * 11 < len(data):
        # Appending a line break makes b2a_qp use CRLF for soft breaks even in a one-line text.
        return b"quoted-printable", binascii.b2a_qp(data + b"\r\n", istext=True)[:-2]
    encoded = binascii.b2a_base64(data, newline=False)
    return b"base64", b"\r\n".join(_base64_lines(-(-len(encoded) // 76))(encoded))


@lru_cache(maxsize=256)
def _base64_lines(count: int) -> Callable[[bytes], tuple[bytes, ...]]:
    """Cut base64 text into 76-character lines in one C call (itemgetter of slices)."""
    getter = itemgetter(*[slice(i * 76, i * 76 + 76) for i in range(max(count, 2))])
    return getter if count >= 2 else lambda encoded: (encoded,)


def _boundary(*bodies: tuple[bytes, bytes]) -> str:
    """A random boundary, checked against the 7bit bodies: "=_" occurs in no base64 or QP."""
    while True:
        boundary = "=_" + os.urandom(12).hex()
        marker = b"--" + boundary.encode("ascii")
        if not any(cte == b"7bit" and marker in body for cte, body in bodies):
            return boundary
