"""`mailer web` and `mailer run` serve the app with gunicorn, as real processes."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import pytest

MAILER = Path(sys.executable).with_name("mailer")
STARTUP_SECONDS = 30
STOP_SECONDS = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """A migrated SQLite database of its own, as a deployment would point at it."""
    assert MAILER.exists(), f"no mailer console script beside {sys.executable} (pip install -e .)"
    env = {
        **os.environ,
        "MAILER_INSTANCE_PATH": str(tmp_path / "instance"),
        "MAILER_DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "MAILER_SMTP_PORT": str(_free_port()),  # `mailer run`'s sink, away from others'
    }
    upgrade = subprocess.run(
        [MAILER, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert upgrade.returncode == 0, upgrade.stderr
    return env


@contextmanager
def serving(env: dict[str, str], log: Path, *args: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """A `mailer` command listening on a free port; its output goes to `log`."""
    port = _free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(MAILER), *args, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, as a terminal's Ctrl+C reaches it
        )
        try:
            _wait_listening(process, port, log)
            yield process, port
        finally:
            with suppress(ProcessLookupError):  # whatever is left: arbiter, workers
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"not listening on {port} after {STARTUP_SECONDS} s:\n{log.read_text()}")


def _get(port: int, path: str) -> tuple[int, str | None, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Server"), response.read().decode()
    finally:
        conn.close()


def _stopped_by(
    process: subprocess.Popen, sig: signal.Signals, log: Path, *, group: bool = False
) -> int:
    """Exit code after `sig` to the process (or to its whole group, as Ctrl+C sends it)."""
    started = time.monotonic()
    if group:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    try:
        code = process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_SECONDS} s after {sig.name}:\n{log.read_text()}")
    assert time.monotonic() - started < STOP_SECONDS
    return code


def _any_left(process: subprocess.Popen) -> bool:
    """Whether any process of the command's group still runs (workers, an arbiter)."""
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_mailer_web_serves_the_pages_with_gunicorn_and_stops_on_sigterm(
    environment: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "web.log"
    with serving(environment, log, "web", "--workers", "2") as (process, port):
        status, server, page = _get(port, "/sign-in")  # the desks are behind sign-in
        assert status == 200, page
        assert server is not None and server.startswith("gunicorn"), server
        assert "Вход" in page
        assert _stopped_by(process, signal.SIGTERM, log) == 0, log.read_text()
        assert not _any_left(process), "a gunicorn worker outlived its master"
    assert log.read_text().count("Booting worker") == 2


def test_mailer_run_serves_with_gunicorn_and_ctrl_c_stops_everything(
    environment: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "run.log"
    database = environment["MAILER_DATABASE_URL"].removeprefix("sqlite:///")
    with serving(environment, log, "run", "--workers", "1") as (process, port):
        status, server, page = _get(port, "/sign-in")
        assert (status, server) == (200, "gunicorn"), page
        holder = f":{process.pid}"
        assert _wait_for(lambda: _scheduler_lease(database)[0].endswith(holder)), log.read_text()
        assert _stopped_by(process, signal.SIGINT, log, group=True) == 0, log.read_text()
        assert not _any_left(process), "a process of the group outlived the command"
    # `mailer run` stopped its scheduler after the web app: the lease is given up.
    holder_after, expires_at = _scheduler_lease(database)
    assert holder_after.endswith(holder)
    assert expires_at <= datetime.now(UTC)


def _scheduler_lease(database: str) -> tuple[str, datetime]:
    conn = sqlite3.connect(database)
    try:
        row = conn.execute(
            "SELECT holder, expires_at FROM leases WHERE name = 'scheduler'"
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        return "", datetime.max.replace(tzinfo=UTC)
    return row[0], datetime.fromisoformat(row[1]).replace(tzinfo=UTC)


def _wait_for(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
