"""Editing a campaign: its occasion rule, window, lead, letter kind and whether it runs.

The web page and `mailer campaigns set` call `update_campaign`; the page's "as you type"
preview calls `next_dates`. Every value is checked before anything changes, and each
refusal is one Russian sentence marketing can act on. A change to when letters go out
re-plans the campaign's letters not yet sent (`replanning.py`); sent ones never change.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.calendar import WorkCalendar, occasion_dates
from campaigns.date_words import day_words
from campaigns.models import Campaign
from campaigns.planning import campaign_window
from campaigns.replanning import Moves, replan_campaign
from mailer.delivery.models import Letter, LetterStatus
from mailer.letters.rendering import LetterKind
from mailer.tags.models import Tag
from mailer.tags.occasions import NoOccasionDate, OccasionRuleError, next_occurrence

MAX_WINDOW_DAYS = 60  # working days: about three months, longer than any season
MAX_DAYS_BEFORE = 60
_RULE_MAX = 300  # the column's length
_LOOK_AHEAD_YEARS = 10
_EXAMPLE = "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8"


class CampaignEditError(ValueError):
    """A value marketing gave that the campaign cannot take; the message says why."""


@dataclass(frozen=True)
class CampaignEdit:
    """The fields to change; None leaves a field as it is."""

    occasion_rule: str | None = None
    days_before: int | None = None
    window_days: int | None = None
    letter_kind: str | None = None
    is_active: bool | None = None


@dataclass(frozen=True)
class Upcoming:
    """One of the campaign's next occasions and the working days its letters go out in."""

    occasion: date
    window: tuple[date, date] | None


@dataclass
class CampaignChange:
    """What an edit changed, the next dates, and how many letters not yet sent moved."""

    tag: str
    changed: list[str] = field(default_factory=list)
    upcoming: list[Upcoming] = field(default_factory=list)
    moves: Moves = field(default_factory=Moves)
    kind_updated: int = 0  # planned letters that now get the new letter kind


def next_dates(rule: str, n: int = 3, *, today: date) -> list[date]:
    """The next `n` occasions of a yearly rule from `today` on, each year's first date (the
    one planning uses), within ten years; checks nothing else, so a page can show them while
    the rule is being typed. Raises OccasionRuleError for a rule that cannot be read.

    Walks from date to date: a rule that never falls (30 February) costs one search to the
    end of the calendar, not one per year asked about.
    """
    found: list[date] = []
    year = today.year
    while len(found) < n:
        try:
            after = _start(today) if year == today.year else datetime(year, 1, 1)
            upcoming = next_occurrence(rule, after)
        except NoOccasionDate:
            break
        if upcoming.year >= today.year + _LOOK_AHEAD_YEARS:
            break
        first = occasion_dates(rule, upcoming.year)[0]
        if first >= today:
            found.append(first)
        year = upcoming.year + 1
    return found


def _start(today: date) -> datetime:
    return datetime(today.year, today.month, today.day)


def check_rule(rule: str, *, today: date) -> str:
    """The rule cleaned, or CampaignEditError: a readable yearly rule with one date a year."""
    rule = rule.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[len("RRULE:") :].strip()
    if not rule:
        raise CampaignEditError(f"Правило пустое: укажите RRULE, например {_EXAMPLE}")
    if len(rule) > _RULE_MAX or any(ord(ch) < 32 or ch == "\x7f" for ch in rule):
        raise CampaignEditError(
            f"Правило должно быть одной строкой RRULE не длиннее {_RULE_MAX} символов"
        )
    parts = {part.split("=", 1)[0].strip().upper(): part for part in rule.split(";")}
    if parts.get("FREQ", "").replace(" ", "").upper() != "FREQ=YEARLY":
        raise CampaignEditError(
            f"Праздник повторяется раз в год: правило начинается с FREQ=YEARLY, например {_EXAMPLE}"
        )
    if "COUNT" in parts:
        raise CampaignEditError("COUNT в правиле не нужен: праздник повторяется каждый год")
    try:
        dates = next_dates(rule, 3, today=today)
    except OccasionRuleError:
        raise CampaignEditError(
            f"Правило «{rule}» не читается как RRULE; пример: {_EXAMPLE}"
        ) from None
    if len(dates) < 3:
        raise CampaignEditError(
            f"У правила «{rule}» нет трёх дат в ближайшие {_LOOK_AHEAD_YEARS} лет"
        )
    for year in sorted({day.year for day in dates}):  # years known to have dates: quick
        if len(in_year := occasion_dates(rule, year)) > 1:
            listed = ", ".join(day.isoformat() for day in in_year[:3])
            raise CampaignEditError(
                f"Правило даёт больше одной даты в {year} году ({listed}): нужна одна"
            )
    return rule


