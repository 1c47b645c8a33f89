"""E-mail addresses as the contact book stores and sends them."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


class BadEmailError(ValueError):
    """An address that cannot be mailed; the message says why."""


def normalise_email(raw: str) -> str:
    """Validate and normalise; IDN domains are kept in their ASCII form, the whole lower-cased."""
    value = raw.strip()
    if not value:
        raise BadEmailError("e-mail is empty")
    if any(ch in value for ch in "\r\n"):
        raise BadEmailError("e-mail contains a line break")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadEmailError(f"bad e-mail '{value}': {exc}") from None
    # A non-ASCII local part has no ASCII form: it needs SMTPUTF8 and is kept as normalised.
    address = result.ascii_email or result.normalized
    return address.lower()
