"""`mailer letters`: see exactly what a contact would receive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from mailer.cli.session import unit_of_work
from mailer.composing import LetterSettings, compose_letter
from mailer.contacts import find_contact
from mailer.letters import LetterKind
from mailer.managers import find_house_sender

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
        composed = compose_letter(
            contact,
            LetterKind(kind),
            house_sender=find_house_sender(session),
            now=now,
            tag_code=tag_code,
            settings=LetterSettings.from_config(current_app.config),
        )
    if out:
        out.write_bytes(composed.raw)
        click.echo(f"{out}: {composed.letter.subject} — from {composed.sender.name}", err=True)
    else:
        click.echo(composed.raw, nl=False)
