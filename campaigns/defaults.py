"""The default campaign of each tag, added when missing and then left to marketing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from mailer.letters.rendering import LetterKind
from mailer.tags.models import Tag, TagKind

_HOLIDAY_KINDS = {"mar8": LetterKind.MAR8, "feb23": LetterKind.FEB23}


def default_kind(tag: Tag) -> LetterKind | None:
    """The letter a tag gets by default; None for a tag no default letter fits."""
    if tag.kind is TagKind.INDUSTRY:
        return LetterKind.INDUSTRY_CATALOGUE
    if tag.kind is TagKind.MONTH:
        return LetterKind.NEW_YEAR_CATALOGUE
    return _HOLIDAY_KINDS.get(tag.code)


def seed_campaigns(session: Session) -> int:
    """Add a campaign for every tag that has none; existing (maybe edited) ones stay."""
    have = set(session.scalars(select(Campaign.tag_id)))
    added = 0
    for tag in session.scalars(select(Tag).order_by(Tag.id)):
        kind = default_kind(tag)
        if tag.id in have or kind is None:
            continue
        session.add(
            Campaign(
                tag=tag,
                letter_kind=kind.value,
                occasion_name=tag.occasion_name,
                occasion_rule=tag.occasion_rule,
            )
        )
        added += 1
    session.flush()
    return added
