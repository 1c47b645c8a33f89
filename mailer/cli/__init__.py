"""The `mailer` command group: on `flask mailer ...` and as the `mailer` console script."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup, FlaskGroup

from mailer.cli import contacts, database, demo, letters, managers, tags
from mailer.cli.greeting import greeting_command

mailer_group = AppGroup("mailer", help="The mailing engine's commands.")
for _command in (
    database.db,
    managers.managers,
    tags.tags,
    contacts.contacts,
    demo.demo,
    letters.letters,
):
    mailer_group.add_command(_command)

mailer_group.add_command(greeting_command)  # pure: needs no app


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
    )
    for command in mailer_group.commands.values():
        group.add_command(command)
    group.main(prog_name="mailer")
