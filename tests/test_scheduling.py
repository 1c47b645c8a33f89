"""One active scheduler at a time, elected with a lease; jobs act only while leading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from campaigns.planning import plan_year
from mailer.delivery.models import Letter, LetterStatus
from mailer.run import leases, workers
from mailer.run.scheduling import Scheduler
from tests.factories import configure, make_contact

T0 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
TTL = timedelta(seconds=90)


def test_only_one_holder_has_the_lease_until_it_expires(session):
    assert leases.acquire(session, "scheduler", "a", now=T0, ttl=TTL)
    assert not leases.acquire(session, "scheduler", "b", now=T0 + timedelta(seconds=10), ttl=TTL)
    assert leases.acquire(session, "scheduler", "a", now=T0 + timedelta(seconds=60), ttl=TTL)
    # a renewed at +60 s: b still cannot take it at +100 s, but can once a stops renewing.
    assert not leases.acquire(session, "scheduler", "b", now=T0 + timedelta(seconds=100), ttl=TTL)
    assert leases.acquire(session, "scheduler", "b", now=T0 + timedelta(seconds=151), ttl=TTL)
    assert leases.holder_of(session, "scheduler", now=T0 + timedelta(seconds=152)) == "b"


def test_a_released_lease_is_taken_at_once(session):
    leases.acquire(session, "scheduler", "a", now=T0, ttl=TTL)
    leases.release(session, "scheduler", "a", now=T0)
    assert leases.acquire(session, "scheduler", "b", now=T0, ttl=TTL)


def test_a_standby_scheduler_does_not_plan(app, session):
    make_contact(session, tags="НГ декабрь")
    session.commit()
    leader, standby = Scheduler(app, holder="one"), Scheduler(app, holder="two")
    assert leader.renew_lease() and not standby.renew_lease()
    standby.plan()
    assert session.scalar(select(func.count()).select_from(Letter)) == 0
    leader.plan()
    session.expire_all()
    # December's purchase letter is always ahead: this year's, or in December next year's.
    assert session.scalar(select(func.count()).select_from(Letter)) >= 1
    assert leader.scheduler.get_job("plan").next_run_time is not None


def test_the_leader_delivers_everything_due_not_one_batch_a_minute(
    app, session, smtp_server, monkeypatch
):
    contacts = [make_contact(session, tags="8") for _ in range(5)]
    session.commit()
    plan_year(session, 2027, now=T0)
    now = datetime.now(UTC)
    session.execute(update(Letter).values(due_at=now - timedelta(minutes=1)))
    session.execute(update(Letter).values(expires_at=now + timedelta(days=1)))
    session.commit()
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, WORKER_BATCH=2)
    scheduler = Scheduler(app, holder="one")
    batches: list[int] = []
    deliver_due = workers.deliver_due

    def counted(*args, **kwargs):
        report = deliver_due(*args, **kwargs)
        batches.append(report.claimed)
        return report

    monkeypatch.setattr(workers, "deliver_due", counted)

    scheduler.deliver()

    assert batches == [2, 2, 1]  # batch after batch, as configured, until none is due
    assert sorted(m.rcpt_tos[0] for m in smtp_server.accepted) == sorted(c.email for c in contacts)
    session.expire_all()
    assert {letter.status for letter in session.scalars(select(Letter))} == {LetterStatus.SENT}


def test_the_app_factory_starts_no_scheduler(app):
    import threading

    names = {t.name for t in threading.enumerate()}
    assert not any("APScheduler" in n or "worker" == n for n in names)
