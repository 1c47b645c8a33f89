"""Who sees what on the desks: manager A asking for B's objects by URL gets 404, and every
list, search and count holds only A's rows; marketing sees and edits everything."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailer.contacts.models import Contact, HistoryEntry
from tests.desk import post, sign_in
from tests.desk_data import two_desks
from tracking.models import Reminder, Task, TaskStatus


@pytest.fixture
def desks(session):
    return two_desks(session)


@pytest.fixture
def as_petr(app, desks):
    client = app.test_client()
    assert sign_in(client, "petr@gifts.example").status_code == 302
    return client


def _ids_of(desk):
    return {
        "c": desk.contact.id,
        "q": desk.quiet.id,
        "t": desk.task.id,
        "r": desk.reminder.id,
        "l": desk.task.letter_id,
    }


GETS = [
    "/contacts/{c}",
    "/contacts/{c}/edit",
    "/contacts/{q}",
    "/contacts/{c}/letters/{l}",
    "/tasks/{t}",
]
POSTS = [
    ("/contacts/{c}/notes", {"kind": "note", "body": "чужое"}),
    ("/contacts/{c}/fix-name", {}),
    ("/contacts/{c}/transfer", {"to": "1", "reason": "x"}),
    ("/contacts/{c}/edit", {"first_name": "Взлом", "last_name": "", "middle_name": ""}),
    ("/hot/tasks/{t}/close", {"outcome": "taken", "note": "чужое"}),
    ("/hot/contacts/{c}/remind", {"due": "2099-01-01", "text": "чужое"}),
    ("/hot/reminders/{r}/done", {}),
]


def test_every_url_of_another_managers_objects_is_not_found(desks, as_petr, session):
    _petr, anna = desks
    ids = _ids_of(anna)
    for path in GETS:
        response = as_petr.get(path.format(**ids))
        assert response.status_code == 404, path
        assert "Страница не найдена" in response.get_data(as_text=True)
    for path, data in POSTS:
        response = post(as_petr, path.format(**ids), data, token_from="/hot")
        assert response.status_code == 404, path
    session.expire_all()
    assert session.get(Task, anna.task.id).status is TaskStatus.OPEN
    assert session.get(Reminder, anna.reminder.id).status is TaskStatus.OPEN
    assert session.get(Contact, anna.contact.id).first_name == "Иван"
    assert session.get(Contact, anna.contact.id).owner.email == "anna@gifts.example"
    bodies = session.scalars(
        select(HistoryEntry.body).where(HistoryEntry.contact_id == anna.contact.id)
    )
    assert not any("чужое" in body for body in bodies)
    assert session.scalar(select(Reminder).where(Reminder.text == "чужое")) is None


def test_a_letter_is_found_only_under_its_own_contact(desks, as_petr):
    petr, anna = desks
    own = f"/contacts/{petr.contact.id}/letters/{petr.task.letter_id}"
    page = as_petr.get(own).get_data(as_text=True)
    assert "<th>Отправлено</th><td>20.02.2027 07:00 UTC</td>" in page and "mar8 2027" in page
    assert as_petr.get(f"/contacts/{petr.contact.id}").get_data(as_text=True).count(own) == 1
    # Another manager's letter under one's own contact id is not found either.
    assert (
        as_petr.get(f"/contacts/{petr.contact.id}/letters/{anna.task.letter_id}").status_code == 404
    )


def test_lists_searches_and_counts_hold_only_the_managers_own_rows(desks, as_petr):
    petr, anna = desks
    pages = {
        path: as_petr.get(path).get_data(as_text=True)
        for path in (
            "/contacts",
            "/contacts?q=Romashka",
            "/contacts?q=Клиент",
            f"/contacts?owner={anna.contact.owner_id}",
            "/contacts?tag=mar8",
            "/hot",
            "/contacts/abandoned?days=0",
        )
    }
    for path, page in pages.items():
        assert anna.contact.email not in page, path
        assert "Ромашка" not in page and "Анна" not in page, path
    assert petr.contact.email in pages["/contacts"]
    assert as_petr.get("/").headers["Location"] == "/hot"  # not the managers' counts
    assert "2 контакта" in pages["/contacts"]  # the count is of Пётр's contacts only
    assert "Ничего не найдено" in pages["/contacts?q=Romashka"]
    assert petr.contact.email in pages["/contacts?q=Клиент"]
    assert "Перезвонить Пётр Петров" in pages["/hot"]
    assert f'href="tel:{petr.contact.phone}"' in pages["/hot"]


def test_a_transfer_takes_effect_on_the_next_request(app, desks, session):
    petr, anna = desks
    marketing, as_anna = app.test_client(), app.test_client()
    sign_in(marketing, "marketing@gifts.example")
    sign_in(as_anna, "anna@gifts.example")
    assert as_anna.get(f"/contacts/{petr.quiet.id}").status_code == 404
    response = post(
        marketing,
        f"/contacts/{petr.quiet.id}/transfer",
        {"to": str(anna.contact.owner_id), "reason": "отпуск"},
        token_from="/hot",
    )
    assert response.status_code == 302
    assert as_anna.get(f"/contacts/{petr.quiet.id}").status_code == 200
    page = as_anna.get(f"/contacts/{petr.quiet.id}").get_data(as_text=True)
    assert "Пётр Петров → Анна Смирнова" in page and "отпуск" in page


def test_marketing_sees_every_managers_tasks_with_verdicts_and_reasons(app, desks):
    marketing = app.test_client()
    sign_in(marketing, "marketing@gifts.example")
    page = marketing.get("/hot").get_data(as_text=True)
    assert "Задачи всех менеджеров" in page
    assert "Тойота (Toyota)" in page and "Ромашка (Romashka)" in page
    assert "Последние клики и вердикты" in page
    contacts = marketing.get("/contacts").get_data(as_text=True)
    assert "4 контакта" in contacts


def test_a_manager_cannot_transfer_even_its_own_contact(desks, as_petr):
    petr, anna = desks
    response = post(
        as_petr,
        f"/contacts/{petr.contact.id}/transfer",
        {"to": str(anna.contact.owner_id)},
        token_from="/hot",
    )
    assert response.status_code == 404
