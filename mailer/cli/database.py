"""`mailer db`: create or migrate the database."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaigns.defaults import seed_campaigns
from mailer import schema
from mailer.cli.session import unit_of_work
from mailer.db import get_engine
from mailer.taxonomy import seed_tags

db = AppGroup("db", help="Create or migrate the database.")


@db.command("upgrade")
def upgrade_command() -> None:
    """Create or migrate the database, then add missing taxonomy tags and their campaigns."""
    engine = get_engine()
    schema.upgrade(engine)
    with unit_of_work() as session:
        tags = seed_tags(session)
        campaigns = seed_campaigns(session)
    click.echo(
        f"database at revision {schema.current_revision(engine)}; "
        f"{tags} tags and {campaigns} campaigns added"
    )


@db.command("current")
def current_command() -> None:
    """Print the database's migration revision."""
    click.echo(schema.current_revision(get_engine()) or "not migrated")
