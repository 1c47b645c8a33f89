"""Creating and migrating the database with Alembic, from code and from the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from mailer.storage.trigger_keys import is_kept_by_triggers

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to this engine, independent of the working directory."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema to `revision`."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def head_revision() -> str:
    """The newest migration this code carries."""
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None  # the package always carries its migrations
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def include_object(dialect_name: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Autogenerate's filter: a foreign key this database keeps by triggers is not missing.

    (Migration 0004 replaced two keys of the letters by statement-level triggers on
    PostgreSQL; the models declare them for SQLite and for the ORM's joins: see trigger_keys.)
    """

    def include(obj: Any, _name: str | None, type_: str, reflected: bool, _other: Any) -> bool:
        if type_ != "foreign_key_constraint" or reflected:
            return True
        return not is_kept_by_triggers(obj, dialect_name)

    return include
