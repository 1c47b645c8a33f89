"""Configuration: defaults → instance config → MAILER_* environment variables.

Every setting is read once, typed and checked when the app is made (`load`): a bad value
stops the start with one line naming it, instead of a sending child failing minutes later.
Entry points take the typed `Settings` (`settings()`) and hand services what they need.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from mailer.letters.composing import LetterSettings
from mailer.smtp import SmtpSettings

ENV_PREFIX = "MAILER_"
MIN_SECRET_LENGTH = 16
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
LOCAL_BASE_URL = "http://127.0.0.1:5000"

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "IMPORT_CHUNK_SIZE": 1000,
    "DEFAULT_PHONE_REGION": "RU",
    "DEFAULT_TIMEZONE": "Europe/Moscow",
    "SECRET_KEY": None,  # None: generated once and kept in the instance folder
    "SECRET_KEYS": [],  # older keys still accepted (newest first), after SECRET_KEY
    # Where unsubscribe and click links point; None: where `mailer run`/`web` serves on this
    # machine (LOCAL_BASE_URL for other commands), so the demo's links follow its PORT.
    "PUBLIC_BASE_URL": None,
    "ALLOW_HTTP_PUBLIC_URL": False,  # a lab may serve links over plain HTTP
    "UNSUBSCRIBE_MAILTO": "unsubscribe@gifts.example",
    "OFFER_URLS": {},  # retired: seeds the campaigns' offer links at `mailer db upgrade`
    "LINK_ALLOWED_DOMAINS": "",  # e.g. "gifts.example shop.gifts.example"; empty: any
    "ENVELOPE_FROM": "",  # where bounces go; empty: the sending manager's own address
    # No SMTP_HOST: the embedded sink (`mailer run`, `mailer sink`) on 127.0.0.1:SMTP_PORT
    # keeps every letter as an .eml file in the instance folder's outbox/.
    "SMTP_HOST": None,
    "SMTP_PORT": 8025,
    "SMTP_SECURITY": "none",
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_PER_DOMAIN_LIMIT": 2,
    "SMTP_TIMEOUT": 30.0,
    "SMTP_LOCAL_HOSTNAME": None,  # None: this machine's name in EHLO
    # Tracking: clicks are appended to a journal in this folder before their redirect
    # leaves (None: `clicks/` in the instance folder) and judged once they have settled.
    "CLICK_JOURNAL_DIR": None,
    "CLICK_JOURNAL_FSYNC": False,  # true: survive power loss too, at ~2 ms per click
    "CLICK_SETTLE_SECONDS": 60,  # a burst of scanner clicks needs this long to show
    "CLICK_MIN_READ_SECONDS": 20,  # a click sooner after sending is a scanner's
    "CLICK_BURST_SECONDS": 5,  # most links of a letter opened within this: a scanner
    "CLICK_DIRECTORY_SECONDS": 1,  # a removed link or deleted letter redirects no more after
    "TRUSTED_PROXIES": 0,  # proxies in front whose X-Forwarded-For is believed
    "TASKS_HOUSE_ASSIGNEE": "",  # e-mail of who gets the house sender's tasks; empty: shared
    "DIGEST_HOUR": 9,  # the morning digest, in each manager's time zone, on working days
    "WORKER_BATCH": 250,
    "WORKER_CONCURRENCY": 4,  # SMTP sessions in flight per process
    "WORKER_PROCESSES": None,  # None: one per CPU core (`mailer deliver`, `mailer worker`)
}


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class WorkerSettings:
    """How `mailer deliver` and `mailer worker` share the queue."""

    batch: int
    concurrency: int
    processes: int | None  # None: one per CPU core


@dataclass(frozen=True)
class TrackingSettings:
    """Where clicks are journaled, how they are judged, and who gets what comes back."""

    journal_dir: Path
    journal_fsync: bool
    settle_seconds: float
    min_read_seconds: float
    burst_seconds: float
    directory_seconds: float  # how old the click path's memory of links and letters may be
    trusted_proxies: int
    house_assignee: str  # a manager's e-mail, or "" for the shared queue
    digest_hour: int


@dataclass(frozen=True)
class Settings:
    """The product's settings, checked."""

    database_url: str
    sqlite_busy_timeout_ms: int
    import_chunk_size: int
    default_phone_region: str
    default_timezone: str
    secret_keys: tuple[str, ...]  # the first signs; all verify (a rotated-out key ends its links)
    letters: LetterSettings
    # Retired: the offer addresses before campaign links; `db upgrade` seeds links from it.
    offer_urls: dict[str, str]
    link_domains: tuple[str, ...]  # empty: any site; else links may lead only there
    smtp: SmtpSettings
    uses_embedded_sink: bool
    worker: WorkerSettings
    tracking: TrackingSettings


