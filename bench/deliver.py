"""Delivery benchmark: N planned letters to Postfix's smtp-sink, against Flask-Mail and smtp-source.

Three senders against the same sink, in one run:

1. the product: what `mailer deliver --once` runs (`deliver_in_processes` with the app's
   settings: a process per core, batch and SMTP sessions as configured) until every letter
   is sent, on a fresh SQLite database of N consenting contacts with one planned letter
   each, made due now. Its rate includes claiming, rendering, MIME, SMTP and the outcome
   written back: the rate the product has;
2. Flask-Mail sending the same letters (subject, text, HTML, sender, recipient and
   List-Unsubscribe headers) the way its docs show for bulk mail: one `mail.connect()`,
   `conn.send(msg)` for each, so it too keeps one SMTP session instead of one per letter;
3. Postfix's smtp-source, as the ceiling of the sink and the loopback: N messages of the
   letters' mean size over as many sessions as the product opens in all, once with a new
   connection per message (as `smtp-source -s S -m N -l SIZE` does by default) and once
   with -d (connections kept, like the product's pool).

It installs nothing. Start the sink first (Debian package `postfix`; its daemon need not run):

    smtp-sink -c -u postfix 127.0.0.1:2525 1000 > /dev/null &

    .venv/bin/python bench/deliver.py [--letters 5000] [--sink 127.0.0.1:2525]
        [--concurrency N] [--processes N] [--breakdown] [--profile FILE]

--breakdown runs the product's path once more in one process on a fresh database, timing
each stage (claim, load, compose = render + MIME, SMTP, commits); --profile writes a
cProfile of the batches in that run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

SINK = "127.0.0.1:2525"
SINK_COMMAND = "smtp-sink -c -u postfix {host}:{port} 1000 > /dev/null &"
FIRST = [
    ("Иван", "Петрович", "Кузнецов"),
    ("Мария", "Сергеевна", "Смирнова"),
    ("Алексей", "Иванович", "Попов"),
    ("Ольга", "Алексеевна", "Волкова"),
    ("Дмитрий", "Олегович", "Соколов"),
    ("Елена", "Дмитриевна", "Лебедева"),
    ("Сергей", "Андреевич", "Новиков"),
    ("Наталья", "Викторовна", "Морозова"),
]
COMPANIES = ["ООО «Ромашка»", "АО «Северсталь-Логистика»", "ИП Сидоров", "ПАО «Техснаб»"]
# One letter per contact, of every kind: industry days, both holidays, purchase months.
TAG_CODES = ["construction", "mar8", "feb23", "ny_sep", "it", "medicine", "ny_mar", "energy"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=5000)
    parser.add_argument("--sink", default=SINK, help="host:port of smtp-sink")
    parser.add_argument("--concurrency", type=int, help="default: the app's WORKER_CONCURRENCY")
    parser.add_argument(
        "--processes", type=int, help="sending processes; default: the app's, one per core"
    )
    parser.add_argument("--breakdown", action="store_true", help="time each stage of a letter")
    parser.add_argument("--profile", help="write a cProfile of the batches here")
    args = parser.parse_args()
    host, _, port_text = args.sink.rpartition(":")
    port = int(port_text)
    if not _sink_is_listening(host, port):
        print(
            f"no SMTP sink is listening on {host}:{port}. Start Postfix's smtp-sink first "
            "(Debian: apt-get install postfix; the postfix daemon itself need not run):\n\n"
            f"    {SINK_COMMAND.format(host=host, port=port)}\n",
            file=sys.stderr,
        )
        return 2
    source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    if not Path(source).exists():
        print("smtp-source not found: it comes with the Debian package postfix", file=sys.stderr)
        return 2
    try:
        import flask_mail  # noqa: F401
    except ImportError:
        print("Flask-Mail is missing: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    from mailer.run.workers import default_processes

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MAILER_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        app = _app(Path(tmp) / "deliver.sqlite3", host, port, args.concurrency)
        print(f"{args.letters} letters to smtp-sink on {host}:{port}", flush=True)
        fill(app, args.letters)
        processes = args.processes or app.config["WORKER_PROCESSES"] or default_processes()
        ours = deliver_all(app, processes)
        print(
            f"mailer deliver --once: {ours.sent} sent in {ours.seconds:.2f} s = "
            f"{ours.rate:.0f} letters/s ({processes} processes, batch "
            f"{app.config['WORKER_BATCH']}, {app.config['WORKER_CONCURRENCY']} SMTP sessions "
            f"each; CPU {ours.cpu:.1f} s)",
            flush=True,
        )
        letters = composed_letters(app)
        size = sum(len(letter.raw) for letter in letters) // len(letters)
        flask_seconds = send_with_flask_mail(letters, host, port)
        flask_rate = len(letters) / flask_seconds
        print(
            f"Flask-Mail, one connection: {len(letters)} sent in {flask_seconds:.2f} s = "
            f"{flask_rate:.0f} letters/s",
            flush=True,
        )
        sessions = app.config["WORKER_CONCURRENCY"] * processes
        rates = {}
        for keep in (False, True):
            seconds = run_smtp_source(source, host, port, len(letters), size, sessions, keep)
            rates[keep] = len(letters) / seconds
            flag = " -d" if keep else ""
            print(
                f"smtp-source -s {sessions}{flag} -m {len(letters)} -l {size}: "
                f"{seconds:.2f} s = {rates[keep]:.0f} messages/s",
                flush=True,
            )
        print(
            f"ratios: mailer / Flask-Mail = {ours.rate / flask_rate:.2f} (target >= 10); "
            f"mailer / smtp-source = {ours.rate / rates[False]:.2f}, "
            f"with -d {ours.rate / rates[True]:.2f} (target >= 0.5)"
        )
        if args.breakdown or args.profile:
            app = _app(Path(tmp) / "breakdown.sqlite3", host, port, args.concurrency)
            fill(app, args.letters)
            breakdown(app, args.profile)
    return 0


def _sink_is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3) as conn:
            conn.settimeout(3)
            return conn.recv(512).startswith(b"220")
    except OSError:
        return False


def _app(path: Path, host: str, port: int, concurrency: int | None) -> Any:
    from mailer import create_app

    config = {
        "DATABASE_URL": f"sqlite:///{path}",
        "SECRET_KEY": "bench-secret-key-0123456789",
        "PUBLIC_BASE_URL": "https://mail.gifts.example",
        "SMTP_HOST": host,
        "SMTP_PORT": port,
    }
    if concurrency:
        config["WORKER_CONCURRENCY"] = concurrency
    return create_app(config)


def fill(app: Any, n: int) -> None:
    """N consenting contacts with one tag each, planned by the real planner, all due now."""
    from campaigns.defaults import seed_campaigns
    from campaigns.planning import plan_year
    from mailer.contacts.models import Contact
    from mailer.db import get_engine
    from mailer.delivery.models import Letter
    from mailer.managers.models import Manager
    from mailer.storage import schema
    from mailer.storage.copy import copy_insert
    from mailer.storage.inserts import bulk_insert
    from mailer.tags.models import Tag, contact_tags
    from mailer.tags.taxonomy import seed_tags
    from tracking.links import seed_links

    engine = get_engine(app)
    schema.upgrade(engine)
    now = datetime.now(UTC)
    rng = random.Random(4)
    with Session(engine) as session:
        seed_tags(session)
        seed_campaigns(session)
        seed_links(session)
        managers = []
        for i in range(-(-n // 400)):  # one manager per 400 contacts
            first, _, last = FIRST[i % 8]
            managers.append(
                {
                    "name": f"{first} {last}",
                    "email": f"manager{i}@gifts.example",
                    "signature": f"{first} {last}, отдел корпоративных подарков",
                    "timezone": "Europe/Moscow",
                    "work_starts_at": clock(9, 0),
                    "work_ends_at": clock(18, 0),
                    "daily_cap": 40,
                    "is_active": True,
                    "is_house": False,
                    "created_at": now,
                }
            )
        bulk_insert(session, Manager.__table__, managers)
        owners = list(session.scalars(select(Manager.id)))
        tags = {t.code: t.id for t in session.scalars(select(Tag))}
        columns = (
            "id first_name middle_name last_name company_name company_alias company_key "
            "company_alias_key position email phone owner_id has_consent consent_at "
            "consent_source unsubscribed_at hard_bounced_at created_at updated_at"
        ).split()
        contacts = []
        for i in range(1, n + 1):
            first, middle, last = FIRST[i % 8]
            company = f"{COMPANIES[i % 4]} {i // 3}"
            contacts.append(
                (i, first, middle, last, company, "", company.casefold(), "",
                 "менеджер по закупкам", f"client{i}@company{i // 3}.example",
                 f"+7916{i:07d}", rng.choice(owners), True, now, "bench", None, None, now, now)
            )  # fmt: skip
        copy_insert(session, Contact.__table__, columns, contacts)
        copy_insert(
            session,
            contact_tags,
            ["contact_id", "tag_id", "tagged_at"],
            [(i, tags[TAG_CODES[i % len(TAG_CODES)]], now) for i in range(1, n + 1)],
        )
        year = now.year + 1
        report = plan_year(session, year, now=datetime(year, 1, 1, 6, 0, tzinfo=UTC))
        assert report.added == n, report
        session.execute(
            update(Letter).values(due_at=now - timedelta(minutes=1), expires_at=now + timedelta(1))
        )
        session.commit()


@dataclass
class Delivered:
    sent: int
    seconds: float
    cpu: float
    outcomes: Counter[str]

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


def deliver_all(app: Any, processes: int) -> Delivered:
    """The product's path, as `mailer deliver --once` runs it: batches until none is due."""
    from mailer.delivery.models import Letter, LetterStatus
    from mailer.run.workers import deliver_in_processes

    factory = app.extensions["mailer.sessionmaker"]
    cpu = _cpu_seconds()
    started = time.perf_counter()
    report = deliver_in_processes(app, threading.Event(), processes=processes, once=True)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    with factory() as session:
        sent = session.scalar(
            select(func.count()).select_from(Letter).where(Letter.status == LetterStatus.SENT)
        )
        total = session.scalar(select(func.count()).select_from(Letter))
    if sent != total or report.outcomes != Counter({"sent": total}):
        raise SystemExit(f"not every letter was sent: {report.outcomes}, {sent} of {total}")
    return Delivered(sent, seconds, cpu, report.outcomes)


