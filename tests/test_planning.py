"""Planning a year: one letter per contact, campaign and year; pacing; skips with reasons."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from campaigns.calendar import WorkCalendar
from campaigns.models import Campaign
from campaigns.planning import plan_year
from campaigns.reports import explain_contact, year_calendar
from mailer.contacts.book import Consent
from mailer.contacts.models import Contact
from mailer.db import session_scope
from mailer.delivery.models import Letter
from mailer.managers.models import Manager
from mailer.storage.snapshot import snapshot_reader
from mailer.tags.models import Tag
from tests.factories import make_contact, make_manager

JAN_1 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
CAL = WorkCalendar()


def letters(session, **where):
    stmt = select(Letter).where(*(getattr(Letter, k) == v for k, v in where.items()))
    return list(session.scalars(stmt.order_by(Letter.planned_at)))


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Letter))


def test_it_plans_one_letter_per_tag_inside_the_campaign_window(session):
    owner = make_manager(session, timezone="Asia/Vladivostok")
    contact = make_contact(session, owner=owner, tags="строители, 8, НГ август, 23")
    report = plan_year(session, 2027, now=JAN_1, cal=CAL)
    assert report.added == 4
    planned = {letter.kind: letter for letter in letters(session, contact_id=contact.id)}
    assert set(planned) == {"industry_catalogue", "mar8", "new_year_catalogue", "feb23"}
    builders = planned["industry_catalogue"]
    assert builders.occasion_on.isoformat() == "2027-08-08"  # Builders' Day 2027
    local = builders.planned_at.astimezone(ZoneInfo("Asia/Vladivostok"))
    assert local.date() < builders.occasion_on
    assert 9 <= local.hour < 18 and CAL.is_working_day(local.date())
    august = planned["new_year_catalogue"].planned_at.astimezone(ZoneInfo("Asia/Vladivostok"))
    assert august.month == 8 and august.day <= 16  # the first working days of August


def test_planning_twice_never_plans_a_second_letter(session):
    owner = make_manager(session)
    for _ in range(5):
        make_contact(session, owner=owner, tags="строители, 8")
    first = plan_year(session, 2027, now=JAN_1, cal=CAL)
    second = plan_year(session, 2027, now=JAN_1, cal=CAL)
    assert (first.added, second.added, second.already_planned) == (10, 0, 10)
    assert count(session) == 10


def test_the_database_refuses_a_second_letter_for_one_tag_and_year(session):
    contact = make_contact(session, tags="8")
    plan_year(session, 2027, now=JAN_1, cal=CAL)
    [letter] = letters(session, contact_id=contact.id)
    session.add(
        Letter(
            contact_id=contact.id,
            campaign_id=letter.campaign_id,
            tag_id=letter.tag_id,
            kind="mar8",
            year=2027,
            planned_at=JAN_1,
            due_at=JAN_1,
            expires_at=JAN_1,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_a_contact_tagged_in_june_gets_only_the_letters_still_ahead(session):
    contact = make_contact(session, tags="8, строители")  # 8 March has passed by June
    june = datetime(2027, 6, 15, 9, 0, tzinfo=UTC)
    report = plan_year(session, 2027, now=june, cal=CAL)
    assert [letter.kind for letter in letters(session, contact_id=contact.id)] == [
        "industry_catalogue"
    ]
    assert report.window_passed == 1


def test_contacts_without_consent_unsubscribed_or_bounced_are_skipped_with_reasons(session):
    owner = make_manager(session)
    make_contact(session, owner=owner, tags="8", consent=Consent(False))
    make_contact(session, owner=owner, tags="8, 23").unsubscribed_at = JAN_1
    make_contact(session, owner=owner, tags="8").hard_bounced_at = JAN_1
    make_contact(session, owner=owner, tags="8")
    report = plan_year(session, 2027, now=JAN_1, cal=CAL)
    assert report.added == 1
    assert report.skipped == Counter({"no consent": 1, "unsubscribed": 2, "hard-bounced": 1})


def test_a_manager_with_400_contacts_and_4_tags_sends_about_eight_a_working_day(session):
    owner = make_manager(session, daily_cap=40)
    industries = [
        "айти",
        "авто",
        "жд",
        "медики",
        "моряки",
        "нефть",
        "промышленность",
        "строители",
        "торговля",
        "финансы",
        "энергетики",
    ]
    months = [
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ]
    for n in range(400):
        make_contact(
            session,
            owner=owner,
            tags=f"{industries[n % 11]}, 8, 23, {months[n % 10]}",
            company=f"Компания {n}",
        )
    report = plan_year(session, 2027, now=JAN_1, cal=CAL)
    assert report.added == 1600
    days = Counter(
        letter.planned_at.astimezone(ZoneInfo(owner.timezone)).date() for letter in letters(session)
    )
    assert max(days.values()) <= 40
    assert all(CAL.is_working_day(day) for day in days)
    per_day = 1600 / len(days)
    assert 5 <= per_day <= 12, per_day


def test_an_overfull_window_starts_earlier_and_says_so(session):
    owner = make_manager(session, daily_cap=3)
    for _ in range(40):
        make_contact(session, owner=owner, tags="8")
    report = plan_year(session, 2027, now=JAN_1, cal=CAL)
    assert report.added == 40
    assert report.shifts and owner.name in report.shifts[0]
    days = Counter(letter.planned_at.date() for letter in letters(session))
    assert max(days.values()) <= 3


def test_an_edited_campaign_rule_moves_the_occasion(session):
    tag = session.scalar(select(Tag).where(Tag.code == "it"))
    campaign = session.scalar(select(Campaign).where(Campaign.tag_id == tag.id))
    campaign.occasion_rule = "FREQ=YEARLY;BYMONTH=7;BYDAY=-1FR"  # SysAdmin Day instead
    contact = make_contact(session, tags="айти")
    plan_year(session, 2027, now=JAN_1, cal=CAL)
    [letter] = letters(session, contact_id=contact.id)
    assert letter.occasion_on.isoformat() == "2027-07-30"


def test_the_calendar_counts_letters_per_week_campaign_and_manager(session):
    anna = make_manager(session, name="Анна")
    for _ in range(3):
        make_contact(session, owner=anna, tags="8")
    plan_year(session, 2027, now=JAN_1, cal=CAL)
    cal = year_calendar(session, 2027)
    assert sum(n for (_, code), n in cal.by_week_campaign.items() if code == "mar8") == 3
    assert sum(n for (_, m), n in cal.by_week_manager.items() if m == "Анна") == 3
    assert sum(n for _, n in cal.busiest_days()) == 3


def test_explain_says_why_for_each_campaign(session):
    contact = make_contact(session, tags="8")
    plan_year(session, 2027, now=JAN_1, cal=CAL)
    verdicts = {
        e.campaign.split()[0]: e
        for e in explain_contact(session, contact, 2027, now=JAN_1, cal=CAL)
    }
    assert verdicts["mar8"].verdict == "will get"
    assert any("planned 2027-" in r for r in verdicts["mar8"].reasons)
    assert verdicts["feb23"].verdict == "will not get"
    assert verdicts["feb23"].reasons == ["no tag feb23"]
    contact.has_consent = False
    verdicts = {
        e.campaign.split()[0]: e
        for e in explain_contact(session, contact, 2027, now=JAN_1, cal=CAL)
    }
    assert verdicts["mar8"].verdict == "will not get"


def test_plan_calendar_and_explain_commands(runner, session):
    contact = make_contact(session, tags="строители, НГ сентябрь")
    session.commit()
    result = runner.invoke(args=["mailer", "campaigns", "plan", "--year", "2030"])
    assert result.exit_code == 0, result.output
    assert "2030: 2 letters planned" in result.output
    result = runner.invoke(args=["mailer", "campaigns", "calendar", "--year", "2030"])
    assert result.exit_code == 0 and "construction 1" in result.output
    result = runner.invoke(args=["mailer", "campaigns", "calendar", "--year", "2030", "--csv"])
    assert result.output.splitlines()[0] == "week,campaign,manager,letters"
    result = runner.invoke(
        args=["mailer", "campaigns", "explain", "--contact", contact.email, "--year", "2030"]
    )
    assert result.exit_code == 0
    assert "construction (industry_catalogue): will get" in result.output


def test_a_committed_book_is_planned_the_same_whether_read_apart_or_in_the_transaction(
    session,
):
    # In a fresh transaction PostgreSQL reads the book on a second connection with the
    # transaction's snapshot (the COPY then stays open); once the transaction has an id it
    # reads in place. Both must give the same letters.
    owner = make_manager(session, timezone="Asia/Yekaterinburg")
    for _ in range(30):
        make_contact(session, owner=owner, tags="строители, 8, НГ август")
    session.commit()

    def planned() -> list[tuple[int, int, datetime]]:
        report = plan_year(session, 2027, now=JAN_1, cal=CAL)
        assert report.added == 90
        got = [(x.contact_id, x.campaign_id, x.planned_at) for x in letters(session)]
        session.rollback()
        return sorted(got)

    apart = planned()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_current_xact_id()"))  # the transaction gets an id
    assert planned() == apart


def test_the_snapshot_reader_sees_what_the_session_saw_and_nothing_committed_later(app, session):
    owner = make_manager(session)
    first = make_contact(session, owner=owner)
    session.commit()
    with snapshot_reader(session) as reader:
        with session_scope(app) as other:
            later = make_contact(other, owner=other.get(Manager, owner.id))
            other.commit()
        seen = set(reader.scalars(select(Contact.email)))
        if session.get_bind().dialect.name == "postgresql":
            assert reader is not session
            assert seen == {first.email}
        else:  # one connection: it reads what is committed, as ever
            assert reader is session
            assert seen == {first.email, later.email}
