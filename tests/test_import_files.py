"""What an import file really is: renamed workbooks, binaries, sheets, encodings, reject files."""

from __future__ import annotations

import csv
import gzip
import random
import shutil
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from mailer.contacts.importing import REASON_HEADER, ImportFileError, import_contacts
from mailer.contacts.models import Contact
from tests.factories import make_manager


@pytest.fixture
def owner(session):
    manager = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    session.commit()
    return manager


def import_command(runner, path: Path, *extra: str):
    return runner.invoke(
        args=["mailer", "contacts", "import", str(path), "--owner", "anna@gifts.example", *extra]
    )


def one_error_line(result) -> str:
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert result.output.count("\n") == 1, result.output
    return result.output


def write_book(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


CONTACTS = [["Email", "Имя"], ["ivan@x.example", "Иван"], ["olga@x.example", "Ольга"]]


def emails(session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Contact.email)))


# --- not a table -----------------------------------------------------------------------


def test_a_program_renamed_csv_is_refused_in_one_line(runner, owner, tmp_path):
    path = tmp_path / "elf.csv"
    shutil.copy(sys.executable, path)

    output = one_error_line(import_command(runner, path))

    assert output == "Error: elf.csv is not a table: it is a program (ELF)\n"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: gzip.compress(b"Email,Name\r\nivan@x.example,Ivan\r\n"), "it is a gzip archive"),
        (lambda: random.Random(12).randbytes(5000), "it holds binary data, not text"),
        # No NUL among them and every byte but 0x98 is a cp1251 letter: still not text.
        (lambda: bytes(random.Random(7).choices(range(1, 256), k=5000)), "it holds binary data"),
    ],
    ids=["gzip", "random", "random-without-nul"],
)
def test_archives_and_random_bytes_are_not_a_table(runner, owner, tmp_path, make, reason):
    path = tmp_path / "crm.csv"
    path.write_bytes(make())

    output = one_error_line(import_command(runner, path))

    assert output.startswith(f"Error: crm.csv is not a table: {reason}")


