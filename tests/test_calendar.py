"""Occasion dates from RRULEs and the Russian working-day calendar letters are paced on."""

from __future__ import annotations

import csv
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from campaigns.calendar import (
    UnknownCalendarYear,
    WorkCalendar,
    month_window,
    occasion_dates,
    occasion_window,
    unknown_years_message,
)
from mailer.tags import occasions

SHARED_DATA = Path(
    os.environ.get("MAILER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
PROFESSIONAL_DAYS = SHARED_DATA / "professional_days.csv"


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def _golden_rows() -> list[dict[str, str]]:
    if not PROFESSIONAL_DAYS.exists():
        return []
    with PROFESSIONAL_DAYS.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _golden_dates(cell: str) -> list[date]:
    """A CSV cell holds one ISO date or an inclusive range `first..last`."""
    first, _, last = cell.partition("..")
    start, end = date.fromisoformat(first), date.fromisoformat(last or first)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@pytest.mark.parametrize("year", [2026, 2027])
def test_every_rule_in_the_shared_professional_days_gives_the_csv_dates(year: int) -> None:
    rows = _golden_rows()
    if not rows:
        pytest.skip(f"golden data {PROFESSIONAL_DAYS} is absent (set MAILER_SHARED_DATA)")
    wrong = [
        (row["holiday_name_ru"], row["rule"], occasion_dates(row["rule"], year))
        for row in rows
        if occasion_dates(row["rule"], year) != _golden_dates(row[f"date_{year}"])
    ]
    assert wrong == []
    assert len(rows) >= 30


def test_programmers_day_is_the_256th_day_so_the_12th_of_september_in_a_leap_year() -> None:
    rule = "FREQ=YEARLY;BYYEARDAY=256"
    assert occasion_dates(rule, 2026) == [date(2026, 9, 13)]
    assert occasion_dates(rule, 2028) == [date(2028, 9, 12)]


def test_builders_day_2027_is_the_second_sunday_of_august() -> None:
    assert occasion_dates("FREQ=YEARLY;BYMONTH=8;BYDAY=+2SU", 2027) == [date(2027, 8, 8)]


# Worked out by hand from the weekday of the 1st of each month (1 Jan 2028 is a Saturday,
# 2028 is a leap year), and cross-checked with the `calendar` module, not with dateutil.
DEFAULT_RULES_2028_2030 = {
    "FREQ=YEARLY;BYYEARDAY=256": ("2028-09-12", "2029-09-13", "2030-09-13"),
    "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU": ("2028-10-29", "2029-10-28", "2030-10-27"),
    "FREQ=YEARLY;BYMONTH=8;BYDAY=+1SU": ("2028-08-06", "2029-08-05", "2030-08-04"),
    "FREQ=YEARLY;BYMONTH=6;BYDAY=+3SU": ("2028-06-18", "2029-06-17", "2030-06-16"),
    "FREQ=YEARLY;BYMONTH=7;BYDAY=+1SU": ("2028-07-02", "2029-07-01", "2030-07-07"),
    "FREQ=YEARLY;BYMONTH=9;BYDAY=+1SU": ("2028-09-03", "2029-09-02", "2030-09-01"),
    "FREQ=YEARLY;BYMONTH=9;BYDAY=-1SU": ("2028-09-24", "2029-09-30", "2030-09-29"),
    "FREQ=YEARLY;BYMONTH=8;BYDAY=+2SU": ("2028-08-13", "2029-08-12", "2030-08-11"),
    "FREQ=YEARLY;BYMONTH=7;BYDAY=+4SA": ("2028-07-22", "2029-07-28", "2030-07-27"),
    "FREQ=YEARLY;BYMONTH=9;BYMONTHDAY=8": ("2028-09-08", "2029-09-08", "2030-09-08"),
    "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=22": ("2028-12-22", "2029-12-22", "2030-12-22"),
    "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8": ("2028-03-08", "2029-03-08", "2030-03-08"),
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=23": ("2028-02-23", "2029-02-23", "2030-02-23"),
    "FREQ=YEARLY;BYMONTH=10;BYMONTHDAY=1": ("2028-10-01", "2029-10-01", "2030-10-01"),
}


@pytest.mark.parametrize(("rule", "expected"), DEFAULT_RULES_2028_2030.items())
def test_the_taxonomy_default_rules_give_the_hand_checked_dates_for_2028_to_2030(
    rule: str, expected: tuple[str, str, str]
) -> None:
    got = [occasion_dates(rule, year) for year in (2028, 2029, 2030)]
    assert got == [[date.fromisoformat(day)] for day in expected]


def test_a_multi_day_rule_gives_every_date_of_the_year() -> None:
    rule = "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1,2,3,4,5,6,7,8"
    assert occasion_dates(rule, 2029) == [date(2029, 1, day) for day in range(1, 9)]


def test_changing_the_returned_dates_does_not_change_the_next_answer() -> None:
    occasion_dates("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8", 2026).append(date(2000, 1, 1))
    assert occasion_dates("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8", 2026) == [date(2026, 3, 8)]


def test_the_new_year_holidays_2026_run_to_the_9th_of_january(cal: WorkCalendar) -> None:
    # 3 January (a Saturday) was moved to Friday 9 January by the 2026 decree.
    days = [date(2026, 1, day) for day in range(1, 13)]
    assert [day for day in days if cal.is_working_day(day)] == [date(2026, 1, 12)]


def test_the_4th_of_january_2026_becomes_the_31st_of_december_off(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(date(2026, 12, 31))
    assert cal.is_working_day(date(2026, 12, 30))


def test_8_march_on_a_sunday_makes_monday_a_day_off(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(date(2026, 3, 8))
    assert not cal.is_working_day(date(2026, 3, 9))
    assert cal.is_working_day(date(2026, 3, 10))
    assert not cal.is_working_day(date(2027, 3, 8))  # a Monday


def test_victory_day_on_a_saturday_makes_monday_a_day_off(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(date(2026, 5, 9))
    assert not cal.is_working_day(date(2026, 5, 11))
    assert cal.is_working_day(date(2026, 5, 8))


def test_unity_day_is_a_day_off(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(date(2026, 11, 4))
    assert cal.is_working_day(date(2026, 11, 3))
    assert cal.is_working_day(date(2026, 11, 5))


def test_saturday_1_november_2025_was_worked_for_a_long_unity_day_weekend(
    cal: WorkCalendar,
) -> None:
    assert cal.is_working_day(date(2025, 11, 1))
    assert [cal.is_working_day(date(2025, 11, day)) for day in (2, 3, 4)] == [False] * 3


def test_the_package_transfers_saturday_20_february_2027_to_monday_22(
    cal: WorkCalendar,
) -> None:
    assert cal.is_working_day(date(2027, 2, 20))
    assert not cal.is_working_day(date(2027, 2, 22))


def test_ordinary_weekends_are_days_off(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(date(2026, 9, 12))
    assert not cal.is_working_day(date(2026, 9, 13))
    assert cal.is_working_day(date(2026, 9, 14))


def test_the_decreed_years_include_2025_to_2027_and_not_a_far_future_one(
    cal: WorkCalendar,
) -> None:
    assert all(cal.knows_year(year) for year in (2024, 2025, 2026, 2027))
    assert cal.unknown_years([2040, 2026, 2040, 2099]) == [2040, 2099]
    assert cal.unknown_years(range(2025, 2028)) == []


def test_an_unknown_year_is_told_in_russian_with_the_years() -> None:
    message = unknown_years_message([2041, 2040])
    assert "2040, 2041" in message and "постановление" in message
    assert unknown_years_message([]) == ""


def test_an_unknown_year_still_moves_a_weekend_holiday_by_the_labour_code(
    cal: WorkCalendar,
) -> None:
    # 4 November 2040 is a Sunday; art. 112 TK RF moves the day off to Monday 5th
    # even before any decree, which the package alone would not do.
    assert not cal.knows_year(2040)
    assert not cal.is_working_day(date(2040, 11, 5))
    assert cal.is_working_day(date(2040, 11, 6))
    # The January weekend days wait for a decree: nothing is guessed for them.
    assert cal.is_working_day(date(2040, 1, 9))


def test_a_strict_calendar_refuses_a_year_without_decrees() -> None:
    strict = WorkCalendar(strict=True)
    assert strict.is_working_day(date(2026, 1, 12))
    with pytest.raises(UnknownCalendarYear, match="2040"):
        strict.is_working_day(date(2040, 3, 1))


def test_working_days_between_includes_both_ends(cal: WorkCalendar) -> None:
    assert cal.working_days_between(date(2026, 11, 2), date(2026, 11, 9)) == [
        date(2026, 11, 2),
        date(2026, 11, 3),
        date(2026, 11, 5),
        date(2026, 11, 6),
        date(2026, 11, 9),
    ]
    assert cal.working_days_between(date(2026, 11, 9), date(2026, 11, 2)) == []


def test_the_working_day_before_the_2026_new_year_break_is_30_december_2025(
    cal: WorkCalendar,
) -> None:
    # 31 December 2025 is a day off (moved from 5 January 2025).
    assert cal.working_days_before(date(2026, 1, 12), 1) == date(2025, 12, 30)
    assert cal.working_days_before(date(2026, 1, 14), 2) == date(2026, 1, 12)


def test_working_days_before_reaches_back_across_several_years(cal: WorkCalendar) -> None:
    far = cal.working_days_before(date(2026, 1, 12), 600)
    assert far.year == 2023
    assert len(cal.working_days_between(far, date(2026, 1, 11))) == 600
    with pytest.raises(ValueError):
        cal.working_days_before(date(2026, 1, 12), 0)


def test_the_first_working_days_of_january_2026_start_on_the_12th(cal: WorkCalendar) -> None:
    assert cal.first_working_days(2026, 1, 3) == [
        date(2026, 1, 12),
        date(2026, 1, 13),
        date(2026, 1, 14),
    ]
    assert len(cal.first_working_days(2026, 1, 40)) == 15  # no more than the month has


def test_the_23_february_window_is_ten_working_days_ending_five_before(
    cal: WorkCalendar,
) -> None:
    assert occasion_window(date(2026, 2, 23), 5, 10, cal) == (date(2026, 2, 3), date(2026, 2, 16))


def test_the_8_march_2026_window_ends_on_2_march(cal: WorkCalendar) -> None:
    start, end = occasion_window(date(2026, 3, 8), 5, 10, cal)
    assert (start, end) == (date(2026, 2, 16), date(2026, 3, 2))
    assert len(cal.working_days_between(start, end)) == 10


def test_the_builders_day_2027_window_is_20_july_to_2_august(cal: WorkCalendar) -> None:
    assert occasion_window(date(2027, 8, 8), 5, 10, cal) == (date(2027, 7, 20), date(2027, 8, 2))


def test_a_window_with_no_days_before_ends_on_the_occasion_or_the_working_day_before(
    cal: WorkCalendar,
) -> None:
    assert occasion_window(date(2026, 9, 14), 0, 1, cal) == (date(2026, 9, 14), date(2026, 9, 14))
    assert occasion_window(date(2026, 9, 13), 0, 3, cal) == (date(2026, 9, 9), date(2026, 9, 11))
    with pytest.raises(ValueError):
        occasion_window(date(2026, 9, 13), 5, 0, cal)


def test_a_purchase_month_window_is_the_first_working_days_of_the_month(
    cal: WorkCalendar,
) -> None:
    assert month_window(2026, 1, 10, cal) == (date(2026, 1, 12), date(2026, 1, 23))
    assert month_window(2026, 11, 10, cal) == (date(2026, 11, 2), date(2026, 11, 16))
    assert month_window(2026, 11, 1, cal) == (date(2026, 11, 2), date(2026, 11, 2))


def test_both_ends_of_every_window_are_working_days(cal: WorkCalendar) -> None:
    for month in range(1, 13):
        start, end = month_window(2027, month, 10, cal)
        assert cal.is_working_day(start) and cal.is_working_day(end)
    for day in range(0, 365, 7):
        occasion = date(2027, 1, 1) + timedelta(days=day)
        start, end = occasion_window(occasion, 5, 10, cal)
        assert cal.is_working_day(start) and cal.is_working_day(end)
        assert len(cal.working_days_between(start, end)) == 10
        assert len(cal.working_days_between(end + timedelta(days=1), occasion)) >= 4


def test_planning_and_letters_read_a_rule_with_one_reader():
    assert occasion_dates is occasions.occasion_dates
    rule = "FREQ=YEARLY;BYMONTH=8;BYDAY=+2SU"
    assert occasions.next_occurrence(rule, datetime(2027, 1, 1)) == occasion_dates(rule, 2027)[0]
