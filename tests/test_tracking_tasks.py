"""Hot-click tasks as managers read and close them, and the clicks behind them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from campaigns.models import Campaign
from mailer.contacts.models import HistoryEntry, HistoryKind
from mailer.delivery.models import Letter
from mailer.tags.models import Tag
from tests.factories import make_contact, make_manager
from tracking.models import CampaignLink, Click, Task, TaskOutcome, TaskStatus
from tracking.tasks import SHARED_QUEUE, WarmClick, close_task, list_clicks, list_tasks

SENT = datetime(2027, 2, 20, 7, 0, tzinfo=UTC)
NOW = datetime(2027, 2, 21, 9, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
_keys = itertools.count(1)


def campaign(session, code: str = "mar8") -> Campaign:
    return session.scalar(select(Campaign).join(Tag).where(Tag.code == code))


def letter_to(session, contact, code: str = "mar8") -> Letter:
    """A letter of the campaign, sent to the contact at SENT."""
    found = campaign(session, code)
    letter = Letter(
        contact_id=contact.id,
        campaign_id=found.id,
        tag_id=found.tag_id,
        kind=found.letter_kind,
        year=2027,
        planned_at=SENT,
        due_at=SENT,
        expires_at=SENT + timedelta(days=30),
        sent_at=SENT,
    )
    session.add(letter)
    session.flush()
    return letter


def link_of(session, letter: Letter, label: str) -> CampaignLink:
    return session.scalar(
        select(CampaignLink).where(
            CampaignLink.campaign_id == letter.campaign_id, CampaignLink.label == label
        )
    )


def click_on(
    session,
    letter: Letter,
    label: str,
    *,
    minutes: float,
    verdict: str = "human",
    reasons: str = "person",
    user_agent: str = BROWSER,
) -> Click:
    """A recorded click on the letter's link `minutes` after it was sent."""
    link = link_of(session, letter, label)
    click = Click(
        journal_key=f"test:{next(_keys)}",
        letter_id=letter.id,
        link_id=link.id,
        contact_id=letter.contact_id,
        campaign_id=letter.campaign_id,
        role=link.role,
        clicked_at=SENT + timedelta(minutes=minutes),
        method="GET",
        ip="198.51.100.7",
        user_agent=user_agent,
        verdict=verdict,
        reasons=reasons,
    )
    session.add(click)
    session.flush()
    return click


def task_for(session, click: Click, manager_id: int | None) -> Task:
    """The task a person's offer click opens."""
    task = Task(
        contact_id=click.contact_id,
        campaign_id=click.campaign_id,
        letter_id=click.letter_id,
        click_id=click.id,
        link_id=click.link_id,
        manager_id=manager_id,
        clicked_at=click.clicked_at,
    )
    session.add(task)
    session.flush()
    return task


def hot_contact(session, owner, *, minutes: float, code: str = "mar8", **contact) -> Task:
    """A contact of the owner who clicked the offer of their letter: the owner's task."""
    letter = letter_to(session, make_contact(session, owner=owner, **contact), code)
    return task_for(session, click_on(session, letter, "скидка", minutes=minutes), owner.id)


def test_it_lists_tasks_newest_click_first_with_what_the_manager_needs_to_call(session):
    owner = make_manager(session, name="Пётр Петров")
    older = hot_contact(session, owner, minutes=30)
    newer = hot_contact(
        session, owner, minutes=90, code="feb23", first_name="Василий", last_name="Кондрашов",
        company="Тойота (Toyota)", phone="8 (916) 123-45-67", email="v.k@toyota.example",
    )  # fmt: skip

    rows = list_tasks(session)

    assert [row.id for row in rows] == [newer.id, older.id]
    row = rows[0]
    assert (row.contact_name, row.contact_email) == ("Кондрашов Василий", "v.k@toyota.example")
    assert (row.company, row.phone) == ("Тойота (Toyota)", "+79161234567")
    assert (row.manager_id, row.manager_name) == (owner.id, "Пётр Петров")
    assert (row.campaign_tag, row.offer_label) == ("feb23", "скидка")
    assert row.occasion == campaign(session, "feb23").occasion_name
    assert (row.status, row.outcome, row.clicked_at) == ("open", None, SENT + timedelta(minutes=90))


