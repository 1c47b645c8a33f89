"""`mailer tags`: the taxonomy and the loose lines managers type."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from mailer.tags.models import Tag
from mailer.tags.tagging import UnknownTagError, parse_tags
from mailer.tags.taxonomy import load_vocabulary, seed_tags
from mailer.unit_of_work import unit_of_work

tags = AppGroup("tags", help="The tag taxonomy.")


@tags.command("parse")
@click.argument("line")
def parse_command(line: str) -> None:
    """Print the tag codes a loose line resolves to, one per line."""
    with unit_of_work(commit=False) as session:
        vocabulary = load_vocabulary(session)
    try:
        codes = parse_tags(line, vocabulary)
    except UnknownTagError as exc:
        raise click.ClickException(str(exc)) from None
    for code in codes:
        click.echo(code)


@tags.command("seed")
def seed_command() -> None:
    """Add the taxonomy's missing tags (existing, maybe edited, tags stay as they are)."""
    with unit_of_work() as session:
        click.echo(f"{seed_tags(session)} tags added")


@tags.command("list")
def list_command() -> None:
    """List tags with their aliases."""
    with unit_of_work(commit=False) as session:
        for tag in session.scalars(select(Tag).order_by(Tag.kind, Tag.code)):
            aliases = ", ".join(a.alias for a in tag.aliases)
            click.echo(f"{tag.code}\t{tag.kind.value}\t{tag.label}\t{aliases}")
