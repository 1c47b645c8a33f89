"""Phone numbers normalised to E.164 so that one number is found however it was typed."""

from __future__ import annotations

import re

import phonenumbers


class BadPhoneError(ValueError):
    """A phone field that is not a phone number; the message, in Russian, is also an
    import row's reject reason."""


# The common Russian forms (`8 (495) 123-45-67`, `+7 916 123 45 67`) are read here;
# phonenumbers, which is far slower, reads everything else.
_RU_PUNCTUATION = str.maketrans("", "", " ()-.\u00a0")
_RU_NUMBER = re.compile(r"(?:\+7|8|7)?([3489]\d{9})")


def normalise_phone(raw: str, region: str = "RU") -> str | None:
    """E.164 (`+74951234567`), None for an empty field; an extension is dropped."""
    value = raw.strip()
    if not value:
        return None
    if any(ch in value for ch in "\r\n"):
        raise BadPhoneError("перевод строки в телефоне: уберите его из ячейки")
    if region == "RU" and (m := _RU_NUMBER.fullmatch(value.translate(_RU_PUNCTUATION))):
        return "+7" + m[1]
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise BadPhoneError(
            f"неверный телефон '{value}': это не номер — проверьте цифры и код страны"
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise BadPhoneError(
            f"неверный телефон '{value}': столько цифр в номере не бывает — проверьте номер"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str | None) -> str:
    """`+7 916 123-45-67` from the stored E.164 form, for people; empty when there is none."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
