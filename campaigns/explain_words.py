"""`campaigns explain`'s reasons in Russian, for the outbox page. Pure.

The command prints them in English (as the CLI does everywhere); the page reads the same
`Explanation`s and says each reason the way marketing reads it. A reason no pattern here
knows is shown as it is, so a new one in `reports.py` is never lost, only untranslated.
"""

from __future__ import annotations

import re

_BLOCKS = {
    "no consent": "нет согласия на рассылку",
    "unsubscribed": "контакт отписался",
    "hard-bounced": "адрес не существует (жёсткий отказ)",
}
_STATUSES = {
    "bounced": "не доставлено",
    "failed": "ошибка",
    "expired": "просрочено",
    "cancelled": "отменено",
}


def _block(text: str) -> str:
    return _BLOCKS.get(text, text)


_PATTERNS: list[tuple[re.Pattern[str], str | None]] = [
    (re.compile(r"no tag (?P<tag>.+)"), "нет тега {tag}"),
    (re.compile(r"no occasion in (?P<year>\d+)"), "в {year} году у повода нет даты"),
    (
        re.compile(r"tagged after the window closed on (?P<day>.+)"),
        "тег поставлен после окна рассылки (оно закрылось {day})",
    ),
    (re.compile(r"tag (?P<tag>.+), consent given"), "тег {tag}, согласие есть"),
    (
        re.compile(r"not planned yet \(window (?P<start>.+)\.\.(?P<end>.+)\): run the planner"),
        "ещё не запланировано (окно {start} – {end}): запустите планирование",
    ),
    (
        re.compile(r"planned (?P<when>\S+ \S+) (?P<tz>\S+) \(paced within (?P<name>.+)'s hours\)"),
        "запланировано на {when} ({tz}), в рабочие часы: {name}",
    ),
    (re.compile(r"sent (?P<when>.+) UTC"), "отправлено {when} UTC"),
    (re.compile(r"from (?P<sender>.+)"), "от {sender}"),
    (
        re.compile(r"but (?P<block>.+) now: it will be cancelled at sending"),
        None,  # the block is translated too: below
    ),
    (re.compile(r"deferred after (?P<tries>\d+) attempts?: (?P<error>.*)"), None),
    (re.compile(r"(?P<status>bounced|failed|expired|cancelled): (?P<error>.*)"), None),
]


def reason_words(reason: str) -> str:
    """One reason in Russian, or as it is when no pattern knows it."""
    if reason in _BLOCKS:
        return _BLOCKS[reason]
    for pattern, words in _PATTERNS:
        found = pattern.fullmatch(reason)
        if found is None:
            continue
        parts = found.groupdict()
        if words is not None:
            return words.format(**parts)
        if "block" in parts:
            return f"но сейчас {_block(parts['block'])}: при отправке письмо отменят"
        if "tries" in parts:
            return f"отложено после попыток: {parts['tries']}; ответ сервера: {parts['error']}"
        return f"{_STATUSES[parts['status']]}: {parts['error']}"
    return reason
