"""`mailer contacts`: check, add, show, import, export, transfer, notes, abandoned."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from tqdm import tqdm

from mailer.config import settings
from mailer.contacts.book import (
    Consent,
    ContactFilter,
    add_contact,
    clean_fields,
    find_contact,
    find_existing,
    select_contacts,
)
from mailer.contacts.candidates import group_candidates, owners_of
from mailer.contacts.card_lines import contact_card, history_line
from mailer.contacts.column_plan import (
    EMAIL_PREFERENCES,
    PHONE_PREFERENCES,
    ColumnMapError,
    describe_plan,
    parse_map,
    read_map_file,
)
from mailer.contacts.exporting import export_contacts
from mailer.contacts.importing import (
    ColumnChoices,
    ImportFileError,
    ImportReport,
    import_contacts,
    read_plan,
)
from mailer.contacts.models import HistoryKind
from mailer.contacts.notes import abandoned_contacts, add_note, contact_history
from mailer.contacts.transfers import transfer_contacts
from mailer.managers.services import find_manager
from mailer.plurals import plural_en
from mailer.privacy.suppression import refuse_erased
from mailer.tags.taxonomy import resolve_tags
from mailer.unit_of_work import unit_of_work

contacts = AppGroup("contacts", help="The contact book.")


@contacts.command("check")
@click.option("--email", help="E-mail to look for.")
@click.option("--phone", help="Phone in any format.")
@click.option("--company", help="Company in either spelling: `Тойота (Toyota)`.")
def check_command(email: str | None, phone: str | None, company: str | None) -> None:
    """Find contacts already in the book and say who owns them; exit 1 when found."""
    if not (email or phone or company):
        raise click.UsageError("give at least one of --email, --phone, --company")
    with unit_of_work(commit=False) as session:
        matches = find_existing(
            session,
            email=email,
            phone=phone,
            company=company,
            phone_region=settings().default_phone_region,
        )
        if not matches:
            click.echo("not in the contact book")
            return
        candidates = group_candidates(matches)
        if len(candidates) > 1:
            owners = ", ".join(o.name for o in owners_of(candidates))
            click.echo(f"{plural_en(len(candidates), 'candidate')}, owned by {owners}:")
        for candidate in candidates:
            click.echo(candidate.describe())
    sys.exit(1)


@contacts.command("add")
@click.option("--email", required=True)
@click.option("--first-name", default="")
@click.option("--middle-name", default="", help="Patronymic.")
@click.option("--last-name", default="")
@click.option("--company", default="", help="`Тойота (Toyota)`: name and its other spelling.")
@click.option("--position", default="")
@click.option("--phone", default="")
@click.option("--owner", required=True, help="Owner's e-mail or name, or `house`.")
@click.option("--tags", "tag_line", default="", help="Loose tag line: `строители, сентябрь, 8`.")
@click.option(
    "--consent",
    "consent_source",
    default="",
    help="How consent to advertising letters was given (none: no consent).",
)
@click.option(
    "--same-company",
    is_flag=True,
    help="A different person of a company already in the book: add anyway.",
)
def add_command(
    email: str,
    first_name: str,
    middle_name: str,
    last_name: str,
    company: str,
    position: str,
    phone: str,
    owner: str,
    tag_line: str,
    consent_source: str,
    same_company: bool,
) -> None:
    """Add a contact after checking nobody owns it already."""
    with unit_of_work() as session:
        fields = clean_fields(
            email=email,
            first_name=first_name,
            middle_name=middle_name,
            last_name=last_name,
            company=company,
            position=position,
            phone=phone,
            consent=Consent(True, None, consent_source) if consent_source else None,
            phone_region=settings().default_phone_region,
        )
        refuse_erased(session.connection(), fields.email)  # erased on request: never back
        contact = add_contact(
            session,
            fields,
            owner=find_manager(session, owner),
            tags=resolve_tags(session, tag_line),
            is_same_company_ok=same_company,
        )
        click.echo(f"added {contact.email_display}, owner {contact.owner.name}")


@contacts.command("tag")
@click.argument("email")
@click.argument("line")
def tag_command(email: str, line: str) -> None:
    """Add the tags of a loose line to a contact."""
    with unit_of_work() as session:
        contact = find_contact(session, email)
        contact.tags = list(dict.fromkeys([*contact.tags, *resolve_tags(session, line)]))
        click.echo(", ".join(t.code for t in contact.tags))


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--owner", help="Owner (e-mail or name) for rows without `Ответственный`.")
@click.option("--dry-run", is_flag=True, help="Check everything, change nothing.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where rejected rows go (default: FILE.rejects.csv beside FILE).",
)
@click.option(
    "--allow-same-company",
    is_flag=True,
    help="Accept new people whose company or phone is already in the book.",
)
@click.option("--sheet", help="The XLSX sheet to read (default: the first).")
@click.option(
    "--map",
    "map_lines",
    multiple=True,
    help='Read a column as a field: "Рабочий e-mail=email", "Источник=ignore" (repeatable).',
)
@click.option(
    "--map-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A saved map: Header=field lines (--map wins).",
)
@click.option("--show-mapping", is_flag=True, help="Print how every column is read; store nothing.")
@click.option(
    "--prefer-email",
    type=click.Choice(EMAIL_PREFERENCES),
    default="work",
    show_default=True,
    help="Which e-mail is the contact's address when there are several.",
)
@click.option(
    "--prefer-phone",
    type=click.Choice(PHONE_PREFERENCES),
    default="work",
    show_default=True,
    help="Which phone is the contact's phone when there are several.",
)
def import_command(
    file: Path,
    owner: str | None,
    dry_run: bool,
    rejects: Path | None,
    allow_same_company: bool,
    sheet: str | None,
    map_lines: tuple[str, ...],
    map_file: Path | None,
    show_mapping: bool,
    prefer_email: str,
    prefer_phone: str,
) -> None:
    """Import a CSV or XLSX export (Bitrix24 and amoCRM as they come); re-import updates
    contacts by the CRM's ID or by e-mail."""
    try:
        overrides = read_map_file(map_file) if map_file else {}
        overrides |= parse_map(list(map_lines))
    except ColumnMapError as exc:
        raise click.BadParameter(str(exc), param_hint="--map") from None
    choices = ColumnChoices(overrides, prefer_email, prefer_phone)
    if show_mapping:
        try:
            plan = read_plan(file, choices, sheet=sheet)
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from None
        for line in describe_plan(plan):
            click.echo(line)
        return
    with unit_of_work(commit=not dry_run) as session:
        default_owner = find_manager(session, owner) if owner else None
        with tqdm(
            total=None,
            unit="B",
            unit_scale=True,
            delay=2,
            file=sys.stderr,
            desc="importing",
            leave=False,
        ) as bar:
            if file.is_file():
                bar.total = file.stat().st_size
            report = import_contacts(
                session,
                file,
                columns=choices,
                default_owner=default_owner,
                rejects_path=rejects,
                is_same_company_ok=allow_same_company,
                chunk_size=settings().import_chunk_size,
                phone_region=settings().default_phone_region,
                progress=bar.update,
                # Chunk by chunk, so a re-run after a crash resumes; a dry run commits
                # nothing and its unit of work rolls back.
                commit=None if dry_run else session.commit,
                sheet=sheet,
            )
    _print_report(report, dry_run)


