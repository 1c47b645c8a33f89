"""The database: migrations match the models, SQLite settings, configuration layering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import campaigns.models  # noqa: F401  (the campaigns tables are part of the schema)
from campaigns.defaults import seed_campaigns
from campaigns.planning import plan_year
from mailer import create_app, schema
from mailer.db import Base, get_engine, make_engine
from mailer.models import Letter
from mailer.taxonomy import seed_tags
from tests.factories import make_contact


def test_the_migrations_create_exactly_the_models_tables(app):
    engine = get_engine(app)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert schema.current_revision(engine) == "0003"


def test_upgrade_twice_is_harmless(app):
    schema.upgrade(get_engine(app))
    assert schema.current_revision(get_engine(app)) == "0003"


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("MAILER_DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'mailer.sqlite3'}"
    with get_engine(app).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_environment_overrides_instance_config_which_overrides_defaults(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.py").write_text("IMPORT_CHUNK_SIZE = 50\nSQLITE_BUSY_TIMEOUT_MS = 1234\n")
    monkeypatch.setenv("MAILER_INSTANCE_PATH", str(inst))
    monkeypatch.setenv("MAILER_IMPORT_CHUNK_SIZE", "77")
    monkeypatch.setenv("MAILER_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}")
    app = create_app()
    assert app.config["IMPORT_CHUNK_SIZE"] == 77
    assert app.config["SQLITE_BUSY_TIMEOUT_MS"] == 1234
    assert app.config["DEFAULT_PHONE_REGION"] == "RU"
    assert app.config["DATABASE_URL"].endswith("elsewhere.sqlite3")


def test_db_upgrade_command_creates_and_seeds_a_new_database(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("MAILER_DATABASE_URL", raising=False)
    runner = create_app().test_cli_runner()
    result = runner.invoke(args=["mailer", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "revision 0003; 23 tags and 23 campaigns added" in result.output
    assert (tmp_path / "inst" / "mailer.sqlite3").exists()


def test_a_command_on_an_unmigrated_database_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("MAILER_DATABASE_URL", raising=False)
    result = create_app().test_cli_runner().invoke(args=["mailer", "managers", "list"])
    assert result.exit_code != 0
    assert "mailer db upgrade" in result.output


def test_0003_keeps_planned_letters_and_still_refuses_a_letter_off_its_campaigns_tag(db_url):
    engine = make_engine(db_url)
    schema.upgrade(engine, "0002")
    with Session(engine) as session:
        seed_tags(session)
        seed_campaigns(session)
        contact = make_contact(session, tags="8, 23")
        plan_year(session, 2027, now=datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
        session.commit()
        contact_id = contact.id
    schema.upgrade(engine)
    assert schema.current_revision(engine) == "0003"
    with Session(engine) as session:
        letters = list(session.scalars(select(Letter).order_by(Letter.id)))
        assert [letter.contact_id for letter in letters] == [contact_id, contact_id]
        mar8, feb23 = sorted(letters, key=lambda letter: letter.kind != "mar8")
        values = {
            "contact_id": contact_id,
            "kind": "mar8",
            "year": 2028,
            "planned_at": mar8.planned_at,
            "due_at": mar8.due_at,
            "expires_at": mar8.expires_at,
        }
        off_tag = Letter(**values, campaign_id=mar8.campaign_id, tag_id=feb23.tag_id)
        again = Letter(**values | {"year": 2027}, campaign_id=mar8.campaign_id, tag_id=mar8.tag_id)
        for letter in (off_tag, again):
            with pytest.raises(IntegrityError), session.begin_nested():
                session.add(letter)
    engine.dispose()
