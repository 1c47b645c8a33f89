"""Contact search benchmark: the desk's list page queries at N contacts (default 100,000).

Imports N demo contacts (4 owners) into a fresh SQLite file and a fresh PostgreSQL schema,
then times `search_contacts` as marketing and as one manager: the first page, a page deep
in the book (keyset), a common name, a rare company alias, a phone fragment, a tag filter,
and a search matching nothing (the worst case: every visible row is read). Median of 5.

    .venv/bin/python bench/contacts_search.py [--rows 100000] [--no-pg] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pg_schemas import PG_URL, drop_schema, pg_schema_url  # bench/ is on sys.path
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.contacts.importing import import_contacts
from mailer.contacts.models import Contact
from mailer.contacts.search import ContactQuery, search_contacts
from mailer.db import make_engine
from mailer.managers.models import Manager
from mailer.managers.services import add_manager
from mailer.run.demo import DEMO_MANAGERS, write_contacts_csv
from mailer.storage import schema
from mailer.tags.taxonomy import seed_tags
from mailer.users.actor import SYSTEM, Actor
from mailer.users.models import Role


def _load(url: str, csv_path: Path) -> None:
    engine = make_engine(url)
    schema.upgrade(engine)
    with Session(engine) as session:
        seed_tags(session)
        for name, email, is_house in DEMO_MANAGERS:
            add_manager(session, name=name, email=email, is_house=is_house)
        session.commit()
        import_contacts(session, csv_path, commit=session.commit)
    engine.dispose()


def _median_ms(session: Session, actor: Actor, query: ContactQuery) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(5):
        started = time.perf_counter()
        page = search_contacts(session, actor, query)
        times.append((time.perf_counter() - started) * 1000)
        found = len(page.rows)
    return statistics.median(times), found


def _cases(session: Session) -> list[tuple[str, ContactQuery]]:
    lowest = session.scalar(select(func.min(Contact.id))) or 0
    return [
        ("first page", ContactQuery()),
        ("deep page", ContactQuery(after_id=lowest + 60)),
        ("name 'Иван'", ContactQuery(text="Иван")),
        ("alias 'toyota 4995'", ContactQuery(text="toyota 4995")),
        ("phone '123-45'", ContactQuery(text="123-45")),
        ("tag mar8", ContactQuery(tag_code="mar8")),
        ("no match", ContactQuery(text="zzzzzz")),
    ]


def measure(label: str, url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        petr = session.scalar(select(Manager).where(Manager.email == DEMO_MANAGERS[0][1]))
        manager = Actor(user_id=1, role=Role.MANAGER, manager_id=petr.id if petr else None)
        for name, query in _cases(session):
            for who, actor in (("marketing", SYSTEM), ("manager", manager)):
                ms, found = _median_ms(session, actor, query)
                print(f"{label:<10} {who:<9} {name:<22} {ms:8.1f} ms  {found:3d} rows")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    owners = [email for _name, email, is_house in DEMO_MANAGERS if not is_house]
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_contacts_csv(Path(tmp) / "contacts.csv", args.rows, owners)
        if not args.no_sqlite:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            _load(url, csv_path)
            measure("sqlite", url)
        if not args.no_pg:
            url, name = pg_schema_url(PG_URL)
            try:
                _load(url, csv_path)
                measure("postgresql", url)
            finally:
                drop_schema(PG_URL, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
