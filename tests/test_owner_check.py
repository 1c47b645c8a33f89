"""Issue 12's owner check: every spelling of an owned company is found, by the CLI, the web
check, `contacts add` and the import, and refusals name the real holders."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailer.contacts.importing import import_contacts
from mailer.contacts.models import Contact
from tests.desk import sign_in_marketing
from tests.factories import make_contact, make_manager
from tests.test_importing import read_rejects, write_csv

OWNED = ["Тойота (Toyota)", "ООО «Вектор»", "Газпром", "Альфа-Банк", "АО Северсталь 78"]
TYPED = [
    ("ООО «Тойота»", "Тойота (Toyota)"),
    ("Вектор", "ООО «Вектор»"),
    ("ПАО Газпром", "Газпром"),
    ("альфа банк", "Альфа-Банк"),
    ("Северсталь 78", "АО Северсталь 78"),
]


@pytest.fixture
def anna_owns(session):
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    for company in OWNED:
        make_contact(session, owner=anna, company=company)
    session.commit()
    return anna


@pytest.mark.parametrize(("typed", "owned"), TYPED)
def test_the_cli_check_finds_the_owned_company(runner, anna_owns, typed, owned):
    result = runner.invoke(args=["mailer", "contacts", "check", "--company", typed])
    assert result.exit_code == 1, result.output
    assert f"company matches '{owned}', owned by Анна Смирнова <anna@gifts.example>" in (
        result.output
    )


@pytest.mark.parametrize(("typed", "owned"), TYPED)
def test_the_web_check_finds_the_owned_company(client, session, anna_owns, typed, owned):
    sign_in_marketing(client, session)
    page = client.get("/check", query_string={"q": typed}).get_data(as_text=True)
    assert "можно добавлять" not in page
    assert owned.replace("«", "&laquo;") in page or owned in page
    assert '<td class="owner">Анна Смирнова</td>' in page


def test_adding_a_spelling_of_a_company_another_manager_owns_is_refused(runner, session, anna_owns):
    result = runner.invoke(
        args=[
            "mailer",
            "contacts",
            "add",
            "--email",
            "boss@gazprom.example",
            "--company",
            "ПАО «Газпром»",
            "--owner",
            "petr@gifts.example",
        ]
    )
    assert result.exit_code == 1
    assert "company matches" in result.output and "Анна Смирнова" in result.output
    assert "Traceback" not in result.output
    assert session.scalar(select(Contact).where(Contact.email == "boss@gazprom.example")) is None


def test_a_check_with_several_candidates_lists_each_with_its_owner(runner, client, session):
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    petr = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    make_contact(session, owner=anna, company="ООО «Вектор»", email="a1@vector.example")
    make_contact(session, owner=anna, company="ООО «Вектор»", email="a2@vector.example")
    # Two owners of one company: what the book could hold before the check knew legal forms.
    make_contact(
        session,
        owner=petr,
        company="Вектор (Vector)",
        email="p1@vector.example",
        first_name="Пётр",
        last_name="Векторов",
        is_same_company_ok=True,
    )
    session.commit()

    result = runner.invoke(args=["mailer", "contacts", "check", "--company", "Вектор"])
    lines = result.output.splitlines()
    assert lines[0] == "2 candidates, owned by Анна Смирнова, Пётр Петров:"
    assert lines[1].startswith(
        "company matches 'ООО «Вектор»', owned by Анна Смирнова <anna@gifts.example>: 2 contacts"
    )
    assert "a1@vector.example" in lines[1] and "a2@vector.example" in lines[1]
    assert lines[2] == (
        "company matches 'Вектор (Vector)', owned by Пётр Петров <petr@gifts.example>:"
        " 1 contact (Векторов Пётр <p1@vector.example>)"
    )

    sign_in_marketing(client, session)
    page = client.get("/check", query_string={"q": "Вектор"}).get_data(as_text=True)
    assert "Найдено 2 совпадения у 2 владельцев: Анна Смирнова, Пётр Петров" in page
    assert page.count('<td class="owner">') == 2


def test_a_company_the_importing_owner_also_holds_is_theirs(session, tmp_path):
    """Анна holds `Toyota`, Пётр `Тойота`: a new person of `Тойота (Toyota)` or `Тойота` is
    Пётр's client too, not a row refused as Анна's; a third manager is refused naming both."""
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    petr = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    make_contact(session, owner=anna, company="Toyota")
    make_contact(session, owner=anna, company="Тойота")
    make_contact(session, owner=petr, company="Тойота", is_same_company_ok=True)
    session.commit()
    rows = [["Email", "Компания"], ["new1@toyota.example", "Тойота (Toyota)"]]
    rows.append(["new2@toyota.example", "Тойота"])

    report = import_contacts(session, write_csv(tmp_path / "petr.csv", rows), default_owner=petr)
    assert (report.inserted, report.rejected) == (2, 0)
    assert make_contact(session, owner=petr, company="ООО «Тойота (Toyota)»").id

    rows = [["Email", "Компания"], ["new3@toyota.example", "Тойота"]]
    report = import_contacts(session, write_csv(tmp_path / "boris.csv", rows), default_owner=boris)
    assert report.rejected == 1
    reason = read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")[1][-1]
    assert reason.startswith(
        "компания у другого менеджера: 'Тойота' — уже у менеджеров Анна Смирнова, Пётр Петров"
    )


def test_checking_a_bare_legal_form_asks_for_the_name(runner, client, session, anna_owns):
    result = runner.invoke(args=["mailer", "contacts", "check", "--company", "«ООО»"])
    assert result.exit_code == 1
    assert result.output == "Error: company '«ООО»' is only a legal form: give its name\n"
    sign_in_marketing(client, session)
    page = client.get("/check", query_string={"q": "ООО"}).get_data(as_text=True)
    assert "only a legal form" in page and "можно добавлять" not in page