def load(app: Flask, test_config: Mapping[str, Any] | None = None) -> Settings:
    """Layer the settings so a deployment overrides only what it needs, then check them."""
    app.config.from_mapping(DEFAULTS)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env(ENV_PREFIX.rstrip("_"), loads=_loads)
    else:
        app.config.from_mapping(test_config)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = default_database_url(app.instance_path)
    if not app.config["CLICK_JOURNAL_DIR"]:
        app.config["CLICK_JOURNAL_DIR"] = os.path.join(app.instance_path, "clicks")
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path))
    checked = read_settings(app.config)
    app.extensions["mailer.settings"] = checked
    return checked


def settings(app: Flask | None = None) -> Settings:
    """The checked settings of the app (the current one by default)."""
    return (app or current_app).extensions["mailer.settings"]


def follow_serving_address(app: Flask, host: str, port: int) -> str:
    """Links in letters point where this machine serves (`mailer run --port 5077`, as
    `make demo` with PORT=5077 runs it) unless PUBLIC_BASE_URL says otherwise; returns the
    address links now use. Call it before anything forks or composes a letter."""
    if _Reader(app.config).raw("PUBLIC_BASE_URL") is None:
        shown = host if host in _LOCAL_HOSTS else "127.0.0.1"  # 0.0.0.0 is no address
        shown = f"[{shown}]" if ":" in shown else shown
        app.config["PUBLIC_BASE_URL"] = f"http://{shown}:{port}"
        app.extensions["mailer.settings"] = read_settings(app.config)
    return settings(app).letters.public_base_url


