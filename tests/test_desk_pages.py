"""The desk's pages do what they say: add with the ownership check, edit, note, fix the
name, reminders on the morning page, closing a hot click, forgotten contacts; bad input
is a Russian sentence and changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.contacts.preferred_names import preferred_name
from mailer.db import utcnow
from mailer.delivery.models import Letter
from tests.desk import post, sign_in
from tests.desk_data import two_desks
from tracking.models import Reminder, Task, TaskOutcome, TaskStatus


@pytest.fixture
def desks(session):
    return two_desks(session)


@pytest.fixture
def as_petr(app, desks):
    client = app.test_client()
    sign_in(client, "petr@gifts.example")
    return client


def _contacts(session) -> int:
    return session.scalar(select(func.count()).select_from(Contact))


def test_adding_a_contact_of_a_company_another_manager_owns_is_refused_with_the_owner(
    desks, as_petr, session
):
    before = _contacts(session)
    response = post(
        as_petr,
        "/contacts/new",
        {"email": "new@romashka.example", "company": "ромашка", "first_name": "Олег"},
        token_from="/contacts/new",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Такой контакт уже есть в базе" in page and "Анна Смирнова" in page
    assert "контакт другого менеджера" in page  # the owner is named; the person is not shown
    assert desks[1].contact.email not in page
    assert _contacts(session) == before
    added = post(
        as_petr,
        "/contacts/new",
        {
            "email": "new@new.example",
            "company": "Новая (New)",
            "first_name": "Олег",
            "tags": "строители",
            "consent": "устно",
        },
        token_from="/contacts/new",
    )
    assert added.status_code == 302
    contact = session.scalar(select(Contact).where(Contact.email == "new@new.example"))
    assert contact.owner.email == "petr@gifts.example" and contact.has_consent
    assert [t.code for t in contact.tags] == ["construction"]


def test_bad_input_is_one_russian_sentence_and_nothing_changes(desks, as_petr, session):
    petr, _ = desks
    before = _contacts(session)
    response = post(as_petr, "/contacts/new", {"email": "ivan@@x"}, token_from="/contacts/new")
    assert response.status_code == 400
    assert "Неверный e-mail" in response.get_data(as_text=True)
    assert _contacts(session) == before
    edit = post(
        as_petr,
        f"/contacts/{petr.contact.id}/edit",
        {"first_name": "Иван", "phone": "12", "company": "Тойота (Toyota)"},
        token_from="/hot",
    )
    assert edit.status_code == 400 and "Неверный телефон" in edit.get_data(as_text=True)
    session.expire_all()
    assert session.get(Contact, petr.contact.id).phone == petr.contact.phone
    note = post(
        as_petr,
        f"/contacts/{petr.contact.id}/notes",
        {"kind": "call", "body": " "},
        token_from="/hot",
    )
    assert note.status_code == 302
    assert "Напишите текст заметки" in as_petr.get(note.headers["Location"]).get_data(as_text=True)


def test_editing_sets_the_preferred_name_the_card_and_letters_greet_with(desks, as_petr, session):
    petr, _ = desks
    response = post(
        as_petr,
        f"/contacts/{petr.contact.id}/edit",
        {
            "first_name": "Александра",
            "last_name": "Клиентова",
            "middle_name": "",
            "company": "Тойота (Toyota)",
            "position": "Директор",
            "phone": "+7 916 111-22-33",
            "preferred_name": "Саша",
        },
        token_from="/hot",
    )
    assert response.status_code == 302
    assert preferred_name(session, petr.contact.id) == "Саша"
    card = as_petr.get(f"/contacts/{petr.contact.id}").get_data(as_text=True)
    assert "Здравствуйте, Саша!" in card


def test_a_sent_letter_in_the_history_links_to_the_letter(desks, as_petr, session):
    contact = desks[0].contact
    letter = session.scalars(select(Letter).where(Letter.contact_id == contact.id)).first()
    session.add(
        HistoryEntry(
            contact_id=contact.id, kind=HistoryKind.SENT, body="«Подарки»", letter_id=letter.id
        )
    )
    session.commit()
    page = as_petr.get(f"/contacts/{contact.id}").get_data(as_text=True)
    history = page[page.index('<ol id="history"') :]
    assert f'href="/contacts/{contact.id}/letters/{letter.id}">«Подарки»</a>' in history


def test_a_note_goes_into_the_history_with_its_author(desks, as_petr, session):
    petr, _ = desks
    post(
        as_petr,
        f"/contacts/{petr.contact.id}/notes",
        {"kind": "call", "body": "Ждёт КП"},
        token_from="/hot",
    )
    entry = session.scalar(
        select(HistoryEntry).where(
            HistoryEntry.contact_id == petr.contact.id, HistoryEntry.kind == HistoryKind.CALL
        )
    )
    assert entry.body == "Ждёт КП" and entry.author.email == "petr@gifts.example"
    card = as_petr.get(f"/contacts/{petr.contact.id}").get_data(as_text=True)
    assert "Звонок" in card and "Ждёт КП" in card


def test_contact_data_is_escaped_everywhere(desks, as_petr, session):
    petr, _ = desks
    petr.contact.first_name = "<script>alert(1)</script>"
    session.commit()
    for path in ("/hot", "/contacts", f"/contacts/{petr.contact.id}"):
        page = as_petr.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in page and "&lt;script&gt;" in page, path


def test_a_reminder_set_on_the_card_leads_the_morning_page_when_due(desks, as_petr, session):
    petr, _ = desks
    today = utcnow().date()
    response = post(
        as_petr,
        f"/hot/contacts/{petr.quiet.id}/remind",
        {"due": today.isoformat(), "text": "Перезвонить через 2 дня"},
        token_from="/hot",
    )
    assert response.status_code == 302
    page = as_petr.get("/hot").get_data(as_text=True)
    due = page[page.index('id="due-list"') : page.index("Кто кликнул")]
    assert "Перезвонить через 2 дня" in due and "Перезвонить Пётр Петров" in due
    past = post(
        as_petr,
        f"/hot/contacts/{petr.quiet.id}/remind",
        {"due": (today - timedelta(days=1)).isoformat(), "text": "вчера"},
        token_from="/hot",
    )
    assert "уже прошла" in as_petr.get(past.headers["Location"]).get_data(as_text=True)
    reminder = session.scalar(select(Reminder).where(Reminder.text == "Перезвонить через 2 дня"))
    post(as_petr, f"/hot/reminders/{reminder.id}/done", token_from="/hot")
    session.expire_all()
    assert session.get(Reminder, reminder.id).status is TaskStatus.DONE


def test_the_cli_sets_a_reminder_for_the_contacts_owner(runner, desks, session):
    petr, _ = desks
    due = (date.today() + timedelta(days=2)).isoformat()
    result = runner.invoke(
        args=["mailer", "tasks", "add", "--contact", petr.quiet.email, "--due", due, "перезвонить"]
    )
    assert result.exit_code == 0, result.output
    assert f"for petr@gifts.example on {due}" in result.output
    bad = runner.invoke(
        args=["mailer", "tasks", "add", "--contact", "nobody@x.example", "--due", due, "x"]
    )
    assert bad.exit_code == 1 and "Traceback" not in bad.output


def test_taking_a_hot_click_closes_the_task_and_says_so_in_the_history(desks, as_petr, session):
    petr, _ = desks
    response = post(
        as_petr,
        f"/hot/tasks/{petr.task.id}/close",
        {"outcome": "not-interested", "note": "нет"},
        token_from="/hot",
    )
    assert response.status_code == 302
    session.expire_all()
    task = session.get(Task, petr.task.id)
    assert task.outcome is TaskOutcome.NOT_INTERESTED and task.note == "нет"
    again = post(
        as_petr, f"/hot/tasks/{petr.task.id}/close", {"outcome": "taken"}, token_from="/hot"
    )
    assert "Задача уже закрыта" in as_petr.get(again.headers["Location"]).get_data(as_text=True)
    history = session.scalars(
        select(HistoryEntry.body).where(HistoryEntry.kind == HistoryKind.TASK)
    ).all()
    assert history == ["Задача по клику «скидка» (mar8) закрыта: не интересно. нет"]
    assert (
        as_petr.get(f"/tasks/{petr.task.id}")
        .headers["Location"]
        .endswith(f"/hot#task-{petr.task.id}")
    )


def test_forgotten_contacts_are_the_managers_own_and_marketing_can_transfer_them(
    app, desks, as_petr
):
    petr, anna = desks
    page = as_petr.get("/contacts/abandoned?days=0").get_data(as_text=True)
    assert "Тихая Пётр Петров" in page and "Передать</button>" not in page
    marketing = app.test_client()
    sign_in(marketing, "marketing@gifts.example")
    page = marketing.get("/contacts/abandoned?days=0").get_data(as_text=True)
    assert "Тихая Пётр Петров" in page and "Тихая Анна Смирнова" in page
    assert "Передать</button>" in page
    assert "Тихая" not in marketing.get("/contacts/abandoned?days=90").get_data(as_text=True)


def test_search_pages_on_by_keyset_and_filters_by_tag_and_owner(app, desks, session):
    petr, anna = desks
    marketing = app.test_client()
    sign_in(marketing, "marketing@gifts.example")
    assert anna.contact.email not in marketing.get(
        f"/contacts?owner={petr.contact.owner_id}"
    ).get_data(as_text=True)
    tagged = marketing.get("/contacts?tag=mar8").get_data(as_text=True)
    assert petr.contact.email in tagged and petr.quiet.email not in tagged
    by_phone = marketing.get("/contacts?q=444-55").get_data(as_text=True)
    assert anna.contact.email in by_phone and petr.contact.email not in by_phone
    first = marketing.get("/contacts?q=example").get_data(as_text=True)
    assert 'id="next"' not in first  # four contacts fit one page
