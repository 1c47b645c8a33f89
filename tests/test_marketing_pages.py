"""Marketing's desk through the test client: every page answers marketing, is missing for
a manager, and each form's bad input is a Russian sentence with nothing changed."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from campaigns.models import Campaign
from mailer.delivery.models import Letter, LetterStatus
from tests.desk import post, sign_in
from tests.factories import configure
from tests.marketing_data import MANAGER, MARKETING, marketing_year
from tracking.models import CampaignLink


@pytest.fixture
def year(session):
    return marketing_year(session)


@pytest.fixture
def as_marketing(app, year):
    client = app.test_client()
    sign_in(client, MARKETING)
    return client


def pages(year) -> list[str]:
    """Every marketing URL, GET and POST, with the ids of real objects."""
    c = year.mar8.id
    day = f"{year.year}-03-01"
    return [
        "/campaigns",
        f"/campaigns/{c}",
        "/campaigns/dates?rule=FREQ%3DYEARLY%3BBYMONTH%3D3%3BBYMONTHDAY%3D8",
        f"/preview?email={year.contact.email}&kind=mar8",
        f"/calendar?year={year.year}",
        f"/calendar/{day}",
        "/outbox?q=toyota",
        f"/outbox/contacts/{year.contact.id}",
        "/import",
        "/funnel",
        "/funnel.csv",
    ]


POSTS = ["/campaigns/{c}", "/campaigns/{c}/links", "/preview/send", "/import"]


def test_a_manager_gets_404_on_every_marketing_page_and_form(app, year, session):
    client = app.test_client()
    sign_in(client, MANAGER)
    for url in pages(year):
        assert client.get(url).status_code == 404, url
    rule_before = year.mar8.occasion_rule
    for url in POSTS:
        response = post(client, url.format(c=year.mar8.id), {"occasion_rule": "FREQ=YEARLY"})
        assert response.status_code == 404, url
    session.expire_all()
    assert session.get(Campaign, year.mar8.id).occasion_rule == rule_before
    menu = client.get("/hot").get_data(as_text=True)
    assert "Кампании" not in menu and "Воронка" not in menu


def test_marketing_opens_every_page_and_sees_them_in_the_menu(as_marketing, year):
    for url in pages(year):
        assert as_marketing.get(url).status_code == 200, url
    menu = as_marketing.get("/campaigns").get_data(as_text=True)
    for label in ("Кампании", "Предпросмотр", "Календарь", "Исходящие", "Импорт", "Воронка"):
        assert f">{label}</a>" in menu


def test_nobody_signed_in_is_sent_to_sign_in(app, year):
    response = app.test_client().get("/campaigns")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_the_campaigns_list_shows_the_years_letters_and_next_dates(as_marketing, year):
    page = as_marketing.get(f"/campaigns?year={year.year}").get_data(as_text=True)
    assert f'id="campaign-{year.mar8.id}"' in page
    assert f"8 марта {year.year}" in page
    assert "6 / 0 / 0" in page  # six letters planned, none sent, none clicked


def test_the_rule_being_typed_gets_its_next_dates_or_a_russian_sentence(as_marketing, year):
    ok = as_marketing.get(
        "/campaigns/dates", query_string={"rule": "FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=9"}
    )
    assert ok.status_code == 200
    first = date.today().year + (date.today() > date(date.today().year, 5, 9))
    assert [d.split(",")[0] for d in ok.get_json()["dates"]] == [
        f"9 мая {first}",
        f"9 мая {first + 1}",
        f"9 мая {first + 2}",
    ]
    bad = as_marketing.get("/campaigns/dates", query_string={"rule": "FREQ=MONTHLY"})
    assert bad.status_code == 400 and "FREQ=YEARLY" in bad.get_json()["error"]


def _form(campaign: Campaign, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "occasion_rule": campaign.occasion_rule,
        "days_before": campaign.days_before,
        "window_days": campaign.window_days,
        "letter_kind": campaign.letter_kind,
        "is_active": "on",
    }
    values.update(changes)
    return values


def _planned_times(session, campaign_id: int) -> list:
    session.expire_all()
    return sorted(
        session.scalars(select(Letter.planned_at).where(Letter.campaign_id == campaign_id))
    )


def test_saving_a_campaign_replans_its_letters_and_says_how_many_moved(as_marketing, year, session):
    url = f"/campaigns/{year.mar8.id}"
    before = _planned_times(session, year.mar8.id)
    response = post(as_marketing, url, _form(year.mar8, days_before=10), token_from=url)
    assert response.status_code == 302
    page = as_marketing.get(url).get_data(as_text=True)
    assert "Перенесено 6 писем" in page
    assert _planned_times(session, year.mar8.id) != before
    assert session.get(Campaign, year.mar8.id).days_before == 10


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"occasion_rule": "FREQ=WEEKLY;BYDAY=MO"}, "FREQ=YEARLY"),
        ({"occasion_rule": "FREQ=YEARLY;BYMONTH=март"}, "не читается как RRULE"),
        ({"window_days": "0"}, "Окно рассылки — от 1 до 60 рабочих дней, а не 0"),
        ({"window_days": "пять"}, "целое число рабочих дней"),
        ({"letter_kind": "spam"}, "Нет такого письма"),
    ],
)
def test_a_bad_campaign_form_is_answered_in_russian_and_changes_nothing(
    as_marketing, year, session, changes, message
):
    url = f"/campaigns/{year.mar8.id}"
    before = _planned_times(session, year.mar8.id)
    rule, window = year.mar8.occasion_rule, year.mar8.window_days
    response = post(as_marketing, url, _form(year.mar8, days_before=10, **changes), token_from=url)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    session.expire_all()
    campaign = session.get(Campaign, year.mar8.id)
    assert (campaign.occasion_rule, campaign.window_days, campaign.days_before) == (
        rule,
        window,
        year.mar8.days_before,
    )
    assert _planned_times(session, year.mar8.id) == before


def _links(session, campaign_id: int) -> dict[str, str]:
    session.expire_all()
    rows = session.scalars(select(CampaignLink).where(CampaignLink.campaign_id == campaign_id))
    return {link.label: link.url for link in rows}


def test_links_are_added_repointed_and_removed_with_the_destination_checks(
    as_marketing, year, session
):
    url, links = f"/campaigns/{year.mar8.id}", f"/campaigns/{year.mar8.id}/links"
    before = _links(session, year.mar8.id)
    bad = post(
        as_marketing,
        links,
        {"action": "set", "label": "каталог", "url": "javascript:alert(1)"},
        token_from=url,
    )
    assert bad.status_code == 400
    assert "Адрес не принят: разрешены только http и https" in bad.get_data(as_text=True)
    assert _links(session, year.mar8.id) == before
    bad_add = post(
        as_marketing,
        links,
        {"action": "add", "label": "ещё", "role": "other", "url": "javascript:alert(1)"},
        token_from=url,
    )
    assert bad_add.status_code == 400 and _links(session, year.mar8.id) == before
    added = post(
        as_marketing,
        links,
        {"action": "add", "label": "блог", "role": "other", "url": "https://gifts.example/blog"},
        token_from=url,
    )
    assert added.status_code == 302
    assert _links(session, year.mar8.id)["блог"] == "https://gifts.example/blog"
    post(as_marketing, links, {"action": "remove", "label": "блог"}, token_from=url)
    assert _links(session, year.mar8.id) == before


def test_the_link_domains_setting_holds_on_the_page_too(app, as_marketing, year, session):
    configure(app, LINK_ALLOWED_DOMAINS="gifts.example")
    url = f"/campaigns/{year.mar8.id}"
    response = post(
        as_marketing,
        f"{url}/links",
        {"action": "set", "label": "скидка", "url": "https://evil.example/"},
        token_from=url,
    )
    assert response.status_code == 400
    assert "не в списке разрешённых" in response.get_data(as_text=True)


def test_the_preview_shows_the_letter_as_the_command_does(as_marketing, year, runner):
    page = as_marketing.get(
        "/preview", query_string={"email": year.contact.email, "kind": "mar8"}
    ).get_data(as_text=True)
    cli = runner.invoke(
        args=["mailer", "letters", "preview", "--contact", year.contact.email, "--kind", "mar8"]
    )
    assert cli.exit_code == 0, cli.output
    subject = next(line for line in cli.output.splitlines() if line.startswith("Subject: "))
    assert subject.removeprefix("Subject: ") in page
    assert 'id="greeting-text">Здравствуйте, Иван Петрович!' in page
    assert "sandbox srcdoc=" in page and "&lt;html" in page  # the HTML part, escaped
    assert "замечаний нет" in page


def test_the_preview_says_in_russian_what_it_cannot_show(as_marketing, year):
    missing = as_marketing.get(
        "/preview", query_string={"email": "nobody@x.example", "kind": "mar8"}
    )
    assert missing.status_code == 400
    assert "Контакта с e-mail nobody@x.example нет в базе." in missing.get_data(as_text=True)
    untagged = as_marketing.get(
        "/preview", query_string={"email": year.contact.email, "kind": "feb23"}
    )
    assert untagged.status_code == 400
    assert "Письмо для этого контакта не собрать" in untagged.get_data(as_text=True)


def test_a_test_letter_goes_to_the_signed_in_user_only(app, as_marketing, year, smtp_server):
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    query = {"email": year.contact.email, "kind": "mar8"}
    response = post(as_marketing, "/preview/send", query, token_from="/preview")
    assert response.status_code == 302
    [message] = smtp_server.messages
    assert message.rcpt_tos == (MARKETING,)
    assert b"Subject:" in message.data
    page = as_marketing.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Тестовое письмо отправлено на {MARKETING}." in page


def test_a_test_letter_the_relay_refuses_is_said_so_in_russian(
    app, as_marketing, year, smtp_server
):
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    smtp_server.script(MARKETING, rcpt="550 5.1.1 no such user")
    query = {"email": year.contact.email, "kind": "mar8"}
    response = post(as_marketing, "/preview/send", query, token_from="/preview")
    page = as_marketing.get(response.headers["Location"]).get_data(as_text=True)
    assert "Тестовое письмо не отправлено: сервер ответил" in page and "550" in page
    assert smtp_server.accepted == []


def test_the_calendar_draws_the_year_and_a_day_lists_its_letters(as_marketing, year, session):
    page = as_marketing.get(f"/calendar?year={year.year}").get_data(as_text=True)
    in_year = session.scalar(select(func.count()).where(Letter.year == year.year))
    assert in_year == 7  # six for 8 March, one for the builders' day
    assert "<svg" in page and "7 писем за год" in page
    assert "Пётр Петров" in page and "Анна Смирнова" in page  # the weekly load
    only_anna = as_marketing.get(f"/calendar?year={year.year}&manager={year.anna.id}")
    assert "2 письма за год" in only_anna.get_data(as_text=True)
    session.expire_all()
    first = min(session.scalars(select(Letter.planned_at)))
    day = as_marketing.get(f"/calendar/{first.date().isoformat()}").get_data(as_text=True)
    assert 'id="day-letters"' in day and "mar8" in day
    assert as_marketing.get("/calendar/2027-02-30").status_code == 404


def test_the_weekly_load_comes_a_page_of_managers_at_a_time(
    as_marketing, year, session, monkeypatch
):
    monkeypatch.setattr("campaigns.calendar_views.LOAD_MANAGERS", 1)
    names = ("Анна Смирнова", "Пётр Петров")  # by name: Анна's page, then Пётр's

    def load_table(page: str) -> str:
        return page[
            page.index('<table id="load"') : page.index("</table>", page.index('id="load"'))
        ]

    first = as_marketing.get(f"/calendar?year={year.year}").get_data(as_text=True)
    assert names[0] in load_table(first) and names[1] not in load_table(first)
    assert "следующие менеджеры" in first
    second = as_marketing.get(f"/calendar?year={year.year}&page=2").get_data(as_text=True)
    assert names[1] in load_table(second) and names[0] not in load_table(second)
    assert "предыдущие менеджеры" in second
    assert "7 писем за год" in second  # the heatmap still counts everyone


def test_the_outbox_counts_statuses_finds_a_contact_and_explains(as_marketing, year, session):
    letter = session.scalars(select(Letter).where(Letter.contact_id == year.contact.id)).first()
    letter.status, letter.last_code, letter.last_error = LetterStatus.BOUNCED, 550, "no mailbox"
    session.commit()
    page = as_marketing.get("/outbox?q=тойота").get_data(as_text=True)
    assert 'data-status="bounced">1<' in page and "no mailbox" in page
    assert f"/outbox/contacts/{year.contact.id}" in page
    card = as_marketing.get(f"/outbox/contacts/{year.contact.id}?year={year.year}")
    text = card.get_data(as_text=True)
    assert "не получил" in text and "не доставлено: no mailbox" in text


def test_the_funnel_page_and_its_csv_refuse_a_bad_period(as_marketing, year):
    assert as_marketing.get("/funnel?by=manager").status_code == 200
    bad = as_marketing.get("/funnel?start=2027-05-01&end=2027-01-01")
    assert bad.status_code == 400 and "Конец периода раньше его начала." in bad.get_data(
        as_text=True
    )
    assert as_marketing.get("/funnel.csv?start=вчера").status_code == 400
    export = as_marketing.get("/funnel.csv?by=campaign")
    rows = list(
        csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    assert rows[0][:2] == ["Кампания", "Отправлено"] and rows[-1][0] == "Итого"
