"""A small year for marketing's pages: a marketing account, a manager's account, two
owners with contacts tagged for 8 March, next year's letters planned, their links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from campaigns.planning import plan_year
from mailer.contacts.models import Contact
from mailer.managers.models import Manager
from mailer.tags.models import Tag
from mailer.users.models import Role
from tests.desk import make_user
from tests.factories import make_contact, make_manager
from tracking.links import seed_links

MARKETING = "mk@gifts.example"
MANAGER = "petr@gifts.example"


@dataclass
class Year:
    petr: Manager
    anna: Manager
    contact: Contact  # Petr's, tagged 8 and строители
    mar8: Campaign
    year: int


def marketing_year(session: Session) -> Year:
    now = datetime.now(UTC)
    petr = make_manager(session, name="Пётр Петров", email=MANAGER, timezone="Europe/Moscow")
    anna = make_manager(session, name="Анна Смирнова", timezone="Asia/Vladivostok")
    make_user(session, role=Role.MARKETING, email=MARKETING)
    make_user(session, role=Role.MANAGER, manager=petr)
    contact = make_contact(
        session,
        owner=petr,
        tags="8, строители",
        first_name="Иван",
        middle_name="Петрович",
        last_name="Сидоров",
        company="Тойота (Toyota)",
        email="sidorov@toyota.example",
    )
    for _ in range(3):
        make_contact(session, owner=petr, tags="8")
    for _ in range(2):
        make_contact(session, owner=anna, tags="8")
    year = now.year + 1
    plan_year(session, year, now=now)
    seed_links(session)
    session.commit()
    mar8 = session.scalar(select(Campaign).join(Tag).where(Tag.code == "mar8"))
    assert mar8 is not None
    return Year(petr, anna, contact, mar8, year)
