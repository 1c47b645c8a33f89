"""The campaigns list page's rows: what each campaign is and how its year is going.

It lives in `tracking` because it counts clicks (`campaigns` never imports `tracking`).
Three queries whatever the number of campaigns: the campaigns, their letters counted by
status, their letters a person clicked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from campaigns.editing import next_dates
from campaigns.models import Campaign
from mailer.delivery.models import Letter, LetterStatus
from mailer.storage.aggregates import whole_table_report
from mailer.tags.models import Tag
from mailer.tags.occasions import OccasionRuleError
from tracking.models import Click
from tracking.verdicts import Verdict

# A person read it: the reader, or a colleague it was forwarded to.
PERSON_VERDICTS = (Verdict.HUMAN.value, Verdict.FORWARDED.value)


@dataclass(frozen=True)
class CampaignRow:
    """One line of the campaigns list."""

    campaign_id: int
    tag: str
    tag_label: str
    letter_kind: str
    occasion_name: str
    occasion_rule: str
    days_before: int
    window_days: int
    is_active: bool
    next_dates: list[date]
    planned: int  # this year's letters in the plan, sent or not (cancelled ones are not)
    sent: int
    clicked: int  # letters of this year a person followed a link in


def campaign_rows(session: Session, year: int, *, today: date) -> list[CampaignRow]:
    """Every campaign with its next three dates and this year's letters, by tag code."""
    with whole_table_report(session):
        counts = {
            campaign_id: (planned, sent)
            for campaign_id, planned, sent in session.execute(
                select(
                    Letter.campaign_id,
                    func.count(),
                    func.coalesce(
                        func.sum(case((Letter.status == LetterStatus.SENT, 1), else_=0)), 0
                    ),
                )
                .where(Letter.year == year, Letter.status != LetterStatus.CANCELLED)
                .group_by(Letter.campaign_id)
            )
        }
        clicked = {
            campaign_id: n
            for campaign_id, n in session.execute(
                select(Letter.campaign_id, func.count(func.distinct(Click.letter_id)))
                .join(Letter, Letter.id == Click.letter_id)
                .where(Letter.year == year, Click.verdict.in_(PERSON_VERDICTS))
                .group_by(Letter.campaign_id)
            )
        }
    rows = []
    for campaign, tag in session.execute(
        select(Campaign, Tag).join(Tag, Tag.id == Campaign.tag_id).order_by(Tag.code)
    ):
        planned, sent = counts.get(campaign.id, (0, 0))
        rows.append(
            CampaignRow(
                campaign.id,
                tag.code,
                tag.label,
                campaign.letter_kind,
                campaign.occasion_name,
                campaign.occasion_rule,
                campaign.days_before,
                campaign.window_days,
                campaign.is_active,
                _next_dates(campaign.occasion_rule, today),
                planned,
                sent,
                clicked.get(campaign.id, 0),
            )
        )
    return rows


def _next_dates(rule: str, today: date) -> list[date]:
    """A rule edited in the database by hand may not read; the list still shows the rest."""
    try:
        return next_dates(rule, 3, today=today)
    except OccasionRuleError:
        return []
