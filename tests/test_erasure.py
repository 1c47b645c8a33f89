"""Erase on request: personal fields gone, an anonymous trace kept, and the address can
never come back through the book or an import."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mailer.contacts.importing import import_contacts
from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.delivery.models import Letter, LetterStatus
from mailer.privacy.models import ErasedAddress
from mailer.privacy.suppression import address_hash
from tests.desk import post, sign_in
from tests.desk_data import two_desks
from tracking.models import Reminder, Task


@pytest.fixture
def desks(session):
    return two_desks(session)


@pytest.fixture
def marketing(app, desks):
    client = app.test_client()
    sign_in(client, "marketing@gifts.example")
    return client


def _erase(client, contact_id, confirm="1"):
    return post(client, f"/contacts/{contact_id}/erase", {"confirm": confirm}, token_from="/hot")


def test_erasing_blanks_the_person_and_keeps_an_anonymous_trace(desks, marketing, session):
    petr, _ = desks
    contact_id, email = petr.contact.id, petr.contact.email
    letter = Letter(
        **{
            c: getattr(session.scalar(select(Letter)), c)
            for c in ("campaign_id", "tag_id", "kind", "planned_at", "due_at", "expires_at")
        },
        contact_id=contact_id,
        year=2099,
    )
    session.add(letter)
    session.commit()
    assert _erase(marketing, contact_id).status_code == 302
    session.expire_all()
    contact = session.get(Contact, contact_id)
    assert contact.email == f"erased-{contact_id}@erased.invalid"
    assert (contact.first_name, contact.last_name, contact.company_name, contact.phone) == (
        "",
        "",
        "",
        None,
    )
    assert contact.tags == [] and not contact.has_consent and contact.unsubscribed_at
    history = session.scalars(select(HistoryEntry).where(HistoryEntry.contact_id == contact_id))
    bodies = {(e.kind, e.body) for e in history}
    assert (HistoryKind.NOTE, "") in bodies  # the note is still there, without its text
    assert (HistoryKind.UNSUBSCRIBE, "Персональные данные удалены по запросу.") in bodies
    assert session.get(Letter, letter.id).status is LetterStatus.CANCELLED
    assert session.get(Reminder, petr.reminder.id).text == ""
    assert session.get(Task, petr.task.id) is not None  # the hot click's trace stays
    assert session.scalar(select(func.count()).select_from(ErasedAddress)) == 1
    assert session.get(ErasedAddress, address_hash(email)) is not None
    assert email not in str(session.scalars(select(ErasedAddress.address_hash)).all())


def test_an_erased_address_cannot_be_added_or_imported_again(
    desks, marketing, runner, session, tmp_path
):
    petr, _ = desks
    email = petr.quiet.email
    _erase(marketing, petr.quiet.id)
    added = runner.invoke(
        args=[
            "mailer",
            "contacts",
            "add",
            "--email",
            email.upper(),
            "--owner",
            "petr@gifts.example",
        ]
    )
    assert added.exit_code == 1 and "удалён по просьбе человека" in added.output
    page = post(
        marketing,
        "/contacts/new",
        {"email": email, "owner": str(petr.quiet.owner_id)},
        token_from="/contacts/new",
    )
    assert page.status_code == 400 and "удалён по просьбе человека" in page.get_data(as_text=True)
    path = tmp_path / "again.csv"
    path.write_text(f"Email;Имя\n{email};Снова\nnew@new.example;Новый\n", encoding="utf-8")
    report = import_contacts(session, path, default_owner=petr.contact.owner)
    assert (report.rows_read, report.accepted, report.rejected) == (2, 1, 1)
    assert "удалён по просьбе человека" in (tmp_path / "again.rejects.csv").read_text(
        encoding="utf-8"
    )
    assert session.scalar(select(Contact).where(Contact.email == email)) is None


def test_only_marketing_erases_and_only_when_confirmed(app, desks, marketing, session):
    petr, _ = desks
    as_petr = app.test_client()
    sign_in(as_petr, "petr@gifts.example")
    assert _erase(as_petr, petr.contact.id).status_code == 404
    assert "Удалить данные" not in as_petr.get(f"/contacts/{petr.contact.id}").get_data(
        as_text=True
    )
    _erase(marketing, petr.contact.id, confirm="")
    session.expire_all()
    assert session.get(Contact, petr.contact.id).email == petr.contact.email
