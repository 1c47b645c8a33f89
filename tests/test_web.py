"""The contact book's pages in a real headless browser (Debian chromium + Playwright)."""

from __future__ import annotations

import pytest

from mailer.config import settings
from mailer.contacts.models import Contact
from mailer.letters.signing import unsubscribe_token
from mailer.users.models import Role
from tests.conftest_browser import ARTIFACTS
from tests.desk import make_user
from tests.factories import make_contact, make_manager


@pytest.fixture
def book(session):
    petr = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    make_manager(session, name="Дом Подарков", email="hello@gifts.example", is_house=True)
    make_contact(session, owner=petr, company="Тойота (Toyota)", first_name="<b>Иван</b>")
    make_contact(session, owner=petr, company="Ромашка")
    make_user(session, role=Role.MARKETING, email="marketing@gifts.example")
    session.commit()


@pytest.fixture
def page(signed_in_page):
    """The pages below are behind sign-in: marketing sees them all."""
    return signed_in_page("marketing@gifts.example")


def test_the_index_lists_managers_with_their_contact_counts(book, page, live_url):
    page.goto(live_url + "/")
    rows = page.locator("#managers tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(0).inner_text() == "Пётр Петров"
    assert rows.nth(0).locator(".count").inner_text() == "2"
    assert "общий отправитель" in rows.nth(1).inner_text()


def test_checking_a_company_by_its_other_spelling_shows_the_owner(book, page, live_url):
    page.goto(live_url + "/check")
    page.fill("input[name=q]", "TOYOTA")
    page.click("#check button[type=submit]")
    page.wait_for_selector("#matches")
    assert page.locator("#matches .owner").all_inner_texts() == ["Пётр Петров"]
    # Contact data is escaped, never markup.
    assert "<b>Иван</b>" in page.locator("#matches").inner_text()


def test_checking_an_unknown_company_says_it_can_be_added(book, page, live_url):
    page.goto(live_url + "/check?q=Никому+не+известная")
    assert page.locator("#nobody").is_visible()


def test_a_bad_email_in_the_check_box_is_a_clear_error(book, page, live_url):
    page.goto(live_url + "/check?q=" + "ivan@@x")
    assert "неверный e-mail 'ivan@@x'" in page.locator(".error").inner_text()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 740)])
def test_a_recipient_unsubscribes_with_one_button_on_a_phone_or_a_desktop(
    app, session, browser, live_url, width, height
):
    contact = make_contact(session, email="ivan@toyota.example", tags="8")
    session.commit()
    token = unsubscribe_token(settings(app).secret_keys, contact.id)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_url}/u/{token}")
    assert page.locator("h1").inner_text() == "Отписаться от писем?"
    assert "i***@toyota.example" in page.inner_text("main")
    page.screenshot(path=ARTIFACTS / f"unsubscribe-ask-{width}.png")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Вы отписаны")
    page.screenshot(path=ARTIFACTS / f"unsubscribe-done-{width}.png")

    page.goto(f"{live_url}/c/not-a-token")
    assert page.locator("h1").inner_text() == "Эта ссылка больше не работает"
    page.screenshot(path=ARTIFACTS / f"link-not-found-{width}.png")
    context.close()
    session.expire_all()
    assert session.get(Contact, contact.id).unsubscribed_at is not None
