"""Importing CRM exports into the contact book: nothing lost, nothing duplicated.

Rows are stored in chunks with a handful of set-based queries each, so a large file
imports at thousands of rows a second with flat memory. Every row is either accepted
(inserted, or updated by its CRM id or its e-mail) or written verbatim to the reject file
with its reason. A CRM export's id (`ID`) names the same person in a later export even
when the e-mail changed: the new one becomes the address, the old one is kept beside it.

The caller owns the transaction. An import that must survive a crash is given `commit`,
which it calls after whole chunks every COMMIT_ROWS rows or so, at the end, and before it
reports a file that broke mid-way: after a crash a re-run updates the rows already in.
Without `commit` (a dry run) everything stays in the caller's transaction, to roll back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.contacts.book import ContactFields
from mailer.contacts.channels import contacts_by_source
from mailer.contacts.column_plan import ColumnMapError, ColumnPlan, plan_columns
from mailer.contacts.columns import REASON_HEADER
from mailer.contacts.import_rows import (
    Chunk,
    CleanRow,
    ImportFileError,
    OwnerDirectory,
    OwnerRef,
    RowCleaner,
    read_chunks,
    read_chunks_in_background,
)
from mailer.contacts.import_writes import ChunkWrites
from mailer.contacts.models import Contact, ContactChannel
from mailer.contacts.ownership import Holders, check_new_contact, has_channels_kept
from mailer.contacts.tabular import RejectFile, SourceRow, Table, TableError, open_table, shorten
from mailer.db import table_of, utcnow
from mailer.managers.models import Manager
from mailer.privacy.suppression import ERASED_REASON, erased_among
from mailer.storage.gc_tuning import fewer_collections
from mailer.storage.listparams import in_list_param
from mailer.storage.table_statistics import refresh_statistics
from mailer.tags.models import Tag, contact_tags
from mailer.tags.taxonomy import load_vocabulary

__all__ = [
    "REASON_HEADER",
    "ColumnChoices",
    "ImportFileError",
    "ImportReport",
    "import_contacts",
    "read_plan",
]

# Files larger than this are read and cleaned in a second process while this one stores.
BACKGROUND_READ_BYTES = 2_000_000
# Ignored columns named in a report; the rest are counted (a header may have a million).
IGNORED_NAMED = 10
# Rows stored between two commits. A commit writes out every index page its rows touched,
# and new e-mails land all over their index: committing every 1,000 rows rewrote most of
# that index each time, about a quarter of SQLite's work. Memory depends on chunk_size only.
COMMIT_ROWS = 5000


@dataclass
class ImportReport:
    """What an import did; rows_read == accepted + rejected, always."""

    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    blank_rows: int = 0
    # The first IGNORED_NAMED, shortened, then "… and N more" when there are more.
    ignored_headers: list[str] = field(default_factory=list)
    ignored_count: int = 0
    rejects_path: Path | None = None
    read_as: str = ""  # what the file was read as: CSV and its encoding, or XLSX and sheet
    source_name: str = ""  # the CRM the file looks like an export of ("Bitrix24"), or ""

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated


@dataclass(frozen=True)
class ColumnChoices:
    """The user's say in how columns are read: the map and the preferred kinds."""

    overrides: dict[str, str] = field(default_factory=dict)  # header → field (--map)
    prefer_email: str = "work"  # or "private"
    prefer_phone: str = "work"  # or "mobile"


def read_plan(
    path: Path, choices: ColumnChoices | None = None, *, sheet: str | None = None
) -> ColumnPlan:
    """How the file's columns will be read (the guess with the map on top)."""
    return _plan(path, _open(path, sheet), choices or ColumnChoices())


def _open(path: Path, sheet: str | None) -> Table:
    try:
        return open_table(path, sheet=sheet)
    except TableError as exc:
        raise ImportFileError(str(exc)) from None


def _plan(path: Path, table: Table, choices: ColumnChoices) -> ColumnPlan:
    try:
        return plan_columns(
            table.header,
            choices.overrides,
            prefer_email=choices.prefer_email,
            prefer_phone=choices.prefer_phone,
        )
    except ColumnMapError as exc:  # say where it looked: the file and its sheet
        raise ImportFileError(f"{path.name}, {table.header_hint()}: {exc}") from None


