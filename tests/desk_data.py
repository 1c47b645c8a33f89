"""Two managers' desks side by side, for the authorization tests and the browser test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from mailer.contacts.models import Contact
from mailer.contacts.notes import add_note
from mailer.users.models import Role
from tests.desk import make_user
from tests.factories import make_contact, make_manager
from tests.test_tracking_tasks import click_on, letter_to, task_for
from tracking.models import Reminder, Task


@dataclass
class Desk:
    """One manager's objects: a contact with a hot click and a reminder, another contact."""

    email: str
    contact: Contact
    quiet: Contact
    task: Task
    reminder: Reminder


def make_desk(session: Session, *, name: str, email: str, company: str, phone: str) -> Desk:
    manager = make_manager(session, name=name, email=email)
    make_user(session, role=Role.MANAGER, manager=manager)
    contact = make_contact(
        session,
        owner=manager,
        company=company,
        phone=phone,
        first_name="Иван",
        last_name=f"Клиент{name.split()[0]}",
        tags="8",
    )
    add_note(session, contact, f"Обсудили каталог с {name}", author=manager)
    letter = letter_to(session, contact)
    click_on(session, letter, "каталог", minutes=3)
    task = task_for(session, click_on(session, letter, "скидка", minutes=5), manager.id)
    quiet = make_contact(session, owner=manager, company=f"Тихая {name}")
    reminder = Reminder(
        contact_id=contact.id,
        manager_id=manager.id,
        due_on=date(2020, 1, 1),
        text=f"Перезвонить {name}",
    )
    session.add(reminder)
    session.flush()
    return Desk(email, contact, quiet, task, reminder)


def two_desks(session: Session) -> tuple[Desk, Desk]:
    """Пётр (Тойота) and Анна (Ромашка), and a marketing account."""
    petr = make_desk(
        session,
        name="Пётр Петров",
        email="petr@gifts.example",
        company="Тойота (Toyota)",
        phone="+7 916 111-22-33",
    )
    anna = make_desk(
        session,
        name="Анна Смирнова",
        email="anna@gifts.example",
        company="Ромашка (Romashka)",
        phone="+7 916 444-55-66",
    )
    make_user(session, role=Role.MARKETING, email="marketing@gifts.example")
    session.commit()
    return petr, anna
