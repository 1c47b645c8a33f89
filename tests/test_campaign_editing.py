"""Editing a campaign: checked values, the next dates in words, unsent letters re-planned."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from campaigns.calendar import WorkCalendar, occasion_window
from campaigns.date_words import day_words, span_words
from campaigns.editing import (
    CampaignEdit,
    CampaignEditError,
    next_dates,
    rule_preview,
    update_campaign,
)
from campaigns.models import Campaign
from campaigns.planning import plan_year
from mailer.delivery.models import Letter, LetterStatus
from mailer.tags.models import Tag
from tests.factories import make_contact, make_manager

DEC_1 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CAL = WorkCalendar()
MAR8 = "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8"


def campaign_of(session, code: str) -> Campaign:
    return session.scalar(select(Campaign).join(Tag).where(Tag.code == code))


def letters_of(session, campaign: Campaign) -> dict[int, Letter]:
    rows = session.scalars(select(Letter).where(Letter.campaign_id == campaign.id))
    return {letter.contact_id: letter for letter in rows}


def planned_mar8(session, n: int = 4):
    owner = make_manager(session, timezone="Europe/Moscow")
    contacts = [make_contact(session, owner=owner, tags="8") for _ in range(n)]
    plan_year(session, 2027, now=DEC_1, cal=CAL)
    session.commit()
    return contacts


def test_the_next_dates_of_a_rule_are_counted_from_today():
    assert next_dates(MAR8, 3, today=date(2027, 3, 9)) == [
        date(2028, 3, 8),
        date(2029, 3, 8),
        date(2030, 3, 8),
    ]
    assert next_dates(MAR8, 1, today=date(2027, 3, 8)) == [date(2027, 3, 8)]
    # Each year's first date, the one planning builds the window on; a leap day skips years.
    assert next_dates("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8,20", 2, today=date(2027, 3, 10)) == [
        date(2028, 3, 8),
        date(2029, 3, 8),
    ]
    assert next_dates("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", 2, today=date(2027, 1, 1)) == [
        date(2028, 2, 29),
        date(2032, 2, 29),
    ]


def test_a_rule_being_typed_previews_its_dates_in_words_or_says_what_is_wrong():
    assert rule_preview("RRULE:FREQ=YEARLY;BYMONTH=5;BYDAY=-1SU", today=date(2027, 1, 1)) == [
        "30 мая 2027, воскресенье",
        "28 мая 2028, воскресенье",
        "27 мая 2029, воскресенье",
    ]
    with pytest.raises(CampaignEditError, match="FREQ=YEARLY"):
        rule_preview("FREQ=MONTHLY;BYMONTHDAY=1", today=date(2027, 1, 1))


def test_dates_read_in_russian_words():
    assert day_words(date(2027, 3, 8)) == "8 марта 2027, понедельник"
    assert day_words(date(2027, 3, 10)) == "10 марта 2027, среда"
    assert span_words(date(2027, 2, 22), date(2027, 3, 5)) == "22 февраля – 5 марта 2027"
    assert span_words(date(2026, 12, 30), date(2027, 1, 11)) == "30 декабря 2026 – 11 января 2027"


def test_a_new_window_moves_the_unsent_letters_and_leaves_the_sent_one(session):
    planned_mar8(session)
    campaign = campaign_of(session, "mar8")
    before = letters_of(session, campaign)
    sent_contact = min(before)
    sent = before[sent_contact]
    sent.status, sent.sent_at, sent.message_id = LetterStatus.SENT, DEC_1, "<x@gifts.example>"
    sent_at_plan = sent.planned_at
    session.commit()

    change = update_campaign(
        session, "mar8", CampaignEdit(window_days=2, days_before=1), now=DEC_1, cal=CAL
    )
    session.commit()

    assert change.changed == ["days_before", "window_days"]
    assert (change.moves.moved, change.moves.dropped, change.moves.added) == (3, 0, 0)
    after = letters_of(session, campaign)
    assert after[sent_contact].id == sent.id
    assert after[sent_contact].planned_at == sent_at_plan
    assert after[sent_contact].status is LetterStatus.SENT
    start, end = occasion_window(date(2027, 3, 8), 1, 2, CAL)
    moscow = ZoneInfo("Europe/Moscow")
    for contact_id, letter in after.items():
        if contact_id != sent_contact:
            assert start <= letter.planned_at.astimezone(moscow).date() <= end
    assert [each.occasion for each in change.upcoming] == [
        date(2027, 3, 8),
        date(2028, 3, 8),
        date(2029, 3, 8),
    ]
    assert change.upcoming[0].window == (start, end)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (CampaignEdit(occasion_rule="FREQ=YEARLY;BYMONTHDAY=abc"), "не читается"),
        (CampaignEdit(occasion_rule="FREQ=YEARLY;BYMONTH=13"), "нет трёх дат"),
        (CampaignEdit(occasion_rule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), "нет трёх дат"),
        (CampaignEdit(occasion_rule="каждый март"), "FREQ=YEARLY"),
        (CampaignEdit(occasion_rule="FREQ=DAILY"), "FREQ=YEARLY"),
        (CampaignEdit(occasion_rule="FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8,9"), "больше одной"),
        (CampaignEdit(occasion_rule="FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8;COUNT=1"), "COUNT"),
        (CampaignEdit(occasion_rule="FREQ=YEARLY;BYMONTH=3;UNTIL=20270101"), "трёх дат"),
        (CampaignEdit(occasion_rule="FREQ=YEARLY\nDTSTART:20000101"), "одной строкой"),
        (CampaignEdit(occasion_rule="   "), "пустое"),
        (CampaignEdit(window_days=0, days_before=1), "Окно рассылки"),
        (CampaignEdit(window_days=3, days_before=-1), "Отступ"),
        (CampaignEdit(window_days=3, letter_kind="feb24"), "Нет такого письма"),
    ],
)
def test_a_bad_value_is_refused_in_russian_and_changes_nothing(session, edit, message):
    planned_mar8(session, 2)
    campaign = campaign_of(session, "mar8")
    rule, window, before = campaign.occasion_rule, campaign.window_days, campaign.days_before
    times = {c: letter.planned_at for c, letter in letters_of(session, campaign).items()}
    with pytest.raises(CampaignEditError, match=message):
        update_campaign(session, "mar8", edit, now=DEC_1, cal=CAL)
    session.rollback()
    campaign = campaign_of(session, "mar8")
    assert (campaign.occasion_rule, campaign.window_days, campaign.days_before) == (
        rule,
        window,
        before,
    )
    assert {c: letter.planned_at for c, letter in letters_of(session, campaign).items()} == times


def test_an_unknown_tag_is_named(session):
    with pytest.raises(CampaignEditError, match="«нет-такого»"):
        update_campaign(session, "нет-такого", CampaignEdit(window_days=3), now=DEC_1)


def test_deactivating_drops_the_unsent_letters_and_reactivating_plans_them_again(session):
    make_contact(session, tags="23")  # 2027 stays a planned year with no mar8 letter in it
    planned_mar8(session, 3)
    campaign = campaign_of(session, "mar8")
    off = update_campaign(session, "mar8", CampaignEdit(is_active=False), now=DEC_1, cal=CAL)
    session.commit()
    assert (off.moves.dropped, letters_of(session, campaign)) == (3, {})
    on = update_campaign(session, "mar8", CampaignEdit(is_active=True), now=DEC_1, cal=CAL)
    session.commit()
    assert on.moves.added == 3 and len(letters_of(session, campaign)) == 3


def test_a_new_letter_kind_reaches_the_planned_letters_only(session):
    planned_mar8(session, 2)
    campaign = campaign_of(session, "mar8")
    first = letters_of(session, campaign)[min(letters_of(session, campaign))]
    first.status = LetterStatus.SENT
    session.commit()
    change = update_campaign(session, "mar8", CampaignEdit(letter_kind="feb23"), now=DEC_1, cal=CAL)
    session.commit()
    assert change.kind_updated == 1 and change.moves.moved == 0
    kinds = sorted(letter.kind for letter in letters_of(session, campaign).values())
    assert kinds == ["feb23", "mar8"]


def test_the_command_prints_the_next_dates_and_the_letters_moved(app, runner, monkeypatch):
    monkeypatch.setattr("campaigns.cli.utcnow", lambda: DEC_1)
    from mailer.db import session_scope

    with session_scope(app) as session:
        planned_mar8(session, 3)
    result = runner.invoke(
        args=["mailer", "campaigns", "set", "mar8", "--rule", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=10"]
    )
    assert result.exit_code == 0, result.output
    assert "10 марта 2027, среда (письма" in result.output
    assert "10 марта 2029, суббота" in result.output
    assert "Перенесено 3 письма из ещё не отправленных" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--rule", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=32"],
        ["--window", "0"],
        ["--kind", "nope", "--window", "5"],
    ],
)
def test_the_command_refuses_bad_input_in_one_line_and_changes_nothing(app, runner, args):
    result = runner.invoke(args=["mailer", "campaigns", "set", "mar8", *args])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    from mailer.db import session_scope

    with session_scope(app) as session:
        campaign = campaign_of(session, "mar8")
        assert (campaign.occasion_rule, campaign.window_days, campaign.letter_kind) == (
            MAR8,
            10,
            "mar8",
        )
