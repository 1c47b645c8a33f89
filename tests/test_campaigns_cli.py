"""`mailer campaigns` as people read it: windows as they work, one contact's campaigns
first, and counts that read right."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from campaigns.models import Campaign
from campaigns.pacing import Shift
from campaigns.reports import window_text
from mailer.tags.models import Tag
from tests.factories import make_contact, make_manager


def line_of(output: str, code: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{code} "))


def test_list_says_a_purchase_month_campaign_goes_in_the_months_first_working_days(runner):
    result = runner.invoke(args=["mailer", "campaigns", "list"])
    assert result.exit_code == 0, result.output
    month = line_of(result.output, "ny_aug")
    assert month.endswith("the month's first 10 working days")
    assert "before" not in month
    industry = line_of(result.output, "construction")
    assert industry.endswith("10 working days ending 5 working days before the occasion")


def test_a_one_day_window_reads_in_the_singular(session):
    month = session.scalar(select(Campaign).join(Tag).where(Tag.code == "ny_aug"))
    holiday = session.scalar(select(Campaign).join(Tag).where(Tag.code == "mar8"))
    month.window_days = holiday.window_days = holiday.days_before = 1
    assert window_text(month) == "the month's first working day"
    assert window_text(holiday) == "1 working day ending 1 working day before the occasion"


def test_explain_shows_the_contacts_own_campaigns_and_sums_up_the_rest(runner, session):
    contact = make_contact(session, tags="строители, НГ сентябрь")
    session.commit()
    total = len(session.scalars(select(Campaign.id)).all())
    result = runner.invoke(
        args=["mailer", "campaigns", "explain", "--contact", contact.email, "--year", "2030"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "construction (industry_catalogue): will get"
    assert "ny_sep (new_year_catalogue): will get" in lines
    assert lines[-1] == f"{total - 2} other campaigns: no matching tag"
    assert not [line for line in lines if "no tag" in line]


def test_explain_for_a_contact_with_no_campaign_tag_says_so_in_two_lines(runner, session):
    contact = make_contact(session)
    session.commit()
    total = len(session.scalars(select(Campaign.id)).all())
    result = runner.invoke(
        args=["mailer", "campaigns", "explain", "--contact", contact.email, "--year", "2030"]
    )
    assert result.output.splitlines() == [
        f"{contact.email} has no tag any active campaign is about",
        f"{total} other campaigns: no matching tag",
    ]


def test_counts_read_right_in_plan_and_managers_list(runner, session):
    owner = make_manager(session, daily_cap=1)
    make_contact(session, owner=owner, tags="8")
    session.commit()
    result = runner.invoke(args=["mailer", "campaigns", "plan", "--year", "2030"])
    assert result.exit_code == 0, result.output
    assert "2030: 1 letter planned, 0 already planned" in result.output
    listed = runner.invoke(args=["mailer", "managers", "list"]).output
    assert f"<{owner.email}>" in listed and "at most 1 letter a day" in listed


def test_an_earlier_start_reads_as_a_sentence():
    shift = Shift(date(2030, 3, 1), date(2030, 3, 5), date(2030, 2, 28), 1, 1)
    assert str(shift) == (
        "the window 2030-03-01..2030-03-05 starts 1 working day earlier, "
        "on 2030-02-28 (1 letter moved)"
    )
