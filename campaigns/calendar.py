"""The Russian working-day calendar letters are paced on, and send windows around occasions.

An occasion's dates come from its tag's yearly rule, read in one place for the whole
product (`mailer/tags/occasions.py`); `occasion_dates` is re-exported here for planning.

Working days come from the `holidays` package's Russian calendar, which carries the
government's yearly decrees: transferred days off (переносы выходных) and working
Saturdays. Those decrees exist only for years the package has a table entry for
(`RussiaStaticHolidays.special_public_holidays` and `..._observed`); for any later year
the package silently answers with a plain calendar, so `WorkCalendar` detects such years,
estimates them by article 112 of the Labour Code and lets the caller report them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, timedelta

import holidays

from mailer.tags.occasions import occasion_dates as occasion_dates

# Art. 112 TK RF moves a holiday that falls on a weekend to the next working day, except the
# New Year holidays and Christmas (1-8 January): those weekend days are moved by the yearly
# decree, so for a year without one nothing is guessed for them.
_DECREE_ONLY_DAYS = {(1, day) for day in range(1, 9)}


class UnknownCalendarYear(ValueError):
    """A strict calendar was asked about a year whose transfer decrees the package lacks."""


def unknown_years_message(years: Iterable[int]) -> str:
    """A Russian sentence for marketing: which years' plans may still move and why."""
    listed = sorted(set(years))
    if not listed:
        return ""
    names = ", ".join(str(year) for year in listed)
    noun = "год" if len(listed) == 1 else "годы"
    return (
        f"Производственный календарь на {names} {noun} ещё неизвестен: постановление "
        "Правительства о переносе выходных не вышло или не попало в пакет holidays. "
        "Рабочие дни посчитаны по статье 112 ТК РФ без январских переносов; "
        "даты писем могут сдвинуться, перепланируйте после выхода постановления."
    )


def _decreed_years(calendar: holidays.HolidayBase) -> range:
    """Years from the package's first year to the last one its decree tables mention."""
    tables = (
        getattr(calendar, "special_public_holidays", None) or {},
        getattr(calendar, "special_public_holidays_observed", None) or {},
    )
    years = {year for table in tables for year in table}
    if not years:  # the package changed its internals: claim to know nothing, loudly
        return range(0)
    return range(calendar.start_year, max(years) + 1)


class WorkCalendar:
    """Russian working days with transferred days off and working weekend days."""

    def __init__(self, *, strict: bool = False) -> None:
        self._holidays = holidays.country_holidays("RU", observed=True)
        self._known = _decreed_years(self._holidays)
        self._strict = strict
        self._by_year: dict[int, list[int]] = {}
        self._ordinals: list[int] = []  # sorted working-day ordinals of years lo..hi
        self._working: set[int] = set()
        self._lo = self._hi = 0

    @property
    def known_years(self) -> range:
        """The years the package has the decrees for."""
        return self._known

    def knows_year(self, year: int) -> bool:
        """Whether the year's transfers are decreed and in the package, not estimated."""
        return year in self._known

    def unknown_years(self, years: Iterable[int]) -> list[int]:
        """The given years whose working days are only an estimate; report them."""
        return sorted({year for year in years if not self.knows_year(year)})

    def is_working_day(self, day: date) -> bool:
        """Whether a manager works that day: weekdays, minus days off, plus working Saturdays."""
        self._load(day.year, day.year)
        return day.toordinal() in self._working

    def working_days_between(self, start: date, end: date) -> list[date]:
        """The working days from `start` to `end`, both included."""
        if end < start:
            return []
        self._load(start.year, end.year)
        lo = bisect_left(self._ordinals, start.toordinal())
        hi = bisect_right(self._ordinals, end.toordinal())
        return [date.fromordinal(ordinal) for ordinal in self._ordinals[lo:hi]]

    def working_days_before(self, day: date, n: int) -> date:
        """The n-th working day strictly before `day` (n=1 is the previous working day)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self._load(day.year, day.year)
        position = bisect_left(self._ordinals, day.toordinal()) - n
        while position < 0:  # about 247 working days a year; load enough earlier years
            self._load(self._lo - (-position // 240 + 1), self._hi)
            position = bisect_left(self._ordinals, day.toordinal()) - n
        return date.fromordinal(self._ordinals[position])

    def first_working_days(self, year: int, month: int, n: int) -> list[date]:
        """The first n working days of a month (fewer if the month has fewer)."""
        first = date(year, month, 1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return self.working_days_between(first, last)[: max(n, 0)]

    def _load(self, lo: int, hi: int) -> None:
        """Compute working days for a contiguous range of years covering lo..hi."""
        if self._by_year and self._lo <= lo and hi <= self._hi:
            return
        if self._strict and (unknown := self.unknown_years(range(lo, hi + 1))):
            raise UnknownCalendarYear(unknown_years_message(unknown))
        if self._by_year:
            lo, hi = min(lo, self._lo), max(hi, self._hi)
        for year in range(lo, hi + 1):
            if year not in self._by_year:
                self._by_year[year] = self._working_ordinals(year)
        self._lo, self._hi = lo, hi
        self._ordinals = [o for year in range(lo, hi + 1) for o in self._by_year[year]]
        self._working = set(self._ordinals)

    def _working_ordinals(self, year: int) -> list[int]:
        """One year's working days: the package's answer, or the statute's for unknown years."""
        first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
        days = [date.fromordinal(ordinal) for ordinal in range(first, last + 1)]
        off = {day for day in days if not self._holidays.is_working_day(day)}
        if not self.knows_year(year):
            off |= _statutory_moves(self._holidays, year, off)
        return [day.toordinal() for day in days if day not in off]


def _statutory_moves(calendar: holidays.HolidayBase, year: int, off: set[date]) -> set[date]:
    """Days off that art. 112 TK RF adds when a holiday falls on a weekend (no decree needed)."""
    moved: set[date] = set()
    for holiday in sorted(day for day in calendar if day.year == year):
        if holiday.weekday() < 5 or (holiday.month, holiday.day) in _DECREE_ONLY_DAYS:
            continue
        candidate = holiday + timedelta(days=1)
        while candidate.weekday() >= 5 or candidate in off or candidate in moved:
            candidate += timedelta(days=1)
        if candidate.year == year:
            moved.add(candidate)
    return moved


def occasion_window(
    occasion: date, days_before: int, span: int, cal: WorkCalendar
) -> tuple[date, date]:
    """Send window for an occasion: `span` working days ending `days_before` working days early."""
    if days_before < 0 or span < 1:
        raise ValueError(f"need days_before >= 0 and span >= 1, got {days_before}, {span}")
    if days_before == 0:  # the occasion itself if it is a working day, else the one before
        end = cal.working_days_before(occasion + timedelta(days=1), 1)
    else:
        end = cal.working_days_before(occasion, days_before)
    start = cal.working_days_before(end, span - 1) if span > 1 else end
    return start, end


def month_window(year: int, month: int, span: int, cal: WorkCalendar) -> tuple[date, date]:
    """Send window for a purchase-month tag: the month's first `span` working days."""
    if span < 1:
        raise ValueError(f"span must be at least 1, got {span}")
    days = cal.first_working_days(year, month, span)
    if not days:
        raise ValueError(f"{year}-{month:02d} has no working days")
    return days[0], days[-1]
