"""Reading a tag's yearly occasion rule (an RRULE): its dates in a year, the next one, its month.

Every reader of the rules goes through here: planning (`campaigns/calendar.py`) asks for a
year's dates, composing asks for the next date and a purchase month, so a rule means the
same day in a plan and in the letter that plan sends. Pure: no Flask, no database.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from dateutil.rrule import rrulebase, rrulestr  # type: ignore[import-untyped]


class OccasionRuleError(ValueError):
    """A rule that cannot be read, or has no date where one is needed."""


class NoOccasionDate(OccasionRuleError):
    """A readable rule with no date after the day asked about (it ended, or never falls)."""


def occasion_dates(rule: str, year: int) -> list[date]:
    """The dates a yearly RRULE falls on in `year`, so campaigns need no hand-kept dates."""
    return list(_occasion_dates(rule, year))


@lru_cache(maxsize=4096)
def _occasion_dates(rule: str, year: int) -> tuple[date, ...]:
    """Parsing an RRULE costs more than planning one letter, so each (rule, year) is kept."""
    start = datetime(year, 1, 1)
    moments = _parse(rule, start).between(start, datetime(year, 12, 31), inc=True)
    return tuple(moment.date() for moment in moments)


def next_occurrence(rule: str, after: datetime) -> date:
    """The next date of a yearly rule on or after `after`'s day."""
    day = datetime(after.year, after.month, after.day)
    found = _parse(rule, datetime(after.year, 1, 1)).after(day, inc=True)
    if found is None:
        raise NoOccasionDate(f"the rule {rule!r} has no date after {after:%Y-%m-%d}")
    return found.date()


def rule_month(rule: str, year: int) -> int:
    """The month of a purchase-month rule (`FREQ=YEARLY;BYMONTH=8;BYMONTHDAY=1`): the month
    of its first date in `year`, the month planning puts that year's letters in."""
    dates = _occasion_dates(rule, year)
    if not dates:
        raise OccasionRuleError(f"the rule {rule!r} names no month in {year}")
    return dates[0].month


def _parse(rule: str, start: datetime) -> rrulebase:
    try:
        return rrulestr(rule, dtstart=start)
    except (ValueError, TypeError) as exc:
        raise OccasionRuleError(f"the rule {rule!r} cannot be read: {exc}") from None