def read_settings(config: Mapping[str, Any]) -> Settings:
    """Typed settings from a layered mapping; a bad value raises ConfigError naming it."""
    reader = _Reader(config)
    keys = reader.secret_keys()
    embedded = reader.text("SMTP_HOST", "") == ""
    try:
        smtp = SmtpSettings(
            host=reader.text("SMTP_HOST", "") or "127.0.0.1",
            port=reader.integer("SMTP_PORT", 8025, low=1, high=65535),
            security=reader.choice("SMTP_SECURITY", "none", ("none", "starttls", "ssl")),
            username=reader.text("SMTP_USERNAME", ""),
            # A numeric password may have been JSON-decoded into an int by the loader.
            password=reader.text("SMTP_PASSWORD", "", strip=False),
            timeout=reader.number("SMTP_TIMEOUT", 30.0),
            per_domain_limit=reader.integer("SMTP_PER_DOMAIN_LIMIT", 2, low=1),
            local_hostname=reader.text("SMTP_LOCAL_HOSTNAME", "") or None,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Settings(
        database_url=reader.text("DATABASE_URL", ""),
        sqlite_busy_timeout_ms=reader.integer("SQLITE_BUSY_TIMEOUT_MS", 10_000, low=0),
        import_chunk_size=reader.integer("IMPORT_CHUNK_SIZE", 1000, low=1),
        default_phone_region=reader.text("DEFAULT_PHONE_REGION", "RU").upper(),
        default_timezone=reader.timezone("DEFAULT_TIMEZONE", "Europe/Moscow"),
        secret_keys=keys,
        letters=LetterSettings(
            secret_key=keys[0],
            public_base_url=reader.public_url(),
            unsubscribe_mailto=reader.text("UNSUBSCRIBE_MAILTO", ""),
            envelope_from=reader.text("ENVELOPE_FROM", ""),
        ),
        offer_urls=reader.mapping("OFFER_URLS"),
        link_domains=tuple(reader.text("LINK_ALLOWED_DOMAINS", "").replace(",", " ").split()),
        smtp=smtp,
        uses_embedded_sink=embedded,
        worker=WorkerSettings(
            batch=reader.integer("WORKER_BATCH", 250, low=1),
            concurrency=reader.integer("WORKER_CONCURRENCY", 4, low=1),
            processes=reader.integer("WORKER_PROCESSES", 0, low=0) or None,
        ),
        tracking=TrackingSettings(
            journal_dir=Path(reader.text("CLICK_JOURNAL_DIR", "clicks")),
            journal_fsync=reader.flag("CLICK_JOURNAL_FSYNC"),
            settle_seconds=reader.number("CLICK_SETTLE_SECONDS", 60),
            min_read_seconds=reader.number("CLICK_MIN_READ_SECONDS", 20),
            burst_seconds=reader.number("CLICK_BURST_SECONDS", 5),
            directory_seconds=reader.number("CLICK_DIRECTORY_SECONDS", 1, zero_ok=True),
            trusted_proxies=reader.integer("TRUSTED_PROXIES", 0, low=0, high=10),
            house_assignee=reader.text("TASKS_HOUSE_ASSIGNEE", "").lower(),
            digest_hour=reader.integer("DIGEST_HOUR", 9, low=0, high=23),
        ),
    )


class _Reader:
    """Reads one kind of value from the layered mapping; env values arrive as strings."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def raw(self, key: str) -> Any:
        value = self.config.get(key)
        if isinstance(value, str) and not value.strip():
            return None  # `MAILER_SMTP_PORT=` in an env file means "not set"
        return value

    def fail(self, key: str, wanted: str, value: Any) -> ConfigError:
        return ConfigError(f"{ENV_PREFIX}{key} must be {wanted}, got {value!r}")

    def text(self, key: str, default: str, *, strip: bool = True) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, dict | list):
            raise self.fail(key, "text", value)
        return str(value).strip() if strip else str(value)

    def integer(
        self, key: str, default: int, *, low: int | None = None, high: int | None = None
    ) -> int:
        value = self.raw(key)
        if value is None:
            return default
        wanted = "a whole number" + (f" from {low}" if low is not None else "")
        wanted += f" to {high}" if high is not None else ""
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(key, wanted, value)
        try:
            number = int(value)
        except ValueError:
            raise self.fail(key, wanted, value) from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise self.fail(key, wanted, value)
        return number

    def number(self, key: str, default: float, *, zero_ok: bool = False) -> float:
        value = self.raw(key)
        if value is None:
            return default
        wanted = (
            "zero or a positive number of seconds" if zero_ok else "a positive number of seconds"
        )
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise self.fail(key, wanted, value) from None
        if not (number > 0 or (zero_ok and number == 0)):
            raise self.fail(key, wanted, value)
        return number

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(key, default).lower()
        if value not in choices:
            raise self.fail(key, "one of " + ", ".join(choices), value)
        return value

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).strip().lower() in ("0", "false", "no", "off"):
            return False
        raise self.fail(key, "true or false", value)

    def mapping(self, key: str) -> dict[str, str]:
        value = self.raw(key) or {}
        if not isinstance(value, dict):
            raise self.fail(key, "a JSON object", value)
        return {str(k): str(v) for k, v in value.items()}

    def timezone(self, key: str, default: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        name = self.text(key, default)
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(key, "a time zone such as Europe/Moscow", name) from None
        return name

    def secret_keys(self) -> tuple[str, ...]:
        """SECRET_KEY signs; SECRET_KEYS (newest first) are older keys still accepted."""
        older = self.raw("SECRET_KEYS") or []
        if isinstance(older, str):
            older = [older]
        if not isinstance(older, list):
            raise self.fail("SECRET_KEYS", "a JSON list of keys, newest first", older)
        keys = (self.text("SECRET_KEY", ""), *(str(k) for k in older))
        for key in keys:
            if len(key) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"{ENV_PREFIX}SECRET_KEY and SECRET_KEYS must be at least "
                    f"{MIN_SECRET_LENGTH} characters each (signed links could be forged)"
                )
        return tuple(dict.fromkeys(keys))

    def public_url(self) -> str:
        """Links in letters point here; they must be HTTPS except on this machine or a lab."""
        url = self.text("PUBLIC_BASE_URL", LOCAL_BASE_URL).rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.fail("PUBLIC_BASE_URL", "an address such as https://mail.example", url)
        if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
            if not self.flag("ALLOW_HTTP_PUBLIC_URL"):
                raise ConfigError(
                    f"{ENV_PREFIX}PUBLIC_BASE_URL must be https:// outside this machine, got "
                    f"{url!r} (set {ENV_PREFIX}ALLOW_HTTP_PUBLIC_URL=1 for a lab)"
                )
        return url


def instance_secret(instance: Path) -> str:
    """A secret made once per instance, so signed links stay valid across restarts.

    Processes starting together must agree on it and never read a half-written file: the
    secret is written to a private temporary file (0600 from its creation), synced, then
    linked into place; whoever loses the race reads the winner's secret.
    """
    path = instance / "secret_key"
    for _ in range(50):
        try:
            secret = path.read_text().strip()
        except FileNotFoundError:
            secret = ""
            _create_secret(path)
            continue
        if len(secret) >= MIN_SECRET_LENGTH:
            return secret
        if path.stat().st_size == 0:
            time.sleep(0.02)  # an old, non-atomic writer may be mid-write
            continue
        raise ConfigError(f"{path} holds a secret shorter than {MIN_SECRET_LENGTH} characters")
    raise ConfigError(f"{path} stays empty: remove it and start again")


def _create_secret(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_urlsafe(32).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)  # fails if another process got there first
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def default_database_url(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder."""
    return "sqlite:///" + os.path.join(instance_path, "mailer.sqlite3")


def _loads(value: str) -> Any:
    # Numbers and booleans arrive as JSON; URLs and names stay plain strings.
    try:
        return json.loads(value)
    except ValueError:
        return value
