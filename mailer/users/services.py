"""Accounts: creating them, setting passwords, and checking a sign-in with a lockout.

Passwords are kept as Werkzeug scrypt hashes. Repeated wrong passwords lock the account
for a while, so guessing costs hours, not seconds; an unknown e-mail costs the same hash
check as a known one, so the answer's timing does not tell which addresses have accounts.
Services flush and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from mailer.contacts.addresses import normalise_email
from mailer.db import utcnow
from mailer.managers.models import Manager
from mailer.managers.services import find_manager
from mailer.users.models import Role, User

MIN_PASSWORD_LENGTH = 10
MAX_FAILED_ATTEMPTS = 5  # wrong passwords in a row before the lockout
LOCKOUT = timedelta(minutes=15)
_METHOD = "scrypt"
# Checked against when the e-mail is unknown: the same work as a real check.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16), method=_METHOD)


class UserError(ValueError):
    """A request about accounts that cannot be done, said in one line."""


class Locked(Exception):
    """Too many wrong passwords: no check is made until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until:%H:%M} UTC")
        self.until = until


@dataclass(frozen=True)
class SignIn:
    """A successful check: who signed in."""

    user_id: int
    session_token: str


def check_password_rules(password: str) -> None:
    """A password long enough to resist guessing; said in one line when it is not."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")


def _hash(password: str) -> str:
    check_password_rules(password)
    return generate_password_hash(password, method=_METHOD)


def find_user(session: Session, email: str) -> User:
    """An account by e-mail, or a UserError naming it."""
    user = session.scalar(select(User).where(User.email == _address(email)))
    if user is None:
        raise UserError(f"no account {email.strip()}")
    return user


def _address(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def add_user(
    session: Session, *, email: str, role: Role, password: str, manager_ref: str | None = None
) -> User:
    """Create an account; a manager's account works as the manager given (or of its e-mail)."""
    address = _address(email)
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise UserError(f"an account {address} already exists")
    manager: Manager | None = None
    if role is Role.MANAGER:
        manager = find_manager(session, manager_ref or address)
        if manager.is_house:
            raise UserError("the house sender is not a person: link the account to a manager")
    elif manager_ref:
        raise UserError("--manager is for manager accounts only")
    user = User(
        email=address,
        password_hash=_hash(password),
        role=role,
        manager_id=manager.id if manager else None,
        session_token=secrets.token_hex(16),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, email: str, password: str) -> User:
    """A new password: it also ends every session of the account and lifts a lockout."""
    user = find_user(session, email)
    user.password_hash = _hash(password)
    user.session_token = secrets.token_hex(16)
    user.failed_attempts = 0
    user.locked_until = None
    session.flush()
    return user


def authenticate(
    session: Session, email: str, password: str, *, now: datetime | None = None
) -> SignIn | None:
    """The account whose password this is, None when wrong; raises Locked while locked."""
    now = now or utcnow()
    try:
        address = normalise_email(email)
    except ValueError:
        address = ""
    user = session.scalar(select(User).where(User.email == address)) if address else None
    if user is None or not user.is_active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if user.locked_until is not None and user.locked_until > now:
        raise Locked(user.locked_until)
    if not check_password_hash(user.password_hash, password):
        user.failed_attempts += 1
        if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
            user.locked_until = now + LOCKOUT
            user.failed_attempts = 0
        session.flush()
        return None
    user.failed_attempts = 0
    user.locked_until = None
    user.last_sign_in_at = now
    session.flush()
    return SignIn(user_id=user.id, session_token=user.session_token)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.email)))
