"""Due and overdue reminders alone make a manager's morning digest, once a working day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.factories import make_contact, make_manager
from tests.test_tracking_digest import HOUSE_EMAIL, MORNING, digested, make_task, parsed, part, run
from tracking.digest import DigestReport
from tracking.models import Digest, Reminder, TaskStatus

TUESDAY = date(2026, 3, 10)  # MORNING's day in Moscow


@pytest.fixture
def petr(session):
    make_manager(session, name="Подарки для бизнеса", email=HOUSE_EMAIL, is_house=True)
    return make_manager(session, name="Пётр Петров", email="petr@gifts.example")


def remind(session, owner, due_on: date, text: str = "Перезвонить, прислать КП") -> Reminder:
    contact = make_contact(session, owner=owner, first_name="Иван", last_name="Клиентов")
    reminder = Reminder(contact_id=contact.id, manager_id=owner.id, due_on=due_on, text=text)
    session.add(reminder)
    session.commit()
    return reminder


def days(session) -> list[tuple[int, date, datetime | None]]:
    session.expire_all()
    rows = session.scalars(select(Digest).order_by(Digest.day)).all()
    return [(row.manager_id, row.day, row.sent_at) for row in rows]


def test_an_overdue_reminder_alone_makes_one_digest_that_day(app, session, smtp_server, petr):
    remind(session, petr, TUESDAY - timedelta(days=1))

    assert run(app, smtp_server) == DigestReport(sent=1)
    assert run(app, smtp_server, MORNING + timedelta(minutes=5)) == DigestReport()
    assert run(app, smtp_server, MORNING + timedelta(hours=8)) == DigestReport()

    [received] = smtp_server.accepted
    assert received.rcpt_tos == (petr.email,)
    letter = parsed(received.data)
    assert letter["Subject"] == "Напоминания на 10 марта: 1"
    text = part(letter, "plain")
    assert "09.03.2026 (просрочено): Перезвонить, прислать КП — Клиентов Иван" in text
    assert "горячие клики:" not in text.lower()
    assert "Перезвонить, прислать КП" in part(letter, "html")
    assert days(session) == [(petr.id, TUESDAY, MORNING)]


def test_a_reminder_due_later_makes_no_digest(app, session, smtp_server, petr):
    remind(session, petr, TUESDAY + timedelta(days=1))

    assert run(app, smtp_server) == DigestReport()
    assert smtp_server.messages == [] and days(session) == []


def test_a_refused_reminder_digest_is_sent_on_the_next_run(app, session, smtp_server, petr):
    remind(session, petr, TUESDAY)
    smtp_server.script(petr.email, times=1, data_end="451 4.3.0 try again later")

    assert run(app, smtp_server) == DigestReport(sent=0, skipped=1)
    assert smtp_server.accepted == [] and days(session) == []

    later = MORNING + timedelta(minutes=5)
    assert run(app, smtp_server, later) == DigestReport(sent=1)
    assert [m.rcpt_tos for m in smtp_server.accepted] == [(petr.email,)]
    assert days(session) == [(petr.id, TUESDAY, later)]


def test_a_reminder_still_open_comes_again_each_working_morning(app, session, smtp_server, petr):
    reminder = remind(session, petr, TUESDAY)
    run(app, smtp_server)
    wednesday = MORNING + timedelta(days=1)
    sunday = datetime(2026, 3, 15, 8, 0, tzinfo=UTC)

    assert run(app, smtp_server, wednesday) == DigestReport(sent=1)
    assert run(app, smtp_server, sunday) == DigestReport()
    text = part(parsed(smtp_server.accepted[1].data), "plain")
    assert "10.03.2026 (просрочено): Перезвонить" in text

    reminder.status = TaskStatus.DONE
    session.commit()
    assert run(app, smtp_server, MORNING + timedelta(days=2)) == DigestReport()
    assert len(smtp_server.accepted) == 2


def test_a_day_another_run_claimed_is_not_sent_again(app, session, smtp_server, petr):
    """The other run committed its claim and is talking to the relay right now."""
    remind(session, petr, TUESDAY)
    task = make_task(session, make_contact(session, owner=petr))
    session.add(Digest(manager_id=petr.id, day=TUESDAY, claimed_at=MORNING))
    session.commit()

    assert run(app, smtp_server, MORNING + timedelta(minutes=1)) == DigestReport()
    assert smtp_server.messages == []
    assert digested(session, task) == [None]  # its tasks wait for tomorrow, not lost


def test_hot_clicks_and_reminders_make_one_letter(app, session, smtp_server, petr):
    remind(session, petr, TUESDAY)
    task = make_task(session, make_contact(session, owner=petr))

    assert run(app, smtp_server) == DigestReport(sent=1)
    assert run(app, smtp_server, MORNING + timedelta(minutes=5)) == DigestReport()

    [received] = smtp_server.accepted
    assert parsed(received.data)["Subject"] == "Горячие клики на 10 марта: 1"
    assert "Напоминания на сегодня: 1." in part(parsed(received.data), "plain")
    assert digested(session, task) == [MORNING]
    assert days(session) == [(petr.id, TUESDAY, MORNING)]
