"""Checking before adding: who already owns a contact, by e-mail, phone or company."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mailer.contacts.book import DuplicateContactError, clean_fields, find_existing
from mailer.contacts.models import Contact
from tests.factories import make_contact, make_manager


def test_it_finds_a_company_by_either_spelling_ignoring_case_and_yo(session):
    owner = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    make_contact(session, owner=owner, company="Ёлочка (Yolochka)")
    for query in ("ёлочка", "ЕЛОЧКА", "yolochka", "Елочка (YOLOCHKA)"):
        matches = find_existing(session, company=query)
        assert [m.matched_by for m in matches] == ["company"], query
        assert matches[0].owner.name == "Пётр Петров"


def test_it_finds_a_contact_by_phone_in_any_format(session):
    contact = make_contact(session, phone="8 (916) 123-45-67")
    assert [m.contact for m in find_existing(session, phone="+7 916 1234567")] == [contact]


def test_it_finds_a_contact_by_email_whatever_its_case(session):
    contact = make_contact(session, email="Ivan@Toyota.Example")
    assert find_existing(session, email="IVAN@toyota.example")[0].contact == contact


def test_it_refuses_to_add_an_existing_contact_naming_its_owner(session):
    owner = make_manager(session, name="Анна Смирнова")
    make_contact(session, owner=owner, email="ivan@toyota.example", company="Тойота (Toyota)")
    with pytest.raises(DuplicateContactError, match="Анна Смирнова"):
        make_contact(session, email="boss@toyota.example", company="Toyota")


def test_a_match_held_by_the_same_owner_is_another_person_of_their_client(session):
    owner = make_manager(session, name="Анна Смирнова")
    make_contact(session, owner=owner, company="Тойота (Toyota)", phone="+7 916 123-45-67")
    assert make_contact(session, owner=owner, company="Toyota").id
    assert make_contact(session, owner=owner, phone="89161234567").id


def test_a_different_person_of_the_same_company_can_be_added_explicitly(session):
    make_contact(session, company="Тойота (Toyota)")
    other = make_contact(session, company="тойота", is_same_company_ok=True)
    assert other.id


def test_the_same_email_is_never_added_twice_even_explicitly(session):
    make_contact(session, email="ivan@toyota.example")
    with pytest.raises(DuplicateContactError, match="email matches"):
        make_contact(session, email="IVAN@toyota.example", is_same_company_ok=True)


def test_the_database_keeps_emails_unique(session):
    owner = make_manager(session)
    fields = clean_fields(email="x@y.example")
    session.add(Contact(**fields.columns(), owner=owner))
    session.add(Contact(**fields.columns(), owner=owner))
    with pytest.raises(IntegrityError):
        session.flush()


def test_a_contact_keeps_its_company_as_name_plus_alias(session):
    contact = make_contact(session, company="ГК Рики (Смешарики)")
    stored = session.scalar(select(Contact).where(Contact.id == contact.id))
    assert (stored.company_name, stored.company_alias) == ("ГК Рики", "Смешарики")
    assert stored.company_display == "ГК Рики (Смешарики)"


def test_check_says_who_owns_it_and_exits_1(runner, session):
    owner = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    make_contact(session, owner=owner, company="Тойота (Toyota)", phone="+74951234567")
    session.commit()
    result = runner.invoke(args=["mailer", "contacts", "check", "--company", "toyota"])
    assert result.exit_code == 1
    assert "Пётр Петров <petr@gifts.example>" in result.output
    result = runner.invoke(args=["mailer", "contacts", "check", "--phone", "84951234567"])
    assert "phone matches" in result.output


def test_check_says_when_nobody_owns_it(runner):
    result = runner.invoke(args=["mailer", "contacts", "check", "--email", "new@x.example"])
    assert result.exit_code == 0
    assert "not in the contact book" in result.output


def test_add_via_cli_is_refused_for_a_known_company_unless_same_company(runner, session):
    make_manager(session, name="Анна", email="anna@gifts.example")
    make_contact(session, company="Тойота (Toyota)")
    session.commit()
    args = [
        "mailer",
        "contacts",
        "add",
        "--email",
        "new@toyota.example",
        "--owner",
        "anna@gifts.example",
        "--company",
        "Toyota",
        "--tags",
        "строители, 8",
    ]
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and "company matches" in result.output
    result = runner.invoke(args=[*args, "--same-company"])
    assert result.exit_code == 0, result.output
    contact = session.scalar(select(Contact).where(Contact.email == "new@toyota.example"))
    assert [t.code for t in contact.tags] == ["construction", "mar8"]


def test_add_via_cli_refuses_a_look_alike_email_naming_the_letter(runner, session):
    make_manager(session, name="Анна", email="anna@gifts.example")
    session.commit()
    args = ["mailer", "contacts", "add", "--owner", "anna@gifts.example", "--email"]
    result = runner.invoke(args=[*args, "v\u0430sya@example.com"])
    assert result.exit_code != 0
    assert "до @ есть кириллическая буква (\u0430?)" in result.output
    assert session.scalar(select(Contact)) is None
    result = runner.invoke(args=[*args, "ivan@почта.рф"])
    assert result.exit_code == 0, result.output
    assert session.scalar(select(Contact.email)) == "ivan@xn--80a1acny.xn--p1ai"
