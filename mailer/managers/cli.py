"""`mailer managers`: the people letters are sent from."""

from __future__ import annotations

from datetime import time

import click
from flask.cli import AppGroup

from mailer.managers.services import add_manager, find_manager, list_managers
from mailer.plurals import plural_en
from mailer.unit_of_work import unit_of_work

managers = AppGroup("managers", help="Keep sales managers and the house sender.")


def _hours(value: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(p.strip()) for p in value.split("-"))
    except ValueError:
        raise click.BadParameter("working hours look like 09:00-18:00") from None
    return start, end


@managers.command("add")
@click.option("--name", required=True, help="Full name as it appears in letters.")
@click.option("--email", required=True, help="From and Reply-To address.")
@click.option("--house", is_flag=True, help="This is the house sender persona.")
@click.option("--timezone", default="Europe/Moscow", show_default=True)
@click.option("--daily-cap", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--hours", default="09:00-18:00", show_default=True, help="Working hours.")
@click.option("--signature", default="", help="Signature text (default: the name).")
def add_command(
    name: str, email: str, house: bool, timezone: str, daily_cap: int, hours: str, signature: str
) -> None:
    """Add a manager."""
    start, end = _hours(hours)
    with unit_of_work() as session:
        manager = add_manager(
            session,
            name=name,
            email=email,
            is_house=house,
            timezone=timezone,
            daily_cap=daily_cap,
            signature=signature.replace("\\n", "\n"),
            work_starts_at=start,
            work_ends_at=end,
        )
        click.echo(f"added {manager.name} <{manager.email}>" + (" (house sender)" if house else ""))


@managers.command("list")
def list_command() -> None:
    """List managers."""
    with unit_of_work(commit=False) as session:
        for m in list_managers(session):
            flags = [f for f, on in (("house", m.is_house), ("inactive", not m.is_active)) if on]
            click.echo(
                f"{m.name} <{m.email}>  {m.timezone} "
                f"{m.work_starts_at:%H:%M}-{m.work_ends_at:%H:%M} "
                f"at most {plural_en(m.daily_cap, 'letter')} a day"
                + (f"  [{', '.join(flags)}]" if flags else "")
            )


@managers.command("set-active")
@click.argument("manager")
@click.option("--yes/--no", "is_active", default=True, help="Activate or deactivate.")
def set_active_command(manager: str, is_active: bool) -> None:
    """Activate or deactivate a manager (by e-mail or name)."""
    with unit_of_work() as session:
        found = find_manager(session, manager)
        found.is_active = is_active
        click.echo(f"{found.name} is now {'active' if is_active else 'inactive'}")
