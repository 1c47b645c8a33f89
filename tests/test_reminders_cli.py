"""`mailer tasks list` shows reminders beside hot clicks; `tasks done R12` closes one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.contacts.models import HistoryEntry, HistoryKind
from mailer.db import utcnow
from tests.factories import make_contact, make_manager
from tests.test_tracking_digest import make_task
from tracking.models import Reminder, Task, TaskStatus


def remind(session, contact, days: int, text: str, **values) -> Reminder:
    due_on = utcnow().date() + timedelta(days=days)
    reminder = Reminder(
        contact_id=contact.id, manager_id=contact.owner_id, due_on=due_on, text=text, **values
    )
    session.add(reminder)
    session.commit()
    return reminder


def listed(runner, *args: str) -> list[list[str]]:
    result = runner.invoke(args=["mailer", "tasks", "list", *args])
    assert result.exit_code == 0, result.output
    return [line.split("\t") for line in result.output.splitlines()]


def test_due_and_overdue_reminders_lead_the_task_list_and_later_ones_follow(runner, session):
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    ivan = make_contact(session, owner=anna, first_name="Иван", company="Тойота (Toyota)")
    session.commit()
    task = make_task(session, ivan, created_at=utcnow() - timedelta(hours=1))
    later = remind(session, ivan, 3, "Прислать КП")
    today = remind(session, ivan, 0, "Перезвонить")
    overdue = remind(session, ivan, -2, "Уточнить бюджет")
    closed = remind(session, ivan, -5, "Старое", status=TaskStatus.DONE)
    remind(session, make_contact(session), -1, "Чужое")  # another manager's
    day = {r.id: f"{r.due_on:%Y-%m-%d}" for r in (later, today, overdue, closed)}

    lines = listed(runner, "--manager", "anna@gifts.example", "--open")

    assert [line[:3] for line in lines] == [
        [f"R{overdue.id}", "overdue", day[overdue.id]],
        [f"R{today.id}", "due", day[today.id]],
        [f"#{task.id}", "open", lines[2][2]],
        [f"R{later.id}", "open", day[later.id]],
    ]
    assert "Тойота (Toyota)" in lines[0] and ivan.email in lines[0]
    assert lines[0][7] == "Уточнить бюджет" and lines[0][-1] == "Анна Смирнова"
    every = listed(runner, "--manager", "anna@gifts.example")
    assert [line[:2] for line in every][-1] == [f"R{closed.id}", "done"]
    assert session.get(Task, task.id).status is TaskStatus.OPEN


def test_tasks_done_closes_a_reminder_by_its_r_number(runner, session):
    reminder = remind(session, make_contact(session), 0, "Перезвонить")
    done = ["mailer", "tasks", "done", f"R{reminder.id}"]

    result = runner.invoke(args=[*done, "--note", "Договорились на среду"])
    assert (result.exit_code, result.output) == (0, f"reminder R{reminder.id} closed\n")
    again = runner.invoke(args=done)
    assert again.exit_code == 1 and len(again.output.splitlines()) == 1

    session.expire_all()
    assert session.get(Reminder, reminder.id).status is TaskStatus.DONE
    body = session.scalar(select(HistoryEntry.body).where(HistoryEntry.kind == HistoryKind.TASK))
    assert body == "Напоминание «Перезвонить» выполнено. Договорились на среду"
    assert listed(runner, "--open") == [["no open tasks"]]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["R999"], "Error: no reminder 999"),
        (["R{id}", "--outcome", "taken"], "Error: a reminder closes without --outcome"),
        (["1"], "Error: a hot click closes with --outcome taken or not-interested"),
        (["X1", "--outcome", "taken"], "Error: 'X1': a hot click is 12 or #12, a reminder R12"),
        (["R", "--outcome", "taken"], "Error: 'R': a hot click is 12 or #12, a reminder R12"),
        (["#999", "--outcome", "taken"], "Error: no task 999"),
    ],
)
def test_tasks_done_says_in_one_line_what_it_could_not_close(runner, session, args, line):
    reminder = remind(session, make_contact(session), 0, "Перезвонить")
    args = [arg.format(id=reminder.id) for arg in args]

    result = runner.invoke(args=["mailer", "tasks", "done", *args])

    assert (result.exit_code, result.output.splitlines()) == (1, [line])
    session.expire_all()
    assert session.get(Reminder, reminder.id).status is TaskStatus.OPEN
