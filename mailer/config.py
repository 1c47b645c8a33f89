"""Configuration: defaults → instance config → MAILER_* environment variables."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

ENV_PREFIX = "MAILER_"

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "IMPORT_CHUNK_SIZE": 1000,
    "DEFAULT_PHONE_REGION": "RU",
    "DEFAULT_TIMEZONE": "Europe/Moscow",
    "SECRET_KEY": None,  # None: generated once and kept in the instance folder
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",  # where unsubscribe and click links point
    "UNSUBSCRIBE_MAILTO": "unsubscribe@gifts.example",
    "OFFER_URLS": {},  # tag code or letter kind → the offer's address
    "ENVELOPE_FROM": "",  # where bounces go; empty: the sending manager's own address
    # No SMTP_HOST: the embedded sink (`mailer run`, `mailer sink`) on 127.0.0.1:SMTP_PORT
    # keeps every letter as an .eml file in the instance folder's outbox/.
    "SMTP_HOST": None,
    "SMTP_PORT": 8025,
    "SMTP_SECURITY": "none",
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_PER_DOMAIN_LIMIT": 2,
    "WORKER_BATCH": 250,
    "WORKER_CONCURRENCY": 4,  # SMTP sessions in flight per process
    "WORKER_PROCESSES": None,  # None: one per CPU core (`mailer deliver`, `mailer worker`)
}


def load(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    """Layer the settings so a deployment overrides only what it needs."""
    app.config.from_mapping(DEFAULTS)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env(ENV_PREFIX.rstrip("_"), loads=_loads)
    else:
        app.config.from_mapping(test_config)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = default_database_url(app.instance_path)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path))


def instance_secret(instance: Path) -> str:
    """A secret made once per instance, so signed links stay valid across restarts."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def default_database_url(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder."""
    return "sqlite:///" + os.path.join(instance_path, "mailer.sqlite3")


def _loads(value: str) -> Any:
    # Numbers and booleans arrive as JSON; URLs and names stay plain strings.
    try:
        return json.loads(value)
    except ValueError:
        return value
