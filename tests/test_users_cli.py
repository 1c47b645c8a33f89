"""`mailer users` and the demo accounts: passwords go in, nothing secret comes out."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash

from mailer.users.models import Role, User
from mailer.users.services import authenticate
from tests.desk import sign_in
from tests.factories import make_manager

SECRET = "a long enough secret"


def _user(session, email: str) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.email == email))


def test_adding_a_manager_account_from_stdin_prints_nothing_secret(runner, session):
    make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    session.commit()
    result = runner.invoke(
        args=[
            "mailer",
            "users",
            "add",
            "--email",
            "Petr@Gifts.example",
            "--role",
            "manager",
            "--password-stdin",
        ],
        input=SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == "added manager account petr@gifts.example as Пётр Петров <petr@gifts.example>\n"
    )
    user = _user(session, "petr@gifts.example")
    assert user.role is Role.MANAGER and user.manager.email == "petr@gifts.example"
    assert user.password_hash.startswith("scrypt:") and SECRET not in user.password_hash
    assert check_password_hash(user.password_hash, SECRET)


def test_the_prompt_asks_twice_and_hides_the_password(runner, session):
    result = runner.invoke(
        args=["mailer", "users", "add", "--email", "m@gifts.example", "--role", "marketing"],
        input=f"{SECRET}\n{SECRET}\n",
    )
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "Repeat for confirmation" in result.output
    assert _user(session, "m@gifts.example").role is Role.MARKETING


def test_bad_requests_are_one_line_and_change_nothing(runner, session):
    make_manager(session, name="Дом Подарков", email="hello@gifts.example", is_house=True)
    session.commit()
    cases = [
        (["--email", "x@gifts.example", "--role", "marketing"], "short", "at least 10 characters"),
        (["--email", "nobody@gifts.example", "--role", "manager"], SECRET, "nobody@gifts.example"),
        (["--email", "hello@gifts.example", "--role", "manager"], SECRET, "house sender"),
        (["--email", "not-an-address", "--role", "marketing"], SECRET, "Error:"),
    ]
    for args, password, message in cases:
        result = runner.invoke(
            args=["mailer", "users", "add", *args, "--password-stdin"], input=password + "\n"
        )
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert session.scalars(select(User)).all() == []


def test_an_account_is_added_once(runner, session):
    args = [
        "mailer",
        "users",
        "add",
        "--email",
        "m@gifts.example",
        "--role",
        "marketing",
        "--password-stdin",
    ]
    assert runner.invoke(args=args, input=SECRET + "\n").exit_code == 0
    again = runner.invoke(args=args, input=SECRET + "\n")
    assert again.exit_code == 1 and "already exists" in again.output


def test_passwd_sets_a_new_password_and_lifts_a_lockout(runner, session):
    runner.invoke(
        args=[
            "mailer",
            "users",
            "add",
            "--email",
            "m@gifts.example",
            "--role",
            "marketing",
            "--password-stdin",
        ],
        input=SECRET + "\n",
    )
    for _ in range(5):
        authenticate(session, "m@gifts.example", "wrong")
    session.commit()
    assert _user(session, "m@gifts.example").locked_until is not None
    result = runner.invoke(
        args=["mailer", "users", "passwd", "m@gifts.example", "--password-stdin"],
        input="the new long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "the new long password" not in result.output
    user = _user(session, "m@gifts.example")
    assert user.locked_until is None
    assert authenticate(session, "m@gifts.example", "the new long password") is not None
    missing = runner.invoke(
        args=["mailer", "users", "passwd", "x@gifts.example", "--password-stdin"], input=SECRET
    )
    assert missing.exit_code == 1 and "no account x@gifts.example" in missing.output


def test_the_demo_prints_working_passwords_for_marketing_and_a_manager(runner, app):
    result = runner.invoke(args=["mailer", "demo", "load", "--contacts", "20", "--send-now", "0"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("sign in as")]
    assert [line.split(":")[0] for line in lines] == ["sign in as marketing", "sign in as manager"]
    for line in lines:
        email, password = line.split(": ", 1)[1].split(" / ")
        client = app.test_client()
        assert sign_in(client, email, password).status_code == 302
