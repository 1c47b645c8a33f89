"""The `mailer` command group (on `flask mailer ...` and as the `mailer` console script):
every domain's commands put together, and `mailer db`, which seeds them all."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo

from campaigns.cli import campaigns
from campaigns.defaults import seed_campaigns
from mailer.config import settings
from mailer.contacts.cli import contacts
from mailer.db import get_engine
from mailer.letters.cli import greeting_command, letters
from mailer.managers.cli import managers
from mailer.plurals import plural_en
from mailer.run import cli as run
from mailer.storage import schema
from mailer.tags.cli import tags
from mailer.tags.taxonomy import seed_tags
from mailer.unit_of_work import unit_of_work
from mailer.users.cli import users
from tracking.cli import clicks, links, tasks
from tracking.links import seed_links

db = AppGroup("db", help="Create or migrate the database.")


@db.command("upgrade")
def upgrade_command() -> None:
    """Create or migrate the database, then add missing taxonomy tags and their campaigns."""
    engine = get_engine()
    schema.upgrade(engine)
    with unit_of_work() as session:
        tags = seed_tags(session)
        campaigns = seed_campaigns(session)
        links = seed_links(session, settings().offer_urls)
    click.echo(
        f"database at revision {schema.current_revision(engine)}; {plural_en(tags, 'tag')}, "
        f"{plural_en(campaigns, 'campaign')} and {plural_en(links, 'campaign link')} added"
    )


@db.command("current")
def current_command() -> None:
    """Print the database's migration revision."""
    click.echo(schema.current_revision(get_engine()) or "not migrated")


campaigns.add_command(links)  # tracking adds its group to the campaigns'

mailer_group = AppGroup("mailer", help="The mailing engine's commands.")
# The product's own version (package metadata), not Python's and Flask's as `flask` prints.
click.version_option(package_name="mailer", prog_name="mailer", message="%(prog)s %(version)s")(
    mailer_group
)
for _command in (
    db,
    managers,
    tags,
    contacts,
    run.demo,
    letters,
    campaigns,
    tasks,
    clicks,
    users,
    run.deliver_command,
    run.worker_command,
    run.scheduler_command,
    run.sink_command,
    run.web_command,
    run.run_command,
    greeting_command,  # pure: needs no app
):
    mailer_group.add_command(_command)


def register_cli(app: Flask) -> None:
    """Put the group on the app's `flask` CLI."""
    app.cli.add_command(mailer_group)


def _checked_app() -> Flask:
    """The app, or one line naming the bad setting (no traceback) when it cannot start."""
    from mailer import create_app
    from mailer.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


def main() -> None:
    """Entry point of the `mailer` console script: the product's own group, so its help
    lists only the product's commands (not Flask's `--app`/`--env-file`/`--debug`, not a
    second `mailer` inside). Commands needing the app load it through the ScriptInfo."""
    info = ScriptInfo(create_app=_checked_app, set_debug_flag=False, load_dotenv_defaults=False)
    mailer_group.main(prog_name="mailer", obj=info)