def test_a_bare_carriage_return_in_a_field_is_one_clear_line(runner, owner, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_bytes(b"Email,Name\nivan@x.example,Iv\ran\n")

    output = one_error_line(import_command(runner, path))

    assert output == (
        "Error: crm.csv, line 2: a carriage return (CR) inside a field (an unclosed quote?);"
        " nothing from this line on was read\n"
    )


def test_an_xlsx_renamed_csv_is_read_as_the_workbook_it_is(runner, session, owner, tmp_path):
    path = write_book(tmp_path / "crm.xlsx", {"Контакты": CONTACTS}).rename(tmp_path / "crm.csv")

    result = import_command(runner, path)

    assert result.exit_code == 0, result.output
    assert "read as XLSX workbook (named like a CSV), sheet 'Контакты'" in result.output
    assert emails(session) == {"ivan@x.example", "olga@x.example"}


def test_a_csv_named_xlsx_is_read_as_csv(session, owner, tmp_path):
    path = tmp_path / "crm.xlsx"
    path.write_text("Email;Имя\r\nivan@x.example;Иван\r\n", encoding="utf-8")

    report = import_contacts(session, path, default_owner=owner)

    assert (report.inserted, report.read_as) == (1, "CSV, UTF-8, separated by ';'")


# --- sheets ----------------------------------------------------------------------------


def note_first(tmp_path: Path) -> Path:
    note = [["Выгрузка из CRM для рассылки. Контакты на втором листе."], ["Ответственный: Анна"]]
    return write_book(tmp_path / "crm.xlsx", {"Заметка": note, "Контакты": CONTACTS})


def test_a_workbook_whose_first_sheet_is_a_note_names_it_and_offers_sheet(runner, owner, tmp_path):
    output = one_error_line(import_command(runner, note_first(tmp_path)))

    assert output.startswith(
        "Error: crm.xlsx, sheet 'Заметка' (sheets: 'Заметка', 'Контакты';"
        " choose one with --sheet NAME): no e-mail column"
    )


def test_sheet_picks_the_sheet_to_read(runner, session, owner, tmp_path):
    result = import_command(runner, note_first(tmp_path), "--sheet", "Контакты")

    assert result.exit_code == 0, result.output
    assert "read as XLSX workbook, sheet 'Контакты'" in result.output
    assert "read 2, accepted 2" in result.output
    assert emails(session) == {"ivan@x.example", "olga@x.example"}


def test_an_unknown_sheet_or_a_sheet_of_a_csv_is_one_line(runner, owner, tmp_path):
    unknown = one_error_line(import_command(runner, note_first(tmp_path), "--sheet", "Лист1"))
    csv_path = tmp_path / "crm.csv"
    csv_path.write_text("Email\r\nivan@x.example\r\n", encoding="utf-8")
    of_csv = one_error_line(import_command(runner, csv_path, "--sheet", "Контакты"))

    assert unknown == "Error: crm.xlsx has no sheet 'Лист1'; its sheets: 'Заметка', 'Контакты'\n"
    assert of_csv == "Error: crm.csv is a CSV file: it has no sheets to choose from\n"


# --- encodings -------------------------------------------------------------------------


def test_cp1251_bytes_that_are_valid_utf8_are_read_as_cp1251(runner, session, owner, tmp_path):
    # «Сё» in cp1251 is D1 B8, which is also UTF-8 for «Ѹ»; «ТЁ» is D2 A8, UTF-8 «Ҩ».
    path = tmp_path / "crm.csv"
    path.write_bytes("Email;First name;Company\r\nivan@x.example;Сё;ТЁ\r\n".encode("cp1251"))
    path.read_bytes().decode("utf-8")  # the trap: it decodes

    result = import_command(runner, path)

    assert result.exit_code == 0, result.output
    ivan = session.scalars(select(Contact)).one()
    assert (ivan.first_name, ivan.company_name) == ("Сё", "ТЁ")
    assert (
        "read as CSV, cp1251 (its bytes are valid UTF-8 too, but only cp1251 reads them as"
        " Russian), separated by ';'"
    ) in result.output


def test_utf8_russian_stays_utf8(session, owner, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("Email,Имя,Компания\r\nivan@x.example,Сёма,Ёлка — «Люкс»\r\n", "utf-8")

    report = import_contacts(session, path, default_owner=owner)

    assert report.read_as == "CSV, UTF-8, separated by ','"
    assert session.scalars(select(Contact.first_name)).one() == "Сёма"


def test_text_neither_utf8_nor_cp1251_is_refused(session, owner, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_bytes("Email,Имя\r\nivan@x.example,Иван\r\n".encode("cp1251") + b"\x98\r\n")

    with pytest.raises(ImportFileError, match="its text is neither UTF-8 nor cp1251"):
        import_contacts(session, path, default_owner=owner)


# --- a fixed reject file imported again ------------------------------------------------


def read_rows(path: Path, encoding: str, delimiter: str) -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def test_a_fixed_csv_reject_file_imports_with_one_reason_column(session, owner, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(
        "Email;Имя;Теги\r\nivan@x.example;Иван;строители\r\n"
        'не почта;"Пётр; старший";квадрокоптеры\r\nolga@x.example;Ольга;вертолёты\r\n',
        encoding="utf-8",
    )
    import_contacts(session, path, default_owner=owner)
    rejects = tmp_path / "crm.rejects.csv"
    fixed = tmp_path / "fixed.csv"
    # The manager fixes Ольга's tag and Пётр's address, but Пётр's tag is still unknown.
    fixed.write_text(
        rejects.read_text(encoding="utf-8")
        .replace("вертолёты", "строители")
        .replace("не почта", "petr@x.example"),
        encoding="utf-8",
    )

    report = import_contacts(session, fixed, default_owner=owner)

    assert (report.rows_read, report.inserted, report.rejected) == (2, 1, 1)
    again = (tmp_path / "fixed.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert again[0] == f'Email;Имя;Теги;"{REASON_HEADER}"'
    assert again[1].startswith('petr@x.example;"Пётр; старший";квадрокоптеры;"неизвестный тег')
    assert again[1].count("неизвестный тег") == 1


def test_a_fixed_reject_file_saved_as_xlsx_drops_its_old_reasons(session, owner, tmp_path):
    fixed = write_book(
        tmp_path / "fixed.xlsx",
        {
            "rejects": [
                ["Email", "Имя", "Теги", REASON_HEADER],
                ["petr@x.example", "Пётр", "квадрокоптеры", "неверный e-mail 'не почта'"],
            ]
        },
    )

    report = import_contacts(session, fixed, default_owner=owner)

    assert report.rejected == 1
    rows = read_rows(tmp_path / "fixed.rejects.csv", "utf-8-sig", ";")
    assert rows[0] == ["Email", "Имя", "Теги", REASON_HEADER]
    assert rows[1][:3] == ["petr@x.example", "Пётр", "квадрокоптеры"]
    assert len(rows[1]) == 4 and "неизвестный тег" in rows[1][3]
