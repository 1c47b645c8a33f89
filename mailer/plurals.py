"""Counted nouns that read right: `1 letter, 2 letters`; `1 письмо, 2 письма, 5 писем`."""

from __future__ import annotations


def plural_en(n: int, one: str, many: str | None = None) -> str:
    """`1 letter`, `0 letters`, `21 letters`: English counts only one as singular."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """`1 письмо`, `2 письма`, `5 писем`, `11 писем`, `21 письмо`: the Russian three forms."""
    last_two, last = abs(n) % 100, abs(n) % 10
    if last == 1 and last_two != 11:
        form = one
    elif 2 <= last <= 4 and not 12 <= last_two <= 14:
        form = few
    else:
        form = many
    return f"{n} {form}"
