"""`mailer demo`: demo data for a first look."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from campaigns.planning import plan_year
from mailer.cli.session import unit_of_work
from mailer.db import utcnow
from mailer.demo import bring_forward, load_demo

demo = AppGroup("demo", help="Demo data.")


@demo.command("load")
@click.option("--contacts", "count", type=click.IntRange(min=1), default=400, show_default=True)
@click.option(
    "--send-now",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Make this many planned letters due at once, to see them arrive.",
)
def load_command(count: int, send_now: int) -> None:
    """Demo managers and contacts, this year's plan, and a few letters due now.

    Idempotent: a second run updates the contacts and plans nothing twice.
    """
    now = utcnow()
    with unit_of_work() as session:
        report = load_demo(session, Path(current_app.instance_path), count)
        plan = plan_year(session, now.year, now=now)
        forward = bring_forward(session, send_now, now)
    click.echo(
        f"demo contacts: read {report.rows_read}, accepted {report.accepted} "
        f"(new {report.inserted}, updated {report.updated}), rejected {report.rejected}"
    )
    click.echo(f"{now.year}: {plan.added} letters planned; {forward} made due now")
