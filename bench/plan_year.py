"""Planning benchmark: a year of letters for N contacts × 4 tags on SQLite and PostgreSQL.

Each contact has one industry tag, 8 March, 23 February and one purchase month, and one of
N/400 managers as owner (a few percent have no consent, unsubscribed or bounced, as in a
real book). The contacts go straight into a fresh database (COPY on PostgreSQL); only
`plan_year` and its commit are timed, in a fresh process whose peak RSS is printed. N/10
and N are both run, so the ratio of their peaks shows whether memory stays flat.

    .venv/bin/python bench/plan_year.py [--contacts 1000000] [--sqlite-contacts 100000]
        [--year 2027] [--pg-url URL] [--no-pg] [--no-sqlite] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing as mp
import os
import queue as queue_module
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

from pg_schemas import PG_URL, drop_schema, pg_schema_url  # bench/ is on sys.path
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from campaigns.defaults import seed_campaigns
from campaigns.planning import plan_year
from mailer.contacts.models import Contact
from mailer.db import make_engine
from mailer.delivery.models import Letter
from mailer.managers.models import Manager
from mailer.storage import schema
from mailer.storage.copy import copy_insert
from mailer.storage.inserts import bulk_insert
from mailer.storage.table_statistics import refresh_statistics
from mailer.tags.models import Tag, TagKind, contact_tags
from mailer.tags.taxonomy import seed_tags

CONTACTS_PER_MANAGER = 400
# Where a Russian sales team sits: mostly Moscow time, some in the Urals, Siberia, the Far East.
ZONES = ["Europe/Moscow"] * 6 + ["Asia/Yekaterinburg", "Asia/Novosibirsk", "Asia/Vladivostok"]
FIRST = ["Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Елена", "Сергей", "Наталья"]
MIDDLE = ["Петрович", "Сергеевна", "Иванович", "Алексеевна", "Дмитриевич", "Олеговна"]
LAST = ["Кузнецов", "Смирнова", "Попов", "Волкова", "Соколов", "Лебедева", "Новиков"]


def _managers(n: int, created: datetime) -> list[dict[str, Any]]:
    rng = random.Random(1)
    rows = []
    for i in range(n):
        rows.append(
            {
                "name": f"Менеджер {i}",
                "email": f"manager{i}@gifts.example",
                "signature": f"Менеджер {i}",
                "timezone": rng.choice(ZONES),
                "work_starts_at": clock(9, 0),
                "work_ends_at": clock(18, 0),
                "daily_cap": 40,
                "is_active": True,
                "is_house": i == n - 1,  # the house sender, which owns nobody here
                "created_at": created,
            }
        )
    return rows


CONTACT_COLUMNS = (
    "id first_name middle_name last_name company_name company_alias company_key "
    "company_alias_key position email phone owner_id has_consent consent_at consent_source "
    "unsubscribed_at hard_bounced_at created_at updated_at"
).split()


def _contacts(n: int, owners: list[int], created: datetime) -> Iterator[tuple[Any, ...]]:
    """Contact rows in CONTACT_COLUMNS order; about 3% cannot be mailed, for the skip paths."""
    rng = random.Random(2)
    for i in range(1, n + 1):
        company = f"ООО «Компания {i // 3}»"
        roll = rng.random()
        yield (
            i,
            FIRST[i % 8],
            MIDDLE[i % 6],
            LAST[i % 7],
            company,
            "",
            company.casefold(),
            "",
            "менеджер по закупкам",
            f"client{i}@company{i // 3}.example",
            f"+7916{i:07d}",
            rng.choice(owners),
            roll >= 0.015,  # no consent
            None if roll < 0.015 else created,
            "" if roll < 0.015 else "bench",
            created if 0.015 <= roll < 0.025 else None,  # unsubscribed
            created if 0.025 <= roll < 0.03 else None,  # hard-bounced
            created,
            created,
        )


def _contact_tags(
    n: int, industries: list[int], holidays: list[int], months: list[int], created: datetime
) -> Iterator[tuple[int, int, datetime]]:
    rng = random.Random(3)
    for i in range(1, n + 1):
        yield i, rng.choice(industries), created
        for tag_id in holidays:
            yield i, tag_id, created
        yield i, rng.choice(months), created


def fill(url: str, n: int) -> None:
    """A fresh database with N contacts, their tags, N/400 managers, tags and campaigns."""
    engine = make_engine(url)
    schema.upgrade(engine)
    created = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    with Session(engine) as session:
        seed_tags(session)
        seed_campaigns(session)
        n_managers = -(-n // CONTACTS_PER_MANAGER) + 1
        bulk_insert(session, Manager.__table__, _managers(n_managers, created))
        owners = list(
            session.scalars(select(Manager.id).where(Manager.is_house.is_(False)).order_by("id"))
        )
        tags = {t.code: t for t in session.scalars(select(Tag))}
        industries = sorted(t.id for t in tags.values() if t.kind is TagKind.INDUSTRY)
        months = sorted(t.id for t in tags.values() if t.kind is TagKind.MONTH)
        holidays = [tags["mar8"].id, tags["feb23"].id]
        contacts = _contacts(n, owners, created)
        tagged = _contact_tags(n, industries, holidays, months, created)
        copy_insert(session, Contact.__table__, CONTACT_COLUMNS, contacts)
        copy_insert(session, contact_tags, ["contact_id", "tag_id", "tagged_at"], tagged)
        if engine.dialect.name == "postgresql":  # ids were given: move the sequence past them
            session.execute(text("SELECT setval('contacts_id_seq', :n)"), {"n": n})
        refresh_statistics(session, Manager.__table__, Contact.__table__, contact_tags)
        session.commit()
    engine.dispose()


def _plan(url: str, year: int, profile: str | None, queue: mp.Queue) -> None:
    engine = make_engine(url)
    now = datetime(year, 1, 1, 9, 0, tzinfo=UTC)
    with Session(engine) as session:
        server_cpu = _server_cpu(session)
        profiler = cProfile.Profile() if profile else None
        started, cpu, db_cpu = time.perf_counter(), time.process_time(), server_cpu()
        if profiler:
            profiler.enable()
        report = plan_year(session, year, now=now)
        session.commit()
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        db_after = server_cpu()
        db_cpu = None if db_cpu is None or db_after is None else db_after - db_cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stored = session.scalar(select(func.count()).select_from(Letter))
    skipped = sum(report.skipped.values())
    queue.put((report.added, stored, skipped, report.window_passed, elapsed, peak, cpu, db_cpu))
    engine.dispose()


def _server_cpu(session: Session) -> Callable[[], float | None]:
    """CPU seconds so far of this session's PostgreSQL backend, read from /proc (a server
    on this machine); None where that cannot be read (SQLite runs in our own process)."""
    if session.get_bind().dialect.name != "postgresql":
        return lambda: None
    stat = Path(f"/proc/{session.scalar(text('SELECT pg_backend_pid()'))}/stat")
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float | None:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    return read


def _in_process(target: Any, *args: Any) -> Any:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    while True:  # a child that dies puts nothing: do not wait for it forever
        try:
            result = queue.get(timeout=1)
            break
        except queue_module.Empty:
            if not proc.is_alive():
                raise SystemExit(f"{target.__name__} died with exit code {proc.exitcode}") from None
    proc.join()
    return result


def _fill_and_report(url: str, n: int, queue: mp.Queue) -> None:
    started = time.perf_counter()
    fill(url, n)
    queue.put(time.perf_counter() - started)


def measure(url: str, n: int, year: int, profile: str | None) -> tuple[float, tuple]:
    """(seconds to fill, (added, stored, skipped, window passed, seconds, peak KiB, our CPU
    seconds, the PostgreSQL backend's CPU seconds or None))."""
    filled = _in_process(_fill_and_report, url, n)
    return filled, _in_process(_plan, url, year, profile)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000, help="N on PostgreSQL")
    parser.add_argument("--sqlite-contacts", type=int, default=100_000, help="N on SQLite")
    parser.add_argument("--year", type=int, default=2027)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--only-full", action="store_true", help="skip the N/10 run")
    parser.add_argument("--profile", help="write cProfile stats of the largest run here")
    args = parser.parse_args()
    targets = [("sqlite", args.sqlite_contacts)] * (not args.no_sqlite) + [
        ("postgresql", args.contacts)
    ] * (not args.no_pg)
    print(
        f"{'database':<11}{'contacts':>9}{'letters':>9}{'skipped':>9}{'fill s':>8}"
        f"{'plan s':>8}{'letters/s':>10}{'peak MiB':>9}{'py CPU s':>9}{'db CPU s':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for target, n in targets:
            sizes = [n] if args.only_full else sorted({max(n // 10, 1), n})
            peaks = []
            for size in sizes:
                if target == "sqlite":
                    url, name = f"sqlite:///{tmp}/plan_{size}.sqlite3", None
                else:
                    url, name = pg_schema_url(args.pg_url)
                profile = f"{args.profile}.{target}" if args.profile and size == n else None
                try:
                    filled, result = measure(url, size, args.year, profile)
                finally:
                    if name:
                        drop_schema(args.pg_url, name)
                added, stored, skipped, passed, secs, peak, cpu, db_cpu = result
                peaks.append(peak)
                mismatch = "" if stored == added else f"  (but {stored} letters stored!)"
                print(
                    f"{target:<11}{size:>9}{added:>9}{skipped:>9}{filled:>8.1f}{secs:>8.2f}"
                    f"{added / secs:>10.0f}{peak / 1024:>9.1f}{cpu:>9.1f}"
                    f"{'-' if db_cpu is None else f'{db_cpu:.1f}':>9}{mismatch}",
                    flush=True,
                )
            if len(peaks) == 2:
                print(
                    f"{target}: peak memory at {sizes[1]} contacts / at {sizes[0]} = "
                    f"{peaks[1] / peaks[0]:.2f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
