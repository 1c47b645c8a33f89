"""Due and overdue reminders lead the morning digest, before the hot clicks."""

from __future__ import annotations

from datetime import date

from tests.factories import make_contact, make_manager
from tests.test_tracking_digest import HOUSE_EMAIL, make_task, parsed, part, run
from tracking.models import Reminder


def test_due_and_overdue_reminders_lead_the_digest_and_later_ones_wait(
    app,
    session,
    smtp_server,
):
    make_manager(session, name="Подарки для бизнеса", email=HOUSE_EMAIL, is_house=True)
    petr = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    contact = make_contact(
        session,
        owner=petr,
        first_name="Иван",
        last_name="Клиентов",
        company="Тойота (Toyota)",
        phone="+7 916 111-22-33",
    )
    for due, text in (
        (date(2026, 3, 6), "Прислать КП"),
        (date(2026, 3, 10), "Перезвонить"),
        (date(2026, 3, 11), "Позже"),
    ):
        session.add(Reminder(contact_id=contact.id, manager_id=petr.id, due_on=due, text=text))
    session.commit()
    make_task(session, contact)
    assert run(app, smtp_server).sent == 1
    [received] = smtp_server.accepted
    text = part(parsed(received.data), "plain")
    assert "Напоминания на сегодня: 2." in text
    assert "06.03.2026 (просрочено): Прислать КП — Клиентов Иван, Тойота (Toyota)" in text
    assert "10.03.2026: Перезвонить" in text and "Позже" not in text
    assert text.index("Напоминания") < text.index("Новые горячие клики")
    html = part(parsed(received.data), "html")
    assert "Прислать КП" in html and "Позже" not in html
