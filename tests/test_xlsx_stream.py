"""The streaming XLSX reader: cells as a person sees them, limits, and what it refuses."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook as OpenpyxlWorkbook

from mailer.contacts.tabular import TableError, open_table
from mailer.contacts.xlsx_stream import Limits, Workbook, XlsxError
from tests.xlsx_files import strings, write_xlsx

SMALL = Limits(cell_chars=10, row_cells=3, shared_strings=5, shared_bytes=1000)


def rows_of(path: Path, limits: Limits = SMALL) -> list[tuple[int, list[str], int]]:
    book = Workbook(zipfile.ZipFile(path), limits)
    try:
        return [(r.number, r.values, r.width) for r in book.rows(next(iter(book.sheets)))]
    finally:
        book.close()


def test_cells_read_as_a_person_sees_them(tmp_path):
    sheet = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="inlineStr"><is><r><t>Иван</t></r>'
        "<r><t>ов</t></r></is></c></row>"
        '<row r="3"><c r="A3"><v>79161234567</v></c><c r="B3"><v>1.5E+3</v></c>'
        '<c r="C3"><v>2.25</v></c></row>'
        '<row r="4"><c r="A4" t="b"><v>1</v></c><c r="B4" t="e"><v>#N/A</v></c>'
        '<c r="C4" t="str"><f>A1&amp;"!"</f><v>Email!</v></c><c r="D4"><f>1+1</f></c></row>'
    )
    path = write_xlsx(tmp_path / "crm.xlsx", sheet, strings("Email"))

    assert rows_of(path, Limits(4096, 200, 100, 1 << 20)) == [
        (1, ["Email", "", "Иванов"], 3),
        (3, ["79161234567", "1500", "2.25"], 3),
        (4, ["да", "#N/A", "Email!"], 3),
    ]


def test_dates_come_from_the_cells_number_format(tmp_path):
    path = tmp_path / "crm.xlsx"
    book = OpenpyxlWorkbook()
    book.active.append(["Email", "Согласие", "Время"])
    book.active.append([1234, date(2024, 3, 1), datetime(2024, 3, 1, 9, 30)])
    book.save(path)

    assert rows_of(path, Limits(4096, 200, 100, 1 << 20))[1] == (
        2,
        ["1234", "2024-03-01", "2024-03-01T09:30:00"],
        3,
    )


def test_a_long_cell_is_kept_only_past_the_limit_and_a_wide_row_only_to_it(tmp_path):
    sheet = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>'
        + "я" * 50
        + '</t></is></c><c r="Z1"><v>1</v></c></row>'
    )
    path = write_xlsx(tmp_path / "crm.xlsx", sheet, strings("x" * 30))

    [(number, values, width)] = rows_of(path)

    assert (number, width) == (1, 26)
    assert values == ["x" * 11, "я" * 11, "", ""]


def test_shared_strings_past_the_count_limit_refuse_the_workbook(tmp_path):
    path = write_xlsx(tmp_path / "crm.xlsx", [[0], [5]], strings(*"abcdef"))

    with pytest.raises(XlsxError, match="more than 5 shared strings"):
        rows_of(path)
    # Strings past the last one a cell uses are never parsed, however many there are.
    assert rows_of(write_xlsx(tmp_path / "ok.xlsx", [[0], [1]], strings(*"abcdefgh"))) == [
        (1, ["a"], 1),
        (2, ["b"], 1),
    ]


def test_a_doctype_is_refused_in_one_line(tmp_path):
    path = write_xlsx(tmp_path / "crm.xlsx", [[0]], [b"<si><t>&lol;</t></si>"])
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/sharedStrings.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY lol "lol">]>' + parts["xl/sharedStrings.xml"]
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)

    with pytest.raises(TableError, match=r"^crm.xlsx is not a readable XLSX file: .*DOCTYPE"):
        list(open_table(path).rows())
