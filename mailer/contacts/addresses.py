"""E-mail addresses as the contact book stores and sends them."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import idna
from email_validator import EmailNotValidError, validate_email


class BadEmailError(ValueError):
    """An address that cannot be mailed; the message says why, in Russian: it is also the
    reason a manager reads in an import's rejects file."""


EMPTY_EMAIL = "нет e-mail: ячейка адреса пуста — впишите адрес"
_BAD = "неверный e-mail"
# The library's English explanations a manager meets most, said in Russian; any other
# gets the general hint.
_LIBRARY_WORDS = [
    ("must have an @-sign", "в адресе нет знака @"),
    ("something before the @-sign", "перед @ ничего нет"),
    ("something after the @-sign", "после @ ничего нет"),
    ("too long", "адрес слишком длинный"),
    ("two periods", "две точки подряд"),
    ("should have a period", "в домене после @ нет точки (.ru, .com…)"),
    ("top-level domain", "такого домена после @ не бывает"),
    ("after the @-sign", "ошибка в части после @"),
    ("before the @-sign", "ошибка в части до @"),
    ("character", "в адресе недопустимые символы"),
    ("period", "точка не на своём месте"),
]
_SCRIPTS = {"CYRILLIC": "кириллическая", "GREEK": "греческая"}


# The common case, an unquoted ASCII dot-atom local part (RFC 5322 atext), is checked here;
# everything else goes through email-validator whole. Domains repeat across a contact book,
# so their (costly) validation is cached.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_LOCAL, _MAX_ADDRESS = 64, 254


def normalise_email(raw: str) -> str:
    """Validate and normalise; IDN domains are kept in their ASCII form, the whole lower-cased."""
    value = raw.strip()
    if not value:
        raise BadEmailError(EMPTY_EMAIL)
    if any(ch in value for ch in "\r\n"):
        raise BadEmailError("перевод строки в e-mail: уберите его из ячейки")
    local, at, domain = value.rpartition("@")
    if at and len(local) <= _MAX_LOCAL and _DOT_ATOM.fullmatch(local):
        address = f"{local}@{_ascii_domain(domain, value)}"
        if len(address) <= _MAX_ADDRESS:
            return address.lower()
    if at and not local.isascii():
        # Letters go out without SMTPUTF8, so such an address could never be sent; it is
        # nearly always a look-alike typed by mistake (a Cyrillic а in `vаsya`).
        raise BadEmailError(
            f"{_BAD} '{value}': до @ есть {_non_ascii(local)} — наберите адрес латиницей"
        )
    return _validate(value).lower()


def _non_ascii(local: str) -> str:
    """The first non-ASCII character of a local part, named for a person to find it."""
    ch = next(c for c in local if not c.isascii())
    name = unicodedata.name(ch, f"U+{ord(ch):04X}")
    if ch.isalpha() and " LETTER " in name:
        words = [w for w in name.split(" LETTER ")[0].split() if w not in ("SMALL", "CAPITAL")]
        if words and words[0] == "FULLWIDTH":
            return f"широкие буквы ({ch}?)"
        if words == ["LATIN"]:
            return f"буквы с диакритикой ({ch}?)"
        script = _SCRIPTS.get(words[0], "нелатинская") if words else "нелатинская"
        return f"{script} буква ({ch}?)"
    return f"особый символ (U+{ord(ch):04X})"


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
        raise BadEmailError(_bad_email(value, result))
    return result


def _validate(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadEmailError(_bad_email(value, exc)) from None
    return result.ascii_email or result.normalized


def _bad_email(value: str, exc: Exception) -> str:
    """The library's reason, in Russian, for an address it refuses."""
    detail = str(exc)
    words = next((ru for en, ru in _LIBRARY_WORDS if en in detail), "адрес не читается")
    return f"{_BAD} '{value}': {words} — проверьте его (вид имя@домен.ru)"


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