def test_a_managers_list_holds_only_that_managers_tasks(session):
    anna, boris = make_manager(session), make_manager(session)
    annas = [hot_contact(session, anna, minutes=m) for m in (10, 20)]
    boriss = hot_contact(session, boris, minutes=30)
    letter = letter_to(session, make_contact(session, owner=boris))
    shared = task_for(session, click_on(session, letter, "скидка", minutes=40), None)

    assert [row.id for row in list_tasks(session, manager_id=anna.id)] == [
        annas[1].id,
        annas[0].id,
    ]
    assert [row.id for row in list_tasks(session, manager_id=boris.id)] == [boriss.id]
    everyone = {row.id: row.manager_name for row in list_tasks(session)}
    assert everyone[shared.id] == SHARED_QUEUE
    assert len(everyone) == 4


def test_it_shows_the_catalogue_clicks_the_person_made_in_that_letter_before_the_offer(session):
    owner = make_manager(session)
    letter = letter_to(session, make_contact(session, owner=owner))
    click_on(session, letter, "каталог", minutes=5)
    click_on(session, letter, "каталог", minutes=6, verdict="bot", reasons="burst")
    click_on(session, letter, "каталог", minutes=7, verdict="forwarded")
    offer = click_on(session, letter, "скидка", minutes=10)
    click_on(session, letter, "каталог", minutes=15)  # after the offer: not what led to it
    task = task_for(session, offer, owner.id)
    other = hot_contact(session, owner, minutes=20)  # another letter: its own warm clicks

    warm = {row.id: row.warm for row in list_tasks(session)}

    assert warm[task.id] == (WarmClick("каталог", SENT + timedelta(minutes=5)),)
    assert warm[other.id] == ()


def test_it_lists_only_open_tasks_when_asked(session):
    owner = make_manager(session)
    done, still_open = (hot_contact(session, owner, minutes=m) for m in (10, 20))
    close_task(session, done.id, outcome=TaskOutcome.TAKEN, now=NOW)

    assert [row.id for row in list_tasks(session, only_open=True)] == [still_open.id]
    [closed] = [row for row in list_tasks(session) if row.id == done.id]
    assert (closed.status, closed.outcome, closed.closed_at) == ("done", "taken", NOW)


def test_a_longer_list_takes_no_more_queries(session):
    owner = make_manager(session)

    def queries_to_list() -> int:
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(session.get_bind(), "before_cursor_execute", count)
        try:
            list_tasks(session)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", count)
        return len(statements)

    hot_contact(session, owner, minutes=1)
    session.commit()
    one = queries_to_list()
    for minutes in range(2, 12):
        task = hot_contact(session, owner, minutes=minutes)
        click_on(session, session.get(Letter, task.letter_id), "каталог", minutes=0.5)
    session.commit()
    session.expire_all()

    assert queries_to_list() == one <= 2


def test_closing_a_task_says_so_in_the_contacts_history_and_a_second_close_is_refused(session):
    owner = make_manager(session)
    task = hot_contact(session, owner, minutes=10)

    closed = close_task(
        session, task.id, outcome=TaskOutcome.TAKEN, note=" Перезвонить в среду ", now=NOW,
        author_id=owner.id,
    )  # fmt: skip

    assert (closed.status, closed.outcome, closed.note, closed.closed_at) == (
        TaskStatus.DONE,
        TaskOutcome.TAKEN,
        "Перезвонить в среду",
        NOW,
    )
    [entry] = session.scalars(
        select(HistoryEntry).where(HistoryEntry.contact_id == task.contact_id)
    )
    assert (entry.kind, entry.author_id, entry.created_at) == (HistoryKind.TASK, owner.id, NOW)
    assert (
        entry.body == "Задача по клику «скидка» (mar8) закрыта: взял в работу. Перезвонить в среду"
    )
    with pytest.raises(ValueError, match=f"^task {task.id} is already closed$"):
        close_task(session, task.id, outcome=TaskOutcome.NOT_INTERESTED, now=NOW)
    assert session.get(Task, task.id).outcome == TaskOutcome.TAKEN


def test_a_task_closed_without_interest_says_so_without_a_note(session):
    task = hot_contact(session, make_manager(session), minutes=10)
    close_task(session, task.id, outcome=TaskOutcome.NOT_INTERESTED, now=NOW)

    body = session.scalar(select(HistoryEntry.body).where(HistoryEntry.kind == HistoryKind.TASK))
    assert body == "Задача по клику «скидка» (mar8) закрыта: не интересно."


def test_closing_an_unknown_task_is_a_lookup_error(session):
    with pytest.raises(LookupError, match="^no task 999$"):
        close_task(session, 999, outcome=TaskOutcome.TAKEN, now=NOW)


