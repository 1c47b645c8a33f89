"""The manager's desk in headless Chromium: find a contact by its company's other spelling,
open its card and history, take a hot click; a second manager sees none of it."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest_browser import PHONE, screenshot
from tests.desk_data import two_desks
from tracking.models import Task, TaskOutcome


def test_a_manager_finds_a_contact_by_alias_takes_the_hot_click_and_another_cannot_see_it(
    app, session, signed_in_page, live_url
):
    petr, _anna = two_desks(session)
    tab = signed_in_page("petr@gifts.example")
    assert tab.url.endswith("/hot")  # a manager lands on the hot clicks
    assert tab.locator(f"#task-{petr.task.id} a.tel").get_attribute("href").startswith("tel:+7916")
    screenshot(tab, "desk-hot-clicks")

    tab.click("nav >> text=Контакты")
    tab.fill("#search input[name=q]", "TOYOTA")
    tab.click("#search button[type=submit]")
    rows = tab.locator("#contacts tbody tr")
    assert rows.count() == 1
    assert rows.first.locator(".company").inner_text() == "Тойота (Toyota)"
    screenshot(tab, "desk-contacts-search")

    rows.first.locator("a").first.click()
    tab.wait_for_selector("#history")
    assert tab.locator("#greeting").inner_text() == "Здравствуйте, Иван!"
    assert "Обсудили каталог с Пётр Петров" in tab.locator("#history").inner_text()
    screenshot(tab, "desk-contact-card")

    tab.click("nav >> text=Горячие клики")
    task = tab.locator(f"#task-{petr.task.id}")
    task.locator("input[name=note]").fill("Позвонил, ждёт КП")
    task.locator("button.take").click()
    tab.wait_for_selector("text=Задача закрыта: взял в работу.")
    session.expire_all()
    closed = session.scalar(select(Task).where(Task.id == petr.task.id))
    assert closed.outcome is TaskOutcome.TAKEN and closed.note == "Позвонил, ждёт КП"

    other = signed_in_page("anna@gifts.example", viewport=PHONE)
    assert "Тойота" not in other.locator("main").inner_text()
    screenshot(other, "desk-hot-clicks-phone")
    other.goto(f"{live_url}/contacts/{petr.contact.id}")
    assert other.locator("h1").inner_text() == "Страница не найдена"
    screenshot(other, "desk-not-found-phone")
    other.goto(f"{live_url}/contacts?q=toyota")
    assert other.locator("#nothing").is_visible()


def test_the_card_on_a_phone_warns_about_a_full_name_in_one_field_and_fixes_it(
    app, session, signed_in_page, live_url
):
    petr, _anna = two_desks(session)
    petr.quiet.first_name = "Кондрашов Василий Иванович"
    petr.quiet.last_name = ""
    session.commit()
    tab = signed_in_page("petr@gifts.example", viewport=PHONE)
    tab.goto(f"{live_url}/contacts/{petr.quiet.id}")
    assert tab.locator("#name-warning").is_visible()
    screenshot(tab, "desk-card-name-warning-phone")
    tab.click("#fix-name")
    tab.wait_for_selector("text=Имя разложено по полям.")
    assert tab.locator("#contact-name").inner_text() == "Кондрашов Василий Иванович"
    assert tab.locator("#greeting").inner_text() == "Здравствуйте, Василий Иванович!"
    assert tab.locator("#name-warning").count() == 0
