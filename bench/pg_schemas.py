"""A private PostgreSQL schema per benchmark run, so runs never see each other's rows."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text

PG_URL = os.environ.get("MAILER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_schema_url(admin_url: str) -> tuple[str, str]:
    """A new empty schema and a URL whose search_path points at it."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in admin_url else "?"
    return f"{admin_url}{sep}options=-csearch_path%3D{name}", name


def drop_schema(admin_url: str, name: str) -> None:
    with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
