"""Signing in to the desks: closed by default, CSRF, cookie flags, lockout, our error pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer import create_app
from mailer.db import get_engine, utcnow
from mailer.users.models import Role, User
from mailer.users.services import MAX_FAILED_ATTEMPTS, set_password
from tests.desk import PASSWORD, csrf_token, make_user, post, sign_in
from tests.factories import make_manager


@pytest.fixture
def accounts(session):
    petr = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    make_user(session, role=Role.MANAGER, manager=petr)
    make_user(session, role=Role.MARKETING, email="marketing@gifts.example")
    session.commit()


def test_pages_need_sign_in_and_say_so_in_russian(accounts, client):
    for path in ("/", "/check"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in?next=")
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Войдите, чтобы открыть эту страницу." in page
    assert 'lang="ru"' in page and "pico.min.css" in page


def test_signing_in_lands_on_the_menu_and_signing_out_closes_it(accounts, client):
    response = sign_in(client, "petr@gifts.example")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Пётр Петров" in page and "Выйти" in page
    assert client.get("/check").status_code == 200
    assert post(client, "/sign-out", token_from="/check").status_code == 302
    assert client.get("/check").status_code == 302


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(accounts, client):
    wrong = sign_in(client, "petr@gifts.example", "not the password")
    unknown = sign_in(client, "nobody@gifts.example", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "Неверный e-mail или пароль." in response.get_data(as_text=True)
    assert client.get("/check").status_code == 302


def test_repeated_wrong_passwords_lock_the_account_until_a_new_password(accounts, client, session):
    for _ in range(MAX_FAILED_ATTEMPTS):
        sign_in(client, "petr@gifts.example", "guess")
    locked = sign_in(client, "petr@gifts.example")  # even the right password now
    assert locked.status_code == 429
    assert "Слишком много неверных попыток" in locked.get_data(as_text=True)
    user = session.scalar(select(User).where(User.email == "petr@gifts.example"))
    assert user.locked_until > utcnow() + timedelta(minutes=10)
    set_password(session, "petr@gifts.example", PASSWORD)
    session.commit()
    assert sign_in(client, "petr@gifts.example").status_code == 302


def test_a_new_password_signs_out_the_accounts_other_sessions(accounts, app, session):
    first, second = app.test_client(), app.test_client()
    sign_in(first, "petr@gifts.example")
    set_password(session, "petr@gifts.example", "another long password")
    session.commit()
    assert first.get("/check").status_code == 302
    assert sign_in(second, "petr@gifts.example", "another long password").status_code == 302


def test_every_form_needs_its_csrf_token(accounts, client):
    response = client.post("/sign-in", data={"email": "petr@gifts.example", "password": PASSWORD})
    assert response.status_code == 400
    assert "Форма устарела" in response.get_data(as_text=True)
    sign_in(client, "petr@gifts.example")
    assert client.post("/sign-out").status_code == 400
    assert client.get("/check").status_code == 200  # still signed in


def test_next_never_leads_to_another_site(accounts, client):
    token = csrf_token(client)
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = client.post(
            f"/sign-in?next={target}",
            data={"email": "petr@gifts.example", "password": PASSWORD, "csrf_token": token},
        )
        assert "evil" not in response.headers["Location"]
        client.post("/sign-out", data={"csrf_token": csrf_token(client, "/check")})
        token = csrf_token(client)


def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(accounts, db_url, tmp_path):
    for base, secure in (("http://127.0.0.1:5000", False), ("https://mail.gifts.example", True)):
        app = create_app({"TESTING": True, "DATABASE_URL": db_url, "PUBLIC_BASE_URL": base})
        client = app.test_client()
        sign_in(client, "petr@gifts.example")
        cookie = client.get_cookie("mailer_session")
        assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
        assert cookie.secure is secure
        get_engine(app).dispose()  # no connection left for the garbage collector to warn about


def test_public_pages_set_no_cookie_and_need_no_token(accounts, client):
    response = client.get("/c/not-a-token")
    assert response.status_code == 404 and "Set-Cookie" not in response.headers
    assert "Эта ссылка больше не работает" in response.get_data(as_text=True)
    response = client.post("/u/not-a-token")  # a mail client's one-click POST has no token
    assert response.status_code == 404 and "Set-Cookie" not in response.headers


def test_our_own_404_and_500_pages_are_russian(accounts, app):
    def broken() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", "broken", broken)
    client = app.test_client()
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "Страница не найдена" in missing.get_data(as_text=True)
    sign_in(client, "petr@gifts.example")
    failed = client.get("/broken")
    assert failed.status_code == 500
    text = failed.get_data(as_text=True)
    assert "Что-то сломалось" in text and "RuntimeError" not in text and "a bug" not in text


def test_marketing_sees_the_managers_list_a_manager_does_not_in_the_menu(accounts, app):
    marketing, manager = app.test_client(), app.test_client()
    sign_in(marketing, "marketing@gifts.example")
    sign_in(manager, "petr@gifts.example")
    assert "Менеджеры</a>" in marketing.get("/check").get_data(as_text=True)
    assert "Менеджеры</a>" not in manager.get("/check").get_data(as_text=True)
