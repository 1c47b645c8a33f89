"""`mailer campaigns links`: a campaign's links by label; `mailer tasks`: the hot clicks handed
to managers; `mailer clicks`: the recorded clicks, their verdicts, and settling them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import click
from flask.cli import AppGroup

from mailer.config import settings
from mailer.contacts.book import find_contact
from mailer.db import utcnow
from mailer.managers.services import find_manager
from mailer.unit_of_work import unit_of_work
from mailer.users.actor import SYSTEM
from tracking.clicks import settle_clicks
from tracking.links import add_link, campaign_links, find_campaign, remove_link, set_link
from tracking.models import TaskOutcome, TaskStatus
from tracking.reminders import ReminderRow, add_reminder, close_reminder, list_reminders
from tracking.tasks import SHARED_QUEUE, VERDICTS, TaskRow, close_task, list_clicks, list_tasks

links = AppGroup("links", help="A campaign's tracked links: label, role, destination.")

_TAG = click.argument("tag")
_LABEL = click.option("--label", required=True, help='How the template names it: link("…").')


@links.command("list")
@_TAG
def list_command(tag: str) -> None:
    """The campaign's links: label, role (catalogue, offer, other) and destination."""
    with unit_of_work(commit=False) as session:
        campaign = find_campaign(session, tag)
        found = campaign_links(session, campaign.id)
    if not found:
        click.echo(f"{tag}: no links (its letter cannot be sent while it names one)")
    for link in found:
        click.echo(f"{link.label}\t{link.role}\t{link.url}")


@links.command("add")
@_TAG
@_LABEL
@click.option(
    "--role", type=click.Choice(["catalogue", "offer", "other"]), required=True,
    help="offer: a person's click becomes a task; catalogue: warm interest.",
)  # fmt: skip
@click.option("--url", required=True, help="The destination (http or https).")
def add_command(tag: str, label: str, role: str, url: str) -> None:
    """Add a link to the campaign."""
    with unit_of_work() as session:  # a refused destination: one line, nothing stored
        link = add_link(
            session, find_campaign(session, tag), label=label, role=role, url=url,
            allowed_domains=settings().link_domains,
        )  # fmt: skip
    click.echo(f"{tag}: added {link.label} ({link.role}) → {link.url}")


@links.command("set")
@_TAG
@_LABEL
@click.option("--url", required=True, help="The new destination (http or https).")
def set_command(tag: str, label: str, url: str) -> None:
    """Point a link elsewhere; letters already sent follow it too."""
    with unit_of_work() as session:
        link = set_link(
            session, find_campaign(session, tag), label=label, url=url,
            allowed_domains=settings().link_domains,
        )  # fmt: skip
    click.echo(f"{tag}: {link.label} → {link.url}")


@links.command("remove")
@_TAG
@_LABEL
def remove_command(tag: str, label: str) -> None:
    """Remove a link; its clicks stay, and letters naming it are blocked until fixed."""
    with unit_of_work() as session:
        remove_link(session, find_campaign(session, tag), label=label)
    click.echo(f"{tag}: removed {label}")


tasks = AppGroup("tasks", help="Hot clicks handed to managers: who to call, and how it went.")


@tasks.command("list")
@click.option("--manager", "manager_ref", help="Only this manager's tasks (e-mail or name).")
@click.option("--open", "only_open", is_flag=True, help="Only tasks not closed yet.")
def list_tasks_command(manager_ref: str | None, only_open: bool) -> None:
    """Reminders due today or overdue (R12), then hot clicks newest first (#12), then the
    other reminders by due date, closed ones last: contact, phone, offer or text (UTC)."""
    today = utcnow().date()
    with unit_of_work(commit=False) as session:
        manager_id = find_manager(session, manager_ref).id if manager_ref else None
        rows = list_tasks(session, manager_id=manager_id, only_open=only_open)
        reminders = list_reminders(session, SYSTEM, manager_id=manager_id, only_open=only_open)
    if not rows and not reminders:
        click.echo("no open tasks" if only_open else "no tasks")
    leading = [r for r in reminders if r.status is TaskStatus.OPEN and r.is_due(today)]
    for reminder in leading:
        click.echo(_reminder_line(reminder, today))
    for row in rows:
        click.echo(_task_line(row))
    rest = [r for r in reminders if r not in leading]
    for reminder in sorted(rest, key=lambda r: r.status is not TaskStatus.OPEN):  # closed last
        click.echo(_reminder_line(reminder, today))


def _task_line(row: TaskRow) -> str:
    status = f"{row.status}: {row.outcome}" if row.outcome else str(row.status)
    warm = ", ".join(f"{w.label} {_when(w.clicked_at)}" for w in row.warm)
    fields = (
        f"#{row.id}",
        status,
        _when(row.clicked_at),
        row.contact_name or "—",
        row.company or "—",
        row.phone or "—",
        row.contact_email,
        f"{row.campaign_tag} «{row.offer_label}»" if row.offer_label else row.campaign_tag,
        f"до этого: {warm}" if warm else "—",
        row.manager_name,
    )
    return "\t".join(fields)


