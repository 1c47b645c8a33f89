"""The morning digest: one letter a working morning with each manager's new hot clicks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from mailer.config import settings
from mailer.run import scheduling
from mailer.run.scheduling import Scheduler
from mailer.smtp import SmtpSettings, SmtpTransport
from tests.factories import configure, make_contact, make_manager
from tracking.digest import DigestReport, send_digests
from tracking.links import campaign_links, find_campaign
from tracking.models import Task, TaskStatus
from tracking.verdicts import LinkRole

# Tuesday 10 March 2026, a working day; Moscow is UTC+3, so 9:00 there is 06:00 UTC.
MORNING = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # 9:30 in Moscow
YESTERDAY = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
HOUSE_EMAIL = "hello@gifts.example"


@pytest.fixture
def house(session):
    manager = make_manager(session, name="Подарки для бизнеса", email=HOUSE_EMAIL, is_house=True)
    session.commit()
    return manager


def make_task(session, contact, *, manager="owner", created_at=YESTERDAY, **overrides) -> Task:
    """A hot click on the 8 March offer, handed to the contact's owner (or as told)."""
    campaign = find_campaign(session, "mar8")
    [offer] = [link for link in campaign_links(session, campaign.id) if link.role is LinkRole.OFFER]
    values: dict[str, Any] = {
        "contact_id": contact.id,
        "campaign_id": campaign.id,
        "link_id": offer.id,
        "manager_id": contact.owner_id if manager == "owner" else manager,
        "clicked_at": created_at - timedelta(minutes=2),
        "created_at": created_at,
    }
    values.update(overrides)
    task = Task(**values)
    session.add(task)
    session.commit()
    return task


def run(app, smtp_server, now=MORNING) -> DigestReport:
    relay = SmtpSettings(host=smtp_server.host, port=smtp_server.port)
    with SmtpTransport(relay) as transport:
        return send_digests(
            app.extensions["mailer.sessionmaker"],
            transport,
            letter_settings=settings(app).letters,
            digest_hour=settings(app).tracking.digest_hour,
            now=now,
        )


def parsed(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body(preferencelist=(kind,))
    assert body is not None
    return body.get_content()


def digested(session, *tasks: Task) -> list[datetime | None]:
    session.expire_all()
    return [session.get(Task, task.id).digested_at for task in tasks]


def test_it_sends_a_manager_one_letter_listing_their_new_hot_clicks(
    app, session, smtp_server, house
):
    manager = make_manager(session, name="Анна Смирнова")
    first = make_contact(
        session,
        owner=manager,
        first_name="Василий",
        middle_name="Иванович",
        last_name="Кондрашов",
        company="Тойота (Toyota)",
        phone="+7 916 123-45-67",
    )
    second = make_contact(
        session, owner=manager, first_name="Ольга", last_name="Петрова", company="Рога & Копыта"
    )
    session.commit()
    tasks = [make_task(session, first), make_task(session, second)]

    report = run(app, smtp_server)

    assert report == DigestReport(sent=1, skipped=0)
    [received] = smtp_server.accepted
    assert received.rcpt_tos == (manager.email,)
    assert received.mail_from == HOUSE_EMAIL
    letter = parsed(received.data)
    assert letter["Subject"] == "Горячие клики на 10 марта: 2"
    assert letter["From"].addresses[0].addr_spec == HOUSE_EMAIL
    assert letter["To"].addresses[0].addr_spec == manager.email
    assert letter["Auto-Submitted"] == "auto-generated"
    text, html = part(letter, "plain"), part(letter, "html")
    base = settings(app).letters.public_base_url
    for body in (text, html):
        assert "Кондрашов Василий Иванович" in body and "Петрова Ольга" in body
        assert "Тойота (Toyota)" in body
        assert "+7 916 123-45-67" in body
        assert "скидка" in body and "8 марта" in body
        assert "09.03.2026, 14:58" in body  # the click, on the manager's (Moscow) clock
        for task in tasks:
            assert f"{base}/tasks/{task.id}" in body
    assert "Рога & Копыта" in text and "Рога &amp; Копыта" in html
    assert text.index("Кондрашов") < text.index("Петрова")
    assert digested(session, *tasks) == [MORNING, MORNING]


def test_it_announces_each_hot_click_once(app, session, smtp_server, house):
    contact = make_contact(session)
    session.commit()
    make_task(session, contact)

    assert run(app, smtp_server).sent == 1
    assert run(app, smtp_server, MORNING + timedelta(minutes=5)) == DigestReport()
    assert len(smtp_server.messages) == 1


def test_a_click_after_the_morning_digest_waits_for_the_next_working_morning(
    app, session, smtp_server, house
):
    contact = make_contact(session)
    later = make_contact(session, owner=contact.owner)
    session.commit()
    make_task(session, contact)
    run(app, smtp_server)
    task = make_task(session, later, created_at=MORNING + timedelta(hours=1))

    assert run(app, smtp_server, MORNING + timedelta(hours=3)) == DigestReport()
    assert run(app, smtp_server, MORNING + timedelta(days=1)).sent == 1

    assert len(smtp_server.accepted) == 2
    text = part(parsed(smtp_server.accepted[1].data), "plain")
    assert later.last_name in text and contact.last_name not in text
    assert digested(session, task) == [MORNING + timedelta(days=1)]


def test_it_goes_out_at_the_digest_hour_on_each_managers_own_clock(
    app, session, smtp_server, house
):
    moscow = make_manager(session, timezone="Europe/Moscow")
    vladivostok = make_manager(session, timezone="Asia/Vladivostok")
    early = make_contact(session, owner=moscow)
    far = make_contact(session, owner=vladivostok)
    session.commit()
    waiting, announced = make_task(session, early), make_task(session, far)
    before_nine_in_moscow = datetime(2026, 3, 10, 5, 59, tzinfo=UTC)  # 15:59 in Vladivostok

    assert run(app, smtp_server, before_nine_in_moscow) == DigestReport(sent=1)

    assert [m.rcpt_tos for m in smtp_server.accepted] == [(vladivostok.email,)]
    assert digested(session, waiting, announced) == [None, before_nine_in_moscow]


def test_the_digest_hour_is_a_setting(app, session, smtp_server, house):
    configure(app, DIGEST_HOUR=10)
    make_task(session, make_contact(session))

    assert run(app, smtp_server) == DigestReport()  # 9:30 in Moscow
    assert run(app, smtp_server, MORNING + timedelta(hours=1)).sent == 1


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 15, 8, 0, tzinfo=UTC),  # Sunday, 11:00 in Moscow
        datetime(2026, 3, 9, 8, 0, tzinfo=UTC),  # Monday, but 8 March's day off moved to it
    ],
    ids=["sunday", "holiday"],
)
def test_it_sends_nothing_on_a_day_off(app, session, smtp_server, house, now):
    task = make_task(session, make_contact(session), created_at=now - timedelta(days=1))

    assert run(app, smtp_server, now) == DigestReport()

    assert smtp_server.messages == []
    assert digested(session, task) == [None]