def _print_report(report: ImportReport, dry_run: bool) -> None:
    click.echo(f"read as {report.read_as}", err=True)
    if report.source_name:
        click.echo(f"looks like a {report.source_name} export", err=True)
    if report.ignored_headers:
        click.echo("ignored columns: " + ", ".join(report.ignored_headers), err=True)
    if report.blank_rows:
        click.echo(f"blank rows skipped: {report.blank_rows}", err=True)
    if report.rejects_path:
        click.echo(f"rejected rows written to {report.rejects_path}", err=True)
    prefix = "dry run, nothing saved: " if dry_run else ""
    click.echo(
        f"{prefix}read {report.rows_read}, accepted {report.accepted} "
        f"(new {report.inserted}, updated {report.updated}), rejected {report.rejected}"
    )


@contacts.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--owner", help="Only this owner's contacts.")
def export_command(file: Path, owner: str | None) -> None:
    """Export contacts to CSV or XLSX (by the file's suffix), safe to open in a spreadsheet."""
    with unit_of_work(commit=False) as session:
        manager = find_manager(session, owner) if owner else None
        count = export_contacts(session, file, owner=manager)
    click.echo(f"exported {plural_en(count, 'contact')} to {file}")


@contacts.command("transfer")
@click.option("--to", "to_ref", required=True, help="New owner (e-mail or name), or `house`.")
@click.option("--email", "emails", multiple=True, help="A contact's e-mail (repeatable).")
@click.option("--from", "from_ref", help="All contacts of this manager (combine to filter).")
@click.option("--tag", "tag_line", help="Only contacts with this tag.")
@click.option("--company", help="Only contacts of this company (either spelling).")
@click.option("--by", "by_ref", help="Who makes the transfer (kept in history).")
@click.option("--reason", default="", help="Why (kept in history).")
def transfer_command(
    to_ref: str,
    emails: tuple[str, ...],
    from_ref: str | None,
    tag_line: str | None,
    company: str | None,
    by_ref: str | None,
    reason: str,
) -> None:
    """Transfer one contact, a filter of contacts, or all of a manager's contacts."""
    with unit_of_work() as session:
        tag = None
        if tag_line:
            found = resolve_tags(session, tag_line)
            if len(found) != 1:
                raise click.BadParameter("give exactly one tag", param_hint="--tag")
            tag = found[0]
        criteria = ContactFilter(
            owner=find_manager(session, from_ref) if from_ref else None,
            tag=tag,
            company=company,
            emails=emails,
        )
        if criteria.is_empty():
            raise click.UsageError("say which contacts: --email, --from, --tag or --company")
        selected = select_contacts(session, criteria)
        if emails:
            for email in emails:
                find_contact(session, email)  # an unknown e-mail is an error, not a no-op
        if not selected:
            raise click.ClickException(
                "no contact matches the given --email/--from/--tag/--company"
            )
        to = find_manager(session, to_ref)
        by = find_manager(session, by_ref) if by_ref else None
        already = sum(c.owner_id == to.id for c in selected)
        moved = transfer_contacts(session, selected, to, by=by, reason=reason)
        line = f"transferred {moved} of {plural_en(len(selected), 'contact')} to {to.name}"
        if already:
            line += f"; {already} already belonged to {to.name}"
        click.echo(line)


