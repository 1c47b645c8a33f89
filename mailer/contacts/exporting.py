"""Exporting the contact book to CSV or XLSX that is safe to open in a spreadsheet.

An export has the import's headers (`columns.py`), so it can be edited and imported back:
tags by their Russian names and IDN e-mails in Unicode, both of which the importer reads.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.columns import COLUMNS, EXPORT_HEADERS
from mailer.contacts.models import Contact
from mailer.managers.models import Manager
from mailer.tags.models import Tag
from mailer.tags.tagging import UnknownTagError, parse_tags
from mailer.tags.taxonomy import load_vocabulary

# A spreadsheet runs a cell starting with these as a formula (CSV/formula injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Make a cell inert: a leading quote keeps a formula-like value as text."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def restore(value: str) -> str:
    """Undo `neutralise`, so an exported file imports back as it was."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS) else value


def tag_names(session: Session) -> dict[str, str]:
    """Tag code → the name an export writes: the tag's Russian label when the importer reads
    that label back as this very tag, else the code (a label edited into another tag's alias,
    or holding a comma, must not change a contact's tags on the way back)."""
    vocabulary = load_vocabulary(session)
    names = {}
    for code, label in session.execute(select(Tag.code, Tag.label)):
        try:
            names[code] = label if parse_tags(label, vocabulary) == [code] else code
        except UnknownTagError:
            names[code] = code
    return names


def contact_row(contact: Contact, names: Mapping[str, str]) -> list[str]:
    """A contact as export cells, before neutralising; `names` from `tag_names`."""
    consent = (
        contact.consent_at.date().isoformat()
        if contact.has_consent and contact.consent_at
        else ("да" if contact.has_consent else "нет")
    )
    cells = {
        "last_name": contact.last_name,
        "first_name": contact.first_name,
        "middle_name": contact.middle_name,
        "company": contact.company_display,
        "position": contact.position,
        "email": contact.email_display,
        "phone": contact.phone or "",
        "tags": ", ".join(names.get(t.code, t.code) for t in contact.tags),
        "owner": contact.owner.email,
        "consent": consent,
    }
    return [cells[field] for field in COLUMNS]  # the order of EXPORT_HEADERS


def iter_export_rows(session: Session, owner: Manager | None = None) -> Iterator[list[str]]:
    """Neutralised rows, streamed in batches so memory stays flat."""
    names = tag_names(session)
    stmt = select(Contact).options(selectinload(Contact.tags)).order_by(Contact.id)
    if owner is not None:
        stmt = stmt.where(Contact.owner_id == owner.id)
    for contact in session.scalars(stmt.execution_options(yield_per=1000)):
        yield [neutralise(v) for v in contact_row(contact, names)]


def export_contacts(session: Session, path: Path, owner: Manager | None = None) -> int:
    """Write contacts to `path` (.xlsx or CSV in UTF-8 with BOM and `;` for Excel)."""
    rows = iter_export_rows(session, owner)
    count = 0
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Контакты")
        sheet.append(EXPORT_HEADERS)
        for row in rows:
            # XML cannot hold control characters a CSV import may have let in; drop them.
            sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) for v in row])
            count += 1
        book.save(path)
        return count
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(EXPORT_HEADERS)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
