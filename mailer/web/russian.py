"""Services' one-line errors, as the pages say them: in Russian.

Most services' messages are English for the CLI; a page shows the Russian sentence for
the kinds it knows, and a general one with the detail for the rest. The contact fields'
errors (e-mail, phone, line breaks) are Russian already: they are the import's reject
reasons too, and are shown as they are.
"""

from __future__ import annotations

_PREFIXES = [
    ("unknown tag", "Неизвестный тег"),
    ("a note needs some text", "Напишите текст заметки"),
    ("no contact with e-mail", "Нет контакта с таким e-mail"),
]


def russian_error(exc: Exception) -> str:
    """One Russian sentence for a service's error; its detail kept after a colon."""
    message = str(exc)
    if any("а" <= ch.lower() <= "я" for ch in message[:40]):  # already Russian
        return message[:1].upper() + message[1:]
    if message.endswith("is already closed"):  # tracking.tasks.close_task, lost a race
        return "Задача уже закрыта: её закрыли раньше."
    for prefix, text in _PREFIXES:
        if message.startswith(prefix):
            rest = message[len(prefix) :].strip(" :")
            return f"{text}: {rest}" if rest else f"{text}."
    return f"Не сохранено: {message}"
