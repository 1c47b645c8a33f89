"""The calendar's per-day summary (letter_days) stays equal to a full recount through
every writer of letters: planning, re-planning, unsubscribe, erasure, transfers, contact
deletion, a manager's new time zone, and letters moved, cancelled or deleted by hand (as
the backlog re-pacing does). On SQLite, which keeps no summary, the calendar's figures
are checked against the per-letter count in Python the same way."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from campaigns.calendar import WorkCalendar
from campaigns.day_counts import LetterFilter, letters_per_day, owner_days
from campaigns.day_letters import day_letters
from campaigns.editing import CampaignEdit, update_campaign
from campaigns.letter_days import (
    counted_from_letters,
    counted_in_summary,
    has_summary,
    recount_letter_days,
)
from campaigns.manager_load import manager_load
from campaigns.models import LetterDay
from campaigns.planning import plan_year
from campaigns.reports import year_calendar
from mailer.contacts.models import Contact
from mailer.contacts.transfers import transfer_contacts
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.models import Manager
from mailer.privacy.erasure import erase_contact
from mailer.users.actor import Actor
from mailer.users.models import Role
from tests.factories import make_contact, make_manager
from tracking.unsubscribe import unsubscribe

JAN_1 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
CAL = WorkCalendar()
ZONES = ["Europe/Kaliningrad", "Europe/Moscow", "Asia/Yekaterinburg", "Asia/Vladivostok"]
TAGS = ["8", "23", "8, 23", "строители", "8, строители"]


def assert_calendar_is_exact(session: Session) -> None:
    """The summary equals a recount; the calendar's figures equal the per-letter count."""
    session.flush()
    by_letter = year_calendar(session, 2027).by_day  # every letter, converted in Python
    assert letters_per_day(session, LetterFilter(2027)) == by_letter
    per_owner: Counter[int] = Counter()
    for (owner, _day), n in owner_days(session, LetterFilter(2027)).items():
        per_owner[owner] += n
    assert sum(w.letters for w in manager_load(session, LetterFilter(2027), cal=CAL)) == sum(
        by_letter.values()
    )
    if has_summary(session):
        assert counted_in_summary(session) == counted_from_letters(session)
    else:
        assert session.scalar(select(LetterDay.year).limit(1)) is None


def book(session: Session, rng: random.Random) -> list[Manager]:
    managers = [make_manager(session, timezone=zone) for zone in ZONES]
    for _ in range(16):
        make_contact(session, owner=rng.choice(managers), tags=rng.choice(TAGS))
    plan_year(session, 2027, now=JAN_1, cal=CAL)
    session.flush()
    return managers


def some_contact(session: Session, rng: random.Random) -> Contact | None:
    ids = list(session.scalars(select(Contact.id).order_by(Contact.id)))
    return session.get(Contact, rng.choice(ids)) if ids else None


def some_letter(session: Session, rng: random.Random) -> Letter | None:
    ids = list(session.scalars(select(Letter.id).order_by(Letter.id)))
    return session.get(Letter, rng.choice(ids)) if ids else None


MARKETING = Actor(user_id=0, role=Role.MARKETING, manager_id=None)


def add_and_plan(session: Session, managers: list[Manager], rng: random.Random) -> None:
    make_contact(session, owner=rng.choice(managers), tags=rng.choice(TAGS))
    plan_year(session, 2027, now=JAN_1, cal=CAL)


def replan(session: Session, managers: list[Manager], rng: random.Random) -> None:
    tag = rng.choice(["mar8", "feb23"])
    edit = CampaignEdit(window_days=rng.randint(3, 15), days_before=rng.randint(2, 8))
    update_campaign(session, tag, edit, now=JAN_1, cal=CAL)


def unsubscribe_one(session: Session, managers: list[Manager], rng: random.Random) -> None:
    if contact := some_contact(session, rng):
        unsubscribe(session, contact.id, now=JAN_1, how="test")


def erase_one(session: Session, managers: list[Manager], rng: random.Random) -> None:
    contact = some_contact(session, rng)
    if contact and not contact.email.startswith("erased-"):
        erase_contact(session, MARKETING, contact.id, now=JAN_1)


def transfer(session: Session, managers: list[Manager], rng: random.Random) -> None:
    contacts = [c for c in [some_contact(session, rng), some_contact(session, rng)] if c]
    transfer_contacts(session, contacts, rng.choice(managers))


