"""`mailer managers set`: a manager's name, signature, time zone, hours and cap change
after `managers add`, checked as `add` checks them; a bad value changes nothing."""

from __future__ import annotations

from datetime import time

import pytest

from mailer.managers.models import Manager
from tests.factories import make_manager


def set_(runner, *args):
    return runner.invoke(args=["mailer", "managers", "set", *args])


def reread(session, manager) -> Manager:
    session.expire_all()
    return session.get(Manager, manager.id)


def test_it_changes_every_field_given(runner, session, tmp_path):
    petr = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    session.commit()
    signature = tmp_path / "signature.txt"
    signature.write_text("Пётр Петров\r\nДом Подарков\r\n", encoding="utf-8")
    result = set_(
        runner,
        "petr@gifts.example",
        "--name", "Пётр  Сидоров",
        "--signature-file", str(signature),
        "--timezone", "Asia/Yekaterinburg",
        "--hours", "9-18:30",
        "--daily-cap", "25",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "Пётр Сидоров <petr@gifts.example>: name Пётр Сидоров, signature, "
        "time zone Asia/Yekaterinburg, hours 09:00-18:30, daily cap 25 changed"
    )
    got = reread(session, petr)
    assert (got.name, got.signature, got.timezone) == (
        "Пётр Сидоров",
        "Пётр Петров\nДом Подарков",
        "Asia/Yekaterinburg",
    )
    assert (got.work_starts_at, got.work_ends_at, got.daily_cap) == (time(9), time(18, 30), 25)


def test_it_changes_only_what_is_given(runner, session):
    petr = make_manager(session, email="petr@gifts.example", daily_cap=40, signature="Пётр")
    session.commit()
    result = set_(runner, "petr@gifts.example", "--daily-cap", "12")
    assert result.exit_code == 0, result.output
    got = reread(session, petr)
    assert (got.daily_cap, got.signature, got.timezone) == (12, "Пётр", "Europe/Moscow")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["nobody@gifts.example", "--daily-cap", "3"], "unknown manager 'nobody@gifts.example'"),
        (["petr@gifts.example", "--daily-cap", "0"], "daily cap must be a positive number"),
        (["petr@gifts.example", "--daily-cap", "x"], "daily cap must be a whole number, got 'x'"),
        (["petr@gifts.example", "--hours", "18-9"], "working hours must start before they end"),
        (["petr@gifts.example", "--hours", "9 to 6"], "working hours look like 09:00-18:00"),
        (["petr@gifts.example", "--hours", "25-26"], "working hours look like 09:00-18:00"),
        (["petr@gifts.example", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["petr@gifts.example", "--name", " \u200b "], "manager name is empty"),
        (["petr@gifts.example", "--signature-file", "/no/such"], "cannot read /no/such"),
        (["petr@gifts.example"], "nothing to change"),
        # one bad value among good ones: nothing of it is kept
        (["petr@gifts.example", "--name", "Новое Имя", "--daily-cap", "-1"], "daily cap"),
    ],
)
def test_a_bad_value_is_one_line_exit_1_and_changes_nothing(runner, session, args, said):
    petr = make_manager(session, name="Пётр Петров", email="petr@gifts.example", daily_cap=40)
    session.commit()
    result = set_(runner, *args)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {said}") and result.output.count("\n") == 1
    got = reread(session, petr)
    assert (got.name, got.daily_cap, got.timezone) == ("Пётр Петров", 40, "Europe/Moscow")
    assert (got.work_starts_at, got.work_ends_at) == (time(9), time(18))


def test_add_takes_the_short_hours_too(runner, session):
    result = runner.invoke(
        args=["mailer", "managers", "add", "--name", "Анна", "--email", "anna@gifts.example",
              "--hours", "10-19"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["mailer", "managers", "list"]).output
    assert "10:00-19:00" in listed
