"""How commands get a database session and turn domain errors into clear messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from mailer.db import session_scope

# Errors whose message is written for the user; they exit non-zero without a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (ValueError, LookupError)


@contextmanager
def unit_of_work(*, commit: bool = True) -> Iterator[Session]:
    """A session for one command: committed at the end, rolled back on any error."""
    try:
        with session_scope() as session:
            yield session
            if commit:
                session.commit()
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            raise click.ClickException(
                "the database has no tables yet: run `mailer db upgrade` first"
            ) from None
        raise
