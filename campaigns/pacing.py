"""Human pacing of one owner's letters: a few a day, on working days, at irregular times.

A window's letters are levelled over its working days (water filling against the daily
cap, counting letters already booked), so a manager sends about the same number every
day instead of a burst on the first one. A window too full for the cap starts earlier:
its overflow goes to the fewest working days just before it, and that is reported.
Windows are placed latest-starting first, so an overflow pushes into days that only
earlier windows (placed after it) would want, and cascades backwards, never forwards.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from campaigns.calendar import WorkCalendar
from mailer.plurals import plural_en

MAX_DAYS_EARLIER = 250  # about a working year; beyond that a letter is reported unplaced


@dataclass(frozen=True)
class OwnerSchedule:
    """When one manager writes: their time zone, working hours and letters-a-day cap."""

    timezone: str
    work_starts_at: time
    work_ends_at: time
    daily_cap: int

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # an unknown zone fails here, not in the middle of a plan
        if self.work_ends_at <= self.work_starts_at:
            raise ValueError("working hours must end after they start, within one day")
        if self.daily_cap < 0:
            raise ValueError(f"daily_cap must not be negative, got {self.daily_cap}")


class PaceRequest(NamedTuple):
    """One letter to place within a window of dates; the key is the caller's.

    A named tuple, not a dataclass: a year's plan makes millions, and a tuple is made
    several times faster.
    """

    key: Hashable
    window_start: date
    window_end: date


@dataclass(frozen=True)
class Shift:
    """A window too full for the cap: it starts `working_days_earlier` days before itself."""

    window_start: date
    window_end: date
    starts_at: date
    working_days_earlier: int
    letters_moved: int

    def __str__(self) -> str:
        days = plural_en(self.working_days_earlier, "working day")
        return (
            f"the window {self.window_start}..{self.window_end} starts {days} earlier, "
            f"on {self.starts_at} ({plural_en(self.letters_moved, 'letter')} moved)"
        )


@dataclass
class PacingResult:
    """Send times (aware UTC) by key, windows that had to start earlier, keys with no room."""

    times: dict[Hashable, datetime] = field(default_factory=dict)
    earlier: list[Shift] = field(default_factory=list)
    unplaced: list[Hashable] = field(default_factory=list)


def pace(
    requests: Iterable[PaceRequest],
    schedule: OwnerSchedule,
    cal: WorkCalendar,
    *,
    booked: Mapping[date, int] | None = None,
    seed: int | str = 0,
) -> PacingResult:
    """Spread one owner's letters over working days and hours, so none reads as a blast."""
    # Letters keep the caller's order within a window (earlier ones go on earlier days), so
    # re-planning the same requests gives the same plan and an added letter moves few others.
    windows: dict[tuple[date, date], list[Hashable]] = defaultdict(list)
    total = 0
    for request in requests:
        windows[request.window_start, request.window_end].append(request.key)
        total += 1
    for start, end in windows:
        if end < start:
            raise ValueError(f"window {start}..{end} ends before it starts")
    if len({key for keys in windows.values() for key in keys}) != total:
        raise ValueError("every request needs its own key")

    cap = schedule.daily_cap
    load: dict[date, int] = defaultdict(int, booked or {})
    on_day: dict[date, list[Hashable]] = defaultdict(list)
    result = PacingResult()
    for (start, end), keys in sorted(windows.items(), reverse=True):
        rng = random.Random(f"{seed}|{start}|{end}")
        days = cal.working_days_between(start, end)
        counts = _fill(days, len(keys), load, cap, rng)
        overflow = len(keys) - sum(counts)
        if overflow:
            before = cal.working_days_between(
                cal.working_days_before(start, MAX_DAYS_EARLIER), start - timedelta(days=1)
            )
            extra_days, extra = _overflow(before, overflow, load, cap, rng)
            if extra_days:
                days, counts = extra_days + days, extra + counts
                result.earlier.append(Shift(start, end, extra_days[0], len(extra_days), sum(extra)))
        position = 0
        for day, count in zip(days, counts, strict=True):
            if count:
                on_day[day].extend(keys[position : position + count])
                load[day] += count
                position += count
        result.unplaced.extend(keys[position:])

    zone = ZoneInfo(schedule.timezone)
    times = result.times
    for day in sorted(on_day):
        keys = on_day[day]
        moments = _moments(day, len(keys), schedule, zone, random.Random(f"{seed}|{day}"))
        times.update(zip(keys, moments, strict=True))
    return result


def _fill(
    days: list[date], n: int, load: Mapping[date, int], cap: int, rng: random.Random
) -> list[int]:
    """Level n letters over the days up to the cap: the emptiest days fill first."""
    loads = [load.get(day, 0) for day in days]
    room = sum(max(0, cap - used) for used in loads)
    if n >= room:
        return [max(0, cap - used) for used in loads]

    def added(level: int) -> int:
        return sum(max(0, min(cap, level) - used) for used in loads)

    low, high = 0, cap  # the lowest level whose filling holds all n letters
    while low < high:
        middle = (low + high) // 2
        if added(middle) >= n:
            high = middle
        else:
            low = middle + 1
    below = low - 1
    counts = [max(0, min(cap, below) - used) for used in loads]
    # Days still at the level below take one more each; which ones is left to chance,
    # so light windows do not always send on the same weekday.
    at_level = [i for i, used in enumerate(loads) if used <= below]
    for i in rng.sample(at_level, n - sum(counts)):
        counts[i] += 1
    return counts


def _overflow(
    before: list[date], n: int, load: Mapping[date, int], cap: int, rng: random.Random
) -> tuple[list[date], list[int]]:
    """The fewest working days just before a window that hold n letters, levelled."""
    room = taken = 0
    for day in reversed(before):
        if room >= n:
            break
        room += max(0, cap - load.get(day, 0))
        taken += 1
    days = before[len(before) - taken :]
    counts = _fill(days, min(n, room), load, cap, rng)
    while days and counts[0] == 0:  # days too full to take any: not part of the shift
        days, counts = days[1:], counts[1:]
    return days, counts


def _moments(
    day: date, n: int, schedule: OwnerSchedule, zone: ZoneInfo, rng: random.Random
) -> list[datetime]:
    """n send times on one day inside working hours, spread out with uneven gaps, in UTC."""
    opens = _seconds(schedule.work_starts_at)
    closes = _seconds(schedule.work_ends_at)
    slot = (closes - opens) / n
    offsets = []
    for i in range(n):
        second = min(closes - 1, opens + int(slot * (i + rng.random())))
        if (second // 60) % 5 == 0 and rng.random() < 0.8:
            # Schedulers fire on round minutes; a person rarely does.
            nudge = rng.randint(1, 4) * 60
            if opens <= second + nudge < closes:
                second += nudge
            elif opens <= second - nudge < closes:
                second -= nudge
        offsets.append(second)
    offsets.sort()

    midnight = datetime.combine(day, time())
    first = zone.utcoffset(datetime.combine(day, schedule.work_starts_at))
    last = zone.utcoffset(datetime.combine(day, schedule.work_ends_at))
    if first is not None and first == last:  # no clock change in working hours: one offset
        base = (midnight - first).replace(tzinfo=UTC)
        return [base + timedelta(seconds=s) for s in offsets]
    return [(midnight + timedelta(seconds=s)).replace(tzinfo=zone).astimezone(UTC) for s in offsets]


def _seconds(moment: time) -> int:
    """Seconds since midnight of a wall-clock time."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second
