"""`mailer users`: accounts of the web desks. Nothing secret is ever printed."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from mailer.unit_of_work import unit_of_work
from mailer.users.models import Role
from mailer.users.services import add_user, check_password_rules, list_users, set_password

users = AppGroup("users", help="Accounts that sign in to the web desks.")

_STDIN_HELP = "Read the password from the first line of standard input (for scripts)."


def _read_password(from_stdin: bool) -> str:
    """From stdin's first line, or typed twice at a hidden prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password_rules(password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    return password


@users.command("add")
@click.option("--email", required=True, help="The address the person signs in with.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--manager",
    "manager_ref",
    help="The manager a manager's account works as (default: same e-mail).",
)
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
def add_command(email: str, role: str, manager_ref: str | None, password_stdin: bool) -> None:
    """Add an account."""
    password = _read_password(password_stdin)
    with unit_of_work() as session:
        user = add_user(
            session, email=email, role=Role(role), password=password, manager_ref=manager_ref
        )
        as_whom = f" as {user.manager.name} <{user.manager.email}>" if user.manager else ""
        click.echo(f"added {user.role} account {user.email}{as_whom}")


@users.command("passwd")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
def passwd_command(email: str, password_stdin: bool) -> None:
    """Set a new password; the account's other sessions end and a lockout is lifted."""
    password = _read_password(password_stdin)
    with unit_of_work() as session:
        user = set_password(session, email, password)
        click.echo(f"password of {user.email} changed; its other sessions are signed out")


@users.command("list")
def list_command() -> None:
    """List accounts."""
    with unit_of_work(commit=False) as session:
        for user in list_users(session):
            manager = f" -> {user.manager.email}" if user.manager else ""
            click.echo(
                f"{user.email}  {user.role}{manager}" + ("" if user.is_active else " inactive")
            )
