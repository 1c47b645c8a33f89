"""Delivery under faults: a locked or restarting database, a killed worker, a relay that
never greets. Real parts throughout: the SQLite file or PostgreSQL, aiosmtpd, processes."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.orm import sessionmaker

from mailer.db import get_engine, make_engine
from mailer.delivery.models import Letter, LetterStatus
from mailer.delivery.sending import COMMIT_EVERY, deliver_due
from mailer.delivery.writeback import WriteBackFailed
from mailer.run.workers import deliver_loop
from mailer.smtp import SmtpSettings, SmtpTransport
from tests.conftest import PG_URL
from tests.factories import configure
from tests.test_delivery import SETTINGS, planned


def _due_now(app) -> None:
    now = datetime.now(UTC)
    with app.extensions["mailer.sessionmaker"]() as s:
        s.execute(update(Letter).values(due_at=now - timedelta(minutes=1)))
        s.execute(update(Letter).values(expires_at=now + timedelta(days=1)))
        s.commit()


def _letters(app) -> list[Letter]:
    with app.extensions["mailer.sessionmaker"]() as s:
        return list(s.scalars(select(Letter).order_by(Letter.id)))


def _short_busy_timeout(app, db_url: str) -> None:
    """SQLite gives up waiting for a lock after 0.2 s instead of 10 s (the test's patience)."""
    get_engine(app).dispose()
    engine = make_engine(db_url, sqlite_busy_timeout_ms=200)
    app.extensions["mailer.engine"] = engine
    app.extensions["mailer.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)


class _FaultAfter(SmtpTransport):
    """The real transport; `fault()` runs once, after `after` letters were answered."""

    after = 3
    fault = staticmethod(lambda: None)

    def send_all(self, messages, **options):
        for done, answer in enumerate(super().send_all(messages, **options), 1):
            if done == self.after:
                type(self).fault()
            yield answer


def _hold_sqlite_lock(path: str, seconds: float) -> threading.Event:
    """Another connection takes the write lock and keeps it; returns once it holds it."""
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()
        done.set()

    threading.Thread(target=hold, daemon=True).start()
    held.wait(5)
    return done


def _terminate_backend(pid: int) -> None:
    """Cut one of the worker's own PostgreSQL connections, as a server restart does."""
    admin = create_engine(PG_URL)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    admin.dispose()


def test_a_locked_or_restarting_database_during_write_back_is_waited_out(
    app, session, smtp_server, db_url, monkeypatch, caplog
):
    contacts, _ = planned(session, 12)
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, WORKER_BATCH=20)
    _due_now(app)
    if db_url.startswith("sqlite"):
        _short_busy_timeout(app, db_url)
        path = db_url.removeprefix("sqlite:///")
        released: list[threading.Event] = []
        # Held seven times longer than the busy timeout, while letters are being answered.
        _FaultAfter.fault = staticmethod(lambda: released.append(_hold_sqlite_lock(path, 1.4)))
    else:  # the server drops the worker's connection in the middle of a write-back
        armed = threading.Event()

        def cut(conn, cursor, statement, *args) -> None:
            if armed.is_set() and statement.startswith("UPDATE letters SET status"):
                armed.clear()
                _terminate_backend(cursor.connection.info.backend_pid)

        event.listen(get_engine(app), "before_cursor_execute", cut)
        _FaultAfter.fault = staticmethod(armed.set)
    monkeypatch.setattr("mailer.run.workers.SmtpTransport", _FaultAfter)
    smtp_server.script(None, data_delay=0.05)
    caplog.set_level(logging.WARNING, logger="mailer")

    report = deliver_loop(app, threading.Event(), once=True)  # must not raise

    assert report.outcomes == {"sent": 12}
    assert "delivery write-back waits" in caplog.text  # it met the fault and waited it out
    assert {letter.status for letter in _letters(app)} == {LetterStatus.SENT}
    received = Counter(m.rcpt_tos[0] for m in smtp_server.accepted)
    assert received == Counter({c.email: 1 for c in contacts})  # none sent twice


def test_a_permanent_database_error_stops_the_worker_naming_what_may_go_twice(
    app, session, smtp_server, db_url, monkeypatch
):
    planned(session, 6)
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, WORKER_BATCH=20)
    _due_now(app)

    def break_history() -> None:  # an operator's mistake no retry can mend
        with get_engine(app).connect() as conn:
            if not db_url.startswith("sqlite"):
                conn.execute(text("SET lock_timeout = '5s'"))
            conn.execute(text("ALTER TABLE history RENAME TO history_gone"))
            conn.commit()

    _FaultAfter.fault = staticmethod(break_history)
    monkeypatch.setattr("mailer.run.workers.SmtpTransport", _FaultAfter)

    with pytest.raises(WriteBackFailed) as failed:
        deliver_loop(app, threading.Event(), once=True)

    said = str(failed.value)
    assert "\n" not in said and "may be duplicated" in said
    left = {letter.id for letter in _letters(app) if letter.status is LetterStatus.SENDING}
    assert set(failed.value.letter_ids) == left and left  # named: exactly those left sending
    assert all(str(i) in said for i in left)


