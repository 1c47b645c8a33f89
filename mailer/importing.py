"""Importing CRM exports into the contact book: nothing lost, nothing duplicated.

Rows are processed in chunks with a handful of queries each, so a large file imports at
thousands of rows a second with flat memory. Every row is either accepted (inserted or
updated by e-mail) or written verbatim to the reject file with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from sqlalchemy import case, not_, select, update
from sqlalchemy.orm import Session

from mailer.contacts import Consent, ContactError, ContactFields, clean_fields
from mailer.db import bulk_insert, utcnow
from mailer.exporting import restore
from mailer.folding import fold
from mailer.models import Contact, Manager, Tag, contact_tags
from mailer.tabular import SourceRow, TableError, open_table
from mailer.tagging import TagVocabulary, UnknownTagError, parse_tags
from mailer.taxonomy import load_vocabulary

REASON_HEADER = "Причина отказа"

# Header spellings CRMs use, folded; each maps to one field of the contact.
HEADERS: dict[str, str] = {}
for _field, _names in {
    "first_name": ["имя", "first name", "firstname", "first_name", "given name", "name"],
    "middle_name": ["отчество", "middle name", "middlename", "middle_name", "patronymic"],
    "last_name": ["фамилия", "last name", "lastname", "last_name", "surname", "family name"],
    "company": [
        "компания",
        "организация",
        "название компании",
        "company",
        "company name",
        "organization",
        "organisation",
    ],
    "position": ["должность", "position", "job title", "title"],
    "email": [
        "email",
        "e-mail",
        "e mail",
        "эл. почта",
        "электронная почта",
        "почта",
        "рабочий e-mail",
        "рабочий email",
        "mail",
    ],
    "phone": ["телефон", "phone", "рабочий телефон", "мобильный телефон", "mobile", "tel"],
    "tags": ["теги", "тэги", "метки", "tags", "labels"],
    "owner": ["ответственный", "менеджер", "owner", "manager", "responsible"],
    "consent": ["согласие на рассылку", "согласие", "consent", "marketing consent"],
}.items():
    for _name in _names:
        HEADERS[fold(_name)] = _field
IGNORED_HEADERS = {fold(REASON_HEADER), "reason"}

_YES = {"да", "yes", "y", "true", "1", "+", "есть", "согласен", "согласна", "дано", "получено"}
_NO = {"нет", "no", "n", "false", "0", "-", "не дано", "отказ", "отказался", "отказалась"}
_DATE = re.compile(r"^(?:(\d{1,2})\.(\d{1,2})\.(\d{4})|(\d{4})-(\d{2})-(\d{2}))")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (no e-mail column, unreadable...)."""


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


@dataclass
class _Row:
    """A source row after cleaning, waiting for the chunk's database checks."""

    source: SourceRow
    fields: ContactFields
    owner: Manager | None
    tag_ids: list[int]


class _Rejected(Exception):
    pass