def _cpu_seconds() -> float:
    """CPU of this process and of its finished children (the sending processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def composed_letters(app: Any) -> list[Any]:
    """The letters just sent, composed again exactly as deliver_letter composes them."""
    from mailer.config import settings as app_settings
    from mailer.delivery.models import Letter
    from mailer.letters.composing import compose_letter
    from mailer.letters.links import campaign_link_ids
    from mailer.letters.rendering import LetterKind, Occasion
    from mailer.managers.services import find_house_sender
    from mailer.tags.models import Tag

    settings = app_settings(app).letters
    letters = []
    with app.extensions["mailer.sessionmaker"]() as session:
        tags = {t.id: t.code for t in session.scalars(select(Tag))}
        house = find_house_sender(session)
        links = campaign_link_ids(session, session.scalars(select(Letter.campaign_id)))
        for letter in session.scalars(select(Letter).order_by(Letter.id)):
            letters.append(
                compose_letter(
                    letter.contact,
                    LetterKind(letter.kind),
                    house_sender=house,
                    now=letter.sent_at,
                    settings=settings,
                    tag_code=tags[letter.tag_id],
                    occasion=Occasion(letter.occasion_name, letter.occasion_on)
                    if letter.occasion_on
                    else None,
                    message_id=letter.message_id,
                    link_ids=links[letter.campaign_id],
                    letter_id=letter.id,
                )
            )
    return letters


def send_with_flask_mail(letters: list[Any], host: str, port: int) -> float:
    """Seconds for Flask-Mail to send the same letters over one connection, as its docs
    show for bulk mail (`with mail.connect() as conn: conn.send(msg)`)."""
    from flask import Flask
    from flask_mail import Mail, Message

    app = Flask("flask_mail_bench")
    app.config.update(MAIL_SERVER=host, MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USE_SSL=False)
    mail = Mail(app)
    with app.app_context():
        started = time.perf_counter()
        with mail.connect() as conn:
            for composed in letters:
                sender, rendered = composed.sender, composed.letter
                headers = dict(_unsubscribe_headers(composed.raw))
                conn.send(
                    Message(
                        subject=rendered.subject,
                        recipients=[composed.recipient],
                        body=rendered.text,
                        html=rendered.html,
                        sender=(sender.name, sender.address),
                        reply_to=sender.reply_to,
                        extra_headers=headers,
                    )
                )
        return time.perf_counter() - started


def _unsubscribe_headers(raw: bytes) -> Iterator[tuple[str, str]]:
    """The List-Unsubscribe headers of a composed letter, unfolded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n ", " ")
    for line in head.split("\r\n"):
        name, _, value = line.partition(": ")
        if name.startswith("List-Unsubscribe"):
            yield name, value


