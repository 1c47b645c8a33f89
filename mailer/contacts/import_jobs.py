"""An import from the web: the upload kept in the instance folder, a dry run, then the real
import on confirmation, each stage's progress and report in a small JSON file next to it.

The state lives on disk, not in a request or a process's memory, so the page that shows
a large file's progress bar can be reloaded (or opened from another tab) while a thread
works; the thread writes the file, the page reads it. A stage that fails records one
sentence and changes nothing more (a dry run rolls back; the real import commits whole
chunks, as the CLI's, so a re-run updates the rows already in).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from mailer.contacts.importing import ImportFileError, ImportReport, import_contacts
from mailer.contacts.tabular import TableError, open_table
from mailer.managers.models import Manager

SUFFIXES = (".csv", ".xlsx")
STATE = "state.json"
_JOB_ID_LENGTH = 22
REASONS_SHOWN = 10
_REASON_KIND = re.compile(r":|\s'|\s\"")
_WRITE_EVERY = 0.5  # seconds between two progress writes

# Stages: "checking" (dry run running), "checked" (report shown, waiting for "import"),
# "importing", "done", "failed".


class UploadError(ValueError):
    """An upload the import cannot take; the message is the Russian sentence to show."""


@dataclass(frozen=True)
class ImportJob:
    id: str
    folder: Path

    @property
    def source(self) -> Path:
        return next(self.folder.glob("source.*"))

    def rejects(self, stage: str) -> Path:
        return self.folder / f"rejects-{stage}.csv"

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.folder / STATE).read_text(encoding="utf-8")))

    def update(self, **changes: Any) -> dict[str, Any]:
        """Write the state atomically: a reader sees the old file or the new, never half."""
        state = {**self.state(), **changes} if (self.folder / STATE).exists() else changes
        temporary = self.folder / f".{STATE}.{os.getpid()}.{secrets.token_hex(4)}"
        temporary.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, self.folder / STATE)
        return state


def new_job(root: Path, filename: str, data: IO[bytes], owner_id: int | None) -> ImportJob:
    """Store an upload under a fresh random id; UploadError for a file that is not a table."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadError("Загрузите таблицу: файл CSV или XLSX.")
    job_id = secrets.token_urlsafe(16)[:_JOB_ID_LENGTH]
    job = ImportJob(job_id, root / job_id)
    job.folder.mkdir(parents=True)
    with (job.folder / f"source{suffix}").open("wb") as out:
        size = _copy(data, out)
    if size == 0:
        discard(job)
        raise UploadError("Файл пустой: загрузите таблицу с заголовком и строками.")
    job.update(
        id=job.id,
        filename=Path(filename).name[:200],
        size=size,
        owner_id=owner_id,
        stage="checking",
        done_bytes=0,
    )
    return job


def discard(job: ImportJob) -> None:
    """Forget an upload that was refused: nothing of it stays."""
    shutil.rmtree(job.folder, ignore_errors=True)


def find_job(root: Path, job_id: str) -> ImportJob | None:
    """The job of an id from a URL; None for anything that is not one of ours."""
    if len(job_id) != _JOB_ID_LENGTH or not all(c.isalnum() or c in "-_" for c in job_id):
        return None
    job = ImportJob(job_id, root / job_id)
    return job if (job.folder / STATE).is_file() else None


def _copy(data: IO[bytes], out: IO[bytes]) -> int:
    size = 0
    while chunk := data.read(1 << 20):
        out.write(chunk)
        size += len(chunk)
    return size


def run_stage(
    session: Session,
    job: ImportJob,
    *,
    confirm: bool,
    chunk_size: int,
    phone_region: str,
) -> dict[str, Any]:
    """The dry run (confirm=False, rolled back) or the import itself (committed chunk by
    chunk); the job's state says how far it got and, at the end, what it did."""
    stage = "import" if confirm else "check"
    state = job.update(stage="importing" if confirm else "checking", done_bytes=0)
    owner = session.get(Manager, state["owner_id"]) if state.get("owner_id") else None
    progress = _Progress(job)
    try:
        report = import_contacts(
            session,
            job.source,
            default_owner=owner,
            rejects_path=job.rejects(stage),
            chunk_size=chunk_size,
            phone_region=phone_region,
            progress=progress,
            commit=session.commit if confirm else None,
        )
    except ImportFileError as exc:
        session.rollback()
        return job.update(stage="failed", error=f"Файл не читается как таблица контактов: {exc}")
    if confirm:
        session.commit()
    else:
        session.rollback()
    return job.update(
        stage="done" if confirm else "checked",
        done_bytes=state["size"],
        **{stage: {**_report(report), "reasons": rejection_reasons(job.rejects(stage))}},
    )


def rejection_reasons(path: Path, *, limit: int = REASONS_SHOWN) -> list[tuple[str, int]]:
    """The rejects file's reasons by kind (the text before a colon or a quoted value), commonest
    first: what the report shows so marketing knows what to fix before downloading."""
    if not path.is_file():
        return []
    kinds: Counter[str] = Counter()
    try:  # read as the importer reads it: the file is in the uploaded file's encoding
        for row in open_table(path).rows():
            if row.values:
                # A row too large to read whole (too wide, a huge cell) was rejected for
                # that: the reader's own reason names its kind, its last cell may not.
                reason = row.problem or row.values[-1]
                kinds[_REASON_KIND.split(reason, maxsplit=1)[0].strip()] += 1
    except TableError:
        return []
    return kinds.most_common(limit)


def _report(report: ImportReport) -> dict[str, Any]:
    return {
        "read": report.rows_read,
        "accepted": report.accepted,
        "inserted": report.inserted,
        "updated": report.updated,
        "rejected": report.rejected,
        "blank": report.blank_rows,
        "ignored": report.ignored_headers,
        "ignored_count": report.ignored_count,
    }


class _Progress:
    """The import's progress callback: bytes read, written to the state now and then."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.done = 0
        self.written_at = 0.0

    def __call__(self, done: int) -> None:
        self.done += done
        now = time.monotonic()
        if now - self.written_at >= _WRITE_EVERY:
            self.job.update(done_bytes=self.done)
            self.written_at = now
