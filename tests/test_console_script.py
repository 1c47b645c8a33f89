"""The `mailer` console script is the product's own command group: its help, its version."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from mailer.storage import schema

ROOT = Path(__file__).resolve().parents[1]


def mailer(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The console script's entry point in a process of its own, as a shell runs it."""
    env = {"PATH": "/usr/bin:/bin", "MAILER_INSTANCE_PATH": str(tmp_path / "instance")}
    return subprocess.run(
        [sys.executable, "-c", "from mailer.cli import main; main()", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip


def test_its_help_lists_the_products_commands_and_no_flask_options(tmp_path: Path) -> None:
    done = mailer(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: mailer [OPTIONS] COMMAND [ARGS]...")
    for flask_only in ("--app", "-A,", "--env-file", "--debug", "routes", "shell"):
        assert flask_only not in done.stdout
    commands = done.stdout.split("Commands:", 1)[1].split()
    assert "mailer" not in commands  # no recursive `mailer mailer`
    for command in ("campaigns", "contacts", "letters", "managers", "db", "run", "greeting"):
        assert command in commands
    assert "No such command" in mailer(tmp_path, "mailer", "--help").stderr


def test_its_version_is_the_products_own(tmp_path: Path) -> None:
    done = mailer(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"mailer {version('mailer')}\n"
    assert "Python" not in done.stdout and "Flask" not in done.stdout


def test_its_commands_still_load_the_app(tmp_path: Path) -> None:
    upgraded = mailer(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "23 tags, 23 campaigns and 46 campaign links added" in upgraded.stdout
    assert mailer(tmp_path, "db", "current").stdout.strip() == schema.head_revision()
    assert mailer(tmp_path, "greeting", "Иван").stdout == "Здравствуйте, Иван!\n"


def test_flask_still_runs_the_group_as_the_readme_says(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MAILER_INSTANCE_PATH": str(tmp_path / "instance")}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "mailer", "mailer", "--version"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"mailer {version('mailer')}\n"
