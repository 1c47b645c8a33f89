"""`make demo` with PORT=5077: links in letters follow the port `mailer run` serves on,
unless MAILER_PUBLIC_BASE_URL says where they go."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailer import create_app
from mailer.config import follow_serving_address, settings
from tests.test_web_server import MAILER, environment, serving  # noqa: F401  (fixture)

NEXT_YEAR = datetime.now(UTC).year + 1


def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: object):
    monkeypatch.setenv("MAILER_INSTANCE_PATH", str(tmp_path / "instance"))
    return create_app({"SECRET_KEY": "k" * 32, "DATABASE_URL": "sqlite://", **config})


def test_unset_links_point_where_the_app_serves(tmp_path, monkeypatch) -> None:
    app = make(tmp_path, monkeypatch)
    assert settings(app).letters.public_base_url == "http://127.0.0.1:5000"
    assert follow_serving_address(app, "127.0.0.1", 5077) == "http://127.0.0.1:5077"
    assert settings(app).letters.public_base_url == "http://127.0.0.1:5077"
    for host, url in (("0.0.0.0", "http://127.0.0.1:5078"), ("::1", "http://[::1]:5078")):
        assert follow_serving_address(make(tmp_path, monkeypatch), host, 5078) == url


def test_a_configured_public_address_is_kept(tmp_path, monkeypatch) -> None:
    app = make(tmp_path, monkeypatch, PUBLIC_BASE_URL="https://mail.example")
    assert follow_serving_address(app, "127.0.0.1", 5077) == "https://mail.example"
    assert settings(app).letters.public_base_url == "https://mail.example"


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([MAILER, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_demo_on_another_port_sends_links_to_that_port(environment, tmp_path) -> None:  # noqa: F811
    env = environment
    _run(env, "managers", "add", "--name", "Пётр Петров", "--email", "petr@gifts.example")
    _run(env, "managers", "add", "--name", "Дом Подарков", "--email", "hi@gifts.example", "--house")
    _run(env, "contacts", "add", "--email", "ivan@toyota.example", "--first-name", "Иван",
         "--company", "Тойота", "--owner", "petr@gifts.example", "--tags", "8",
         "--consent", "устно")  # fmt: skip
    _run(env, "campaigns", "plan", "--year", str(NEXT_YEAR))
    database = env["MAILER_DATABASE_URL"].removeprefix("sqlite:///")
    due = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(database) as conn:  # due now, as `demo load --send-now` makes them
        assert conn.execute("UPDATE letters SET due_at = ?", (due,)).rowcount == 1
    outbox = Path(env["MAILER_INSTANCE_PATH"]) / "outbox"
    log = tmp_path / "run.log"
    with serving(env, log, "run", "--workers", "1") as (process, port):
        deadline = time.monotonic() + 30
        while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=15)
    [eml] = outbox.glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    text = message.get_body(("plain",)).get_content()
    assert f"http://127.0.0.1:{port}/c/" in text, log.read_text()
    assert f"http://127.0.0.1:{port}/u/" in text
    assert f"<http://127.0.0.1:{port}/u/" in message["List-Unsubscribe"]
    assert f"links in letters to http://127.0.0.1:{port}/" in log.read_text()
