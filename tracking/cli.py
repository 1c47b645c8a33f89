"""`mailer campaigns links`: the links a campaign's letter carries, named by label."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from mailer.config import settings
from mailer.unit_of_work import unit_of_work
from tracking.links import add_link, campaign_links, find_campaign, remove_link, set_link

links = AppGroup("links", help="A campaign's tracked links: label, role, destination.")

_TAG = click.argument("tag")
_LABEL = click.option("--label", required=True, help="How the template names it: link(\"…\").")


@links.command("list")
@_TAG
def list_command(tag: str) -> None:
    """The campaign's links: label, role (catalogue, offer, other) and destination."""
    with unit_of_work(commit=False) as session:
        campaign = find_campaign(session, tag)
        found = campaign_links(session, campaign.id)
    if not found:
        click.echo(f"{tag}: no links (its letter cannot be sent while it names one)")
    for link in found:
        click.echo(f"{link.label}\t{link.role}\t{link.url}")


@links.command("add")
@_TAG
@_LABEL
@click.option(
    "--role", type=click.Choice(["catalogue", "offer", "other"]), required=True,
    help="offer: a person's click becomes a task; catalogue: warm interest.",
)  # fmt: skip
@click.option("--url", required=True, help="The destination (http or https).")
def add_command(tag: str, label: str, role: str, url: str) -> None:
    """Add a link to the campaign."""
    with unit_of_work() as session:  # a refused destination: one line, nothing stored
        link = add_link(
            session, find_campaign(session, tag), label=label, role=role, url=url,
            allowed_domains=settings().link_domains,
        )  # fmt: skip
    click.echo(f"{tag}: added {link.label} ({link.role}) → {link.url}")


@links.command("set")
@_TAG
@_LABEL
@click.option("--url", required=True, help="The new destination (http or https).")
def set_command(tag: str, label: str, url: str) -> None:
    """Point a link elsewhere; letters already sent follow it too."""
    with unit_of_work() as session:
        link = set_link(
            session, find_campaign(session, tag), label=label, url=url,
            allowed_domains=settings().link_domains,
        )  # fmt: skip
    click.echo(f"{tag}: {link.label} → {link.url}")


@links.command("remove")
@_TAG
@_LABEL
def remove_command(tag: str, label: str) -> None:
    """Remove a link; its clicks stay, and letters naming it are blocked until fixed."""
    with unit_of_work() as session:
        remove_link(session, find_campaign(session, tag), label=label)
    click.echo(f"{tag}: removed {label}")
