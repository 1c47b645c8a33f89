"""Import limits: an oversized field, row or header is a clear reject or a one-line refusal."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook

from mailer.contacts.importing import ImportFileError, ImportReport, import_contacts
from mailer.contacts.tabular import MAX_FIELD_CHARS, MAX_ROW_FIELDS
from tests.factories import make_manager


@pytest.fixture
def owner(session):
    manager = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    session.commit()
    return manager


def write_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def reasons(report: ImportReport) -> list[str]:
    assert report.rejects_path is not None
    with report.rejects_path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";" if report.rejects_path.suffix else ","))
    return [row[-1] for row in rows[1:]]


def csv_reasons(report: ImportReport) -> list[str]:
    assert report.rejects_path is not None
    with report.rejects_path.open(encoding="utf-8", newline="") as fh:
        return [row[-1] for row in list(csv.reader(fh))[1:]]


def import_command(runner, path: Path):
    return runner.invoke(
        args=["mailer", "contacts", "import", str(path), "--owner", "anna@gifts.example"]
    )


def test_a_field_over_the_limit_rejects_its_row_and_names_the_column(session, tmp_path, owner):
    long_name = "Я" * (MAX_FIELD_CHARS + 1)
    path = write_text(
        tmp_path / "crm.csv",
        f"Email,Имя\r\nivan@x.example,Иван\r\npetr@x.example,{long_name}\r\nolga@x.example,Ольга\r\n",
    )

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.inserted, report.rejected) == (3, 2, 1)
    assert csv_reasons(report) == [
        "слишком длинное поле 'Имя': больше 4096 символов — сократите текст"
    ]
    # The CSV's own bytes go to the reject file, the long cell whole.
    assert long_name in report.rejects_path.read_text(encoding="utf-8")


def test_a_row_wider_than_the_limit_is_rejected(session, tmp_path, owner):
    header = ["Email"] + [f"c{i}" for i in range(MAX_ROW_FIELDS + 10)]
    wide = ["petr@x.example"] + ["1"] * MAX_ROW_FIELDS
    path = tmp_path / "crm.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, ["ivan@x.example"], wide])

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.inserted, report.rejected) == (2, 1, 1)
    assert csv_reasons(report) == [
        f"слишком много ячеек: {MAX_ROW_FIELDS + 1}, допустимо не больше {MAX_ROW_FIELDS}"
        " — проверьте разделители в строке"
    ]


def test_a_field_past_csvs_own_limit_rejects_only_its_row(session, tmp_path, owner):
    huge = "я" * 200_000
    path = write_text(
        tmp_path / "crm.csv",
        f"Email,Имя\r\nivan@x.example,Иван\r\npetr@x.example,{huge}\r\nolga@x.example,Ольга\r\n",
    )

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.inserted, report.rejected) == (3, 2, 1)
    lines = report.rejects_path.read_text(encoding="utf-8").splitlines()
    assert lines[1:] == [
        f'petr@x.example,{huge},"слишком длинное поле: больше 131072 символов — сократите текст"'
    ]


def test_an_unclosed_quote_past_csvs_limit_is_refused_in_one_line(runner, owner, tmp_path):
    path = write_text(tmp_path / "crm.csv", 'Email,Имя\r\nivan@x.example,"' + "x" * 200_000)

    result = import_command(runner, path)

    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "crm.csv, line 2:" in result.output and "unclosed quote" in result.output


def test_a_header_cell_past_csvs_limit_is_refused_in_one_line(runner, owner, tmp_path):
    path = write_text(tmp_path / "crm.csv", "Email," + "x" * 200_000 + "\r\nivan@x.example,1\r\n")

    result = import_command(runner, path)

    assert result.exit_code == 1
    assert result.output == (
        "Error: crm.csv: the header of column 2 ('" + "x" * 59 + "…')"
        " is longer than 4096 characters\n"
    )


def test_a_header_cell_over_the_limit_refuses_the_file(session, tmp_path, owner):
    path = write_text(tmp_path / "crm.csv", "Email," + "x" * 5000 + "\r\nivan@x.example,1\r\n")

    with pytest.raises(ImportFileError, match=r"header of column 2 .* longer than 4096"):
        import_contacts(session, path, default_owner=owner)


def test_a_huge_header_names_a_few_ignored_columns_and_counts_the_rest(runner, owner, tmp_path):
    columns = ",".join(f"col{i}" for i in range(100_000))
    path = write_text(tmp_path / "crm.csv", f"Email,{columns}\r\nivan@x.example\r\n")

    result = import_command(runner, path)

    assert result.exit_code == 0
    ignored = [line for line in result.output.splitlines() if "ignored columns" in line]
    assert ignored == [
        "ignored columns: col0, col1, col2, col3, col4, col5, col6, col7, col8, col9,"
        " … and 99,990 more"
    ]
    assert "read 1, accepted 1" in result.output


def test_an_xlsx_cell_over_the_limit_rejects_its_row(session, tmp_path, owner):
    path = tmp_path / "crm.xlsx"
    book = Workbook()
    for row in [
        ["Email", "Компания"],
        ["ivan@x.example", "Тойота"],
        ["petr@x.example", "Ж" * (MAX_FIELD_CHARS + 1)],
    ]:
        book.active.append(row)
    book.save(path)

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.inserted, report.rejected) == (2, 1, 1)
    assert reasons(report) == [
        "слишком длинное поле 'Компания': больше 4096 символов — сократите текст"
    ]
