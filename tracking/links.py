"""A campaign's links: what its letter may point to, each with a role in the funnel.

Services flush and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Campaign
from mailer.tags.models import Tag
from tracking.destinations import check_destination
from tracking.models import CampaignLink
from tracking.verdicts import LinkRole

# What every campaign's letter links to when it is first made: the catalogue (warm) and
# the special offer (hot). Marketing changes the destinations with `campaigns links set`.
CATALOGUE_LABEL = "каталог"
OFFER_LABEL = "скидка"
DEFAULT_SITE = "https://gifts.example"
SAVED_ROLES = (LinkRole.CATALOGUE, LinkRole.OFFER, LinkRole.OTHER)


def find_campaign(session: Session, tag_code: str) -> Campaign:
    """The campaign of a tag, named by the tag's code as everywhere in the CLI."""
    campaign = session.scalar(select(Campaign).join(Tag).where(Tag.code == tag_code.strip()))
    if campaign is None:
        raise LookupError(f"no campaign for the tag {tag_code!r} (see `mailer campaigns list`)")
    return campaign


def campaign_links(session: Session, campaign_id: int) -> Sequence[CampaignLink]:
    """A campaign's links by label."""
    stmt = select(CampaignLink).where(CampaignLink.campaign_id == campaign_id)
    return session.scalars(stmt.order_by(CampaignLink.label)).all()


def add_link(
    session: Session,
    campaign: Campaign,
    *,
    label: str,
    role: str,
    url: str,
    allowed_domains: Iterable[str] = (),
) -> CampaignLink:
    """A new link of a campaign; its destination is checked before anything is stored."""
    label = _label(label)
    link_role = _role(role)
    url = check_destination(url, allowed_domains)
    if _find(session, campaign.id, label) is not None:
        raise ValueError(f"the campaign already has a link {label!r} (use `links set`)")
    link = CampaignLink(campaign_id=campaign.id, label=label, role=link_role, url=url)
    session.add(link)
    session.flush()
    return link


def set_link(
    session: Session,
    campaign: Campaign,
    *,
    label: str,
    url: str,
    allowed_domains: Iterable[str] = (),
) -> CampaignLink:
    """A new destination for a link; letters already sent lead there too from now on."""
    link = _existing(session, campaign, label)
    link.url = check_destination(url, allowed_domains)
    session.flush()
    return link


def remove_link(session: Session, campaign: Campaign, *, label: str) -> None:
    """Remove a link; its clicks stay as evidence, and letters naming it no longer render."""
    session.delete(_existing(session, campaign, label))
    session.flush()


def seed_links(session: Session, offer_urls: Mapping[str, str] | None = None) -> int:
    """Give each campaign without links a catalogue and an offer link; returns how many.

    `offer_urls` is the retired OFFER_URLS setting (tag code or letter kind → address):
    what it held becomes the offer link's destination, so no letter changes its target.
    """
    offer_urls = offer_urls or {}
    linked = set(session.scalars(select(CampaignLink.campaign_id).distinct()))
    added = 0
    for campaign in session.scalars(select(Campaign).order_by(Campaign.id)):
        if campaign.id in linked:
            continue
        kind = campaign.letter_kind
        offer = offer_urls.get(campaign.tag.code) or offer_urls.get(kind)
        defaults = (
            (CATALOGUE_LABEL, LinkRole.CATALOGUE, f"{DEFAULT_SITE}/catalogue/{kind}"),
            (OFFER_LABEL, LinkRole.OFFER, offer or f"{DEFAULT_SITE}/offers/{kind}"),
        )
        for label, role, url in defaults:
            session.add(
                CampaignLink(
                    campaign_id=campaign.id, label=label, role=role, url=check_destination(url)
                )
            )
            added += 1
    session.flush()
    return added


def _label(label: str) -> str:
    label = " ".join(label.split())
    if not label:
        raise ValueError("a link needs a label, e.g. --label каталог")
    if len(label) > 100:
        raise ValueError("a link's label is at most 100 characters")
    return label


def _role(role: str) -> LinkRole:
    try:
        found = LinkRole(role.strip().lower())
    except ValueError:
        found = None
    if found not in SAVED_ROLES:
        raise ValueError(f"a link's role is one of catalogue, offer, other, not {role!r}")
    return found


def _find(session: Session, campaign_id: int, label: str) -> CampaignLink | None:
    stmt = select(CampaignLink).where(
        CampaignLink.campaign_id == campaign_id, CampaignLink.label == label
    )
    return session.scalar(stmt)


def _existing(session: Session, campaign: Campaign, label: str) -> CampaignLink:
    link = _find(session, campaign.id, _label(label))
    if link is None:
        raise LookupError(f"the campaign {campaign.tag.code} has no link {label!r}")
    return link
