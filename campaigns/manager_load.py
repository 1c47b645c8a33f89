"""Each manager's load per ISO week against their daily cap, from the per-day counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.calendar import WorkCalendar
from campaigns.day_counts import LetterFilter, owner_days
from campaigns.letter_days import has_summary, summary_owner_weeks
from mailer.managers.models import Manager


@dataclass(frozen=True)
class WeekLoad:
    """One manager's letters in one week, and what their cap allows that week."""

    manager_id: int
    manager: str
    monday: date
    letters: int
    busiest_day: int  # the most letters on one day of the week
    daily_cap: int
    working_days: int

    @property
    def week(self) -> int:
        return self.monday.isocalendar().week

    @property
    def capacity(self) -> int:
        """Letters the cap allows in the week's working days."""
        return self.daily_cap * self.working_days

    @property
    def is_over_cap(self) -> bool:
        """A day above the cap: only an overfull window's early start should cause it."""
        return self.busiest_day > self.daily_cap


def manager_load(
    session: Session, wanted: LetterFilter, *, cal: WorkCalendar | None = None
) -> list[WeekLoad]:
    """Weeks with letters, by manager name then week."""
    return _week_loads(session, _weeks(session, wanted), cal or WorkCalendar())


def _week_loads(
    session: Session, weeks: Mapping[tuple[int, date], tuple[int, int]], cal: WorkCalendar
) -> list[WeekLoad]:
    ids = {owner for owner, _ in weeks}
    managers = {m.id: m for m in session.scalars(select(Manager).where(Manager.id.in_(ids)))}
    working = {
        monday: len(cal.working_days_between(monday, monday + timedelta(days=6)))
        for monday in {monday for _, monday in weeks}
    }
    out = [
        WeekLoad(
            owner,
            managers[owner].name,
            monday,
            letters,
            busiest,
            managers[owner].daily_cap,
            working[monday],
        )
        for (owner, monday), (letters, busiest) in weeks.items()
    ]
    return sorted(out, key=lambda w: (w.manager, w.manager_id, w.monday))


def _weeks(session: Session, wanted: LetterFilter) -> dict[tuple[int, date], tuple[int, int]]:
    """(owner, Monday) → (letters, busiest day's letters): from the summary where kept."""
    if has_summary(session):
        return summary_owner_weeks(session, wanted.summary_conditions())
    return weeks_from_days(owner_days(session, wanted))


def weeks_from_days(
    counts: Mapping[tuple[int, date], int],
) -> dict[tuple[int, date], tuple[int, int]]:
    """Owner-days folded into (owner, Monday) → (letters, busiest day's letters)."""
    days: dict[tuple[int, date], list[int]] = defaultdict(list)
    for (owner, day), n in counts.items():
        days[(owner, day - timedelta(days=day.weekday()))].append(n)
    return {key: (sum(n), max(n)) for key, n in days.items()}
