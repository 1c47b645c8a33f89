"""Accounts and signing in for the web desks' tests: test client and browser alike."""

from __future__ import annotations

import itertools
import re
from functools import cache
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from mailer.managers.models import Manager
from mailer.users.models import Role, User
from mailer.users.services import add_user

PASSWORD = "correct horse battery"
_seq = itertools.count(1)
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@cache
def _hash() -> str:
    """The test password's scrypt hash, made once (each costs tens of milliseconds)."""
    return generate_password_hash(PASSWORD, method="scrypt")


def make_user(
    session: Session,
    *,
    role: Role = Role.MANAGER,
    manager: Manager | None = None,
    email: str | None = None,
) -> User:
    """An account whose password is PASSWORD; a manager's account works as `manager`."""
    email = email or (manager.email if manager else f"user{next(_seq)}@gifts.example")
    user = add_user(
        session,
        email=email,
        role=role,
        password=PASSWORD,
        manager_ref=manager.email if manager and role is Role.MANAGER else None,
    )
    user.password_hash = _hash()  # the same password, without hashing it again
    session.flush()
    return user


def csrf_token(client: FlaskClient, path: str = "/sign-in") -> str:
    """The CSRF token of the client's session, read from a page's form."""
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    found = _TOKEN.search(html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    """Sign the test client in through the real form (CSRF token included)."""
    token = csrf_token(client)
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    """A form POST as a browser sends it: with the session's CSRF token."""
    token = csrf_token(client, kw.pop("token_from", "/sign-in"))
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)


def sign_in_marketing(client: FlaskClient, session: Session) -> FlaskClient:
    """The client signed in as a marketing account, who sees every page."""
    user = make_user(session, role=Role.MARKETING, email=f"marketing{next(_seq)}@gifts.example")
    session.commit()
    sign_in(client, user.email)
    return client
