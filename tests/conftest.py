"""Fixtures: `app`, `runner` and `session` run on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from campaigns.defaults import seed_campaigns
from mailer import create_app
from mailer.db import get_engine, session_scope
from mailer.storage import schema
from mailer.tags.taxonomy import seed_tags
from tracking.links import seed_links

pytest_plugins = [
    "tests.conftest_smtp",  # smtp_server, no_unexpected_smtp
    "tests.conftest_browser",  # browser, live_url, page, signed_in_page
]

PG_URL = os.environ.get("MAILER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("MAILER_TEST_REQUIRE_PG") == "1"
SHARED_DATA = Path(
    os.environ.get("MAILER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def _pg_unreachable_reason() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "unreachable"
        return f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}: {exc}".splitlines()[0]
    return None


_PG_REASON: list[str | None] = []


def pg_unreachable_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(_pg_unreachable_reason())
    return _PG_REASON[0]


@pytest.fixture(autouse=True)
def _only_test_smtp_servers(no_unexpected_smtp: set[int]) -> Iterator[None]:
    """No test may open an SMTP connection to anything but a test server or sink."""
    yield


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    reason = pg_unreachable_reason()
    if reason:
        if REQUIRE_PG:
            pytest.fail(f"MAILER_TEST_REQUIRE_PG=1 but {reason}")
        pytest.skip(reason)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def app(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app on a migrated database with the taxonomy and default campaigns seeded."""
    monkeypatch.setenv("MAILER_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": db_url})
    schema.upgrade(get_engine(app))
    with session_scope(app) as session:
        seed_tags(session)
        seed_campaigns(session)
        seed_links(session)
        session.commit()
    yield app
    get_engine(app).dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with session_scope(app) as session:
        yield session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """The web app as a browser without JavaScript sees it: no cookies shared between tests."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (set MAILER_SHARED_DATA)")
    return SHARED_DATA
