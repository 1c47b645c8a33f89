"""Importing CRM exports into the contact book: nothing lost, nothing duplicated.

Rows are stored in chunks with a handful of set-based queries each, so a large file
imports at thousands of rows a second with flat memory. Every row is either accepted
(inserted, or updated by e-mail) or written verbatim to the reject file with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path

from sqlalchemy import case, not_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from mailer.contacts.book import Consent, ContactFields
from mailer.contacts.import_rows import (
    REASON_HEADER,
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
from mailer.contacts.tabular import SourceRow, TableError, open_table
from mailer.db import copy_insert, refresh_statistics, table_of, utcnow
from mailer.managers.models import Manager
from mailer.storage.gc_tuning import fewer_collections
from mailer.storage.listparams import in_list_param
from mailer.tags.models import Tag, contact_tags
from mailer.tags.taxonomy import load_vocabulary

__all__ = ["REASON_HEADER", "ImportFileError", "ImportReport", "import_contacts"]

# Files larger than this are read and cleaned in a second process while this one stores.
BACKGROUND_READ_BYTES = 2_000_000
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
    ignored_headers: list[str] = field(default_factory=list)
    rejects_path: Path | None = None
    is_dry_run: bool = False

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated


def import_contacts(
    session: Session,
    path: Path,
    *,
    default_owner: Manager | None = None,
    is_dry_run: bool = False,
    rejects_path: Path | None = None,
    is_same_company_ok: bool = False,
    chunk_size: int = 1000,
    phone_region: str = "RU",
    progress: Callable[[int], None] | None = None,
    background_read_bytes: int = BACKGROUND_READ_BYTES,
) -> ImportReport:
    """Import a CSV or XLSX export; re-importing updates contacts by e-mail.

    Commits every COMMIT_ROWS rows or so, after a whole chunk (a re-run after a crash
    updates what was already imported); a dry run checks everything in one transaction
    and rolls it back.
    """
    try:
        table = open_table(path)
    except TableError as exc:
        raise ImportFileError(str(exc)) from None
    mapping, ignored = map_headers(table.header)
    report = ImportReport(ignored_headers=ignored, is_dry_run=is_dry_run)
    rejects_path = rejects_path or path.with_name(f"{path.stem}.rejects.csv")
    rejects = table.open_rejects(rejects_path, REASON_HEADER)
    owners = OwnerDirectory()
    for m in session.scalars(select(Manager)):
        owners.add(OwnerRef(m.id, m.name, m.is_active), m.email)
    names = {ref.id: ref.name for ref in owners.by_key.values() if ref}
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
    large = path.stat().st_size > background_read_bytes
    chunks: Iterator = (read_chunks_in_background if large else read_chunks)(
        path, cleaner, chunk_size
    )
    done = 0
    analysed_at = 0  # rows inserted when the statistics were last refreshed
    uncommitted = 0  # rows stored since the last commit

    def reject(row: SourceRow, reason: str) -> None:
        rejects.add(row, reason)
        report.rejected += 1

    try:
        with fewer_collections():
            for chunk in chunks:
                report.blank_rows += chunk.blank_rows
                report.rows_read += len(chunk.rows) + len(chunk.rejects)
                for source, reason in chunk.rejects:
                    reject(source, reason)
                _store_chunk(session, chunk.rows, names, reject, report, is_same_company_ok)
                if report.inserted >= max(2 * analysed_at, chunk_size):  # log2(N) times in all
                    refresh_statistics(session, table_of(Contact), contact_tags)
                    analysed_at = report.inserted
                uncommitted += len(chunk.rows)
                if uncommitted >= COMMIT_ROWS and not is_dry_run:
                    session.commit()
                    uncommitted = 0
                if progress:
                    progress(chunk.progress - done)
                    done = chunk.progress
            if not is_dry_run:
                session.commit()
    except TableError as exc:
        # The file broke between two chunks: what was stored before stays, as it would with
        # a commit after every chunk.
        if not is_dry_run:
            session.commit()
        raise ImportFileError(str(exc)) from None
    finally:
        rejects.close()
        if is_dry_run:
            session.rollback()
    report.rejects_path = rejects_path if rejects.count else None
    return report


def _store_chunk(
    session: Session,
    rows: list[CleanRow],
    names: dict[int, str],
    reject: Callable[[SourceRow, str], None],
    report: ImportReport,
    is_same_company_ok: bool,
) -> None:
    """Insert or update the chunk's rows with a few set-based queries."""
    if not rows:
        return
    connection = session.connection()
    emails = list({r.fields.email for r in rows})
    found = connection.execute(_BY_EMAIL, {"keys": emails}).all()
    by_email = {e: (cid, oid) for cid, e, oid in found}
    row_keys = [_holder_keys(r.fields) for r in rows]
    holders = _holders(connection, row_keys)

    now = utcnow()
    inserts: dict[str, dict[str, object]] = {}
    updates: dict[int, dict[str, object]] = {}
    links: dict[str, set[int]] = {}
    for row, keys in zip(rows, row_keys, strict=True):
        f = row.fields
        existing = by_email.get(f.email)  # (id, owner); id 0: added earlier in this chunk
        owner_id = row.owner_id or (existing[1] if existing else None)
        if owner_id is None:
            reject(row.source, "no owner: the row names none and no --owner was given")
            continue
        if existing and existing[1] != owner_id:
            reject(row.source, f"owned by someone else: {names[existing[1]]}")
            continue
        if not is_same_company_ok and not existing:
            conflict = _conflict(f, keys, owner_id, holders)
            if conflict:
                what, oid = conflict
                reject(
                    row.source,
                    f"owned by someone else: {what} belongs to {names[oid]}"
                    " (use --allow-same-company for a different person of that company)",
                )
                continue
        if existing and existing[0]:
            values = _changed_columns(f)
            updates.setdefault(existing[0], {}).update(values, **_consent_update(f.consent, now))
            report.updated += 1
        elif existing:
            inserts[f.email].update(_changed_columns(f), **_consent_insert(f.consent, now))
            report.updated += 1
        else:
            inserts[f.email] = {
                **f.columns(),
                **_NO_CONSENT,
                **_consent_insert(f.consent, now),
                "owner_id": owner_id,
                "created_at": now,
                "updated_at": now,
            }
            report.inserted += 1
            by_email[f.email] = (0, owner_id)
        links.setdefault(f.email, set()).update(row.tag_ids)
        # Later rows of this chunk see this one as the holder of its phone and company.
        for key in keys:
            holders.setdefault(key, set()).add(owner_id)

    ids = {e: cid for e, (cid, _) in by_email.items() if cid}
    if inserts:
        # A plain insert (executemany, or COPY on PostgreSQL), then one lookup: RETURNING
        # in parameter order would make SQLite insert row by row.
        columns = list(next(iter(inserts.values())))
        tuples = list(map(itemgetter(*columns), inserts.values()))
        copy_insert(session, table_of(Contact), columns, tuples)
        ids.update(connection.execute(_IDS_BY_EMAIL, {"keys": list(inserts)}).all())
    for contact_id, values in updates.items():
        session.execute(
            update(Contact).where(Contact.id == contact_id).values(**values, updated_at=now)
        )
    _link_tags(session, {ids[e]: t for e, t in links.items() if t}, list(updates), now)


