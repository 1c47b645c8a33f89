"""`mailer letters`: see exactly what a contact would receive."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from mailer.config import settings
from mailer.contacts.book import find_contact
from mailer.db import utcnow
from mailer.delivery.models import LetterStatus
from mailer.delivery.send_now import send_planned_now
from mailer.letters.greeting import greet
from mailer.letters.greeting_csv import GreetingFileError, greet_file
from mailer.letters.preview import readable_view
from mailer.letters.previewing import preview_letter
from mailer.letters.rendering import LetterKind
from mailer.smtp import SmtpTransport
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
@click.option("--raw", is_flag=True, help="Print the .eml's bytes instead of a readable view.")
def preview_command(
    email: str, kind: str, tag_code: str | None, at: datetime | None, out: Path | None, raw: bool
) -> None:
    """Show the letter a contact would get now: headers, text and the HTML's links; `--raw`
    prints and `--out` writes the exact bytes that would be sent."""
    now = at.replace(tzinfo=UTC) if at else datetime.now(UTC)
    with unit_of_work(commit=False) as session:
        composed = preview_letter(
            session,
            email,
            LetterKind(kind),
            tag_code=tag_code,
            now=now,
            settings=settings().letters,
        )
    if out:
        try:
            out.write_bytes(composed.raw)
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
        click.echo(f"{out}: {composed.letter.subject} — from {composed.sender.name}", err=True)
    elif raw:
        click.echo(composed.raw, nl=False)
    else:
        click.echo(readable_view(composed.raw), nl=False)


@letters.command("send-now")
@click.option("--contact", "email", required=True, help="The contact's e-mail.")
@click.option("--campaign", "tag_code", required=True, help="The campaign's tag code.")
@click.option(
    "--year",
    type=click.IntRange(2000, 2100),
    help="The letter's year (default: the first still waiting from this year on).",
)
def send_now_command(email: str, tag_code: str, year: int | None) -> None:
    """Send the contact's planned letter of the campaign now, through the normal delivery
    (consent re-checked, history kept); refused when the law or the plan forbids it."""
    now = utcnow()
    config = settings()
    with unit_of_work(commit=False) as session, SmtpTransport(config.smtp) as transport:
        contact = find_contact(session, email)
        result = send_planned_now(
            session, contact, tag_code, year, transport, config.letters, now=now
        )
    if result.status is LetterStatus.DEFERRED:
        retry = f"; delivery retries it at {result.due_at:%Y-%m-%d %H:%M} UTC"
        raise click.ClickException(f"not sent: deferred: {result.last_error}{retry}")
    if result.status is not LetterStatus.SENT:
        raise click.ClickException(f"not sent: {result.status.value}: {result.last_error}")
    click.echo(f"sent {tag_code} letter {result.letter_id} to {email} ({result.message_id})")


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