@contacts.command("note")
@click.argument("email")
@click.argument("text")
@click.option("--kind", type=click.Choice(["call", "meeting", "letter", "note"]), default="note")
@click.option("--by", "by_ref", help="Author (e-mail or name); default: the contact's owner.")
def note_command(email: str, text: str, kind: str, by_ref: str | None) -> None:
    """Add a note (call, meeting, letter, free note) to a contact's history."""
    with unit_of_work() as session:
        contact = find_contact(session, email)
        author = find_manager(session, by_ref) if by_ref else contact.owner
        add_note(session, contact, text, kind=HistoryKind(kind), author=author)
        click.echo(f"{kind} noted on {contact.email_display}")


@contacts.command("history")
@click.argument("email")
def history_command(email: str) -> None:
    """Print a contact's history, oldest first."""
    with unit_of_work(commit=False) as session:
        contact = find_contact(session, email)
        for entry in contact_history(session, contact):
            click.echo(history_line(entry))


@contacts.command("abandoned")
@click.option("--days", type=click.IntRange(min=0), required=True)
def abandoned_command(days: int) -> None:
    """Contacts with no note for N days, per owner, the longest-quiet first."""
    with unit_of_work(commit=False) as session:
        rows = abandoned_contacts(session, days)
        owner = None
        for row in rows:
            if row.contact.owner_id != owner:
                owner = row.contact.owner_id
                click.echo(f"{row.contact.owner.name} <{row.contact.owner.email}>")
            last = f"last note {row.last_note_at:%Y-%m-%d}" if row.last_note_at else "no notes"
            name = row.contact.full_name or "-"
            company = row.contact.company_display
            click.echo(f"  {row.contact.email_display}\t{name}\t{company}\t{last}")
        click.echo(f"{plural_en(len(rows), 'contact')} without a note for {plural_en(days, 'day')}")


@contacts.command("show")
@click.argument("email")
@click.option("--history", "history", type=click.IntRange(min=0), default=5, show_default=True)
def show_command(email: str, history: int) -> None:
    """A contact's card: fields, tags, owner, consent, the letters' greeting, last history."""
    with unit_of_work(commit=False) as session:
        card = contact_card(session, find_contact(session, email), history)
        click.echo(card.title)
        width = max(len(label) for label, _ in card.fields) + 1
        for label, value in card.fields:
            click.echo(f"  {label + ':':<{width}} {value or '-'}")
        shown = len(card.history)
        click.echo(
            f"history: {plural_en(card.history_total, 'entry', 'entries')}"
            + (f", the last {shown}:" if shown < card.history_total else (":" if shown else ""))
        )
        for line in card.history:
            click.echo(f"  {line}")
