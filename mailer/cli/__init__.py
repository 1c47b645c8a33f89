"""The `mailer` command group: on `flask mailer ...` and as the `mailer` console script."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup, FlaskGroup

from campaigns.cli import campaigns
from mailer.cli import contacts, database, delivery, demo, letters, managers, tags
from mailer.cli.greeting import greeting_command

mailer_group = AppGroup("mailer", help="The mailing engine's commands.")
for _command in (
    database.db,
    managers.managers,
    tags.tags,
    contacts.contacts,
    demo.demo,
    letters.letters,
    campaigns,
    delivery.deliver_command,
    delivery.worker_command,
    delivery.scheduler_command,
    delivery.sink_command,
    delivery.run_command,
    greeting_command,  # pure: needs no app
):
    mailer_group.add_command(_command)


def register_cli(app: Flask) -> None:
    """Put the group on the app's `flask` CLI."""
    app.cli.add_command(mailer_group)


def main() -> None:
    """Entry point of the `mailer` console script."""
    from mailer import create_app

    group = FlaskGroup(
        name="mailer",
        help=mailer_group.help,
        create_app=lambda: create_app(),
        load_dotenv=False,
        set_debug_flag=False,
        add_default_commands=False,
    )
    for command in mailer_group.commands.values():
        group.add_command(command)
    group.main(prog_name="mailer")
