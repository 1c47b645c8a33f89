"""The database: migrations match the models, SQLite settings, configuration layering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

import campaigns.models  # noqa: F401  (the campaigns tables are part of the schema)
from campaigns.defaults import seed_campaigns
from campaigns.planning import plan_year
from mailer import create_app
from mailer.db import Base, get_engine, make_engine
from mailer.delivery.models import Letter
from mailer.storage import schema
from mailer.tags.taxonomy import seed_tags
from tests.factories import make_contact


def test_the_migrations_create_exactly_the_models_tables(app):
    engine = get_engine(app)
    with engine.connect() as conn:
        opts = {"include_object": schema.include_object(conn.dialect.name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    assert diff == []
    assert schema.current_revision(engine) == schema.head_revision()


def test_upgrade_twice_is_harmless(app):
    schema.upgrade(get_engine(app))
    assert schema.current_revision(get_engine(app)) == schema.head_revision()


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
    seeded = "23 tags, 23 campaigns and 46 campaign links added"
    assert f"revision {schema.head_revision()}; {seeded}" in result.output
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
    schema.upgrade(engine, "0003")
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


def _planned_contacts(engine, tags: str = "8, 23") -> tuple[int, int]:
    """Two contacts with the year 2027 planned; their ids."""
    with Session(engine) as session:
        seed_tags(session)
        seed_campaigns(session)
        first, second = make_contact(session, tags=tags), make_contact(session, tags=tags)
        plan_year(session, 2027, now=datetime(2027, 1, 1, 9, 0, tzinfo=UTC))
        session.commit()
        return first.id, second.id


def _letter_like(letter: Letter, **changes) -> Letter:
    values = {
        column: getattr(letter, column)
        for column in ("contact_id", "campaign_id", "tag_id", "kind", "year")
        + ("planned_at", "due_at", "expires_at")
    }
    return Letter(**values | {"year": 2028} | changes)


def test_0004_keeps_the_letters_and_every_guarantee_of_their_keys(db_url):
    engine = make_engine(db_url)
    schema.upgrade(engine, "0003")
    first, second = _planned_contacts(engine)
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    with Session(engine) as session:
        letters = list(session.scalars(select(Letter).order_by(Letter.id)))
        assert sorted({letter.contact_id for letter in letters}) == [first, second]
        mar8, feb23 = sorted(letters[:2], key=lambda letter: letter.kind != "mar8")
        refused = [
            _letter_like(mar8, tag_id=feb23.tag_id),  # off its campaign's tag
            _letter_like(mar8, contact_id=second + 1000),  # no such contact
            _letter_like(mar8, campaign_id=mar8.campaign_id + 1000),  # no such campaign
            _letter_like(mar8, year=2027),  # a second letter for the year
        ]
        for letter in refused:
            with pytest.raises(IntegrityError), session.begin_nested():
                session.add(letter)
        with pytest.raises(IntegrityError), session.begin_nested():  # a key changed later
            session.execute(
                text("UPDATE letters SET contact_id = :other WHERE id = :id"),
                {"other": second + 1000, "id": mar8.id},
            )
        with pytest.raises(IntegrityError), session.begin_nested():  # a named key changed
            session.execute(
                text("UPDATE contacts SET id = :other WHERE id = :id"),
                {"other": second + 1000, "id": first},
            )
        session.add(_letter_like(mar8))  # next year's letter is fine
        session.flush()

        session.execute(text("DELETE FROM contacts WHERE id = :id"), {"id": first})
        left = session.scalars(select(Letter.contact_id).distinct()).all()
        assert left == [second]
        session.execute(text("DELETE FROM campaigns WHERE id = :id"), {"id": feb23.campaign_id})
        kinds = session.scalars(select(Letter.kind).distinct()).all()
        assert kinds == ["mar8"]
        session.commit()
    engine.dispose()


def test_a_contact_with_letters_being_planned_cannot_be_deleted_until_they_are_in(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite lets one transaction write at a time: nothing runs alongside")
    engine = make_engine(db_url)
    schema.upgrade(engine)
    first, _ = _planned_contacts(engine, tags="8")
    with Session(engine) as planner, Session(engine) as deleter:
        letter = planner.scalars(select(Letter).where(Letter.contact_id == first)).one()
        planner.add(_letter_like(letter))
        planner.flush()  # the new letter's contact is locked until the planner commits
        deleter.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            deleter.execute(text("DELETE FROM contacts WHERE id = :id"), {"id": first})
        deleter.rollback()
        planner.commit()
        deleter.execute(text("DELETE FROM contacts WHERE id = :id"), {"id": first})
        deleter.commit()
        assert (
            planner.scalar(
                select(func.count()).select_from(Letter).where(Letter.contact_id == first)
            )
            == 0
        )
    engine.dispose()
