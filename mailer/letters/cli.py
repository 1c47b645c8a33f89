"""`mailer letters`: see exactly what a contact would receive."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click
from flask.cli import AppGroup

from mailer.config import settings
from mailer.contacts.book import find_contact
from mailer.db import utcnow
from mailer.delivery.models import LetterStatus
from mailer.delivery.send_now import send_planned_now
from mailer.letters.greeting import greet
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


NAME_COLUMNS = ("first_name", "middle_name", "last_name")


@click.command("greeting")
@click.argument("name", required=False)
@click.option("--middle", "middle_name", default=None, help="Patronymic (middle name) field.")
@click.option("--last", "last_name", default=None, help="Surname (last name) field.")
@click.option(
    "--csv",
    "csv_path",
    metavar="FILE",
    default=None,
    help="CSV with first_name,middle_name,last_name columns ('-' for stdin); "
    "rows are written to stdout with a greeting column appended.",
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
    """Copy the CSV to stdout, adding the greeting (and reason) to every row."""
    try:
        if path == "-":
            with click.open_file("-", encoding="utf-8-sig") as stream:
                _write_rows(stream, path, explain)
        else:
            # utf-8-sig drops the byte-order mark that Excel puts in front of UTF-8 files.
            with open(path, encoding="utf-8-sig", newline="") as stream:
                _write_rows(stream, path, explain)
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path} is not UTF-8 text: {exc.reason}") from exc
    except csv.Error as exc:
        raise click.ClickException(f"{path} is not a readable CSV file: {exc}") from exc


def _write_rows(stream: IO[str], path: str, explain: bool) -> None:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise click.ClickException(f"{path} is empty: expected a header row")
    names = [column.strip() for column in header]
    missing = [column for column in NAME_COLUMNS if column not in names]
    if missing:
        raise click.ClickException(
            f"{path} lacks the column(s) {', '.join(missing)}; found: {', '.join(names) or '-'}"
        )
    index = {column: names.index(column) for column in NAME_COLUMNS}
    added = ["greeting"] + (["greeting_reason"] if explain else [])
    # Re-running on its own output refreshes the added columns instead of doubling them.
    slots = [names.index(c) if c in names else None for c in added]
    out_header = list(header) + [c for c, slot in zip(added, slots, strict=True) if slot is None]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(out_header)
    for row in reader:
        if not row:  # a blank line stays a blank line
            writer.writerow(row)
            continue
        fields = [row[i] if i < len(row) else "" for i in index.values()]
        result = greet(*fields)
        values = [result.text, result.reason][: len(added)]
        out = list(row) + [""] * (len(header) - len(row))
        for value, slot in zip(values, slots, strict=True):
            if slot is None:
                out.append(value)
            else:
                out[slot] = value
        writer.writerow(out)