def delete_contacts(session: Session, managers: list[Manager], rng: random.Random) -> None:
    if contact := some_contact(session, rng):
        session.execute(delete(Contact).where(Contact.id == contact.id))
        session.expire_all()


def new_zone(session: Session, managers: list[Manager], rng: random.Random) -> None:
    manager = rng.choice(managers)  # across the country: letters change their local day
    manager.timezone = ZONES[0] if manager.timezone == ZONES[-1] else ZONES[-1]


def move_letter(
    session: Session, managers: list[Manager], rng: random.Random
) -> None:  # what backlog re-pacing does
    if letter := some_letter(session, rng):
        letter.planned_at += timedelta(hours=rng.choice([-30, -7, 5, 26, 24 * 9]))


def cancel_or_revive(session: Session, managers: list[Manager], rng: random.Random) -> None:
    if letter := some_letter(session, rng):
        cancelled = letter.status is LetterStatus.CANCELLED
        letter.status = LetterStatus.PLANNED if cancelled else LetterStatus.CANCELLED


def send_one(
    session: Session, managers: list[Manager], rng: random.Random
) -> None:  # status changes that keep the count
    if letter := some_letter(session, rng):
        if letter.status is not LetterStatus.CANCELLED:
            letter.status = rng.choice([LetterStatus.SENT, LetterStatus.DEFERRED])


def delete_letters(session: Session, managers: list[Manager], rng: random.Random) -> None:
    if letter := some_letter(session, rng):
        session.execute(delete(Letter).where(Letter.campaign_id == letter.campaign_id))
        session.expire_all()


OPERATIONS = [
    add_and_plan,
    replan,
    unsubscribe_one,
    erase_one,
    transfer,
    delete_contacts,
    new_zone,
    move_letter,
    cancel_or_revive,
    send_one,
    delete_letters,
]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_summary_equals_a_recount_after_random_writes(session, seed):
    rng = random.Random(seed)
    managers = book(session, rng)
    assert_calendar_is_exact(session)
    done = []
    for _ in range(30):
        operation = rng.choice(OPERATIONS)
        operation(session, managers, rng)
        done.append(operation.__name__)
        assert_calendar_is_exact(session)
    session.commit()
    assert_calendar_is_exact(session)
    assert len(set(done)) >= 8  # the seeds reach most writers


def test_a_transfer_or_a_new_time_zone_moves_the_letters_to_the_owners_local_day(session):
    east = make_manager(session, timezone="Asia/Vladivostok")
    west = make_manager(session, timezone="Europe/Kaliningrad")
    contact = make_contact(session, owner=east, tags="8")
    plan_year(session, 2027, now=JAN_1, cal=CAL)
    session.commit()
    (letter,) = session.scalars(select(Letter).where(Letter.contact_id == contact.id))
    # 06:30 on 2 March in Vladivostok, 22:30 on 1 March in Kaliningrad
    letter.planned_at = datetime(2027, 3, 1, 20, 30, tzinfo=UTC)
    session.commit()
    mar1, mar2 = date(2027, 3, 1), date(2027, 3, 2)

    def days(manager: Manager) -> list[tuple[tuple[int, date], int]]:
        return list(owner_days(session, LetterFilter(2027, manager_id=manager.id)).items())

    assert days(east) == [((east.id, mar2), 1)]
    transfer_contacts(session, [contact], west)
    session.commit()
    assert days(east) == [] and days(west) == [((west.id, mar1), 1)]
    page = day_letters(session, LetterFilter(2027), mar1)
    assert page.total == 1 and page.letters[0].letter_id == letter.id
    west.timezone = "Asia/Vladivostok"
    session.commit()
    assert days(west) == [((west.id, mar2), 1)]
    assert day_letters(session, LetterFilter(2027), mar1).total == 0
    assert_calendar_is_exact(session)


def test_a_recount_rebuilds_a_damaged_summary(session):
    make_contact(session, owner=make_manager(session), tags="8, 23")
    plan_year(session, 2027, now=JAN_1, cal=CAL)
    session.commit()
    expected = letters_per_day(session, LetterFilter(2027))
    assert sum(expected.values()) == 2
    session.execute(update(LetterDay).values(letters=LetterDay.letters + 5))
    written = recount_letter_days(session)
    session.commit()
    assert letters_per_day(session, LetterFilter(2027)) == expected
    assert written == (2 if has_summary(session) else 0)
