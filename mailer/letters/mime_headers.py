"""The header fields of a letter, written as strings and as strict as the stdlib's:

- every header field is ASCII, CRLF-terminated, within 78 columns where it can be and never
  past 998; non-ASCII display names and subjects go out as RFC 2047 UTF-8 "B" encoded words
  of at most 75 characters, folded only between words;
- structured values that must stay whole (`List-Unsubscribe: <https://…>, <mailto:…>`) are
  never turned into encoded words and are folded only between their `<…>` items;
- a display name or subject that merely *contains* `=?` is always encoded itself, so a
  literal encoded word typed into a name arrives as the literal text it was (CVE-2024-6923:
  a receiver that decodes it could otherwise be handed a line break and a forged header).

`mailer.letters.mime` puts these fields together with the bodies; callers import from there.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Collection
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import AddressHeader
from email.parser import BytesHeaderParser
from functools import lru_cache

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MINUTE = timedelta(minutes=1)
MAX_LINE = 998  # RFC 5322 2.1.1: MUST
FOLD_AT = 78  # RFC 5322 2.1.1: SHOULD
_MAX_WORD = 75  # RFC 2047 2: an encoded word, delimiters included
_EW_OPEN, _EW_CLOSE = "=?utf-8?b?", "?="
_WORD_BYTES = (_MAX_WORD - len(_EW_OPEN) - len(_EW_CLOSE)) // 4 * 3  # 45 bytes in 60 base64

# Cc (C0, DEL, C1) and the Unicode line/paragraph separators: str.splitlines() - which the
# stdlib parser uses on header blocks - breaks lines on several of them, not only CR and LF.
FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_PHRASE_ATOMS = re.compile(rf"{_ATEXT}+(?: {_ATEXT}+)*")  # written bare
_QUOTABLE = re.compile(r"[\x20-\x7e]+")  # written as a quoted-string
_RAW_TEXT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")  # an unstructured value left as is
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_MESSAGE_ID = re.compile(rf"<{_ATEXT}+(?:\.{_ATEXT}+)*@{_ATEXT}+(?:\.{_ATEXT}+)*>")
_SPACE_RUN = re.compile(r"[ \t]+")
_BETWEEN_ITEMS = re.compile(r"(?<=>,) (?=<)")  # the ", " between "<…>, <…>" items
_BETWEEN_WORDS = re.compile(r"(?<=\S) (?=\S)")

_BUILT = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version",
          "Content-Type")  # fmt: skip
_BUILT_LOWER = frozenset(name.lower() for name in _BUILT)
_REQUIRED_LOWER = _BUILT_LOWER - {"reply-to"}
# Fields that would add recipients, change who the letter claims to be from, or contradict
# the MIME structure; build_message never writes them and refuses them as extra headers.
_REFUSED_LOWER = frozenset({"bcc", "cc", "sender", "return-path", "received"})
_REFUSED_PREFIXES = ("resent-", "content-")


class HeaderInjectionError(ValueError):
    """A letter refused because a header field could be misread; the message says which and why."""


def format_date(date: datetime) -> str:
    """An RFC 5322 date in the date's own UTC offset, so the reader sees the sender's clock.

    The same text as email.utils.format_datetime, which costs several times as much here.
    """
    offset = date.utcoffset()
    if offset is None:
        raise ValueError("the Date of a letter must be timezone-aware")
    minutes = offset // _MINUTE
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return (
        f"{_DAYS[date.weekday()]}, {date.day:02d} {_MONTHS[date.month - 1]} {date.year:04d} "
        f"{date.hour:02d}:{date.minute:02d}:{date.second:02d} {sign}{hours:02d}{minutes:02d}"
    )


def check_header_block(message: bytes, expected: Collection[str] | None = None) -> None:
    """Parse the headers as a receiver would (stdlib) and refuse any a letter must not carry.

    Every decoded value (addresses, display names and encoded words included) must be free of
    line breaks and control characters. With `expected`, the header names must be exactly
    those (case-insensitive, counted); without, the fields build_message always writes must
    each be there once and none it refuses (Bcc, Cc, Sender, Resent-*, ...) may appear.
    """
    headers = BytesHeaderParser(policy=policy.default).parsebytes(message)
    if headers.defects:
        raise HeaderInjectionError(f"the header block is malformed: {headers.defects}")
    names = []
    for name, raw in headers.raw_items():
        names.append(name.lower())
        try:
            value = headers.policy.header_fetch_parse(name, raw)
            decoded = [str(value)]
            if isinstance(value, AddressHeader):
                for mailbox in value.addresses:
                    decoded += (mailbox.display_name, mailbox.username, mailbox.domain)
        except ValueError as exc:  # the stdlib refuses an address part with CR or LF in it
            raise HeaderInjectionError(f"{name} decodes to an unsafe value: {exc}") from None
        for part in decoded:
            if (found := FORBIDDEN.search(part)) is not None:
                raise HeaderInjectionError(f"{name} decodes to a value with {found.group()!r}")
    if expected is not None:
        if sorted(names) != sorted(name.lower() for name in expected):
            raise HeaderInjectionError(f"header fields {names} are not the expected {expected}")
        return
    for name in names:
        if _is_refused(name):
            raise HeaderInjectionError(f"a {name} header appeared that was not put there")
    for name in _BUILT_LOWER:
        count, wanted = names.count(name), (1,) if name in _REQUIRED_LOWER else (0, 1)
        if count not in wanted:
            raise HeaderInjectionError(f"the {name} header appears {count} times")


@lru_cache(maxsize=4096)  # senders and reply-to addresses repeat across a mailing
def address_field(field: str, name: str, address: str) -> str:
    """A From, To or Reply-To line: `name <address>`, the name bare, quoted or encoded."""
    addr = _ascii_address(field, address)
    _refuse_controls(field, "display name", name)
    # Receivers (the stdlib among them) collapse whitespace in an encoded display name.
    name = _SPACE_RUN.sub(" ", name).strip(" ")
    prefix = field + ": "
    if not name:
        return prefix + addr
    line = None
    if (phrase := _plain_phrase(name)) is not None:  # folded at its spaces, if need be
        line = _fold(prefix, _BETWEEN_WORDS.split(phrase), FOLD_AT)
        if max(map(len, line.split("\r\n"))) > MAX_LINE:
            line = None
    if line is None:
        # A name that fits one encoded word gets one, even if the line then runs past 78
        # columns: Python before the gh-128110 fix puts a space between adjacent encoded
        # words of a display name, where RFC 2047 (6.2) says the whitespace is ignored.
        line = prefix + _encoded_words(name, _WORD_BYTES)
    if len(line) - line.rfind("\n") - 1 + len(addr) + 3 <= FOLD_AT:
        return f"{line} <{addr}>"
    return f"{line}\r\n <{addr}>"


def subject_field(subject: str) -> str:
    """The Subject line: ASCII text as is (folded at spaces), anything else as encoded words."""
    _refuse_controls("Subject", "text", subject)
    prefix = "Subject: "
    if "=?" not in subject and _RAW_TEXT.fullmatch(subject):
        line = _fold(prefix, _BETWEEN_WORDS.split(subject), FOLD_AT)
        if max(map(len, line.split("\r\n"))) <= MAX_LINE:
            return line
    first_bytes = (FOLD_AT - len(prefix) - len(_EW_OPEN) - len(_EW_CLOSE)) // 4 * 3
    return prefix + _encoded_words(subject, first_bytes)


def extra_field(name: str, value: str) -> str:
    """An extra header line (List-Unsubscribe, ...): ASCII, never encoded, folded between items."""
    if _HEADER_NAME.fullmatch(name) is None:
        raise HeaderInjectionError(f"extra header name {name!r} is not [A-Za-z0-9-]+")
    lower = name.lower()
    if lower in _BUILT_LOWER or _is_refused(lower):
        raise HeaderInjectionError(f"extra header {name} is written by build_message or refused")
    _refuse_controls(name, "value", value)
    value = value.strip(" \t")
    if not value.isascii():
        raise HeaderInjectionError(f"{name} value is not ASCII; percent-encode it first")
    if "=?" in value:
        raise HeaderInjectionError(f"{name} value contains '=?', which receivers may decode")
    prefix = name + ": "
    if len(prefix) + len(value) <= MAX_LINE:
        return prefix + value  # up to 998 is allowed; folding could break a <URL>
    splitter = _BETWEEN_ITEMS if "<" in value else _BETWEEN_WORDS
    line = _fold(prefix, splitter.split(value), MAX_LINE)
    if max(map(len, line.split("\r\n"))) > MAX_LINE:
        raise HeaderInjectionError(f"{name} value has a part longer than 998 characters")
    return line


def checked_message_id(message_id: str) -> str:
    """The Message-ID as given, if it is a plain `<dot-atom@dot-atom>`."""
    _refuse_controls("Message-ID", "value", message_id)
    if _MESSAGE_ID.fullmatch(message_id) is None or "=?" in message_id:
        raise HeaderInjectionError(f"Message-ID {message_id!r} is not <dot-atom@dot-atom>")
    return message_id


@lru_cache(maxsize=4096)
def ascii_domain(field: str, domain: str) -> str:
    """The domain as ASCII (IDNA for a Unicode one), refused unless it is a host name."""
    _refuse_controls(field, "domain", domain)
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise HeaderInjectionError(f"{field} domain {domain!r} is not IDNA: {exc}") from None
    if _DOMAIN.fullmatch(domain) is None or len(domain) > 253:
        raise HeaderInjectionError(f"{field} domain {domain!r} is not a host name")
    return domain


def _is_refused(lower_name: str) -> bool:
    return lower_name in _REFUSED_LOWER or (
        lower_name.startswith(_REFUSED_PREFIXES) and lower_name != "content-type"
    )


def _refuse_controls(field: str, what: str, value: str) -> None:
    if (found := FORBIDDEN.search(value)) is not None:
        raise HeaderInjectionError(
            f"{field} {what} contains {found.group()!r} at position {found.start()}: "
            "a line break or control character could forge a header"
        )


def _plain_phrase(name: str) -> str | None:
    """The name bare, or as a quoted-string, if it is plain ASCII; None if it must be encoded."""
    if "=?" in name or not name.isascii():
        return None
    if _PHRASE_ATOMS.fullmatch(name):
        return name
    if _QUOTABLE.fullmatch(name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def _ascii_address(field: str, address: str) -> str:
    _refuse_controls(field, "address", address)
    local, at, domain = address.rpartition("@")
    if not local.isascii():
        raise HeaderInjectionError(
            f"{field} address {address!r} has a non-ASCII local part; letters are sent "
            "without SMTPUTF8"
        )
    if not at or _DOT_ATOM.fullmatch(local) is None or "=?" in local:
        raise HeaderInjectionError(f"{field} address {address!r} is not a plain local@domain")
    return f"{local}@{ascii_domain(field, domain)}"


def _fold(prefix: str, parts: list[str], limit: int) -> str:
    """Join parts with single spaces, starting a continuation line where one would pass limit."""
    lines, current = [], prefix + parts[0]
    for part in parts[1:]:
        if len(current) + 1 + len(part) > limit:
            lines.append(current)
            current = " " + part
        else:
            current += " " + part
    lines.append(current)
    return "\r\n".join(lines)


def _encoded_words(text: str, first_bytes: int) -> str:
    """UTF-8 B encoded words, folded between words only; none splits a character.

    A word ends just after the last space that fits, so the whitespace stays inside a word
    (RFC 2047 decoders drop the whitespace between words) and a decoder that keeps it
    shows at worst a double space rather than a word broken in two.
    """
    data = text.encode("utf-8")
    words, start, size = [], 0, first_bytes
    while start < len(data):
        end = start + size
        if end < len(data):
            while data[end] & 0xC0 == 0x80:  # inside a UTF-8 sequence
                end -= 1
            space = data.rfind(b" ", start + 1, end)
            end = space + 1 if space >= 0 else end
        payload = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
        words.append(_EW_OPEN + payload + _EW_CLOSE)
        start, size = end, _WORD_BYTES
    return "\r\n ".join(words)
