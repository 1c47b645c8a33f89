"""Which links a campaign's letter may name, read for composing.

The table belongs to `tracking` (its model, its CLI); `mailer` names it by string and
reads two columns, so the core never imports the package that builds on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

_CAMPAIGN_LINKS = table("campaign_links", column("id"), column("campaign_id"), column("label"))


def campaign_link_ids(session: Session, campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Each campaign's links as label → id: what a template's `link("…")` resolves to."""
    ids = sorted(set(campaign_ids))
    found: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in ids}
    if not ids:
        return found
    c = _CAMPAIGN_LINKS.c
    stmt = select(c.campaign_id, c.label, c.id).where(c.campaign_id.in_(ids))
    for campaign_id, label, link_id in session.execute(stmt):
        found[campaign_id][label] = link_id
    return found


_CAMPAIGNS = table("campaigns", column("id"), column("tag_id"))


def tag_link_ids(session: Session, tag_id: int) -> dict[str, int]:
    """The links of the campaign of a tag (one campaign per tag): for a preview."""
    campaign_id = session.scalar(select(_CAMPAIGNS.c.id).where(_CAMPAIGNS.c.tag_id == tag_id))
    if campaign_id is None:
        return {}
    return campaign_link_ids(session, [campaign_id])[campaign_id]
