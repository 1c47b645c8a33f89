"""Plain factory functions for test data."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from mailer.contacts.book import Consent, add_contact, clean_fields
from mailer.contacts.models import Contact
from mailer.managers.models import Manager
from mailer.managers.services import add_manager
from mailer.tags.taxonomy import resolve_tags

_seq = itertools.count(1)


def make_manager(session: Session, **overrides: Any) -> Manager:
    n = next(_seq)
    values: dict[str, Any] = {"name": f"Менеджер {n}", "email": f"manager{n}@gifts.example"}
    values.update(overrides)
    return add_manager(session, **values)


def make_contact(
    session: Session,
    *,
    owner: Manager | None = None,
    tags: str = "",
    is_same_company_ok: bool = False,
    **overrides: Any,
) -> Contact:
    n = next(_seq)
    values: dict[str, Any] = {
        "email": f"client{n}@client{n}.example",
        "first_name": "Иван",
        "last_name": f"Клиентов{n}",
        "company": f"Компания {n}",
        "consent": Consent(True, None, "test"),
    }
    values.update(overrides)
    owner = owner or make_manager(session)
    return add_contact(
        session,
        clean_fields(**values),
        owner=owner,
        tags=resolve_tags(session, tags),
        is_same_company_ok=is_same_company_ok,
    )


def configure(app, **overrides) -> None:
    """Change settings of a made app, checked as at start (a test's relay, batch size)."""
    from mailer.config import read_settings

    app.config.update(overrides)
    app.extensions["mailer.settings"] = read_settings(app.config)
