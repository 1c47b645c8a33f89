"""Importing CRM exports into the contact book: nothing lost, nothing duplicated.

Rows are stored in chunks with a handful of set-based queries each, so a large file
imports at thousands of rows a second with flat memory. Every row is either accepted
(inserted, or updated by e-mail) or written verbatim to the reject file with its reason.

The caller owns the transaction. An import that must survive a crash is given `commit`,
which it calls after whole chunks every COMMIT_ROWS rows or so, at the end, and before it
reports a file that broke mid-way: after a crash a re-run updates the rows already in.
Without `commit` (a dry run) everything stays in the caller's transaction, to roll back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path

from sqlalchemy import case, not_, select, update
from sqlalchemy.orm import Session

from mailer.contacts.book import Consent, ContactFields
from mailer.contacts.columns import REASON_HEADER
from mailer.contacts.import_rows import (
    Chunk,
    CleanRow,
    ImportFileError,
    OwnerDirectory,
    OwnerRef,
    RowCleaner,
    map_headers,
    read_chunks,
    read_chunks_in_background,
)
from mailer.contacts.models import Contact
from mailer.contacts.ownership import Holders, check_new_contact
from mailer.contacts.tabular import RejectFile, SourceRow, Table, TableError, open_table, shorten
from mailer.db import table_of, utcnow
from mailer.managers.models import Manager
from mailer.privacy.suppression import ERASED_REASON, erased_among
from mailer.storage.copy import copy_insert
from mailer.storage.gc_tuning import fewer_collections
from mailer.storage.listparams import in_list_param
from mailer.storage.table_statistics import refresh_statistics
from mailer.tags.models import Tag, contact_tags
from mailer.tags.taxonomy import load_vocabulary

__all__ = ["REASON_HEADER", "ImportFileError", "ImportReport", "import_contacts"]

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

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated


def import_contacts(
    session: Session,
    path: Path,
    *,
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
    """Import a CSV or XLSX export; re-importing updates contacts by e-mail.

    Commits only through `commit`, the caller's (see the module's docstring).
    """
    table, mapping, report = _open(path, sheet)
    rejects_path = rejects_path or path.with_name(f"{path.stem}.rejects.csv")
    rejects = table.open_rejects(rejects_path, REASON_HEADER)
    owners = _owner_directory(session)
    cleaner = RowCleaner(
        mapping=mapping,
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
    store = _ChunkStore(session, names, rejects, report, is_same_company_ok)
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


def _open(path: Path, sheet: str | None) -> tuple[Table, dict[str, int], ImportReport]:
    """The table, what its columns mean, and a report saying how it is read and what not."""
    try:
        table = open_table(path, sheet=sheet)
        mapping, ignored = map_headers(table.header)
    except TableError as exc:
        raise ImportFileError(str(exc)) from None
    except ImportFileError as exc:  # no header it knows: say where it looked
        raise ImportFileError(f"{path.name}, {table.header_hint()}: {exc}") from None
    count = len(ignored) + table.extra_columns  # columns past any row's width
    report = ImportReport(
        ignored_headers=_name_ignored(ignored, count),
        ignored_count=count,
        read_as=table.description,
    )
    return table, mapping, report


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
            refresh_statistics(store.session, table_of(Contact), contact_tags)
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
        """Insert or update the chunk's rows: each row's e-mail, phone and company are
        looked up for the whole chunk at once."""
        connection = self.session.connection()
        emails = list({r.fields.email for r in rows})
        found = connection.execute(_BY_EMAIL, {"keys": emails}).all()
        by_email = {e: (cid, oid) for cid, e, oid in found}
        holders = Holders.of(connection, (r.fields for r in rows))
        writes = _Writes(utcnow())
        erased = erased_among(connection, emails)  # erased on request: never back
        for row in rows:
            f = row.fields
            if f.email in erased:
                self._reject(row.source, ERASED_REASON)
                continue
            existing = by_email.get(f.email)  # (id, owner); id 0: added earlier in this chunk
            owner_id = row.owner_id or (existing[1] if existing else None)
            if owner_id is None:
                self._reject(row.source, "no owner: the row names none and no --owner was given")
                continue
            if reason := self._refusal(f, existing, owner_id, holders):
                self._reject(row.source, reason)
                continue
            if existing:
                writes.update(existing[0], f)
                self.report.updated += 1
            else:
                writes.insert(f, owner_id)
                by_email[f.email] = (0, owner_id)
                self.report.inserted += 1
            writes.link(f.email, row.tag_ids)
            # Later rows of this chunk see this one as a holder of its phone and company.
            holders.hold(f, owner_id)
        writes.store(self.session, {e: cid for e, (cid, _) in by_email.items() if cid})

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
            return f"owned by someone else: {self.names[existing[1]]}"
        refusal = check_new_contact(
            holders, f, owner_id, is_same_company_ok=self.is_same_company_ok
        )
        return refusal.reason(self.names) if refusal else None


@dataclass
class _Writes:
    """A chunk's accepted rows as the writes they make, done with a few statements."""

    now: datetime
    inserts: dict[str, dict[str, object]] = field(default_factory=dict)  # by e-mail
    updates: dict[int, dict[str, object]] = field(default_factory=dict)  # by contact id
    links: dict[str, set[int]] = field(default_factory=dict)  # e-mail → tag ids

    def insert(self, f: ContactFields, owner_id: int) -> None:
        self.inserts[f.email] = {
            **f.columns(),
            **_NO_CONSENT,
            **_consent_insert(f.consent, self.now),
            "owner_id": owner_id,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def update(self, contact_id: int, f: ContactFields) -> None:
        """A contact in the book (its id), or one inserted earlier in this chunk (id 0)."""
        if contact_id:
            values = self.updates.setdefault(contact_id, {})
            values.update(_changed_columns(f), **_consent_update(f.consent, self.now))
        else:
            self.inserts[f.email].update(
                _changed_columns(f), **_consent_insert(f.consent, self.now)
            )

    def link(self, email: str, tag_ids: list[int]) -> None:
        self.links.setdefault(email, set()).update(tag_ids)

    def store(self, session: Session, ids: dict[str, int]) -> None:
        """Write it all; `ids` are the contact ids of the e-mails already in the book."""
        if self.inserts:
            # A plain insert (executemany, or COPY on PostgreSQL), then one lookup: RETURNING
            # in parameter order would make SQLite insert row by row.
            columns = list(next(iter(self.inserts.values())))
            tuples = list(map(itemgetter(*columns), self.inserts.values()))
            copy_insert(session, table_of(Contact), columns, tuples)
            found = session.connection().execute(_IDS_BY_EMAIL, {"keys": list(self.inserts)})
            ids = {**ids, **dict(found.all())}
        for contact_id, values in self.updates.items():
            session.execute(
                update(Contact)
                .where(Contact.id == contact_id)
                .values(**values, updated_at=self.now)
            )
        wanted = {ids[e]: tags for e, tags in self.links.items() if tags}
        _link_tags(session, wanted, list(self.updates), self.now)


# The chunk's lookups, built once; each chunk's keys are bound as one list parameter.
_BY_EMAIL = select(Contact.id, Contact.email, Contact.owner_id).where(in_list_param(Contact.email))
_IDS_BY_EMAIL = select(Contact.email, Contact.id).where(in_list_param(Contact.email))
_LINKS = select(contact_tags.c.contact_id, contact_tags.c.tag_id).where(
    in_list_param(contact_tags.c.contact_id)
)


_COMPANY_COLUMNS = ("company_name", "company_alias", "company_key", "company_alias_key")


def _changed_columns(f: ContactFields) -> dict[str, object]:
    """Non-empty fields of the row: an empty cell never wipes what the book knows."""
    columns = f.columns()
    changed = {k: v for k, v in columns.items() if v}
    if f.company_name:
        # A company's name and alias go together: `Лада` replaces `Тойота (Toyota)` whole.
        changed.update({k: columns[k] for k in _COMPANY_COLUMNS})
    return changed


_NO_CONSENT = {"has_consent": False, "consent_at": None, "consent_source": ""}


def _consent_insert(consent: Consent | None, now: datetime) -> dict[str, object]:
    if consent is None:
        return {}
    given_at = (consent.given_at or now) if consent.is_given else None
    return {
        "has_consent": consent.is_given,
        "consent_at": given_at,
        "consent_source": consent.source,
    }


def _consent_update(consent: Consent | None, now: datetime) -> dict[str, object]:
    """Consent from a re-import; an answer the book already has keeps its date and source.

    A re-imported export says "да" or the date consent was given, so rewriting the record
    would replace its exact time and its real source with the import's.
    """
    values = _consent_insert(consent, now)
    if consent is None:
        return values
    unchanged = Contact.has_consent if consent.is_given else not_(Contact.has_consent)
    return {
        "has_consent": consent.is_given,
        "consent_at": case((unchanged, Contact.consent_at), else_=values["consent_at"]),
        "consent_source": case((unchanged, Contact.consent_source), else_=values["consent_source"]),
    }


def _link_tags(
    session: Session, wanted: dict[int, set[int]], existing: list[int], now: datetime
) -> None:
    """Add tags the contacts do not have yet; tags are never removed by an import."""
    if not wanted:
        return
    have: set[tuple[int, int]] = set()
    if existing:  # contacts inserted just now have no tags yet
        links = session.connection().execute(_LINKS, {"keys": existing}).all()
        have = {(cid, tid) for cid, tid in links}
    new = [
        (cid, tid, now) for cid, tags in wanted.items() for tid in tags if (cid, tid) not in have
    ]
    copy_insert(session, contact_tags, ("contact_id", "tag_id", "tagged_at"), new)
