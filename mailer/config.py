"""Configuration: defaults → instance config → MAILER_* environment variables."""

from __future__ import annotations

import json
import os
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


def default_database_url(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder."""
    return "sqlite:///" + os.path.join(instance_path, "mailer.sqlite3")


def _loads(value: str) -> Any:
    # Numbers and booleans arrive as JSON; URLs and names stay plain strings.
    try:
        return json.loads(value)
    except ValueError:
        return value
