"""Settings are read once, typed and checked when the app is made."""

from __future__ import annotations

import multiprocessing
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mailer import create_app
from mailer.config import ConfigError, instance_secret, read_settings, settings

GOOD = {
    "SECRET_KEY": "k" * 32,
    "PUBLIC_BASE_URL": "https://mail.example",
    "DATABASE_URL": "sqlite://",
}


def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: object):
    monkeypatch.setenv("MAILER_INSTANCE_PATH", str(tmp_path / "instance"))
    return create_app({**GOOD, **overrides})


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("SMTP_PORT", "abc", "MAILER_SMTP_PORT"),
        ("SMTP_PORT", 70000, "MAILER_SMTP_PORT"),
        ("SMTP_SECURITY", "tls", "MAILER_SMTP_SECURITY"),
        ("SMTP_TIMEOUT", "-1", "MAILER_SMTP_TIMEOUT"),
        ("SMTP_PER_DOMAIN_LIMIT", 0, "MAILER_SMTP_PER_DOMAIN_LIMIT"),
        ("WORKER_BATCH", "many", "MAILER_WORKER_BATCH"),
        ("WORKER_PROCESSES", -2, "MAILER_WORKER_PROCESSES"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "MAILER_DEFAULT_TIMEZONE"),
        ("OFFER_URLS", "not a mapping", "MAILER_OFFER_URLS"),
        ("SECRET_KEY", "short", "MAILER_SECRET_KEY"),
        ("SECRET_KEYS", ["k" * 32, ""], "SECRET_KEYS"),
        ("PUBLIC_BASE_URL", "mail.example", "MAILER_PUBLIC_BASE_URL"),
        ("PUBLIC_BASE_URL", "http://mail.example", "MAILER_PUBLIC_BASE_URL"),
    ],
)
def test_it_refuses_to_start_with_a_bad_setting_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: object, named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        make(tmp_path, monkeypatch, **{key: value})


def test_it_reads_every_setting_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make(tmp_path, monkeypatch, SMTP_PORT="2525", SMTP_TIMEOUT="7.5", WORKER_PROCESSES="3")
    checked = settings(app)
    assert checked.smtp.port == 2525 and checked.smtp.timeout == 7.5
    assert checked.smtp.local_hostname is None
    assert checked.worker.processes == 3 and checked.worker.batch == 250
    assert checked.uses_embedded_sink
    assert checked.letters.secret_key == "k" * 32


def test_it_signs_with_the_newest_key_and_keeps_older_ones() -> None:
    checked = read_settings({**GOOD, "SECRET_KEYS": ["o" * 20, "k" * 32]})
    assert checked.secret_keys == ("k" * 32, "o" * 20)
    assert checked.letters.secret_key == "k" * 32


def test_it_allows_plain_http_links_on_this_machine_or_in_a_lab() -> None:
    assert read_settings({**GOOD, "PUBLIC_BASE_URL": "http://127.0.0.1:5000/"}).letters
    lab_config = {**GOOD, "PUBLIC_BASE_URL": "http://lab.test", "ALLOW_HTTP_PUBLIC_URL": "1"}
    lab = read_settings(lab_config)
    assert lab.letters.public_base_url == "http://lab.test"


def test_the_command_line_says_one_line_and_exits_non_zero(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MAILER_INSTANCE_PATH": str(tmp_path), "MAILER_SMTP_PORT": "x"}
    done = subprocess.run(
        [sys.executable, "-c", "from mailer.cli import main; main()", "managers", "list"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: configuration: MAILER_SMTP_PORT must be a whole number from 1 to 65535, got 'x'"
    ]


def _read_secret(folder: str, queue: multiprocessing.Queue) -> None:
    queue.put(instance_secret(Path(folder)))


@pytest.mark.parametrize("trial", range(30))  # the old race showed in ~1 of 10
def test_processes_starting_together_agree_on_one_private_secret(
    tmp_path: Path, trial: int
) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_read_secret, args=(str(tmp_path), queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    secrets = {queue.get(timeout=10) for _ in workers}
    for worker in workers:
        worker.join()
    assert len(secrets) == 1 and len(secrets.pop()) >= 32
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("abc")
    with pytest.raises(ConfigError, match="shorter than 16"):
        instance_secret(tmp_path)