# The chunk's lookups, built once; each chunk's keys are bound as one list parameter.
_BY_EMAIL = select(Contact.id, Contact.email, Contact.owner_id).where(in_list_param(Contact.email))
_IDS_BY_EMAIL = select(Contact.email, Contact.id).where(in_list_param(Contact.email))
# Distinct (key, owner) pairs only: a big company must not fetch all its people.
_PHONE_HOLDERS = (
    select(Contact.phone, Contact.owner_id).where(in_list_param(Contact.phone)).distinct()
)
_COMPANY_HOLDERS = (
    select(Contact.company_key, Contact.owner_id)
    .where(in_list_param(Contact.company_key))
    .distinct()
)
_ALIAS_HOLDERS = (
    select(Contact.company_alias_key, Contact.owner_id)
    .where(in_list_param(Contact.company_alias_key))
    .distinct()
)
_LINKS = select(contact_tags.c.contact_id, contact_tags.c.tag_id).where(
    in_list_param(contact_tags.c.contact_id)
)


def _holder_keys(f: ContactFields) -> list[tuple[str, str]]:
    """What a contact holds against other owners: its phone and its company's keys."""
    keys: list[tuple[str, str]] = []
    if f.phone:
        keys.append(("phone", f.phone))
    for key in (f.company_key, f.company_alias_key):
        if key and ("company", key) not in keys:
            keys.append(("company", key))
    return keys


def _holders(
    connection: Connection, row_keys: list[list[tuple[str, str]]]
) -> dict[tuple[str, str], set[int]]:
    """Who already holds each phone and company key of the chunk's rows."""
    wanted = {key for keys in row_keys for key in keys}
    phones = [key for kind, key in wanted if kind == "phone"]
    companies = [key for kind, key in wanted if kind == "company"]
    holders: dict[tuple[str, str], set[int]] = {}
    for kind, stmt, keys in (
        ("phone", _PHONE_HOLDERS, phones),
        ("company", _COMPANY_HOLDERS, companies),
        ("company", _ALIAS_HOLDERS, companies),
    ):
        if keys:
            for key, oid in connection.execute(stmt, {"keys": keys}).all():
                holders.setdefault((kind, str(key)), set()).add(oid)
    return holders


def _conflict(
    f: ContactFields,
    keys: list[tuple[str, str]],
    owner_id: int,
    holders: dict[tuple[str, str], set[int]],
) -> tuple[str, int] | None:
    """(what, whose) for the first of the row's keys another owner holds, if any does."""
    for kind, key in keys:
        owners = holders.get((kind, key))
        if owners and (len(owners) > 1 or owner_id not in owners):
            label = f"phone {key}" if kind == "phone" else f"company '{f.company}'"
            return label, min(owners - {owner_id})
    return None


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