def test_the_cli_lists_a_managers_open_tasks_one_line_each(runner, session):
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    letter = letter_to(session, make_contact(session, owner=anna, company="Тойота (Toyota)"))
    click_on(session, letter, "каталог", minutes=5)
    mine = task_for(session, click_on(session, letter, "скидка", minutes=10), anna.id)
    closed = hot_contact(session, anna, minutes=20)
    close_task(session, closed.id, outcome=TaskOutcome.TAKEN, now=NOW)
    hot_contact(session, make_manager(session), minutes=30)  # someone else's
    session.commit()

    result = runner.invoke(args=["mailer", "tasks", "list", "--manager", "anna@gifts.example"])
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[:2] for line in result.output.splitlines()] == [
        [f"#{closed.id}", "done: taken"],
        [f"#{mine.id}", "open"],
    ]
    result = runner.invoke(
        args=["mailer", "tasks", "list", "--manager", "Anna@Gifts.example", "--open"]
    )
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    fields = line.split("\t")
    assert fields[0] == f"#{mine.id}"
    assert fields[2] == "2027-02-20 07:10"
    assert "Тойота (Toyota)" in fields
    assert "mar8 «скидка»" in fields
    assert "до этого: каталог 2027-02-20 07:05" in fields
    assert fields[-1] == "Анна Смирнова"


def test_the_cli_closes_a_task_once_and_then_refuses_in_one_line(runner, session):
    task = hot_contact(session, make_manager(session), minutes=10)
    session.commit()
    done = ["mailer", "tasks", "done", str(task.id), "--outcome", "not-interested"]

    result = runner.invoke(args=[*done, "--note", "бюджет уже потрачен"])
    assert (result.exit_code, result.output) == (0, f"task {task.id} closed: not-interested\n")
    again = runner.invoke(args=done)
    assert again.exit_code == 1
    assert again.output.splitlines() == [f"Error: task {task.id} is already closed"]
    session.expire_all()
    assert session.get(Task, task.id).note == "бюджет уже потрачен"
    body = session.scalar(select(HistoryEntry.body).where(HistoryEntry.kind == HistoryKind.TASK))
    assert body.endswith("закрыта: не интересно. бюджет уже потрачен")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["tasks", "list", "--manager", "nobody@gifts.example"],
         "Error: unknown manager 'nobody@gifts.example'"),
        (["tasks", "done", "999", "--outcome", "taken"], "Error: no task 999"),
    ],
)  # fmt: skip
def test_the_cli_names_an_unknown_manager_or_task_in_one_line(runner, args, line):
    result = runner.invoke(args=["mailer", *args])
    assert result.exit_code == 1
    assert result.output.splitlines() == [line]


def test_clicks_are_listed_newest_first_with_reasons_in_russian(runner, session):
    letter = letter_to(session, make_contact(session))
    person = click_on(session, letter, "каталог", minutes=5)
    scanner = click_on(
        session, letter, "скидка", minutes=0.1,
        verdict="bot", reasons="scanner_user_agent,too_soon",
        user_agent="Mozilla/5.0 (compatible; Barracuda Sentinel link protection scanner)",
    )  # fmt: skip
    elsewhere = click_on(session, letter_to(session, make_contact(session)), "скидка", minutes=9)
    session.commit()

    assert [row.id for row in list_clicks(session)] == [elsewhere.id, person.id, scanner.id]
    assert [row.id for row in list_clicks(session, letter_id=letter.id)] == [person.id, scanner.id]
    [bot] = list_clicks(session, verdict="bot")
    assert [reason.code for reason in bot.reasons] == ["scanner_user_agent", "too_soon"]
    assert bot.reasons[1].text.startswith("Переход через считанные секунды после отправки")
    with pytest.raises(ValueError, match="unknown verdict 'robot'"):
        list_clicks(session, verdict="robot")

    result = runner.invoke(args=["mailer", "clicks", "list", "--verdict", "bot"])
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    click_id, clicked_at, verdict, reasons, link, ip, agent = line.split("\t")
    assert (click_id, clicked_at, verdict) == (f"#{scanner.id}", "2027-02-20 07:00:06", "bot")
    assert reasons.startswith("Почтовый сканер, превью ссылок или HTTP-библиотека; Переход")
    assert (link, ip) == ("offer/скидка", "198.51.100.7")
    assert (agent, len(agent)) == ("Mozilla/5.0 (compatible; Barracuda Sent…", 40)
    humans = runner.invoke(args=["mailer", "clicks", "list", "--verdict", "human"]).output
    assert [line.split("\t")[0] for line in humans.splitlines()] == [
        f"#{elsewhere.id}",
        f"#{person.id}",
    ]
    assert runner.invoke(args=["mailer", "clicks", "list", "--verdict", "robot"]).exit_code == 2
