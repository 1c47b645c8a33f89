"""Alembic environment: runs on a connection handed over by mailer.storage.schema, or a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import mailer.tables  # noqa: F401
from mailer.db import Base, make_engine
from mailer.storage.schema import include_object

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: set sqlalchemy.url or run `mailer db upgrade`")
    with make_engine(url).begin() as conn:
        run_on(conn)
