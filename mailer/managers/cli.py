"""`mailer managers`: the people letters are sent from."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import click
from flask.cli import AppGroup

from mailer.managers.services import (
    ManagerChanges,
    add_manager,
    find_manager,
    list_managers,
    update_manager,
)
from mailer.plurals import plural_en
from mailer.unit_of_work import unit_of_work

managers = AppGroup("managers", help="Keep sales managers and the house sender.")


_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?")


def _hours(value: str) -> tuple[time, time]:
    """`09:00-18:00` or `9-18`; anything else is one line naming what was given."""
    try:
        start, end = (_clock(part) for part in value.split("-"))
    except ValueError:
        raise click.ClickException(
            f"working hours look like 09:00-18:00 or 9-18, got {value!r}"
        ) from None
    return start, end


def _clock(part: str) -> time:
    found = _CLOCK.fullmatch(part.strip())
    if not found:
        raise ValueError(part)
    return time(int(found[1]), int(found[2] or 0))  # ValueError past 23:59


def _read_signature(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text") from None


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


@managers.command("set")
@click.argument("email")
@click.option("--name", help="Full name as it appears in letters.")
@click.option(
    "--signature-file",
    type=click.Path(path_type=Path),
    help="A UTF-8 text file holding the signature's lines.",
)
@click.option("--timezone", help="e.g. Asia/Yekaterinburg.")
@click.option("--hours", help="Working hours, 09:00-18:00 or 9-18.")
@click.option("--daily-cap", help="At most this many letters a day.")
def set_command(
    email: str,
    name: str | None,
    signature_file: Path | None,
    timezone: str | None,
    hours: str | None,
    daily_cap: str | None,
) -> None:
    """Change a manager's name, signature, time zone, working hours or daily cap."""
    if daily_cap is not None and not daily_cap.strip().isdigit():
        raise click.ClickException(f"daily cap must be a whole number, got {daily_cap!r}")
    changes = ManagerChanges(
        name=name,
        signature=_read_signature(signature_file) if signature_file else None,
        timezone=timezone,
        daily_cap=int(daily_cap) if daily_cap is not None else None,
        hours=_hours(hours) if hours is not None else None,
    )
    if changes == ManagerChanges():
        raise click.ClickException(
            "nothing to change: give --name, --signature-file, --timezone, --hours or --daily-cap"
        )
    with unit_of_work() as session:
        manager = find_manager(session, email)
        changed = update_manager(session, manager, changes)
        said = f"{manager.name} <{manager.email}>: {', '.join(changed)} changed"
    click.echo(said)
    if changes.timezone or changes.hours or changes.daily_cap:
        click.echo("letters already planned keep their times; new plans use these")


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
