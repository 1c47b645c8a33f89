"""`mailer demo`: demo data for a first look."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from mailer.cli.session import unit_of_work
from mailer.demo import load_demo

demo = AppGroup("demo", help="Demo data.")


@demo.command("load")
@click.option("--contacts", "count", type=click.IntRange(min=1), default=400, show_default=True)
def load_command(count: int) -> None:
    """Add demo managers and contacts (idempotent: a second run updates)."""
    with unit_of_work() as session:
        report = load_demo(session, Path(current_app.instance_path), count)
    click.echo(
        f"demo contacts: read {report.rows_read}, accepted {report.accepted} "
        f"(new {report.inserted}, updated {report.updated}), rejected {report.rejected}"
    )