def map_headers(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Field → column index, and the headers that mean nothing to the contact book."""
    mapping: dict[str, int] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        key = fold(name).strip(" *:")
        target = HEADERS.get(key)
        if target is None:
            if key and key not in IGNORED_HEADERS:
                ignored.append(name)
            continue
        if target in mapping:
            raise ImportFileError(
                f"two columns mean {target}: '{header[mapping[target]]}' and '{name}'"
            )
        mapping[target] = index
    if "email" not in mapping:
        raise ImportFileError(
            "no e-mail column (Email / E-mail); headers are: " + ", ".join(header)
        )
    return mapping, ignored


def parse_consent(value: str, source: str) -> Consent | None:
    """Consent from a cell: yes/no words or the date it was given; None for an empty cell."""
    text = fold(value)
    if not text:
        return None
    if text in _YES:
        return Consent(True, None, source)
    if text in _NO:
        return Consent(False, None, source)
    if m := _DATE.match(text):
        d, mo, y = (m[1], m[2], m[3]) if m[1] else (m[6], m[5], m[4])
        try:
            return Consent(True, datetime(int(y), int(mo), int(d), tzinfo=UTC), source)
        except ValueError:
            pass
    raise ValueError(f"unrecognised consent value '{value}' (да/нет or a date)")


class _Owners:
    """Managers by e-mail or name, loaded once per import."""

    def __init__(self, session: Session) -> None:
        self.by_key: dict[str, Manager | None] = {}
        for m in session.scalars(select(Manager)):
            self.by_key[m.email] = m
            key = fold(m.name)
            # Two managers with one name: the name alone is ambiguous.
            self.by_key[key] = None if key in self.by_key else m

    def find(self, ref: str) -> Manager:
        key = fold(ref)
        if key not in self.by_key:
            raise _Rejected(f"unknown owner '{ref}'")
        manager = self.by_key[key]
        if manager is None:
            raise _Rejected(f"owner '{ref}' is ambiguous: several managers have this name")
        if not manager.is_active:
            raise _Rejected(f"owner {manager.name} is not active")
        return manager


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
) -> ImportReport:
    """Import a CSV or XLSX export; re-importing updates contacts by e-mail.

    Commits chunk by chunk (a re-run after a crash updates what was already imported);
    a dry run checks everything in one transaction and rolls it back.
    """
    try:
        table = open_table(path)
    except TableError as exc:
        raise ImportFileError(str(exc)) from None
    mapping, ignored = map_headers(table.header)
    report = ImportReport(ignored_headers=ignored, is_dry_run=is_dry_run)
    rejects_path = rejects_path or path.with_name(f"{path.stem}.rejects.csv")
    rejects = table.open_rejects(rejects_path, REASON_HEADER)
    owners = _Owners(session)
    vocabulary = load_vocabulary(session)
    tag_ids = dict(session.execute(select(Tag.code, Tag.id)).tuples().all())
    done = 0

    def reject(row: SourceRow, reason: str) -> None:
        rejects.add(row, reason)
        report.rejected += 1

    try:
        rows = iter(table.rows())
        while chunk := list(islice(rows, chunk_size)):
            cleaned: list[_Row] = []
            for source in chunk:
                if not any(v.strip() for v in source.values):
                    report.blank_rows += 1
                    continue
                report.rows_read += 1
                try:
                    cleaned.append(
                        _clean_row(
                            source,
                            mapping,
                            len(table.header),
                            owners,
                            default_owner,
                            vocabulary,
                            tag_ids,
                            path.name,
                            phone_region,
                        )
                    )
                except _Rejected as exc:
                    reject(source, str(exc))
            _store_chunk(session, cleaned, reject, report, is_same_company_ok)
            if not is_dry_run:
                session.commit()
            if progress:
                position = getattr(table, "bytes_read", None)
                step = position - done if position is not None else len(chunk)
                done += step
                progress(step)
    except TableError as exc:
        session.rollback()
        raise ImportFileError(str(exc)) from None
    finally:
        rejects.close()
        if is_dry_run:
            session.rollback()
    report.rejects_path = rejects_path if rejects.count else None
    return report


def _clean_row(
    source: SourceRow,
    mapping: dict[str, int],
    width: int,
    owners: _Owners,
    default_owner: Manager | None,
    vocabulary: TagVocabulary,
    tag_ids: dict[str, int],
    filename: str,
    phone_region: str,
) -> _Row:
    values = source.values
    if len(values) > width:
        raise _Rejected(f"{len(values)} fields, the header has {width}")

    def cell(name: str) -> str:
        index = mapping.get(name)
        return restore(values[index]) if index is not None and index < len(values) else ""

    try:
        consent_text = cell("consent")
        consent = parse_consent(
            consent_text, f"импорт {filename}, строка {source.line}: «{consent_text.strip()}»"
        )
        fields = clean_fields(
            email=cell("email"),
            first_name=cell("first_name"),
            middle_name=cell("middle_name"),
            last_name=cell("last_name"),
            company=cell("company"),
            position=cell("position"),
            phone=cell("phone"),
            consent=consent,
            phone_region=phone_region,
        )
        codes = parse_tags(cell("tags"), vocabulary)
    except UnknownTagError as exc:
        raise _Rejected(str(exc)) from None
    except (ContactError, ValueError) as exc:
        raise _Rejected(str(exc)) from None
    owner_ref = cell("owner").strip()
    owner = owners.find(owner_ref) if owner_ref else default_owner
    return _Row(source, fields, owner, [tag_ids[c] for c in codes])


def _store_chunk(
    session: Session,
    rows: list[_Row],
    reject: Callable[[SourceRow, str], None],
    report: ImportReport,
    is_same_company_ok: bool,
) -> None:
    """Insert or update the chunk's rows with a few set-based queries."""
    if not rows:
        return
    emails = {r.fields.email for r in rows}
    phones = {r.fields.phone for r in rows if r.fields.phone}
    companies = {k for r in rows for k in _company_keys(r.fields)}
    by_email = {
        e: (cid, oid)
        for cid, e, oid in session.execute(
            select(Contact.id, Contact.email, Contact.owner_id).where(Contact.email.in_(emails))
        )
    }
    owner_names = dict(session.execute(select(Manager.id, Manager.name)).tuples().all())
    # Who already holds each phone and company key (any holder but the row's owner blocks it).
    holders: dict[tuple[str, str], set[int]] = {}
    # Distinct (key, owner) pairs only: a big company must not fetch all its people.
    for kind, column, keys in (
        ("phone", Contact.phone, phones),
        ("company", Contact.company_key, companies),
        ("company", Contact.company_alias_key, companies),
    ):
        if keys:
            stmt = select(column, Contact.owner_id).where(column.in_(keys)).distinct()
            for key, oid in session.execute(stmt):
                holders.setdefault((kind, key), set()).add(oid)

    now = utcnow()
    inserts: dict[str, dict[str, object]] = {}
    updates: dict[int, dict[str, object]] = {}
    links: dict[str, set[int]] = {}
    for row in rows:
        f = row.fields
        existing = by_email.get(f.email)  # (id, owner); id 0: added earlier in this chunk
        owner_id = row.owner.id if row.owner else (existing[1] if existing else None)
        if owner_id is None:
            reject(row.source, "no owner: the row names none and no --owner was given")
            continue
        if existing and existing[1] != owner_id:
            reject(row.source, f"owned by someone else: {owner_names[existing[1]]}")
            continue
        if not is_same_company_ok and not existing:
            conflict = _conflict(f, owner_id, holders)
            if conflict:
                what, oid = conflict
                reject(
                    row.source,
                    f"owned by someone else: {what} belongs to {owner_names[oid]}"
                    " (use --allow-same-company for a different person of that company)",
                )
                continue
        columns = _changed_columns(f)
        if existing and existing[0]:
            updates.setdefault(existing[0], {}).update(columns, **_consent_update(f.consent, now))
            report.updated += 1
        elif existing:
            inserts[f.email].update(columns, **_consent_insert(f.consent, now))
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
        for key in _holder_keys(f):
            holders.setdefault(key, set()).add(owner_id)

    ids = {e: cid for e, (cid, _) in by_email.items() if cid}
    if inserts:
        # A plain executemany, then one lookup: RETURNING in parameter order would make
        # SQLite insert row by row.
        bulk_insert(session, Contact.__table__, list(inserts.values()))
        stmt = select(Contact.email, Contact.id).where(Contact.email.in_(list(inserts)))
        ids.update(session.execute(stmt).tuples().all())
    for contact_id, values in updates.items():
        session.execute(
            update(Contact).where(Contact.id == contact_id).values(**values, updated_at=now)
        )
    _link_tags(session, {ids[e]: t for e, t in links.items() if t}, now)


def _company_keys(f: ContactFields) -> set[str]:
    return {k for k in (f.company_key, f.company_alias_key) if k}


def _holder_keys(f: ContactFields) -> Iterator[tuple[str, str]]:
    if f.phone:
        yield ("phone", f.phone)
    for key in _company_keys(f):
        yield ("company", key)


def _conflict(
    f: ContactFields, owner_id: int, holders: dict[tuple[str, str], set[int]]
) -> tuple[str, int] | None:
    for kind, key in _holder_keys(f):
        others = holders.get((kind, key), set()) - {owner_id}
        if others:
            label = f"phone {key}" if kind == "phone" else f"company '{f.company}'"
            return label, min(others)
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


def _link_tags(session: Session, wanted: dict[int, set[int]], now: datetime) -> None:
    """Add tags the contacts do not have yet; tags are never removed by an import."""
    if not wanted:
        return
    have = set(
        session.execute(
            select(contact_tags.c.contact_id, contact_tags.c.tag_id).where(
                contact_tags.c.contact_id.in_(list(wanted))
            )
        ).tuples()
    )
    new = [
        {"contact_id": cid, "tag_id": tid, "tagged_at": now}
        for cid, tags in wanted.items()
        for tid in tags
        if (cid, tid) not in have
    ]
    if new:
        bulk_insert(session, contact_tags, new)
