"""E-mail addresses as the contact book stores and sends them."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import idna
from email_validator import EmailNotValidError, validate_email


class BadEmailError(ValueError):
    """An address that cannot be mailed; the message says why."""


# The common case, an unquoted ASCII dot-atom local part (RFC 5322 atext), is checked here;
# everything else goes through email-validator whole. Domains repeat across a contact book,
# so their (costly) validation is cached.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_LOCAL, _MAX_ADDRESS = 64, 254


def normalise_email(raw: str) -> str:
    """Validate and normalise; IDN domains are kept in their ASCII form, the whole lower-cased."""
    value = raw.strip()
    if not value:
        raise BadEmailError("e-mail is empty")
    if any(ch in value for ch in "\r\n"):
        raise BadEmailError("e-mail contains a line break")
    local, at, domain = value.rpartition("@")
    if at and len(local) <= _MAX_LOCAL and _DOT_ATOM.fullmatch(local):
        address = f"{local}@{_ascii_domain(domain, value)}"
        if len(address) <= _MAX_ADDRESS:
            return address.lower()
    if at and not local.isascii():
        # Letters go out without SMTPUTF8, so such an address could never be sent; it is
        # nearly always a look-alike typed by mistake (a Cyrillic а in `vаsya`).
        raise BadEmailError(f"e-mail '{value}': the part before @ has {_non_ascii(local)}")
    return _validate(value).lower()


def _non_ascii(local: str) -> str:
    """The first non-ASCII character of a local part, named for a person to find it."""
    ch = next(c for c in local if not c.isascii())
    name = unicodedata.name(ch, f"U+{ord(ch):04X}")
    if ch.isalpha() and " LETTER " in name:
        words = [w for w in name.split(" LETTER ")[0].split() if w not in ("SMALL", "CAPITAL")]
        if words and words[0] == "FULLWIDTH":
            return f"full-width letters ({ch}?)"
        if words == ["LATIN"]:
            return f"accented letters ({ch}?)"
        return f"non-Latin letters ({' '.join(words).capitalize() or 'letter'} {ch}?)"
    return f"a non-ASCII character (U+{ord(ch):04X} {name.lower()})"


@lru_cache(maxsize=65536)
def _domain(domain: str) -> str | Exception:
    try:
        return validate_email(f"postmaster@{domain}", check_deliverability=False).ascii_domain
    except EmailNotValidError as exc:
        return exc


def _ascii_domain(domain: str, value: str) -> str:
    result = _domain(domain)
    if isinstance(result, Exception):
        _validate(value)  # raises with the library's message about this address
        raise BadEmailError(f"bad e-mail '{value}': {result}")
    return result


def _validate(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadEmailError(f"bad e-mail '{value}': {exc}") from None
    return result.ascii_email or result.normalized


@lru_cache(maxsize=65536)
def display_email(address: str) -> str:
    """The address as people read it: an IDN domain in Unicode (`ivan@почта.рф`).

    The book stores and sends the ASCII form (`xn--80a1acny.xn--p1ai`); lists, cards and
    exports show this one, which the importer turns back into the stored form.
    """
    local, at, domain = address.rpartition("@")
    if not at or "xn--" not in domain:
        return address
    try:
        return f"{local}@{idna.decode(domain)}"
    except UnicodeError:  # idna.IDNAError and its kin
        return address
