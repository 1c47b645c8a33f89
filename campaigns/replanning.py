"""Re-planning one campaign after an edit: its letters not yet sent move, nothing else does.

A letter still `planned` and unclaimed has left no trace yet (no Message-ID, no click, no
history), so it is deleted and planned again under the campaign's new terms, paced around
every other campaign's letters to the same owners. A letter a worker has claimed, one in
its retries, and every sent, bounced or cancelled letter stay as they are; so does the
unique (contact, campaign, year): a contact who already got this year's letter gets no
second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from campaigns.calendar import WorkCalendar
from campaigns.models import Campaign
from campaigns.planning import plan_year
from mailer.delivery.models import Letter, LetterStatus


@dataclass(frozen=True)
class Moves:
    """What a re-plan did to the campaign's letters not yet sent."""

    moved: int = 0  # planned again at another time
    dropped: int = 0  # no longer planned: the campaign is off, or its window has passed
    added: int = 0  # newly planned: a contact the old terms left out, or a reactivation


def _movable(campaign_id: int, years: list[int]) -> tuple[ColumnElement[bool], ...]:
    """Letters an edit may move: still planned, and no worker holds them."""
    return (
        Letter.campaign_id == campaign_id,
        Letter.year.in_(years),
        Letter.status == LetterStatus.PLANNED,
        Letter.claim_token.is_(None),
    )


def replan_campaign(
    session: Session, campaign: Campaign, *, now: datetime, cal: WorkCalendar
) -> Moves:
    """Plan the campaign's unsent letters of this year and later again; flushes, no commit."""
    session.flush()
    years = _planned_years(session, campaign.id, now.year)
    # The condition is repeated in the DELETE: a worker may claim a letter meanwhile, and
    # then that letter is the worker's and stays.
    removed = session.execute(
        delete(Letter)
        .where(*_movable(campaign.id, years))
        .returning(Letter.contact_id, Letter.year, Letter.planned_at)
        # "fetch": the session forgets the deleted letters, whose ids SQLite may reuse.
        .execution_options(synchronize_session="fetch")
    )
    before = {(contact, year): at for contact, year, at in removed}
    if campaign.is_active:
        for year in years:
            plan_year(session, year, now=now, cal=cal, campaign_ids=[campaign.id])
    after = dict(
        ((contact, year), at)
        for contact, year, at in session.execute(
            select(Letter.contact_id, Letter.year, Letter.planned_at).where(
                *_movable(campaign.id, years)
            )
        )
    )
    return Moves(
        moved=sum(1 for key, at in after.items() if key in before and before[key] != at),
        dropped=sum(1 for key in before if key not in after),
        added=sum(1 for key in after if key not in before),
    )


def _planned_years(session: Session, campaign_id: int, this_year: int) -> list[int]:
    """This year, and each later year anything is planned for (a reactivated campaign joins
    the years the planner already did), or this campaign has letters in."""
    own = select(Letter.year).where(Letter.campaign_id == campaign_id, Letter.year >= this_year)
    years = {this_year} | set(session.scalars(own.distinct()))
    for year in range(this_year + 1, this_year + 3):
        if session.scalar(select(select(Letter.id).where(Letter.year == year).exists())):
            years.add(year)
    return sorted(years)
