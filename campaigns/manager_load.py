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
    return load_from_days(session, owner_days(session, wanted), cal=cal)


def load_from_days(
    session: Session, days: Mapping[tuple[int, date], int], *, cal: WorkCalendar | None = None
) -> list[WeekLoad]:
    """The weekly load from letters per owner and day already counted: the calendar page
    counts them once for both the heatmap and the load (each count reads the whole year)."""
    cal = cal or WorkCalendar()
    weeks: dict[tuple[int, date], list[int]] = defaultdict(list)
    for (owner, day), n in days.items():
        weeks[(owner, day - timedelta(days=day.weekday()))].append(n)
    ids = {owner for owner, _ in weeks}
    managers = {m.id: m for m in session.scalars(select(Manager).where(Manager.id.in_(ids)))}
    out = [
        WeekLoad(
            owner,
            managers[owner].name,
            monday,
            sum(counts),
            max(counts),
            managers[owner].daily_cap,
            len(cal.working_days_between(monday, monday + timedelta(days=6))),
        )
        for (owner, monday), counts in weeks.items()
    ]
    return sorted(out, key=lambda w: (w.manager, w.manager_id, w.monday))