def rule_preview(rule: str, *, today: date) -> list[str]:
    """The next three dates of a rule being typed, in words; CampaignEditError (Russian)
    for a rule that would be refused on saving."""
    return [day_words(day) for day in next_dates(check_rule(rule, today=today), 3, today=today)]


def _check_numbers(edit: CampaignEdit) -> None:
    if edit.window_days is not None and not 1 <= edit.window_days <= MAX_WINDOW_DAYS:
        raise CampaignEditError(
            f"Окно рассылки — от 1 до {MAX_WINDOW_DAYS} рабочих дней, а не {edit.window_days}"
        )
    if edit.days_before is not None and not 0 <= edit.days_before <= MAX_DAYS_BEFORE:
        raise CampaignEditError(
            f"Отступ до праздника — от 0 до {MAX_DAYS_BEFORE} рабочих дней, а не {edit.days_before}"
        )
    kinds = [kind.value for kind in LetterKind]
    if edit.letter_kind is not None and edit.letter_kind not in kinds:
        raise CampaignEditError(f"Нет такого письма «{edit.letter_kind}»; есть: {', '.join(kinds)}")


def find_campaign(session: Session, tag: str) -> Campaign:
    """The campaign of a tag code, or CampaignEditError naming the tag."""
    campaign = session.scalar(select(Campaign).join(Tag).where(Tag.code == tag.strip()))
    if campaign is None:
        raise CampaignEditError(f"Кампании с тегом «{tag}» нет (список: mailer campaigns list)")
    return campaign


def upcoming(campaign: Campaign, *, today: date, cal: WorkCalendar, n: int = 3) -> list[Upcoming]:
    """The campaign's next `n` occasions with the send window of each (as it is now)."""
    out = []
    for day in next_dates(campaign.occasion_rule, n, today=today):
        window = campaign_window(campaign, day.year, cal)
        out.append(Upcoming(day, (window.start, window.end) if window else None))
    return out


def update_campaign(
    session: Session,
    tag: str,
    changes: CampaignEdit,
    *,
    now: datetime,
    cal: WorkCalendar | None = None,
) -> CampaignChange:
    """Check and apply an edit, re-plan what it moves; flushes, the caller commits."""
    cal = cal or WorkCalendar()
    campaign = find_campaign(session, tag)
    values = {f.name: getattr(changes, f.name) for f in fields(changes)}
    if changes.occasion_rule is not None:
        values["occasion_rule"] = check_rule(changes.occasion_rule, today=now.date())
    _check_numbers(changes)
    result = CampaignChange(campaign.tag.code)
    for name, value in values.items():
        if value is not None and getattr(campaign, name) != value:
            setattr(campaign, name, value)
            result.changed.append(name)
    if "letter_kind" in result.changed:
        result.kind_updated = _retarget_planned(session, campaign)
    if set(result.changed) - {"letter_kind"}:
        result.moves = replan_campaign(session, campaign, now=now, cal=cal)
    session.flush()
    result.upcoming = upcoming(campaign, today=now.date(), cal=cal)
    return result


def _retarget_planned(session: Session, campaign: Campaign) -> int:
    """Planned, unclaimed letters take the campaign's new letter kind; sent ones keep theirs."""
    session.flush()
    done = session.execute(
        update(Letter)
        .where(
            Letter.campaign_id == campaign.id,
            Letter.status == LetterStatus.PLANNED,
            Letter.claim_token.is_(None),
        )
        .values(kind=campaign.letter_kind)
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
