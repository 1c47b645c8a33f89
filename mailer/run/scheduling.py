"""The scheduler process: daily planning, delivery and click settling every minute, the
managers' morning digest every five minutes (each manager's digest hour on their clock).

Exactly one scheduler is active at a time, elected with a lease row; the others wait and
take over when the active one stops renewing. Jobs coalesce, so runs missed while the
process was down are done once, not repeatedly; planning also runs once at start.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from campaigns.planning import plan_year  # an entry point: it may use every package
from mailer.config import settings
from mailer.db import session_scope
from mailer.run import leases
from mailer.run.workers import deliver_loop
from mailer.smtp import SmtpTransport
from tracking.clicks import settle_clicks
from tracking.digest import send_digests

log = logging.getLogger(__name__)
LEASE = "scheduler"
LEASE_TTL = timedelta(seconds=90)


class Scheduler:
    """APScheduler jobs that act only while this process holds the scheduler lease."""

    def __init__(self, app: Flask, *, holder: str | None = None) -> None:
        self.app = app
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.is_leader = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
        )
        now = datetime.now(UTC)
        self.scheduler.add_job(
            self.renew_lease, IntervalTrigger(seconds=30), id="lease", next_run_time=now
        )
        self.scheduler.add_job(self.deliver, IntervalTrigger(minutes=1), id="deliver")
        self.scheduler.add_job(self.settle, IntervalTrigger(minutes=1), id="settle")
        self.scheduler.add_job(self.digest, IntervalTrigger(minutes=5), id="digest")
        self.scheduler.add_job(
            self.plan,
            CronTrigger(hour=5, minute=7),
            id="plan",
            next_run_time=now + timedelta(seconds=5),
        )

    def renew_lease(self) -> bool:
        with self._lock, session_scope(self.app) as session:
            was = self.is_leader
            self.is_leader = leases.acquire(
                session, LEASE, self.holder, now=datetime.now(UTC), ttl=LEASE_TTL
            )
        if self.is_leader != was:
            log.info("scheduler %s %s", self.holder, "leads" if self.is_leader else "stands by")
        return self.is_leader

    def deliver(self) -> None:
        """Send everything due, batch after batch, not one batch a minute: a backlog (a
        scheduler that was down, a big campaign morning) drains at the workers' pace."""
        if not self.renew_lease():
            return
        report = deliver_loop(self.app, self._stopping, once=True)
        log.info("delivery: %s claimed, %s", report.claimed, dict(report.outcomes))

    def settle(self) -> None:
        """Judge the clicks that have had time to settle; people's offer clicks become tasks."""
        if not self.renew_lease():
            return
        with session_scope(self.app) as session:
            report = settle_clicks(
                session, settings(self.app).tracking, now=datetime.now(UTC), commit=session.commit
            )
            session.commit()
        log.info("clicks settled: %s", report)

    def digest(self) -> None:
        """Each manager's morning digest of new hot clicks; send_digests commits its own
        claims before sending (a double run never announces a task twice)."""
        if not self.renew_lease():
            return
        config = settings(self.app)
        with SmtpTransport(config.smtp) as transport:
            report = send_digests(
                self.app.extensions["mailer.sessionmaker"],
                transport,
                letter_settings=config.letters,
                digest_hour=config.tracking.digest_hour,
                now=datetime.now(UTC),
            )
        if report.sent or report.skipped:
            log.info("digests: %s sent, %s waiting", report.sent, report.skipped)

    def plan(self) -> None:
        if not self.renew_lease():
            return
        today = datetime.now(UTC)
        years = [today.year] + ([today.year + 1] if today.month == 12 else [])
        for year in years:
            with session_scope(self.app) as session:
                report = plan_year(session, year)
                session.commit()
            log.info("planned %s: %s new letters", year, report.added)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self._stopping.set()  # a delivery run in progress ends after its batch
        self.scheduler.shutdown(wait=True)
        if self.is_leader:
            with session_scope(self.app) as session:
                leases.release(session, LEASE, self.holder, now=datetime.now(UTC))
