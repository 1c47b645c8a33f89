"""Import benchmark: N realistic Russian contacts into SQLite and PostgreSQL.

Prints rows/s and the peak memory of the importing process and of the process that reads
and cleans a large file, for N/10 and N rows: the ratio shows whether memory stays flat as
N grows. Each run is its own process on a fresh database.

    .venv/bin/python bench/import_contacts.py [--rows 100000] [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

from pg_schemas import PG_URL, drop_schema, pg_schema_url  # bench/ is on sys.path
from sqlalchemy.orm import Session

from mailer.contacts.importing import import_contacts
from mailer.db import make_engine
from mailer.managers.services import add_manager
from mailer.run.demo import DEMO_MANAGERS, write_contacts_csv
from mailer.storage import schema
from mailer.tags.taxonomy import seed_tags


def _run(url: str, csv_path: str, queue: mp.Queue) -> None:
    engine = make_engine(url)
    schema.upgrade(engine)
    with Session(engine) as session:
        seed_tags(session)
        for name, email, is_house in DEMO_MANAGERS:
            add_manager(session, name=name, email=email, is_house=is_house)
        session.commit()
        started = time.perf_counter()
        report = import_contacts(session, Path(csv_path), commit=session.commit)
        elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # A large file is read and cleaned by a child process: its peak counts too.
    reader = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    queue.put((report.rows_read, report.accepted, report.rejected, elapsed, reader, peak))
    engine.dispose()


def measure(url: str, csv_path: Path) -> tuple[int, int, int, float, int, int]:
    """(rows read, accepted, rejected, seconds, reader peak KiB, importer peak KiB)."""
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_run, args=(url, str(csv_path), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    owners = [email for _, email, is_house in DEMO_MANAGERS if not is_house]
    sizes = sorted({max(args.rows // 10, 1), args.rows})
    with tempfile.TemporaryDirectory() as tmp:
        files = {n: write_contacts_csv(Path(tmp) / f"contacts_{n}.csv", n, owners) for n in sizes}
        targets = ["sqlite"] + ([] if args.no_pg else ["postgresql"])
        print(
            f"{'database':<11}{'rows':>9}{'accepted':>10}{'rejected':>10}{'seconds':>9}"
            f"{'rows/s':>9}{'peak MiB':>10}{'reader MiB':>12}"
        )
        for target in targets:
            peaks: list[int] = []
            for n in sizes:
                if target == "sqlite":
                    url, name = f"sqlite:///{tmp}/bench_{n}.sqlite3", None
                else:
                    url, name = pg_schema_url(args.pg_url)
                try:
                    read, accepted, rejected, secs, reader, peak = measure(url, files[n])
                finally:
                    if name:
                        drop_schema(args.pg_url, name)
                peaks.append(max(peak, reader))
                print(
                    f"{target:<11}{read:>9}{accepted:>10}{rejected:>10}{secs:>9.2f}"
                    f"{read / secs:>9.0f}{peak / 1024:>10.1f}{reader / 1024:>12.1f}"
                )
            if len(peaks) == 2:
                print(
                    f"{target}: peak memory at {sizes[1]} rows / at {sizes[0]} rows = "
                    f"{peaks[1] / peaks[0]:.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
