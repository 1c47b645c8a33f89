"""The calendar page's figures: letters per day aggregated in the database, each manager's
weekly load against the cap, a day's letters paged, and the heatmap's SVG."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from xml.etree import ElementTree

from sqlalchemy import select

from campaigns.calendar import WorkCalendar
from campaigns.day_counts import LetterFilter, letters_per_day
from campaigns.day_letters import day_letters
from campaigns.heatmap_svg import render_heatmap, shade
from campaigns.manager_load import manager_load
from campaigns.models import Campaign
from campaigns.planning import plan_year
from campaigns.reports import year_calendar
from mailer.delivery.models import Letter, LetterStatus
from mailer.tags.models import Tag
from tests.factories import make_contact, make_manager

JAN_1 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
CAL = WorkCalendar()
SVG = "{http://www.w3.org/2000/svg}"


def planned_book(session):
    """Two owners far apart in time zones, one with a small cap, and a cancelled letter."""
    east = make_manager(session, timezone="Asia/Vladivostok", daily_cap=2)
    west = make_manager(session, timezone="Europe/Kaliningrad")
    for _ in range(9):
        make_contact(session, owner=east, tags="8, строители")
    for _ in range(5):
        make_contact(session, owner=west, tags="8, 23")
    plan_year(session, 2027, now=JAN_1, cal=CAL)
    mar8 = select(Letter).where(Letter.campaign_id == campaign_id(session, "mar8"))
    cancelled = session.scalars(mar8.order_by(Letter.contact_id)).first()  # east's
    cancelled.status = LetterStatus.CANCELLED
    session.commit()
    return east, west


def campaign_id(session, code: str) -> int:
    return session.scalar(select(Campaign.id).join(Tag).where(Tag.code == code))


def test_letters_per_day_match_the_owners_local_days(session):
    east, _west = planned_book(session)
    counted = letters_per_day(session, LetterFilter(2027))
    assert counted == year_calendar(session, 2027).by_day  # per letter, in Python
    assert sum(counted.values()) == 9 * 2 + 5 * 2 - 1
    mine = letters_per_day(session, LetterFilter(2027, manager_id=east.id))
    assert sum(mine.values()) == 9 * 2 - 1
    mar8 = letters_per_day(session, LetterFilter(2027, campaign_id=campaign_id(session, "mar8")))
    assert sum(mar8.values()) == 13 and all(d.month in (2, 3) for d in mar8)
    assert letters_per_day(session, LetterFilter(2031)) == {}


def test_each_managers_week_is_set_against_their_cap(session):
    east, west = planned_book(session)
    weeks = manager_load(session, LetterFilter(2027), cal=CAL)
    per_day = letters_per_day(session, LetterFilter(2027))
    assert sum(w.letters for w in weeks) == sum(per_day.values())
    for week in weeks:
        assert week.monday.weekday() == 0 and week.busiest_day <= week.letters
        assert week.capacity == week.daily_cap * week.working_days
    east_weeks = [w for w in weeks if w.manager_id == east.id]
    assert east_weeks and all(w.daily_cap == 2 for w in east_weeks)
    assert not any(w.is_over_cap for w in east_weeks)  # pacing keeps the cap
    march8_week = [w for w in weeks if w.monday == date(2027, 3, 8)]
    assert all(w.working_days == 4 for w in march8_week)  # 8 March is a day off


def test_a_days_letters_come_a_page_at_a_time(session):
    planned_book(session)
    per_day = letters_per_day(session, LetterFilter(2027))
    day, n = max(per_day.items(), key=lambda kv: (kv[1], kv[0]))
    first = day_letters(session, LetterFilter(2027), day, per_page=1)
    assert (first.total, first.pages, len(first.letters)) == (n, n, 1)
    everyone = [
        letter
        for page in range(1, n + 1)
        for letter in day_letters(session, LetterFilter(2027), day, page=page, per_page=1).letters
    ]
    assert len({letter.letter_id for letter in everyone}) == n
    assert all(letter.planned_at.date() == day for letter in everyone)
    assert [letter.planned_at for letter in everyone] == sorted(x.planned_at for x in everyone)
    assert day_letters(session, LetterFilter(2027), date(2027, 7, 4)).total == 0


def test_the_heatmap_has_a_square_with_a_russian_title_for_every_day():
    svg = render_heatmap(2027, {date(2027, 3, 8): 37, date(2027, 3, 9): 1, date(2026, 12, 31): 5})
    root = ElementTree.fromstring(svg)
    rects = root.findall(f"{SVG}rect")
    assert len(rects) == 365
    titles = {r.get("data-date"): r.find(f"{SVG}title").text for r in rects}
    assert titles["2027-03-08"] == "8 марта 2027, понедельник: 37 писем"
    assert titles["2027-03-09"] == "9 марта 2027, вторник: 1 письмо"
    assert titles["2027-01-01"] == "1 января 2027, пятница: писем нет"
    assert root.find(f"{SVG}desc").text == "38 писем за год; больше всего в один день: 37"
    levels = {r.get("data-date"): r.get("data-level") for r in rects}
    assert (levels["2027-03-08"], levels["2027-03-09"], levels["2027-01-01"]) == ("4", "1", "0")
    assert len(ElementTree.fromstring(render_heatmap(2028, {})).findall(f"{SVG}rect")) == 366


def test_the_heatmap_escapes_what_it_is_given():
    svg = render_heatmap(
        2027,
        {date(2027, 5, 1): 3},
        title='Кампания <script>alert("x")</script>',
        day_href=lambda d: f'/calendar?day={d}&manager=1"><script>',
    )
    assert "<script>" not in svg
    root = ElementTree.fromstring(svg)  # still well-formed
    links = root.findall(f"{SVG}a")
    assert len(links) == 365
    assert links[0].get("href") == '/calendar?day=2027-01-01&manager=1"><script>'
    assert root.get("role") == "group"


def test_shades_grow_with_the_count():
    assert [shade(n, 40) for n in (0, 1, 10, 11, 20, 30, 40)] == [0, 1, 1, 2, 2, 3, 4]
    assert re.fullmatch(r"#[0-9a-f]{6}", "#c6e48b")
