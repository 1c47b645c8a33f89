"""Bitrix24 and amoCRM exports imported as they come: several e-mails and phones, one name
column, the salutation, owners by name, a column map, and the CRM's ids kept."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from mailer.contacts.book import find_existing
from mailer.contacts.column_plan import parse_map, read_map_file
from mailer.contacts.importing import (
    ColumnChoices,
    ImportFileError,
    ImportReport,
    import_contacts,
)
from mailer.contacts.models import Contact, ContactChannel
from mailer.letters.greeting import greet
from mailer.letters.rendering import LetterKind, Recipient, render_letter
from tests.factories import make_contact, make_manager
from tests.test_letters import AFTERNOON, CASES, LINKS, SENDER

BITRIX_HEADER = [
    *("ID", "Обращение", "Имя", "Отчество", "Фамилия", "Должность", "Рабочий телефон"),
    *("Мобильный телефон", "Рабочий e-mail", "Частный e-mail", "Компания", "Ответственный"),
    *("Источник", "Комментарий", "Дата создания"),
]
# ID, Обращение, Имя, Отчество, Фамилия, Должность, two phones, two e-mails, Компания,
# Ответственный, Источник, Комментарий, Дата создания.
BITRIX_ROWS = [
    [
        *("101", "г-н", "Женя", "Петровна", "Соколов", "Директор", "+7 495 111-22-33"),
        *("8 916 111-22-33", "zhenya@alfa.example", "zhenya.home@mail.example", "Альфа"),
        *("Анна Смирнова", "Сайт", "звонил в мае", "01.02.2024"),
    ],
    [
        *("102", "г-жа", "Саша", "Ивановна", "Кузнецова", "", ""),
        *("+7 916 222-33-44", "", "sasha@beta.example; sasha2@beta.example", "Бета"),
        *("СМИРНОВА анна", "", "", ""),
    ],
    [
        *("103", "", "Пётр", "", "Сёмин", "", "", "", "petr@gamma.example", "", "Гамма"),
        *("Петр Семин", "", "", ""),
    ],
    [
        *("104", "", "Олег", "", "Нетов", "", "", "", "oleg@delta.example", "", "Дельта"),
        *("Нет Такого", "", "", ""),
    ],
    [
        *("105", "", "Ирина", "", "Белова", "", "", "", "irina@eps.example", "", "Эпсилон"),
        *("", "", "", ""),
    ],
    [
        *("106", "", "Вера", "", "Зайцева", "", "", "", "не почта", "vera@home.example"),
        *("Зета", "Анна Смирнова", "", "", ""),
    ],
]

AMO_HEADER = [
    *("ID", "Полное имя контакта", "Компания контакта", "Ответственный", "Теги"),
    *("Рабочий телефон", "Мобильный телефон", "Рабочий email", "Личный email", "Должность"),
]
AMO_ROWS = [
    [
        *("7001", "Иванов Иван Иванович", "Гамма-Строй", "Анна Смирнова", "строители"),
        *("+7 (495) 333-44-55, 8 916 333 44 55", "", "ivan@gs.example", "", "Снабженец"),
    ],
    [
        *("7002", "Бухгалтерия", "Дельта-Торг", "Анна Смирнова", "", "", "", "buh@dt.example"),
        *("", ""),
    ],
    [
        *("7003", "Главный бухгалтер", "Омега", "Анна Смирнова", "", "", "", "gb@omega.example"),
        *("", "Финансы"),
    ],
    [
        *("7004", "Мария Петрова", "Сигма", "Анна Смирнова", "", "", "+7 916 444-55-66"),
        *("maria@sigma.example", "maria@home.example", ""),
    ],
]


def write_csv(path: Path, rows: list[list[str]], *, encoding: str, delimiter: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def bitrix_export(folder: Path, shape: str, rows: list[list[str]] = BITRIX_ROWS) -> Path:
    """A Bitrix24 contact export as Bitrix24 writes it: cp1251 and `;`, or XLSX."""
    if shape == "xlsx":
        return write_xlsx(folder / "bitrix.xlsx", [BITRIX_HEADER, *rows])
    return write_csv(
        folder / "bitrix.csv", [BITRIX_HEADER, *rows], encoding="cp1251", delimiter=";"
    )


def amo_export(folder: Path, shape: str, rows: list[list[str]] = AMO_ROWS) -> Path:
    """An amoCRM contact export as amoCRM writes it: UTF-8 with a BOM and `,`, or XLSX."""
    if shape == "xlsx":
        return write_xlsx(folder / "amo.xlsx", [AMO_HEADER, *rows])
    return write_csv(folder / "amo.csv", [AMO_HEADER, *rows], encoding="utf-8-sig", delimiter=",")


def contacts(session) -> dict[str, Contact]:
    session.expire_all()
    return {c.email: c for c in session.scalars(select(Contact))}


def others(session, contact: Contact) -> set[tuple[str, str]]:
    rows = session.execute(
        select(ContactChannel.kind, ContactChannel.value).where(
            ContactChannel.contact_id == contact.id
        )
    )
    return {(str(kind), value) for kind, value in rows}


def assert_nothing_lost(report: ImportReport) -> None:
    assert report.accepted + report.rejected == report.rows_read


@pytest.fixture
def anna(session):
    manager = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    session.commit()
    return manager


@pytest.fixture
def petr(session):
    manager = make_manager(session, name="Пётр Сёмин", email="petr.semin@gifts.example")
    session.commit()
    return manager


# --- Bitrix24 ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["csv", "xlsx"])
def test_a_bitrix24_export_imports_as_it_comes(session, tmp_path, anna, petr, shape):
    path = bitrix_export(tmp_path, shape)

    report = import_contacts(session, path, default_owner=petr)

    assert report.source_name == "Bitrix24"
    assert (report.rows_read, report.inserted, report.rejected) == (6, 5, 1)
    assert_nothing_lost(report)
    assert report.ignored_headers == ["Источник", "Комментарий", "Дата создания"]
    book = contacts(session)
    zhenya = book["zhenya@alfa.example"]
    assert (zhenya.first_name, zhenya.middle_name, zhenya.last_name) == (
        "Женя",
        "Петровна",
        "Соколов",
    )
    assert zhenya.phone == "+74951112233"  # the work phone first
    assert others(session, zhenya) == {
        ("email", "zhenya.home@mail.example"),
        ("phone", "+79161112233"),
    }
    assert (zhenya.salutation, zhenya.source_system, zhenya.source_id) == ("г-н", "bitrix24", "101")
    assert zhenya.owner.name == "Анна Смирнова"
    sasha = book["sasha@beta.example"]  # no work e-mail: the first private one of the cell
    assert others(session, sasha) == {("email", "sasha2@beta.example")}
    assert sasha.phone == "+79162223344" and sasha.owner.name == "Анна Смирнова"
    assert book["petr@gamma.example"].owner.name == "Пётр Сёмин"  # "Петр Семин": ё, е
    assert book["irina@eps.example"].owner.name == "Пётр Сёмин"  # no owner: --owner's
    assert book["vera@home.example"].owner.name == "Анна Смирнова"  # the bad work e-mail
    assert "oleg@delta.example" not in book
    with report.rejects_path.open(encoding="utf-8-sig" if shape == "xlsx" else "cp1251") as fh:
        rejected = list(csv.reader(fh, delimiter=";"))
    assert rejected[1][0] == "104" and rejected[1][-1].startswith(
        "неизвестный ответственный 'Нет Такого': такого менеджера нет"
    )


def test_a_row_without_an_owner_is_rejected_when_no_owner_is_given(session, tmp_path, anna):
    report = import_contacts(session, bitrix_export(tmp_path, "csv"))

    assert (report.rows_read, report.inserted, report.rejected) == (6, 3, 3)
    assert_nothing_lost(report)
    with report.rejects_path.open(encoding="cp1251") as fh:
        reasons = {row[0]: row[-1] for row in csv.reader(fh, delimiter=";")}
    assert reasons["103"].startswith("неизвестный ответственный 'Петр Семин':")
    assert reasons["105"].startswith("нет ответственного: в строке он не указан")


def test_the_salutation_settles_the_greeting_when_the_name_leaves_the_gender_open(
    session, tmp_path, anna
):
    import_contacts(session, bitrix_export(tmp_path, "csv"), default_owner=anna)
    book = contacts(session)

    zhenya = Recipient.of(book["zhenya@alfa.example"])  # г-н Женя Петровна
    sasha = Recipient.of(book["sasha@beta.example"])  # г-жа Саша Ивановна

    assert greet(zhenya.first_name, zhenya.middle_name, zhenya.last_name).text == (
        "Здравствуйте, Женя Петровна!"
    )
    assert (zhenya.salutation, sasha.salutation) == ("г-н", "г-жа")
    by_salutation = greet(zhenya.first_name, zhenya.middle_name, zhenya.last_name, "г-н")
    assert by_salutation.text == "Здравствуйте, Женя!"
    assert by_salutation.reason == "patronymic_gender_mismatch"
    assert greet("Саша", "Ивановна", "", sasha.salutation).text == "Здравствуйте, Саша Ивановна!"
    assert greet("Саша", "Иванович", "", "г-жа").text == "Здравствуйте, Саша!"


@pytest.mark.parametrize("shape", ["csv", "xlsx"])
def test_a_later_export_updates_the_same_people_even_when_an_e_mail_changed(
    session, tmp_path, anna, shape
):
    import_contacts(session, bitrix_export(tmp_path, shape), default_owner=anna)
    before = session.scalar(select(func.count()).select_from(Contact))
    later = [list(row) for row in BITRIX_ROWS]
    later[0][8] = "z.sokolov@alfa.example"  # a new work e-mail
    later[0][5] = "Генеральный директор"
    (tmp_path / "later").mkdir()

    report = import_contacts(session, bitrix_export(tmp_path / "later", shape, later))

    # 103 and 104 name owners nobody is; 105 keeps the owner it has.
    assert (report.inserted, report.updated, report.rejected) == (0, 4, 2)
    assert session.scalar(select(func.count()).select_from(Contact)) == before
    book = contacts(session)
    assert "zhenya@alfa.example" not in book
    zhenya = book["z.sokolov@alfa.example"]
    assert (zhenya.source_id, zhenya.position) == ("101", "Генеральный директор")
    assert ("email", "zhenya@alfa.example") in others(session, zhenya)  # the old one kept


def test_a_changed_e_mail_that_is_another_contacts_is_rejected(session, tmp_path, anna):
    import_contacts(session, bitrix_export(tmp_path, "csv"), default_owner=anna)
    later = [list(row) for row in BITRIX_ROWS]
    later[0][8] = "sasha@beta.example"  # ID 101 now says it is ID 102's address
    (tmp_path / "later").mkdir()

    report = import_contacts(
        session, bitrix_export(tmp_path / "later", "csv", later), default_owner=anna
    )

    assert_nothing_lost(report)
    with report.rejects_path.open(encoding="cp1251") as fh:
        reasons = {row[0]: row[-1] for row in csv.reader(fh, delimiter=";")}
    assert reasons["101"] == (
        "ID из CRM не совпадает с e-mail: ID 101 — это zhenya@alfa.example,"
        " а sasha@beta.example — другой контакт; исправьте ID или e-mail в строке"
    )


# --- amoCRM ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["csv", "xlsx"])
def test_an_amocrm_export_imports_as_it_comes(session, tmp_path, anna, shape):
    path = amo_export(tmp_path, shape)
    if shape == "csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    report = import_contacts(session, path)

    assert report.source_name == "amoCRM"
    assert (report.rows_read, report.inserted, report.rejected) == (4, 4, 0)
    book = contacts(session)
    ivan = book["ivan@gs.example"]
    assert (ivan.first_name, ivan.middle_name, ivan.last_name) == ("Иван", "Иванович", "Иванов")
    assert (ivan.company_name, ivan.position) == ("Гамма-Строй", "Снабженец")
    assert [t.code for t in ivan.tags] == ["construction"]
    assert ivan.phone == "+74953334455"  # two numbers in one cell: the first, and the other
    assert others(session, ivan) == {("phone", "+79163334455")}
    assert (ivan.source_system, ivan.source_id) == ("amocrm", "7001")
    department = book["buh@dt.example"]  # a department in the name column
    assert (department.first_name, department.last_name) == ("", "")
    assert department.position == "Бухгалтерия"
    title = book["gb@omega.example"]  # a job title, and a position of its own
    assert (title.first_name, title.position) == ("", "Финансы")
    maria = book["maria@sigma.example"]
    assert (maria.first_name, maria.last_name) == ("Мария", "Петрова")
    assert others(session, maria) == {("email", "maria@home.example")}


def test_the_preferred_kinds_can_be_private_e_mail_and_mobile_phone(session, tmp_path, anna):
    choices = ColumnChoices(prefer_email="private", prefer_phone="mobile")

    import_contacts(session, bitrix_export(tmp_path, "csv"), columns=choices, default_owner=anna)

    book = contacts(session)
    zhenya = book["zhenya.home@mail.example"]
    assert zhenya.phone == "+79161112233"
    assert others(session, zhenya) == {
        ("email", "zhenya@alfa.example"),
        ("phone", "+74951112233"),
    }


# --- the owner check on every value ------------------------------------------------------


def test_the_owner_check_matches_on_secondary_phones_and_e_mails(session, tmp_path, anna):
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    session.commit()
    import_contacts(session, amo_export(tmp_path, "csv"))  # Anna's, with secondary values
    header = ["Email", "Личный email", "Телефон", "Ответственный"]
    rows = [
        ["new1@x.example", "", "8 916 333-44-55", "Борис Орлов"],  # Ivan's second phone
        ["new2@x.example", "maria@home.example", "", "Борис Орлов"],  # Maria's other e-mail
        ["maria@home.example", "", "", "Борис Орлов"],  # that e-mail as the address
        ["new3@x.example", "ivan@gs.example", "", "Анна Смирнова"],  # Anna's own Ivan
        ["new4@x.example", "", "+7 999 000-00-01", "Борис Орлов"],
    ]
    path = write_csv(tmp_path / "more.csv", [header, *rows], encoding="utf-8", delimiter=",")

    report = import_contacts(session, path)

    assert (report.rows_read, report.inserted, report.rejected) == (5, 1, 4)
    with report.rejects_path.open(encoding="utf-8") as fh:
        reasons = [row[-1] for row in csv.reader(fh)][1:]
    assert reasons == [
        "телефон у другого менеджера: +79163334455 — уже у менеджера Анна Смирнова;"
        " если это другой человек этой компании — импортируйте с --allow-same-company",
        "e-mail у другого менеджера: maria@home.example — уже у менеджера Анна Смирнова;"
        " попросите передать контакт",
        "e-mail у другого менеджера: maria@home.example — уже у менеджера Анна Смирнова;"
        " попросите передать контакт",
        "e-mail уже в базе: ivan@gs.example — у другого контакта того же менеджера"
        " (Анна Смирнова); уберите адрес из одной из карточек",
    ]
    assert boris.id in {c.owner_id for c in contacts(session).values()}


def test_check_and_add_find_a_contact_by_its_secondary_values(session, tmp_path, anna):
    import_contacts(session, amo_export(tmp_path, "csv"))

    by_phone = find_existing(session, phone="8 916 333 44 55")
    by_email = find_existing(session, email="maria@home.example")

    assert [m.contact.email for m in by_phone] == ["ivan@gs.example"]
    assert [m.contact.email for m in by_email] == ["maria@sigma.example"]
    with pytest.raises(ValueError, match="maria@sigma.example"):
        make_contact(session, email="maria@home.example", owner=anna, is_same_company_ok=True)


# --- the column map ----------------------------------------------------------------------


def test_a_map_reads_columns_the_guess_does_not_know(session, tmp_path, anna):
    header = ["Почта для писем", "Человек", "Менеджер клиента", "Согласие", "Источник"]
    row = ["ivan@toyota.example", "Иванов Иван", "Анна Смирнова", "да", "выставка"]
    path = write_csv(tmp_path / "own.csv", [header, row], encoding="utf-8", delimiter=";")
    map_file = tmp_path / "map.txt"
    map_file.write_text(
        "# our sheet\nПочта для писем=email\nЧеловек=full_name\nМенеджер клиента=owner\n",
        encoding="utf-8",
    )
    overrides = read_map_file(map_file) | parse_map(["Источник=consent_source"])

    report = import_contacts(session, path, columns=ColumnChoices(overrides))

    assert (report.inserted, report.rejected, report.source_name) == (1, 0, "")
    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.first_name, ivan.last_name, ivan.owner_id) == ("Иван", "Иванов", anna.id)
    assert ivan.has_consent and ivan.consent_source.startswith("выставка (импорт own.csv")


def test_a_map_can_ignore_a_column_and_names_what_it_cannot_use(session, tmp_path, anna):
    path = amo_export(tmp_path, "csv")
    ignore_tags = ColumnChoices({"Теги": "ignore", "Ответственный": "ignore"})

    report = import_contacts(session, path, columns=ignore_tags, default_owner=anna)

    assert contacts(session)["ivan@gs.example"].tags == []
    assert "Теги" in report.ignored_headers
    with pytest.raises(ImportFileError, match="does not have: 'нет такой'"):
        import_contacts(session, path, columns=ColumnChoices({"Нет такой": "email"}))
    with pytest.raises(ImportFileError, match="no e-mail column"):
        import_contacts(
            session,
            path,
            columns=ColumnChoices({"Рабочий email": "ignore", "Личный email": "ignore"}),
        )


def test_the_command_shows_the_mapping_and_stores_nothing(runner, session, tmp_path, anna):
    path = bitrix_export(tmp_path, "csv")

    result = runner.invoke(
        args=["mailer", "contacts", "import", str(path), "--show-mapping"]
        + ["--map", "Источник=consent_source", "--prefer-phone", "mobile"]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "looks like a Bitrix24 export"
    assert len(lines) == 1 + len(BITRIX_HEADER)
    read = {line.split("→")[0].strip(): line.split("→")[1].strip() for line in lines[1:]}
    assert read["ID"] == "source_id"
    assert read["Обращение"] == "salutation"
    assert read["Мобильный телефон"] == "phone_mobile (choice 1)"
    assert read["Рабочий телефон"] == "phone_work (choice 2)"
    assert read["Рабочий e-mail"] == "email_work (choice 1)"
    assert read["Источник"] == "consent_source"
    assert read["Комментарий"] == "ignored"
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_the_command_says_which_crm_and_refuses_a_bad_map(runner, session, tmp_path, anna):
    path = bitrix_export(tmp_path, "csv")

    good = runner.invoke(
        args=["mailer", "contacts", "import", str(path), "--owner", "anna@gifts.example"]
    )
    bad = runner.invoke(args=["mailer", "contacts", "import", str(path), "--map", "ID=nope"])
    unknown = runner.invoke(
        args=["mailer", "contacts", "import", str(path), "--show-mapping", "--map", "X=email"]
    )

    assert good.exit_code == 0, good.output
    assert "looks like a Bitrix24 export" in good.output
    assert "read 6, accepted 4 (new 4, updated 0), rejected 2" in good.output
    assert bad.exit_code != 0 and "unknown field 'nope'" in bad.output
    assert unknown.exit_code != 0 and "does not have: 'x'" in unknown.output
    assert "Traceback" not in bad.output + unknown.output


def test_an_id_column_of_an_unknown_file_is_kept_only_when_the_map_says_so(session, tmp_path, anna):
    header = ["ID", "Email", "Ответственный"]
    first = write_csv(
        tmp_path / "a.csv",
        [header, ["1", "one@x.example", "Анна Смирнова"]],
        encoding="utf-8",
        delimiter=",",
    )
    second = write_csv(
        tmp_path / "b.csv",
        [header, ["1", "two@x.example", "Анна Смирнова"]],
        encoding="utf-8",
        delimiter=",",
    )

    guessed = import_contacts(session, first)
    import_contacts(session, second)  # another sheet's row 1: another person

    assert guessed.ignored_headers == ["ID"]
    assert sorted(contacts(session)) == ["one@x.example", "two@x.example"]
    mapped = ColumnChoices({"ID": "source_id"})
    import_contacts(session, first, columns=mapped)  # one@ is now ID 1
    third = write_csv(
        tmp_path / "c.csv",
        [header, ["1", "three@x.example", "Анна Смирнова"]],
        encoding="utf-8",
        delimiter=",",
    )
    report = import_contacts(session, third, columns=mapped)
    assert report.updated == 1
    assert sorted(contacts(session)) == ["three@x.example", "two@x.example"]
    assert contacts(session)["three@x.example"].source_system == "file"


def test_a_letter_greets_by_the_salutation_of_the_import(session, tmp_path, anna):
    import_contacts(session, bitrix_export(tmp_path, "csv"), default_owner=anna)
    book = contacts(session)
    kind = LetterKind.NEW_YEAR_CATALOGUE

    zhenya = render_letter(
        kind,
        Recipient.of(book["zhenya@alfa.example"]),
        SENDER,
        now=AFTERNOON,
        links=LINKS,
        **CASES[kind],
    )
    sasha = render_letter(
        kind,
        Recipient.of(book["sasha@beta.example"]),
        SENDER,
        now=AFTERNOON,
        links=LINKS,
        **CASES[kind],
    )

    assert zhenya.text.startswith("Здравствуйте, Женя!\n")  # г-н: not "Женя Петровна"
    assert sasha.text.startswith("Здравствуйте, Саша Ивановна!\n")