def test_a_manager_without_new_hot_clicks_gets_nothing(app, session, smtp_server, house):
    make_manager(session)  # nothing at all
    done = make_contact(session)
    session.commit()
    make_task(session, done, status=TaskStatus.DONE, closed_at=YESTERDAY)
    announced = make_contact(session)
    session.commit()
    make_task(session, announced, digested_at=YESTERDAY)

    assert run(app, smtp_server) == DigestReport()
    assert smtp_server.messages == []


def test_shared_queue_tasks_go_to_nobodys_digest(app, session, smtp_server, house):
    task = make_task(session, make_contact(session), manager=None)

    assert run(app, smtp_server) == DigestReport()

    assert smtp_server.messages == []
    assert digested(session, task) == [None]


@pytest.mark.parametrize(
    "reply",
    [{"rcpt": "550 5.1.1 no such user"}, {"data_end": "451 4.3.0 try again later"}],
    ids=["bounced", "deferred"],
)
def test_a_digest_the_relay_refuses_is_sent_on_the_next_run(
    app, session, smtp_server, house, reply
):
    contact = make_contact(session)
    session.commit()
    task = make_task(session, contact)
    smtp_server.script(contact.owner.email, times=1, **reply)

    assert run(app, smtp_server) == DigestReport(sent=0, skipped=1)
    assert smtp_server.accepted == []
    assert digested(session, task) == [None]

    later = MORNING + timedelta(minutes=5)
    assert run(app, smtp_server, later) == DigestReport(sent=1)
    assert [m.rcpt_tos for m in smtp_server.accepted] == [(contact.owner.email,)]
    assert digested(session, task) == [later]


def test_without_a_house_sender_digests_wait(app, session, smtp_server):
    task = make_task(session, make_contact(session))

    assert run(app, smtp_server) == DigestReport(sent=0, skipped=1)

    assert smtp_server.messages == []
    assert digested(session, task) == [None]


class _Morning(datetime):
    """The scheduler's clock stopped at MORNING."""

    @classmethod
    def now(cls, tz=None):
        return MORNING.astimezone(tz)


def test_only_the_leading_scheduler_sends_the_digest(app, session, smtp_server, house, monkeypatch):
    monkeypatch.setattr(scheduling, "datetime", _Morning)
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    task = make_task(session, make_contact(session))
    leader, standby = Scheduler(app, holder="one"), Scheduler(app, holder="two")
    assert leader.renew_lease()

    standby.digest()
    assert smtp_server.messages == []
    leader.digest()

    assert len(smtp_server.accepted) == 1
    assert digested(session, task) == [MORNING]
    assert leader.scheduler.get_job("digest").trigger.interval == timedelta(minutes=5)
    assert leader.scheduler.get_job("settle").trigger.interval == timedelta(minutes=1)
