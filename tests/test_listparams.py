"""A whole list bound as one parameter: the same rows as an IN list, on both databases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact
from mailer.storage.listparams import in_list_param
from tests.factories import make_contact, make_manager


def _add(session: Session, *first_names: str) -> list[int]:
    owner = make_manager(session)
    ids = [make_contact(session, first_name=name, owner=owner).id for name in first_names]
    session.flush()
    return ids


def _named(session: Session, keys: list[str]) -> list[str]:
    stmt = select(Contact.first_name).where(in_list_param(Contact.first_name))
    return sorted(session.scalars(stmt, {"keys": keys}))


def test_it_finds_the_rows_whose_column_is_in_the_list(session):
    _add(session, "Анна", "Борис", "Вера")

    assert _named(session, ["Борис", "Вера", "Никто"]) == ["Борис", "Вера"]


def test_it_takes_quotes_and_brackets_in_a_key_as_plain_text(session):
    _add(session, "O'Neil", 'Ан"на', "Plain")

    assert _named(session, ["O'Neil", 'Ан"на', '"], ["Plain']) == ["O'Neil", 'Ан"на']


def test_an_empty_list_matches_nothing(session):
    _add(session, "Анна")

    assert _named(session, []) == []


def test_it_matches_integer_columns_too(session):
    ids = _add(session, "Анна", "Борис", "Вера")
    stmt = select(Contact.id).where(in_list_param(Contact.id, "ids")).order_by(Contact.id)

    assert list(session.scalars(stmt, {"ids": [ids[0], ids[2], 10**9]})) == [ids[0], ids[2]]


def test_the_statement_has_one_parameter_however_many_keys(session):
    stmt = select(Contact.id).where(in_list_param(Contact.email))
    compiled = stmt.compile(dialect=session.get_bind().dialect)

    assert list(compiled.params) == ["keys"]