def _reminder_line(row: ReminderRow, today: date) -> str:
    """A reminder as the task list shows it: R and its id, so `tasks done R12` closes it."""
    status = str(row.status)
    if row.status is TaskStatus.OPEN and row.is_due(today):
        status = "overdue" if row.due_on < today else "due"
    fields = (
        f"R{row.id}",
        status,
        f"{row.due_on:%Y-%m-%d}",
        row.contact_name or "—",
        row.company or "—",
        row.phone or "—",
        row.contact_email,
        row.text,
        "—",
        row.manager_name or SHARED_QUEUE,
    )
    return "\t".join(fields)


@tasks.command("add")
@click.option("--contact", "email", required=True, help="The contact's e-mail.")
@click.option("--due", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="YYYY-MM-DD")
@click.argument("text")
def add_reminder_command(email: str, due: datetime, text: str) -> None:
    """Set a reminder on a contact for its owner ("перезвонить через 2 дня")."""
    with unit_of_work() as session:
        contact = find_contact(session, email)
        reminder = add_reminder(
            session, SYSTEM, contact.id, due.date(), text, today=utcnow().date()
        )
        click.echo(
            f"reminder {reminder.id} for {contact.owner.email} on {reminder.due_on:%Y-%m-%d}"
        )


@tasks.command("done")
@click.argument("ref", metavar="ID")
@click.option(
    "--outcome", type=click.Choice([o.value for o in TaskOutcome]),
    help="A hot click's (#12): taken, the client is being worked; not-interested: the call "
    "found no interest. A reminder (R12) closes without one.",
)  # fmt: skip
@click.option("--note", default="", help="What was agreed; goes to the contact's history.")
def done_command(ref: str, outcome: str | None, note: str) -> None:
    """Close a hot click (12 or #12) or a reminder (R12); the contact's history says so."""
    kind, number = _parse_ref(ref)
    if kind == "reminder":
        if outcome is not None:
            raise click.ClickException("a reminder closes without --outcome")
        with unit_of_work() as session:
            close_reminder(session, SYSTEM, number, note=note, now=utcnow())
        click.echo(f"reminder R{number} closed")
        return
    if outcome is None:
        raise click.ClickException("a hot click closes with --outcome taken or not-interested")
    with unit_of_work() as session:
        task = close_task(session, number, outcome=TaskOutcome(outcome), note=note, now=utcnow())
    click.echo(f"task {task.id} closed: {task.outcome}")


def _parse_ref(ref: str) -> tuple[str, int]:
    """`12`/`#12`: a hot click; `R12`: a reminder (the two are numbered apart)."""
    kind, digits = (
        ("reminder", ref[1:]) if ref[:1] in ("R", "r") else ("task", ref.removeprefix("#"))
    )
    if not (digits.isascii() and digits.isdigit() and len(digits) < 10):
        raise click.ClickException(f"{ref!r}: a hot click is 12 or #12, a reminder R12")
    return kind, int(digits)


clicks = AppGroup("clicks", help="Recorded clicks on tracked links and their verdicts.")

_USER_AGENT_WIDTH = 40


@clicks.command("list")
@click.option("--letter", "letter_id", type=int, help="Only the clicks of this letter.")
@click.option("--verdict", type=click.Choice(list(VERDICTS)), help="Only clicks judged so.")
def list_clicks_command(letter_id: int | None, verdict: str | None) -> None:
    """Clicks, newest first: time (UTC), verdict and why, link, address, user agent."""
    with unit_of_work(commit=False) as session:
        rows = list_clicks(session, letter_id=letter_id, verdict=verdict)
    if not rows:
        click.echo("no clicks")
    for row in rows:
        agent = row.user_agent
        if len(agent) > _USER_AGENT_WIDTH:
            agent = agent[: _USER_AGENT_WIDTH - 1] + "…"
        fields = (
            f"#{row.id}",
            _when(row.clicked_at, seconds=True),
            row.verdict,
            "; ".join(reason.text for reason in row.reasons) or "—",
            f"{row.role or '?'}/{row.link_label or '—'}",
            row.ip or "—",
            agent or "—",
        )
        click.echo("\t".join(fields))


@clicks.command("settle")
def settle_command() -> None:
    """Judge the clicks whose letters have settled; people's offer clicks become tasks."""
    with unit_of_work() as session:
        # It commits after each journal file, before discarding it: a crash loads it again.
        report = settle_clicks(session, settings().tracking, now=utcnow(), commit=session.commit)
    click.echo(str(report))


def _when(moment: datetime, *, seconds: bool = False) -> str:
    """A stored UTC time as the CLI shows it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
