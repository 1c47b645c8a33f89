"""The year's letters per day drawn as a contribution graph: an SVG string, server-rendered.

Columns are weeks from Monday, rows the days of the week, one square per day of the year;
five shades from none to the busiest days (a day's shade is its count against the year's
largest, so one busy campaign does not wash the rest out at a glance and every non-empty
day is visibly non-empty). Each square carries a `<title>` («8 марта 2027, понедельник:
37 писем») that screen readers and a hovering mouse read, and, when `day_href` is given,
a link that opens that day's letters. Everything put into the markup is escaped. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from html import escape

from campaigns.date_words import day_words, month_words
from mailer.plurals import plural_ru

CELL = 11  # px, a square's side
GAP = 2
LEFT = 26  # room for the weekday labels
TOP = 16  # room for the month labels
SHADES = ("#ebedf0", "#c6e48b", "#7bc96f", "#239a3b", "#196127")
_WEEKDAY_LABELS = {0: "Пн", 2: "Ср", 4: "Пт"}


def shade(count: int, busiest: int) -> int:
    """0 for no letters, else 1-4 by the count's share of the busiest day's."""
    if count <= 0 or busiest <= 0:
        return 0
    return min(4, 1 + (4 * (count - 1)) // busiest)


def letters_words(count: int) -> str:
    return plural_ru(count, "письмо", "письма", "писем") if count else "писем нет"


def render_heatmap(
    year: int,
    counts: Mapping[date, int],
    *,
    title: str | None = None,
    day_href: Callable[[date], str] | None = None,
) -> str:
    """The SVG of a year's letters per day; days outside `year` in `counts` are ignored."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    origin = first - timedelta(days=first.weekday())  # the Monday of the first column
    weeks = (last - origin).days // 7 + 1
    width = LEFT + weeks * (CELL + GAP)
    height = TOP + 7 * (CELL + GAP)
    in_year = {d: n for d, n in counts.items() if first <= d <= last}
    busiest = max(in_year.values(), default=0)
    total = sum(in_year.values())
    heading = title or f"Письма по дням, {year}"
    summary = f"{letters_words(total)} за год; больше всего в один день: {busiest}"
    role = "img" if day_href is None else "group"  # an image hides its links from readers
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="{role}" '
        f'aria-labelledby="heatmap-title-{year} heatmap-desc-{year}">',
        f'<title id="heatmap-title-{year}">{escape(heading)}</title>',
        f'<desc id="heatmap-desc-{year}">{escape(summary)}</desc>',
    ]
    parts.extend(_labels(year, origin))
    day = first
    while day <= last:
        parts.append(_cell(day, in_year.get(day, 0), busiest, origin, day_href))
        day += timedelta(days=1)
    parts.append("</svg>")
    return "\n".join(parts)


def _labels(year: int, origin: date) -> list[str]:
    out = []
    for month in range(1, 13):
        column = (date(year, month, 1) - origin).days // 7
        x = LEFT + column * (CELL + GAP)
        out.append(f'<text x="{x}" y="{TOP - 5}" class="month">{month_words(month)[:3]}</text>')
    for row, label in _WEEKDAY_LABELS.items():
        y = TOP + row * (CELL + GAP) + CELL - 2
        out.append(f'<text x="0" y="{y}" class="weekday">{label}</text>')
    return out


def _cell(
    day: date, count: int, busiest: int, origin: date, day_href: Callable[[date], str] | None
) -> str:
    offset = (day - origin).days
    x = LEFT + (offset // 7) * (CELL + GAP)
    y = TOP + (offset % 7) * (CELL + GAP)
    level = shade(count, busiest)
    label = escape(f"{day_words(day)}: {letters_words(count)}")
    rect = (
        f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" rx="2" fill="{SHADES[level]}" '
        f'data-date="{day.isoformat()}" data-count="{count}" data-level="{level}">'
        f"<title>{label}</title></rect>"
    )
    if day_href is None:
        return rect
    return f'<a href="{escape(day_href(day))}" aria-label="{label}">{rect}</a>'
