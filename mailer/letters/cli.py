"""`mailer letters`: see exactly what a contact would receive."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from mailer.config import settings
from mailer.contacts.book import find_contact
from mailer.letters.composing import compose_letter, letter_tag
from mailer.letters.greeting import greet
from mailer.letters.greeting_csv import GreetingFileError, greet_file
from mailer.letters.links import tag_link_ids
from mailer.letters.rendering import LetterKind
from mailer.managers.services import find_house_sender
from mailer.unit_of_work import unit_of_work

letters = AppGroup("letters", help="Letters as their owners would write them.")


@letters.command("preview")
@click.option("--contact", "email", required=True, help="The contact's e-mail.")
@click.option("--kind", type=click.Choice([k.value for k in LetterKind]), required=True)
@click.option("--tag", "tag_code", help="Which of the contact's tags (default: the first fitting).")
@click.option(
    "--at",
    "at",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
    help="Pretend to send at this UTC time (default: now).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the .eml here.")
def preview_command(
    email: str, kind: str, tag_code: str | None, at: datetime | None, out: Path | None
) -> None:
    """Write the finished .eml a contact would get now: the exact bytes that would be sent."""
    now = at.replace(tzinfo=UTC) if at else datetime.now(UTC)
    with unit_of_work(commit=False) as session:
        contact = find_contact(session, email)
        tag = letter_tag(contact, LetterKind(kind), tag_code)
        composed = compose_letter(
            contact,
            LetterKind(kind),
            house_sender=find_house_sender(session),
            now=now,
            tag_code=tag.code if tag else None,
            link_ids=tag_link_ids(session, tag.id) if tag else {},
            settings=settings().letters,
        )
    if out:
        out.write_bytes(composed.raw)
        click.echo(f"{out}: {composed.letter.subject} — from {composed.sender.name}", err=True)
    else:
        click.echo(composed.raw, nl=False)


@click.command("greeting")
@click.argument("name", required=False)
@click.option("--middle", "middle_name", default=None, help="Patronymic (middle name) field.")
@click.option("--last", "last_name", default=None, help="Surname (last name) field.")
@click.option(
    "--csv",
    "csv_path",
    metavar="FILE",
    default=None,
    help="A contact file as `contacts import` reads it (CSV or XLSX, the export's Russian "
    "headers or first_name,middle_name,last_name; '-' for stdin); rows are written to "
    "stdout with a greeting column appended.",
)
@click.option("--explain", is_flag=True, help="Also show why this greeting was chosen.")
def greeting_command(
    name: str | None,
    middle_name: str | None,
    last_name: str | None,
    csv_path: str | None,
    explain: bool,
) -> None:
    """Print the greeting for NAME (the first-name field as typed), or for every row of --csv."""
    if csv_path is not None:
        if name is not None:
            raise click.UsageError("give either NAME or --csv, not both")
        _greet_csv(csv_path, explain)
        return
    if name is None:
        raise click.UsageError("give NAME or --csv FILE")
    result = greet(name, middle_name, last_name)
    click.echo(result.text)
    if explain:
        click.echo(f"{result.reason}: {result.message}")


def _greet_csv(path: str, explain: bool) -> None:
    """Copy the file's rows to stdout, adding the greeting (and reason) to every row."""
    try:
        greet_file(path, sys.stdout, explain=explain)
    except GreetingFileError as exc:
        raise click.ClickException(str(exc)) from None