def import_contacts(
    session: Session,
    path: Path,
    *,
    columns: ColumnChoices | None = None,
    default_owner: Manager | None = None,
    rejects_path: Path | None = None,
    is_same_company_ok: bool = False,
    chunk_size: int = 1000,
    phone_region: str = "RU",
    progress: Callable[[int], None] | None = None,
    background_read_bytes: int = BACKGROUND_READ_BYTES,
    commit: Callable[[], None] | None = None,
    sheet: str | None = None,
) -> ImportReport:
    """Import a CSV or XLSX export; re-importing updates contacts by CRM id or e-mail.

    Commits only through `commit`, the caller's (see the module's docstring).
    """
    table = _open(path, sheet)
    plan = _plan(path, table, columns or ColumnChoices())
    count = len(plan.ignored) + table.extra_columns  # columns past any row's width
    report = ImportReport(
        ignored_headers=_name_ignored(plan.ignored, count),
        ignored_count=count,
        read_as=table.description,
        source_name=plan.source_name,
    )
    rejects_path = rejects_path or path.with_name(f"{path.stem}.rejects.csv")
    rejects = table.open_rejects(rejects_path, REASON_HEADER)
    owners = _owner_directory(session)
    cleaner = RowCleaner(
        plan=plan,
        width=len(table.header),
        owners=owners,
        default_owner_id=default_owner.id if default_owner else None,
        vocabulary=load_vocabulary(session),
        tag_ids={code: id_ for code, id_ in session.execute(select(Tag.code, Tag.id))},
        filename=path.name,
        phone_region=phone_region,
    )
    read = read_chunks_in_background if path.stat().st_size > background_read_bytes else read_chunks
    names = {ref.id: ref.name for ref in owners.by_key.values() if ref}
    store = _ChunkStore(session, names, rejects, report, is_same_company_ok, plan.source_system)
    store.has_channels = has_channels_kept(session.connection())
    try:
        with fewer_collections():
            _store_chunks(
                store, read(path, cleaner, chunk_size, sheet), chunk_size, commit, progress
            )
    except TableError as exc:
        # The file broke between two chunks: what was stored before stays, as it would with
        # a commit after every chunk.
        if commit:
            commit()
        raise ImportFileError(str(exc)) from None
    finally:
        rejects.close()
    report.rejects_path = rejects_path if rejects.count else None
    return report


def _name_ignored(ignored: list[str], count: int) -> list[str]:
    named = [shorten(name) for name in ignored[:IGNORED_NAMED]]
    if count > len(named):
        named.append(f"… and {count - len(named):,} more")
    return named


def _owner_directory(session: Session) -> OwnerDirectory:
    owners = OwnerDirectory()
    for m in session.scalars(select(Manager)):
        owners.add(OwnerRef(m.id, m.name, m.is_active), m.email)
    return owners


def _store_chunks(
    store: _ChunkStore,
    chunks: Iterable[Chunk],
    chunk_size: int,
    commit: Callable[[], None] | None,
    progress: Callable[[int], None] | None,
) -> None:
    """Store chunk after chunk; `commit` after whole chunks every COMMIT_ROWS rows, and last."""
    done = 0
    analysed_at = 0  # rows inserted when the statistics were last refreshed
    uncommitted = 0  # rows stored since the last commit
    for chunk in chunks:
        store.add(chunk)
        if store.report.inserted >= max(2 * analysed_at, chunk_size):  # log2(N) times in all
            channels = table_of(ContactChannel)
            refresh_statistics(store.session, table_of(Contact), contact_tags, channels)
            analysed_at = store.report.inserted
        uncommitted += len(chunk.rows)
        if commit and uncommitted >= COMMIT_ROWS:
            commit()
            uncommitted = 0
        if progress:
            progress(chunk.progress - done)
            done = chunk.progress
    if commit:
        commit()


