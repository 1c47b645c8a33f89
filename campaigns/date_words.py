"""Dates as people read them in Russian: «8 марта 2027, понедельник». Pure.

Month names in the genitive (the form a day of the month takes) and weekday names are
written out here rather than taken from the locale, which the servers do not all have.
"""

from __future__ import annotations

from datetime import date

_MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
_MONTHS_NOMINATIVE = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip
_WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")


def day_words(day: date) -> str:
    """«8 марта 2027, понедельник»: a date with its weekday, for a campaign's next dates."""
    return f"{day_month_words(day)} {day.year}, {_WEEKDAYS[day.weekday()]}"


def day_month_words(day: date) -> str:
    """«8 марта»: a day of a month without the year."""
    return f"{day.day} {_MONTHS_GENITIVE[day.month - 1]}"


def month_words(month: int) -> str:
    """«март»: a month's name, for a purchase-month campaign."""
    return _MONTHS_NOMINATIVE[month - 1]


def span_words(start: date, end: date) -> str:
    """«22 февраля – 5 марта 2027»: a send window; one day reads as that day."""
    if start == end:
        return f"{day_month_words(start)} {start.year}"
    first = (
        day_month_words(start)
        if start.year == end.year
        else f"{day_month_words(start)} {start.year}"
    )
    return f"{first} – {day_month_words(end)} {end.year}"
