"""`mailer campaigns`: plan the year, see it at a glance, explain one contact."""

from __future__ import annotations

import csv
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from campaigns.date_words import day_words, span_words
from campaigns.editing import CampaignChange, CampaignEdit, update_campaign
from campaigns.models import Campaign
from campaigns.planning import plan_year
from campaigns.reports import explain_contact, window_text, year_calendar
from mailer.contacts.book import find_contact
from mailer.db import utcnow
from mailer.plurals import plural_en, plural_ru
from mailer.unit_of_work import unit_of_work

campaigns = AppGroup("campaigns", help="The annual campaign calendar.")


@campaigns.command("plan")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
def plan_command(year: int) -> None:
    """Plan every letter of the year still ahead (re-running adds only what is new)."""
    with unit_of_work() as session:
        report = plan_year(session, year)
    if report.calendar_warning:
        click.echo(f"warning: {report.calendar_warning}", err=True)
    for shift in report.shifts:
        click.echo(f"earlier start: {shift}")
    added, already = plural_en(report.added, "letter"), report.already_planned
    click.echo(f"{year}: {added} planned, {already} already planned")
    for reason, count in sorted(report.skipped.items()):
        click.echo(f"skipped ({reason}): {count}")
    if report.window_passed:
        click.echo(f"skipped (window already passed): {report.window_passed}")


@campaigns.command("list")
def list_command() -> None:
    """List campaigns: tag, letter, occasion rule and window."""
    with unit_of_work(commit=False) as session:
        for c in session.scalars(select(Campaign).order_by(Campaign.id)):
            state = "" if c.is_active else "  [inactive]"
            click.echo(
                f"{c.tag.code:<16}{c.letter_kind:<20}{c.occasion_name} ({c.occasion_rule}); "
                f"{window_text(c)}{state}"
            )


@campaigns.command("calendar")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option("--csv", "as_csv", is_flag=True, help="week,campaign,manager,letters rows.")
def calendar_command(year: int, as_csv: bool) -> None:
    """Letters per week per campaign and per manager, and the busiest days."""
    with unit_of_work(commit=False) as session:
        cal = year_calendar(session, year)
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["week", "campaign", "manager", "letters"])
        for (week, code), n in sorted(cal.by_week_campaign.items()):
            writer.writerow([week, code, "", n])
        for (week, manager), n in sorted(cal.by_week_manager.items()):
            writer.writerow([week, "", manager, n])
        return
    if not cal.by_day:
        click.echo(f"nothing planned for {year}: run `mailer campaigns plan --year {year}`")
        return
    click.echo(f"Letters per ISO week of {year}")
    for week in cal.weeks:
        by_campaign = ", ".join(
            f"{code} {n}" for (w, code), n in sorted(cal.by_week_campaign.items()) if w == week
        )
        by_manager = ", ".join(
            f"{m} {n}" for (w, m), n in sorted(cal.by_week_manager.items()) if w == week
        )
        click.echo(f"  week {week:>2}: {by_campaign}  |  {by_manager}")
    click.echo("Busiest days")
    for day, n in cal.busiest_days():
        click.echo(f"  {day:%Y-%m-%d %a}: {n}")


@campaigns.command("explain")
@click.option("--contact", "email", required=True)
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
def explain_command(email: str, year: int) -> None:
    """Why this contact will, did or will not get each campaign's letter."""
    with unit_of_work(commit=False) as session:
        contact = find_contact(session, email)
        items = explain_contact(session, contact, year)
        address = contact.email
    own = [item for item in items if item.concerns_contact]
    for item in own:
        click.echo(f"{item.campaign}: {item.verdict}")
        for reason in item.reasons:
            click.echo(f"    {reason}")
    if not own:
        click.echo(f"{address} has no tag any active campaign is about")
    if others := len(items) - len(own):
        click.echo(f"{plural_en(others, 'other campaign')}: no matching tag")


@campaigns.command("set")
@click.argument("tag")
@click.option(
    "--rule", help="The occasion's yearly RRULE, e.g. FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=8."
)
@click.option("--days-before", type=int, help="Working days between the window's end and the day.")
@click.option("--window", "window_days", type=int, help="Working days letters go out in.")
@click.option("--kind", "letter_kind", help="The letter kind (a folder of templates/letters).")
@click.option("--active/--inactive", "is_active", default=None)
def set_command(
    tag: str,
    rule: str | None,
    days_before: int | None,
    window_days: int | None,
    letter_kind: str | None,
    is_active: bool | None,
) -> None:
    """Edit a campaign; its letters not yet sent are re-planned (in Russian, as on the web)."""
    edit = CampaignEdit(rule, days_before, window_days, letter_kind, is_active)
    with unit_of_work() as session:
        change = update_campaign(session, tag, edit, now=utcnow())
    for line in change_lines(change):
        click.echo(line)


def change_lines(change: CampaignChange) -> list[str]:
    """The outcome of an edit as marketing reads it: the next dates and the letters moved."""
    lines = [f"Кампания {change.tag}: " + ("изменено" if change.changed else "без изменений")]
    lines.append("Ближайшие даты:")
    for each in change.upcoming:
        window = f" (письма {span_words(*each.window)})" if each.window else ""
        lines.append(f"  {day_words(each.occasion)}{window}")
    moves = change.moves
    if change.changed:
        letters = plural_ru(moves.moved, "письмо", "письма", "писем")
        lines.append(
            f"Перенесено {letters} из ещё не отправленных; снято с плана: {moves.dropped}, "
            f"добавлено: {moves.added}. Отправленные письма не изменились."
        )
    if change.kind_updated:
        lines.append(
            plural_ru(change.kind_updated, "письмо", "письма", "писем")
            + " получат новый вид письма"
        )
    return lines