@dataclass
class _ChunkStore:
    """Checks and stores chunks of clean rows, with a few set-based queries a chunk."""

    session: Session
    names: dict[int, str]  # owner id → name, for the reasons of rejected rows
    rejects: RejectFile
    report: ImportReport
    is_same_company_ok: bool
    source_system: str  # the CRM the rows' ids are from
    has_channels: bool = True  # whether any contact keeps other e-mails or phones yet

    def add(self, chunk: Chunk) -> None:
        self.report.blank_rows += chunk.blank_rows
        self.report.rows_read += len(chunk.rows) + len(chunk.rejects)
        for source, reason in chunk.rejects:
            self._reject(source, reason)
        if chunk.rows:
            self._store(chunk.rows)

    def _reject(self, source: SourceRow, reason: str) -> None:
        self.rejects.add(source, reason)
        self.report.rejected += 1

    def _store(self, rows: list[CleanRow]) -> None:
        """Insert or update the chunk's rows: each row's CRM id, e-mail, phones and company
        are looked up for the whole chunk at once."""
        connection = self.session.connection()
        emails = list({r.fields.email for r in rows})
        found = connection.execute(_BY_EMAIL, {"keys": emails}).all()
        by_email = {e: (cid, oid) for cid, e, oid in found}
        source_ids = list({r.fields.source_id for r in rows if r.fields.source_id})
        by_source = contacts_by_source(connection, self.source_system, source_ids)
        holders = Holders.of(connection, (r.fields for r in rows), has_channels=self.has_channels)
        writes = ChunkWrites(utcnow())
        erased = erased_among(connection, emails)  # erased on request: never back
        for row in rows:
            f = row.fields
            if f.email in erased:
                self._reject(row.source, ERASED_REASON)
                continue
            match = _match(f, by_email, by_source)
            if isinstance(match, str):
                self._reject(row.source, match)
                continue
            existing, old_email = match  # (id, owner); id 0: added earlier in this chunk
            owner_id = row.owner_id or (existing[1] if existing else None)
            if owner_id is None:
                self._reject(row.source, _NO_OWNER)
                continue
            if reason := self._refusal(f, existing, owner_id, holders):
                self._reject(row.source, reason)
                continue
            if old_email:  # the CRM's id names this contact: its old e-mail is kept beside
                f.extra_emails = (*f.extra_emails, old_email)
            if existing:
                writes.update(existing[0], f)
                self.report.updated += 1
            else:
                writes.insert(f, owner_id)
                existing = (0, owner_id)
                self.report.inserted += 1
            by_email[f.email] = existing
            if f.source_id:
                by_source[f.source_id] = (existing[0], f.email, existing[1])
            writes.link(f.email, row.tag_ids)
            if f.extra_emails or f.extra_phones:
                writes.keep(f)
            # Later rows of this chunk see this one as a holder of its phones and company.
            holders.hold(f, owner_id)
        writes.store(self.session, {e: cid for e, (cid, _) in by_email.items() if cid})
        self.has_channels = self.has_channels or bool(writes.channels)

    def _refusal(
        self,
        f: ContactFields,
        existing: tuple[int, int] | None,
        owner_id: int,
        holders: Holders,
    ) -> str | None:
        """Why a row cannot be stored, or None: its e-mail is another owner's, or it is a
        new contact the book's check before adding refuses."""
        if existing:
            if existing[1] == owner_id:
                return None
            return (
                f"контакт у другого менеджера: e-mail {f.email} уже у менеджера"
                f" {self.names[existing[1]]} — попросите его передать контакт"
            )
        refusal = check_new_contact(
            holders, f, owner_id, is_same_company_ok=self.is_same_company_ok
        )
        return refusal.reason(self.names) if refusal else None


def _match(
    f: ContactFields,
    by_email: dict[str, tuple[int, int]],
    by_source: dict[str, tuple[int, str, int]],
) -> tuple[tuple[int, int] | None, str] | str:
    """The contact a row updates, (id, owner) or None, by its CRM id, else by its e-mail,
    with the contact's old e-mail when the CRM id says it changed; or why it cannot be."""
    known = by_source.get(f.source_id) if f.source_id else None
    if known is None:
        return by_email.get(f.email), ""
    contact_id, email, owner_id = known
    if email == f.email:
        return (contact_id, owner_id), ""
    other = by_email.get(f.email)
    if contact_id == 0 or (other and other[0] != contact_id):
        return (
            f"ID из CRM не совпадает с e-mail: ID {f.source_id} — это {email},"
            f" а {f.email} — другой контакт; исправьте ID или e-mail в строке"
        )
    return (contact_id, owner_id), email


_NO_OWNER = (
    "нет ответственного: в строке он не указан, а при импорте не задан --owner"
    " — впишите менеджера в колонку «Ответственный» или выберите его при импорте"
)
# The chunk's lookup, built once; each chunk's keys are bound as one list parameter.
_BY_EMAIL = select(Contact.id, Contact.email, Contact.owner_id).where(in_list_param(Contact.email))
