"""Import one file into a fresh SQLite database and print what it did and its peak memory.

Run as its own process, so the peak is this import's alone:
    python -m tests.import_peak DB_FILE IMPORT_FILE
prints one JSON object: rows read/accepted/rejected, the longest stored first name, the
error line if the file was refused, and the peak RSS in MiB of this process and of the
background reader it may have started.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.contacts.importing import ImportFileError, import_contacts
from mailer.contacts.models import Contact
from mailer.db import make_engine
from mailer.managers.services import add_manager
from mailer.storage import schema
from mailer.tags.taxonomy import seed_tags


def main(db_file: str, import_file: str) -> dict[str, object]:
    engine = make_engine(f"sqlite:///{db_file}")
    schema.upgrade(engine)
    result: dict[str, object] = {}
    with Session(engine) as session:
        seed_tags(session)
        owner = add_manager(session, name="Анна Смирнова", email="anna@gifts.example")
        session.commit()
        try:
            report = import_contacts(
                session, Path(import_file), default_owner=owner, commit=session.commit
            )
        except ImportFileError as exc:
            result["error"] = str(exc)
        else:
            result.update(read=report.rows_read, accepted=report.accepted)
            result.update(rejected=report.rejected, read_as=report.read_as)
            result.update(ignored=report.ignored_headers)
        longest = session.scalar(select(func.max(func.length(Contact.first_name))))
        result["longest_first_name"] = longest or 0
    engine.dispose()
    result["peak_mib"] = _high_water_mib()
    # The background reader is forked: its peak counts the pages it shares with this one.
    result["reader_peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return result


def _high_water_mib() -> int:
    """This process's peak RSS. Not ru_maxrss: that keeps the peak of the process it was
    exec'd from (here pytest's, which built the big test files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), ensure_ascii=False))
