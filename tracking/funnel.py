"""The funnel of a period's letters: sent → a person opened a link → the catalogue → the
offer → a manager took the task, per campaign or per manager, with machines' clicks apart.

A letter counts in the period it was sent in; its clicks and tasks count whenever they
came. Each step counts letters (a reader who clicks the offer three times is one), so
every step is at most the one before it, except that the catalogue and the offer are
both steps after "opened" and a reader may go straight to the offer. "Opened a link" is
any click by a person (the reader or a colleague it was forwarded to) on a visible link;
clicks judged to be a scanner's or a previewer's are counted on their own line, and so
are clicks not judged yet. Per manager means per sender: whom the letter went out from.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from mailer.contacts.exporting import neutralise
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.models import Manager
from mailer.storage.aggregates import whole_table_report
from mailer.tags.models import Tag
from tracking.campaign_rows import PERSON_VERDICTS
from tracking.models import PENDING, Click, Task, TaskOutcome
from tracking.verdicts import LinkRole, Verdict


class FunnelBy(StrEnum):
    CAMPAIGN = "campaign"
    MANAGER = "manager"


@dataclass(frozen=True)
class FunnelRow:
    """One campaign's or one sender's funnel over the period."""

    key: int | None  # campaign or manager id; None for the total
    name: str
    sent: int
    opened: int
    catalogue: int
    offer: int
    taken: int
    bot_clicks: int
    pending_clicks: int


CSV_HEADERS = {
    FunnelBy.CAMPAIGN: "Кампания",
    FunnelBy.MANAGER: "Менеджер",
}
_STEP_HEADERS = [
    "Отправлено",
    "Открыли ссылку",
    "Каталог",
    "Предложение",
    "Взяли в работу",
    "Клики ботов",
    "Клики не оценены",
]


def _flag(condition: Any) -> Any:
    return func.max(case((condition, 1), else_=0))


def _per_letter_clicks() -> Any:
    """Per letter: whether a person opened a visible link, the catalogue, the offer; how many
    clicks were machines' or are still pending."""
    person = Click.verdict.in_(PERSON_VERDICTS) & (Click.role != LinkRole.HONEYPOT.value)
    return (
        select(
            Click.letter_id.label("letter_id"),
            _flag(person).label("opened"),
            _flag(person & (Click.role == LinkRole.CATALOGUE.value)).label("catalogue"),
            _flag(person & (Click.role == LinkRole.OFFER.value)).label("offer"),
            func.sum(case((Click.verdict == Verdict.BOT.value, 1), else_=0)).label("bots"),
            func.sum(case((Click.verdict == PENDING, 1), else_=0)).label("pending"),
        )
        .where(Click.letter_id.is_not(None))
        .group_by(Click.letter_id)
        .subquery()
    )


def _taken() -> Any:
    return (
        select(Task.letter_id.label("letter_id"), literal(1).label("taken"))
        .where(Task.outcome == TaskOutcome.TAKEN, Task.letter_id.is_not(None))
        .group_by(Task.letter_id)
        .subquery()
    )


def funnel(
    session: Session, start: datetime, end: datetime, *, by: FunnelBy = FunnelBy.CAMPAIGN
) -> list[FunnelRow]:
    """Letters sent in [start, end), by campaign or sender, then a total row (key None)."""
    clicks, taken = _per_letter_clicks(), _taken()
    key = Letter.campaign_id if by is FunnelBy.CAMPAIGN else Letter.sender_id

    def total(column: Any) -> Any:
        return func.coalesce(func.sum(column), 0)

    stmt = (
        select(
            key,
            func.count(),
            total(clicks.c.opened),
            total(clicks.c.catalogue),
            total(clicks.c.offer),
            total(taken.c.taken),
            total(clicks.c.bots),
            total(clicks.c.pending),
        )
        .select_from(Letter)
        .outerjoin(clicks, clicks.c.letter_id == Letter.id)
        .outerjoin(taken, taken.c.letter_id == Letter.id)
        .where(Letter.status == LetterStatus.SENT, Letter.sent_at >= start, Letter.sent_at < end)
        .group_by(key)
    )
    with whole_table_report(session):
        counted = [
            tuple(int(v) if v is not None else None for v in row)
            for row in session.execute(stmt).all()
        ]
    names = _names(session, by, [row[0] for row in counted])
    rows = [FunnelRow(row[0], names.get(row[0], "—"), *row[1:]) for row in counted]  # type: ignore[arg-type]
    rows.sort(key=lambda r: (r.name, r.key or 0))
    sums = [sum(getattr(r, f.name) for r in rows) for f in fields(FunnelRow)[2:]]
    return [*rows, FunnelRow(None, "Итого", *sums)]


def _names(session: Session, by: FunnelBy, keys: Iterable[int | None]) -> dict[int | None, str]:
    ids = [k for k in keys if k is not None]
    if by is FunnelBy.CAMPAIGN:
        stmt = select(Campaign.id, Tag.code).join(Tag).where(Campaign.id.in_(ids))
    else:
        stmt = select(Manager.id, Manager.name).where(Manager.id.in_(ids))
    return {key: name for key, name in session.execute(stmt)}


def write_funnel_csv(rows: Iterable[FunnelRow], out: TextIO, *, by: FunnelBy) -> int:
    """The funnel as CSV for a spreadsheet (`;`, as contact exports are); every cell is
    neutralised, so a campaign or manager name cannot run as a formula. Returns rows."""
    writer = csv.writer(out, delimiter=";")
    writer.writerow([CSV_HEADERS[by], *_STEP_HEADERS])
    count = 0
    for row in rows:
        cells = [row.name, *(str(getattr(row, f.name)) for f in fields(FunnelRow)[2:])]
        writer.writerow([neutralise(cell) for cell in cells])
        count += 1
    return count
