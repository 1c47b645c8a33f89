"""Transfers between owners, the house sender, notes and abandoned contacts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from mailer.contacts.models import HistoryKind
from mailer.contacts.notes import abandoned_contacts, add_note, contact_history
from mailer.contacts.transfers import TransferError, transfer_contacts
from mailer.db import utcnow
from mailer.managers.services import ManagerError, add_manager, find_house_sender
from tests.factories import make_contact, make_manager


def test_a_transfer_is_kept_in_history_with_who_from_to_and_when(session):
    old, new, boss = make_manager(session), make_manager(session), make_manager(session)
    contact = make_contact(session, owner=old)
    before = utcnow()
    assert transfer_contacts(session, [contact], new, by=boss, reason="отпуск") == 1
    assert contact.owner == new
    [entry] = contact_history(session, contact)
    assert entry.kind is HistoryKind.TRANSFER
    assert (entry.author, entry.from_manager, entry.to_manager) == (boss, old, new)
    assert entry.created_at >= before and entry.created_at.tzinfo is not None
    assert entry.body == "отпуск"


def test_a_contact_already_with_the_new_owner_is_not_transferred_again(session):
    owner = make_manager(session)
    contact = make_contact(session, owner=owner)
    assert transfer_contacts(session, [contact], owner) == 0
    assert contact_history(session, contact) == []


def test_contacts_cannot_go_to_an_inactive_manager(session):
    gone = make_manager(session)
    gone.is_active = False
    with pytest.raises(TransferError, match="not active"):
        transfer_contacts(session, [make_contact(session)], gone)


def test_there_is_only_one_house_sender(session):
    make_manager(session, is_house=True)
    with pytest.raises(ManagerError, match="house sender is already"):
        make_manager(session, is_house=True)


def test_the_database_refuses_a_second_house_sender(session):
    from mailer.managers.models import Manager

    make_manager(session, is_house=True)
    session.add(Manager(name="Второй дом", email="house2@x.example", is_house=True))
    with pytest.raises(IntegrityError):
        session.flush()


def test_a_manager_needs_a_real_time_zone_and_a_positive_cap(session):
    with pytest.raises(ManagerError, match="time zone"):
        add_manager(session, name="Я", email="me@x.example", timezone="Mars/Olympus")
    with pytest.raises(ManagerError, match="daily cap"):
        add_manager(session, name="Я", email="me@x.example", daily_cap=0)


def test_transfer_cli_moves_all_of_a_managers_contacts_to_the_house_sender(runner, session):
    leaver = make_manager(session, name="Уходящий", email="leaver@gifts.example")
    house = make_manager(session, name="Дом Подарков", email="house@gifts.example", is_house=True)
    keep = make_contact(session)
    moved = [make_contact(session, owner=leaver) for _ in range(3)]
    session.commit()
    result = runner.invoke(
        args=["mailer", "contacts", "transfer", "--from", "leaver@gifts.example", "--to", "house"]
    )
    assert result.exit_code == 0, result.output
    assert "transferred 3 of 3" in result.output
    session.expire_all()
    assert {c.owner_id for c in moved} == {house.id}
    assert keep.owner_id != house.id
    assert find_house_sender(session) == house


def test_transfer_cli_moves_a_filter_of_contacts_by_tag(runner, session):
    a, b = make_manager(session), make_manager(session, email="newcomer@gifts.example")
    builders = [make_contact(session, owner=a, tags="строители") for _ in range(2)]
    other = make_contact(session, owner=a, tags="медики")
    session.commit()
    result = runner.invoke(
        args=[
            "mailer",
            "contacts",
            "transfer",
            "--from",
            a.email,
            "--tag",
            "стройка",
            "--to",
            "newcomer@gifts.example",
        ]
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert [c.owner_id for c in builders] == [b.id, b.id]
    assert other.owner_id == a.id


def test_transfer_cli_refuses_an_unknown_contact(runner, session):
    make_manager(session, email="to@gifts.example")
    session.commit()
    result = runner.invoke(
        args=[
            "mailer",
            "contacts",
            "transfer",
            "--email",
            "nobody@x.example",
            "--to",
            "to@gifts.example",
        ]
    )
    assert result.exit_code != 0 and "no contact" in result.output


def test_notes_carry_author_kind_and_time(session):
    contact = make_contact(session)
    author = make_manager(session)
    add_note(session, contact, "Обсудили каталог", kind=HistoryKind.CALL, author=author)
    [entry] = contact_history(session, contact)
    assert (entry.kind, entry.author, entry.body) == (HistoryKind.CALL, author, "Обсудили каталог")


def test_abandoned_lists_contacts_without_a_note_for_n_days_oldest_first_per_owner(session):
    now = utcnow()
    anna = make_manager(session, name="Анна")
    boris = make_manager(session, name="Борис")
    fresh = make_contact(session, owner=anna)
    quiet = make_contact(session, owner=anna)
    quieter = make_contact(session, owner=anna)
    never = make_contact(session, owner=boris)
    never.created_at = now - timedelta(days=400)
    add_note(session, fresh, "звонил", at=now - timedelta(days=2))
    add_note(session, quiet, "встреча", kind=HistoryKind.MEETING, at=now - timedelta(days=40))
    add_note(session, quieter, "письмо", kind=HistoryKind.LETTER, at=now - timedelta(days=90))
    # A transfer is not a note: it does not make a contact worked.
    transfer_contacts(session, [quieter], anna)
    session.flush()
    rows = abandoned_contacts(session, 30, now=now)
    assert [r.contact for r in rows] == [quieter, quiet, never]
    assert rows[0].last_note_at == now - timedelta(days=90)
    assert rows[2].last_note_at is None


def test_abandoned_cli_prints_owners_and_contacts(runner, session):
    contact = make_contact(session, owner=make_manager(session, name="Анна"))
    contact.created_at = utcnow() - timedelta(days=100)
    session.commit()
    result = runner.invoke(args=["mailer", "contacts", "abandoned", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "Анна" in result.output and contact.email in result.output
    assert "1 contact without a note for 30 days" in result.output


def test_note_and_history_cli(runner, session):
    contact = make_contact(session)
    session.commit()
    result = runner.invoke(
        args=["mailer", "contacts", "note", contact.email, "Звонок", "--kind", "call"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["mailer", "contacts", "history", contact.email])
    assert "call" in result.output and "Звонок" in result.output
