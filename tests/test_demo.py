"""The demo: managers, contacts, a plan and a few letters due now; twice is harmless."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from mailer.contacts.models import Contact
from mailer.delivery.models import Letter
from mailer.managers.models import Manager


def test_demo_load_twice_updates_and_plans_nothing_twice(runner, session):
    result = runner.invoke(args=["mailer", "demo", "load", "--contacts", "60"])
    assert result.exit_code == 0, result.output
    assert "accepted 60 (new 60, updated 0), rejected 0" in result.output
    letters = session.scalar(select(func.count()).select_from(Letter))
    result = runner.invoke(args=["mailer", "demo", "load", "--contacts", "60"])
    assert "accepted 60 (new 0, updated 60), rejected 0" in result.output
    assert session.scalar(select(func.count()).select_from(Contact)) == 60
    assert session.scalar(select(func.count()).select_from(Manager)) == 4
    assert session.scalar(select(func.count()).select_from(Letter)) == letters
    due = session.scalar(
        select(func.count()).select_from(Letter).where(Letter.due_at <= datetime.now(UTC))
    )
    assert due >= min(letters, 5)