def run_smtp_source(
    source: str, host: str, port: int, n: int, size: int, sessions: int, keep: bool
) -> float:
    """Seconds for smtp-source to send n messages of `size` bytes over `sessions` sessions."""
    command = [source, "-s", str(sessions), "-m", str(n), "-l", str(size)]
    command += ["-d"] if keep else []
    command += ["-M", "localhost", "-f", "bench@gifts.example", "-t", "client@company.example"]
    started = time.perf_counter()
    subprocess.run([*command, f"{host}:{port}"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


class _Stages:
    """Wall and CPU seconds per stage, summed over its calls."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                with self._lock:
                    self.wall[name] += wall
                    self.cpu[name] += cpu
                    self.calls[name] += 1

        return timed


@contextmanager
def _patched(target: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


def breakdown(app: Any, profile: str | None) -> None:
    """Run the product's path again in one process, timing each stage of a batch."""
    from mailer.delivery import sending as delivery
    from mailer.delivery import writeback
    from mailer.letters import composing
    from mailer.smtp import pipeline as smtp

    stages = _Stages()
    profiler = cProfile.Profile() if profile else None
    deliver_claimed = delivery.deliver_claimed

    def profiled(*args: Any, **kwargs: Any) -> Any:
        assert profiler is not None
        profiler.enable()
        try:
            return deliver_claimed(*args, **kwargs)
        finally:
            profiler.disable()

    patches = [
        (delivery, "recover_stale_claims"),
        (delivery, "claim_due"),
        (delivery, "_claimed_rows"),
        (delivery, "_senders"),
        (delivery, "compose_to"),
        (composing, "render_letter"),
        (composing, "build_message"),
        (smtp._Exchange, "_write"),
        (smtp._Exchange, "_read"),
        (writeback.Writes, "commit"),
    ]
    with ExitStack() as stack:
        for target, name in patches:
            stack.enter_context(_patched(target, name, stages.wrap(name, getattr(target, name))))
        batch = stages.wrap("deliver_claimed", profiled if profiler else deliver_claimed)
        stack.enter_context(_patched(delivery, "deliver_claimed", batch))
        result = deliver_all(app, processes=1)
    if profiler is not None:
        profiler.dump_stats(profile)
        print(f"profile of deliver_claimed: {profile}")
    n = result.sent
    print(
        f"\nbreakdown (one process, instrumented: {result.rate:.0f} letters/s, wall "
        f"{result.seconds:.2f} s, CPU {result.cpu:.2f} s, peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)"
    )
    print(f"{'stage':<22}{'calls':>7}{'ms/letter wall':>16}{'ms/letter CPU':>15}")
    for name in ["deliver_claimed", *(name for _, name in patches)]:
        if stages.calls[name]:
            print(
                f"{name:<22}{stages.calls[name]:>7}{stages.wall[name] * 1000 / n:>16.2f}"
                f"{stages.cpu[name] * 1000 / n:>15.2f}"
            )
    print(
        "(everything runs in one thread; render_letter and build_message are inside compose_to, "
        "_write and _read are the SMTP exchange, commit writes outcomes and history back; all "
        "but claim_due and recover_stale_claims are inside deliver_claimed)"
    )


if __name__ == "__main__":
    sys.exit(main())
