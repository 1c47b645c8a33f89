"""Delivery that loses nothing, against a real (scripted) SMTP server."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaigns.planning import plan_year
from mailer.config import settings
from mailer.contacts.models import HistoryEntry, HistoryKind
from mailer.contacts.transfers import transfer_contacts
from mailer.db import session_scope
from mailer.delivery import sending
from mailer.delivery.claims import STALE_CLAIM, claim_due, recover_stale_claims
from mailer.delivery.models import Letter, LetterStatus
from mailer.delivery.retry import GIVE_UP_AFTER, backoff
from mailer.delivery.sending import deliver_claimed, deliver_due
from mailer.letters.composing import LetterSettings
from mailer.run.workers import deliver_in_processes
from mailer.smtp import SmtpSettings, SmtpTransport
from tests.factories import configure, make_contact, make_manager
from tracking.unsubscribe import unsubscribe

JAN_1 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
SETTINGS = LetterSettings(
    "test-secret-key-0123456789", "https://mail.gifts.example", "unsub@gifts.example"
)


@pytest.fixture
def transport(smtp_server):
    with SmtpTransport(
        SmtpSettings(host=smtp_server.host, port=smtp_server.port, timeout=5)
    ) as transport:
        yield transport


@pytest.fixture
def factory(app):
    return app.extensions["mailer.sessionmaker"]


def planned(session, n=1, *, tags="8", owner=None):
    """n contacts with a planned letter each; returns (contacts, the time they fall due)."""
    owner = owner or make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    contacts = [make_contact(session, owner=owner, tags=tags) for _ in range(n)]
    plan_year(session, 2027, now=JAN_1)
    session.commit()
    due = max(session.scalars(select(Letter.due_at)))
    return contacts, due


def letter_of(session, contact) -> Letter:
    session.expire_all()
    return session.scalar(select(Letter).where(Letter.contact_id == contact.id))


def deliver(factory, transport, now, **kwargs):
    return deliver_due(factory, transport, SETTINGS, now=now, **kwargs)


def test_a_due_letter_is_sent_once_and_kept_in_history(session, factory, transport, smtp_server):
    [contact], due = planned(session)
    report = deliver(factory, transport, due)
    assert report.outcomes == Counter({"sent": 1})
    letter = letter_of(session, contact)
    assert letter.status is LetterStatus.SENT and letter.sent_at == due
    [received] = smtp_server.accepted
    assert received.rcpt_tos == (contact.email,)
    assert received.message_id == letter.message_id
    msg = BytesParser(policy=policy.default).parsebytes(received.data)
    assert msg["From"].addresses[0].addr_spec == "petr@gifts.example"
    [entry] = session.scalars(select(HistoryEntry).where(HistoryEntry.contact_id == contact.id))
    assert entry.kind is HistoryKind.SENT and entry.created_at == due
    assert entry.author_id == letter.sender_id is not None
    assert entry.body == f"«{msg['Subject']}»"
    assert deliver(factory, transport, due + timedelta(hours=1)).claimed == 0


def test_letters_not_yet_due_are_not_sent(session, factory, transport, smtp_server):
    _, due = planned(session)
    assert deliver(factory, transport, due - timedelta(minutes=1)).claimed == 0
    assert smtp_server.messages == []


def test_backoff_grows_from_five_minutes_to_an_hour():
    assert [backoff(n) for n in range(1, 7)] == [
        timedelta(minutes=m) for m in (5, 10, 20, 40, 60, 60)
    ]


def test_a_4xx_defers_and_the_retry_carries_the_same_message_id(
    session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    smtp_server.script(contact.email, data_end="451 4.3.0 try again later", times=1)
    assert deliver(factory, transport, due).outcomes == Counter({"deferred": 1})
    letter = letter_of(session, contact)
    assert letter.due_at == due + timedelta(minutes=5) and "451" in letter.last_error
    assert deliver(factory, transport, due + timedelta(minutes=4)).claimed == 0
    assert deliver(factory, transport, due + timedelta(minutes=5)).outcomes == {"sent": 1}
    first, second = smtp_server.messages
    assert first.message_id == second.message_id == letter_of(session, contact).message_id


def test_a_letter_deferred_for_five_days_is_given_up(session, factory, transport, smtp_server):
    [contact], due = planned(session, tags="строители")
    smtp_server.script(contact.email, rcpt="451 4.2.0 mailbox busy")
    deliver(factory, transport, due)
    later = due + GIVE_UP_AFTER
    assert deliver(factory, transport, later).outcomes == {"failed": 1}
    assert "gave up" in letter_of(session, contact).last_error


def test_a_5xx_bounces_and_the_address_gets_no_other_letter(
    session, factory, transport, smtp_server
):
    [contact], mar8_due = planned(session, tags="8, 23")
    feb23_due = min(session.scalars(select(Letter.due_at)))
    smtp_server.script(contact.email, rcpt="550 5.1.1 no such user")
    assert deliver(factory, transport, feb23_due).outcomes == {"bounced": 1}
    session.expire_all()
    assert contact.hard_bounced_at is not None
    assert deliver(factory, transport, mar8_due).outcomes == {"cancelled": 1}
    assert smtp_server.accepted == []


def test_a_refused_recipient_never_resends_the_others(session, factory, transport, smtp_server):
    contacts, due = planned(session, 3)
    smtp_server.script(contacts[1].email, rcpt="550 5.1.1 no such user")
    assert deliver(factory, transport, due).outcomes == Counter({"sent": 2, "bounced": 1})
    deliver(factory, transport, due + timedelta(hours=2))
    got = Counter(rcpt for m in smtp_server.accepted for rcpt in m.rcpt_tos)
    assert got == Counter({contacts[0].email: 1, contacts[2].email: 1})


def test_a_connection_dropped_after_data_is_retried_with_the_same_message_id(
    session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    smtp_server.script(contact.email, drop_after_data=True, times=1)
    assert deliver(factory, transport, due).outcomes == {"deferred": 1, "possible_duplicate": 1}
    assert letter_of(session, contact).is_possible_duplicate is True
    assert deliver(factory, transport, due + timedelta(minutes=5)).outcomes == {"sent": 1}
    ids = {m.message_id for m in smtp_server.messages}
    assert len(smtp_server.messages) == 2 and len(ids) == 1
    assert letter_of(session, contact).is_possible_duplicate is True  # the relay may have two


def test_a_refusal_before_the_content_went_out_is_no_possible_duplicate(
    session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    smtp_server.script(contact.email, rcpt="451 4.2.0 mailbox busy", times=1)
    assert deliver(factory, transport, due).outcomes == {"deferred": 1}
    assert letter_of(session, contact).is_possible_duplicate is False


@pytest.mark.parametrize(
    "reply",
    ["554 5.7.1 message rejected as spam", "552 5.3.4 message too big for system"],
    ids=["policy", "size"],
)
def test_a_refusal_of_the_message_not_the_address_fails_it_and_keeps_the_address(
    session, factory, transport, smtp_server, reply
):
    [contact], mar8_due = planned(session, tags="8, 23")
    feb23_due = min(session.scalars(select(Letter.due_at)))
    smtp_server.script(contact.email, data_end=reply, times=1)
    assert deliver(factory, transport, feb23_due).outcomes == {"failed": 1}
    session.expire_all()
    assert contact.hard_bounced_at is None
    failed = session.scalar(select(Letter).where(Letter.due_at == feb23_due))
    assert failed.status is LetterStatus.FAILED and reply in failed.last_error
    assert deliver(factory, transport, mar8_due).outcomes == {"sent": 1}


class UnsubscribingMidBatch:
    """The real transport, while a contact unsubscribes once `after` letters are answered."""

    def __init__(self, transport, factory, contact_id, *, after):
        self.transport, self.factory = transport, factory
        self.contact_id, self.after = contact_id, after

    def send_all(self, messages, **options):
        for done, answer in enumerate(self.transport.send_all(messages, **options), 1):
            if done == self.after:
                with self.factory() as other:
                    unsubscribe(other, self.contact_id, now=JAN_1, how="test")
                    other.commit()
            yield answer


def test_a_contact_who_unsubscribes_while_the_batch_is_out_gets_no_letter_still_queued(
    session, factory, transport, smtp_server, monkeypatch
):
    monkeypatch.setattr(sending, "RECHECK_AFTER", 0.0)  # a batch out for a long time
    contacts, due = planned(session, sending.COMMIT_EVERY + 5)
    last = contacts[-1]
    messenger = UnsubscribingMidBatch(transport, factory, last.id, after=5)

    report = deliver_due(factory, messenger, SETTINGS, now=due, concurrency=1)

    assert report.outcomes == {"sent": len(contacts) - 1, "cancelled": 1}
    letter = letter_of(session, last)
    assert letter.status is LetterStatus.CANCELLED and letter.last_error == "unsubscribed"
    assert last.email not in {rcpt for m in smtp_server.messages for rcpt in m.rcpt_tos}


def test_a_short_batch_does_not_re_check_what_it_loaded(session, factory, transport, smtp_server):
    contacts, due = planned(session, sending.COMMIT_EVERY + 5)
    messenger = UnsubscribingMidBatch(transport, factory, contacts[-1].id, after=5)

    report = deliver_due(factory, messenger, SETTINGS, now=due, concurrency=1)

    assert report.outcomes == {"sent": len(contacts)}  # checked when claimed, seconds ago


def test_consent_withdrawn_after_planning_cancels_the_letter(
    session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    contact.has_consent = False
    session.commit()
    assert deliver(factory, transport, due).outcomes == {"cancelled": 1}
    assert smtp_server.messages == []
    assert letter_of(session, contact).last_error == "no consent"


def test_the_letter_goes_out_from_the_owner_at_the_moment_of_sending(
    session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    transfer_contacts(session, [contact], anna)
    session.commit()
    deliver(factory, transport, due)
    msg = BytesParser(policy=policy.default).parsebytes(smtp_server.accepted[0].data)
    assert msg["From"].addresses[0].addr_spec == "anna@gifts.example"
    assert letter_of(session, contact).sender_id == anna.id


def test_a_tag_removed_after_planning_fails_the_letter_unsent(
    session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    contact.tags = []
    session.commit()
    assert deliver(factory, transport, due).outcomes == {"failed": 1}
    assert smtp_server.messages == []
    assert letter_of(session, contact).last_error == f"{contact.email} has no tag mar8"


def test_an_inactive_owner_s_letter_goes_out_from_the_house_sender(
    session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    make_manager(session, name="Дом Подарков", email="hello@gifts.example", is_house=True)
    contact.owner.is_active = False
    session.commit()
    assert deliver(factory, transport, due).outcomes == {"sent": 1}
    msg = BytesParser(policy=policy.default).parsebytes(smtp_server.accepted[0].data)
    assert msg["From"].addresses[0].addr_spec == "hello@gifts.example"


def test_with_no_active_owner_and_no_house_sender_the_letter_fails_and_says_why(
    session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    contact.owner.is_active = False
    session.commit()
    assert deliver(factory, transport, due).outcomes == {"failed": 1}
    assert smtp_server.messages == []
    assert "no active owner" in letter_of(session, contact).last_error


def test_a_letter_out_of_season_expires_unsent(session, factory, transport, smtp_server):
    [contact], due = planned(session)
    assert deliver(factory, transport, due + timedelta(days=40)).outcomes == {"expired": 1}
    assert smtp_server.messages == []


def test_two_workers_never_claim_the_same_letter(app, session):
    planned(session, 30)
    _, due = planned(session, 0, owner=make_manager(session))
    due = max(session.scalars(select(Letter.due_at)))
    claims: list[list[int]] = []

    def work() -> None:
        with session_scope(app) as own:
            while ids := claim_due(own, now=due, limit=4):
                claims.append(ids)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for ids in claims for i in ids]
    assert len(flat) == len(set(flat)) == 30


def test_a_dead_workers_claims_come_back_marked_as_possible_duplicates(
    session, factory, transport, smtp_server
):
    contacts, due = planned(session, 2)
    ids = claim_due(session, now=due, limit=10)  # a worker claims, then dies
    for letter in session.scalars(select(Letter)):
        letter.message_id = f"<in-flight-{letter.id}@gifts.example>"  # both composed
    letter = session.get(Letter, ids[0])
    letter.message_id = "<in-flight@gifts.example>"
    letter.began_at = due  # only this one's SMTP transaction had begun
    session.commit()
    assert recover_stale_claims(session, now=due + STALE_CLAIM / 2) == 0
    assert deliver(factory, transport, due + STALE_CLAIM + timedelta(minutes=1)).outcomes == {
        "sent": 2
    }
    session.expire_all()
    flags = {c.email: letter_of(session, c).is_possible_duplicate for c in contacts}
    assert sorted(flags.values()) == [False, True]
    assert "<in-flight@gifts.example>" in {m.message_id for m in smtp_server.accepted}


def test_a_claim_taken_over_is_not_overwritten_by_its_first_worker(
    app, session, factory, transport, smtp_server
):
    [contact], due = planned(session)
    smtp_server.script(None, data_delay=0.8, times=1)  # worker A's relay is very slow
    with session_scope(app) as own:
        ids = claim_due(own, now=due, limit=10)
    first = threading.Thread(
        target=lambda: deliver_claimed(factory(), ids, transport, SETTINGS, now=due)
    )
    first.start()
    deadline = time.monotonic() + 5
    while letter_of(session, contact).began_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    later = due + STALE_CLAIM + timedelta(minutes=1)  # A looks dead: B recovers and claims
    assert recover_stale_claims(session, now=later) == 1
    [taken] = claim_due(session, now=later, limit=10)
    token = letter_of(session, contact).claim_token
    first.join()

    letter = letter_of(session, contact)
    assert (letter.status, letter.claim_token) == (LetterStatus.SENDING, token)  # still B's
    assert deliver_claimed(factory(), [taken], transport, SETTINGS, now=later) == {"sent": 1}
    letter = letter_of(session, contact)
    assert letter.status is LetterStatus.SENT and letter.is_possible_duplicate
    assert len(smtp_server.accepted) == 2  # the bounded duplicate, with one Message-ID
    assert len({m.message_id for m in smtp_server.accepted}) == 1


@pytest.mark.parametrize("lease", [0.4, 3600.0])
def test_a_batch_held_up_by_a_slow_relay_renews_the_claim_of_what_it_still_has_to_send(
    session, factory, transport, smtp_server, lease
):
    contacts, due = planned(session, 2)
    smtp_server.script(contacts[0].email, data_delay=0.5)
    ids = claim_due(session, now=due, limit=10)
    deliver_claimed(
        factory(), ids, transport, SETTINGS, now=due, concurrency=1, lease=timedelta(seconds=lease)
    )
    claimed = {c.email: letter_of(session, c).claimed_at for c in contacts}
    if lease > 60:  # not yet time to renew: the claim keeps the time it was made
        assert claimed[contacts[1].email] == due
    else:  # renewed every 0.1 s from a thread while the first letter waited on the relay
        assert claimed[contacts[1].email] >= due + timedelta(seconds=0.2)


def test_deliver_once_command_sends_what_is_due(runner, app, session, smtp_server):
    _, due = planned(session, 2)
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    with session_scope(app) as s:  # make them due now
        for letter in s.scalars(select(Letter)):
            letter.due_at = datetime.now(UTC) - timedelta(minutes=1)
            letter.expires_at = datetime.now(UTC) + timedelta(days=1)
        s.commit()
    result = runner.invoke(args=["mailer", "deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output
    assert len(smtp_server.accepted) == 2


def test_several_processes_share_the_queue_and_send_each_letter_once(app, session, smtp_server):
    contacts, due = planned(session, 30)
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, WORKER_BATCH=4)
    with session_scope(app) as s:  # due now: the loop sends at the present moment
        s.execute(update(Letter).values(due_at=datetime.now(UTC) - timedelta(minutes=1)))
        s.execute(update(Letter).values(expires_at=datetime.now(UTC) + timedelta(days=1)))
        s.commit()
    batches: list[int] = []

    report = deliver_in_processes(
        app,
        threading.Event(),
        processes=3,
        once=True,
        on_batch=lambda batch: batches.append(batch.claimed),
    )

    assert report.outcomes == {"sent": 30} and sum(batches) == 30
    assert len(batches) >= 8  # 30 letters in batches of at most 4, reported by the children
    received = Counter(m.rcpt_tos[0] for m in smtp_server.accepted)
    assert received == Counter({c.email: 1 for c in contacts})
    session.expire_all()
    assert {letter.status for letter in session.scalars(select(Letter))} == {LetterStatus.SENT}


def test_a_failing_sending_process_stops_the_others_and_says_why(app, session, monkeypatch):
    planned(session, 4)

    def unusable(*args: object) -> None:  # a relay set-up each child fails at
        raise OSError("the relay's client certificate is unreadable")

    monkeypatch.setattr("mailer.run.workers.SmtpTransport", unusable)

    with pytest.raises(RuntimeError, match="mailer-worker-.*certificate is unreadable"):
        deliver_in_processes(app, threading.Event(), processes=2, once=True)

    assert multiprocessing.active_children() == []


def test_the_sending_processes_stop_when_the_parent_cannot_go_on(app, session, smtp_server):
    planned(session, 12)
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, WORKER_BATCH=2)
    with session_scope(app) as s:
        s.execute(update(Letter).values(due_at=datetime.now(UTC) - timedelta(minutes=1)))
        s.execute(update(Letter).values(expires_at=datetime.now(UTC) + timedelta(days=1)))
        s.commit()

    def broken_output(report):
        raise BrokenPipeError("stdout went away")

    with pytest.raises(BrokenPipeError):
        deliver_in_processes(
            app, threading.Event(), processes=2, once=False, on_batch=broken_output
        )

    assert multiprocessing.active_children() == []  # none left sending on its own


def test_a_worker_killed_mid_batch_loses_nothing(app, session, smtp_server, tmp_path, db_url):
    """SIGKILL a real `mailer worker` process while it sends; then finish the job."""
    contacts, _ = planned(session, 24)
    now = datetime.now(UTC)
    with session_scope(app) as s:
        for letter in s.scalars(select(Letter)):
            letter.due_at, letter.expires_at = now - timedelta(minutes=1), now + timedelta(days=1)
        s.commit()
    smtp_server.script(None, data_delay=0.15)  # slow enough to be killed mid-batch
    env = {
        **os.environ,
        "MAILER_DATABASE_URL": db_url,
        "MAILER_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "MAILER_SECRET_KEY": app.config["SECRET_KEY"],
        "MAILER_SMTP_HOST": smtp_server.host,
        "MAILER_SMTP_PORT": str(smtp_server.port),
        "MAILER_WORKER_BATCH": "6",
        "MAILER_WORKER_CONCURRENCY": "3",
        "MAILER_WORKER_PROCESSES": "2",  # the kill takes both sending processes down
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("mailer")), "worker", "--idle-seconds", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while len(smtp_server.messages) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    worker.stdout.close()
    time.sleep(0.5)  # let the server finish reading what was already on the wire
    at_kill = len(smtp_server.messages)
    assert 0 < at_kill < 24, "the kill must land mid-way"
    time.sleep(0.5)
    assert len(smtp_server.messages) == at_kill, "the worker's processes died with it"

    smtp_server.script(None)  # no more delay
    later = datetime.now(UTC) + STALE_CLAIM + timedelta(minutes=1)
    with SmtpTransport(SmtpSettings(host=smtp_server.host, port=smtp_server.port)) as t:
        while deliver_due(
            app.extensions["mailer.sessionmaker"],
            t,
            settings(app).letters,
            now=later,
        ).claimed:
            pass
    session.expire_all()
    letters = list(session.scalars(select(Letter)))
    assert {letter.status for letter in letters} == {LetterStatus.SENT}
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages if m.reply is not None)
    assert set(received) == {c.email for c in contacts}
    twice = {email for email, n in received.items() if n > 1}
    marked = {letter.contact.email for letter in letters if letter.is_possible_duplicate}
    assert twice <= marked
    assert len(marked) <= 2 * 6  # at most the letters in flight (a batch per process)