def test_a_killed_worker_s_claims_come_back_within_its_lease_and_only_begun_letters_are_marked(
    app, session, smtp_server, tmp_path, db_url
):
    letters = 3 * COMMIT_EVERY
    contacts, _ = planned(session, letters)
    _due_now(app)
    smtp_server.script(None, data_delay=0.15)  # slow enough to be killed mid-batch
    env = {
        **os.environ,
        "MAILER_DATABASE_URL": db_url,
        "MAILER_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "MAILER_SECRET_KEY": app.config["SECRET_KEY"],
        "MAILER_SMTP_HOST": smtp_server.host,
        "MAILER_SMTP_PORT": str(smtp_server.port),
        "MAILER_WORKER_BATCH": str(letters),
        "MAILER_WORKER_CONCURRENCY": "2",
        "MAILER_WORKER_PROCESSES": "1",
        "MAILER_WORKER_CLAIM_LEASE": "2",
    }
    command = [str(Path(sys.executable).with_name("mailer")), "worker", "--idle-seconds", "0.2"]
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while len(smtp_server.messages) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = time.monotonic()
    time.sleep(0.3)
    reached = {m.rcpt_tos[0] for m in smtp_server.messages}
    assert 0 < len(reached) < COMMIT_EVERY, "the kill must land within the first letters"
    begun = {letter.id for letter in _letters(app) if letter.began_at is not None}
    assert len(begun) <= COMMIT_EVERY  # one chunk was announced, not the whole batch

    smtp_server.script(None)
    second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if {letter.status for letter in _letters(app)} == {LetterStatus.SENT}:
                break
            time.sleep(0.2)
        recovered_in = time.monotonic() - killed_at
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    final = _letters(app)
    assert {letter.status for letter in final} == {LetterStatus.SENT}
    assert recovered_in < 15, f"claims came back after {recovered_in:.1f} s (lease 2 s)"
    marked = {letter.id for letter in final if letter.is_possible_duplicate}
    assert marked == begun  # the begun ones, and no letter that never began
    by_email = {c.email: c.id for c in contacts}
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages if m.reply is not None)
    twice = {by_email[email] for email, n in received.items() if n > 1}
    ids = {letter.contact_id: letter.id for letter in final}
    assert {ids[c] for c in twice} <= marked


@pytest.fixture
def silent_relay(no_unexpected_smtp):
    """A TCP server that accepts connections and never says a word (no 220 greeting)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    no_unexpected_smtp.add(port)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_relay_that_never_greets_costs_a_batch_one_timeout_and_loses_nothing(
    app, session, silent_relay
):
    contacts, due = planned(session, 8)
    # Four sessions waited for one after another would take 4 timeouts (8 s); one timeout
    # and the margin a busy machine needs stay well under that.
    settings = SmtpSettings(host="127.0.0.1", port=silent_relay, timeout=2.0)
    with SmtpTransport(settings) as transport:
        started = time.monotonic()
        report = deliver_due(
            app.extensions["mailer.sessionmaker"], transport, SETTINGS, now=due, concurrency=4
        )
        took = time.monotonic() - started

    assert took < 5, f"a silent relay held the batch {took:.1f} s (timeout 2 s)"
    assert report.outcomes == {"deferred": 8}
    letters = _letters(app)
    assert {letter.status for letter in letters} == {LetterStatus.DEFERRED}
    assert all(letter.due_at > due and letter.claim_token is None for letter in letters)
    assert not any(letter.is_possible_duplicate for letter in letters)
