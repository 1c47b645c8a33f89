"""A backlog after an outage goes out under each owner's daily cap, re-planned, not at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from campaigns.backlog import repace_overdue
from campaigns.calendar import WorkCalendar
from campaigns.planning import plan_year
from campaigns.reports import explain_contact
from mailer.delivery.models import Letter, LetterStatus
from mailer.delivery.sending import deliver_due
from mailer.run.workers import deliver_loop, describe
from mailer.smtp import SmtpSettings, SmtpTransport
from tests.factories import configure, make_contact, make_manager
from tests.test_delivery import SETTINGS

MOSCOW = ZoneInfo("Europe/Moscow")
# A Wednesday, 10:00 in Moscow: the workers come back after a day's outage.
BACK_AT = datetime(2027, 3, 3, 10, 0, tzinfo=MOSCOW).astimezone(UTC)


def _backlog(session, n: int, *, cap: int, overdue_since: datetime):
    """n letters of one manager (cap a day), all due since `overdue_since`."""
    owner = make_manager(session, name="Пётр Петров", email="petr@gifts.example", daily_cap=cap)
    contacts = [make_contact(session, owner=owner, tags="8") for _ in range(n)]
    plan_year(session, 2027, now=datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
    session.execute(
        update(Letter).values(due_at=overdue_since, expires_at=overdue_since + timedelta(days=60))
    )
    session.commit()
    return owner, contacts


def test_a_backlog_goes_out_at_most_the_cap_a_day_in_working_hours_and_the_plan_says_so(
    session, smtp_server
):
    owner, contacts = _backlog(session, 500, cap=40, overdue_since=BACK_AT - timedelta(days=1))
    before = {letter.id: letter.planned_at for letter in session.scalars(select(Letter))}

    assert repace_overdue(session, now=BACK_AT) == 500
    session.commit()

    session.expire_all()
    letters = list(session.scalars(select(Letter)))
    days = Counter(letter.due_at.astimezone(MOSCOW).date() for letter in letters)
    assert days[BACK_AT.astimezone(MOSCOW).date()] == 40  # today: the cap, from now on
    assert max(days.values()) <= 40 and sum(days.values()) == 500
    cal = WorkCalendar()
    assert all(cal.is_working_day(day) for day in days)
    assert len(days) == 13  # 40 today, then 460 over the next 12 working days
    for letter in letters:
        local = letter.due_at.astimezone(MOSCOW)
        assert letter.due_at >= BACK_AT and time(9) <= local.time() < time(18)
        assert letter.planned_at == letter.due_at  # the plan moved, not only the queue
        assert letter.first_planned_at == before[letter.id]
    [why] = [
        e for e in explain_contact(session, contacts[0], 2027, now=BACK_AT) if "mar8" in e.campaign
    ]
    assert any("after a delivery backlog (at most 40 a day)" in reason for reason in why.reasons)
    assert repace_overdue(session, now=BACK_AT) == 0  # moved once, not again

    end_of_day = datetime(2027, 3, 3, 18, 0, tzinfo=MOSCOW).astimezone(UTC)
    with SmtpTransport(SmtpSettings(host=smtp_server.host, port=smtp_server.port)) as transport:
        factory = lambda: type(session)(bind=session.get_bind())  # noqa: E731
        sent = 0
        while report := deliver_due(factory, transport, SETTINGS, now=end_of_day):
            if not report.claimed:
                break
            sent += report.outcomes["sent"]
    assert sent == len(smtp_server.accepted) == 40


def test_the_worker_re_paces_a_backlog_before_it_sends(app, session, smtp_server):
    now = datetime.now(UTC)
    _backlog(session, 30, cap=5, overdue_since=now - timedelta(hours=3))
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)

    report = deliver_loop(app, threading.Event(), once=True)

    assert report.repaced == 30 and "30 overdue letters re-paced" in describe(report)
    sent = len(smtp_server.accepted)
    assert report.outcomes["sent"] == sent <= 5  # today's room (none on a day off, after hours)
    session.expire_all()
    letters = list(session.scalars(select(Letter)))
    waiting = [letter for letter in letters if letter.status is LetterStatus.PLANNED]
    assert len(waiting) == 30 - sent
    assert all(letter.due_at > now for letter in waiting)
