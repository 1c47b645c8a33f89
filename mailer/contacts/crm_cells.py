"""Reading the cells CRMs fill their own way: several e-mails or phones, one name column,
a salutation.

The first valid value in the preferred order is the contact's address (or phone); the
other valid ones are kept beside it. A value that is not an address is dropped when
another one is good, so a typo in a second column costs nothing; with none good, the row
is rejected with the first one's reason. Pure: no Flask, no database.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailer.contacts.addresses import EMPTY_EMAIL, normalise_email
from mailer.contacts.folding import fold
from mailer.contacts.phones import normalise_phone
from mailer.letters.greeting import greet

# A line break is no separator: it stays in the value, which is rejected for it.
_EMAIL_SEPARATORS = re.compile(r"[;, \t]+")
_PHONE_SEPARATORS = re.compile(r"[;,]+")
_CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)

# How CRMs and people write a salutation → the form the book keeps.
_SALUTATIONS = {
    **dict.fromkeys(("г-н", "г.", "г", "господин", "mr", "mr.", "sir"), "г-н"),
    **dict.fromkeys(("г-жа", "госпожа", "mrs", "mrs.", "ms", "ms.", "miss"), "г-жа"),
}


def pick_emails(cells: list[str]) -> tuple[str, tuple[str, ...]]:
    """The contact's e-mail and its other ones, normalised, from cells in preference order."""
    return _pick(cells, _EMAIL_SEPARATORS, normalise_email, EMPTY_EMAIL)


def pick_phones(cells: list[str], region: str) -> tuple[str, tuple[str, ...]]:
    """The contact's phone and its other ones in E.164; ("", ()) when there is none."""
    if not any(cell.strip() for cell in cells):
        return "", ()
    return _pick(cells, _PHONE_SEPARATORS, lambda raw: normalise_phone(raw, region) or "", "")


def _pick(
    cells: list[str],
    separators: re.Pattern[str],
    normalise: Callable[[str], str],
    empty_reason: str,
) -> tuple[str, tuple[str, ...]]:
    found: list[str] = []
    problem: ValueError | None = None
    for cell in cells:
        for raw in separators.split(cell):
            if not raw.strip():
                continue
            try:
                value = normalise(raw)
            except ValueError as exc:
                problem = problem or exc
                continue
            if value and value not in found:
                found.append(value)
    if not found:
        if problem is not None:
            raise problem
        raise ValueError(empty_reason)
    return found[0], tuple(found[1:])


def has_several(cell: str, *, is_email: bool) -> bool:
    """Whether a cell may hold more than one value (the common cell holds one)."""
    if is_email:
        return _EMAIL_SEPARATORS.search(cell.strip()) is not None
    return "," in cell or ";" in cell


def split_full_name(text: str) -> tuple[str, str, str, str]:
    """(given name, patronymic, surname, position) from a one-column name.

    Split with the greeting's rules, so the parts are the ones a letter would use. A job
    title or a department ("Бухгалтерия") is no name: it comes back as the position. Text
    the rules cannot read stays whole as the given name (the greeting stays neutral).
    """
    text = " ".join(text.split())
    if not text:
        return "", "", "", ""
    if not _CYRILLIC.search(text):  # "John Smith": the greeting would transliterate it
        first, _, rest = text.partition(" ")
        return first, "", rest, ""
    greeting = greet(text)
    parts = greeting.parts
    if parts.given_name:
        return parts.given_name, parts.patronymic or "", parts.surname or "", ""
    if greeting.reason == "position":
        return "", "", "", text
    if parts.surname and greeting.reason == "surname_only":
        return "", "", parts.surname, ""
    return text, "", "", ""


def read_salutation(text: str) -> str:
    """`г-н`, `г-жа`, or "" for an empty or unknown salutation (never a reason to reject)."""
    return _SALUTATIONS.get(fold(text).strip(), "")
