"""Phone numbers normalised to E.164 so that one number is found however it was typed."""

from __future__ import annotations

import phonenumbers


class BadPhoneError(ValueError):
    """A phone field that is not a phone number."""


def normalise_phone(raw: str, region: str = "RU") -> str | None:
    """E.164 (`+74951234567`), None for an empty field; an extension is dropped."""
    value = raw.strip()
    if not value:
        return None
    if any(ch in value for ch in "\r\n"):
        raise BadPhoneError("phone contains a line break")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise BadPhoneError(f"bad phone '{value}': {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise BadPhoneError(f"bad phone '{value}': not a possible number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
