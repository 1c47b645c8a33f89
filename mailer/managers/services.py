"""Managers: adding them, finding them, and the house sender."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.contacts.addresses import normalise_email
from mailer.contacts.book import strip_invisible
from mailer.contacts.folding import fold
from mailer.managers.models import Manager


class ManagerError(ValueError):
    """A manager that cannot be added or found; the message says why."""


def add_manager(
    session: Session,
    *,
    name: str,
    email: str,
    is_house: bool = False,
    timezone: str = "Europe/Moscow",
    daily_cap: int = 40,
    signature: str = "",
    work_starts_at: time = time(9, 0),
    work_ends_at: time = time(18, 0),
) -> Manager:
    """Add a manager; a second house sender or a taken e-mail is refused with the reason."""
    name = " ".join(strip_invisible(name).split())  # it becomes the From: display name
    if not name:
        raise ManagerError("manager name is empty")
    address = normalise_email(email)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ManagerError(f"unknown time zone '{timezone}'") from None
    if daily_cap <= 0:
        raise ManagerError("daily cap must be a positive number of letters")
    if work_starts_at >= work_ends_at:
        raise ManagerError("working hours must start before they end")
    if session.scalar(select(Manager).where(Manager.email == address)):
        raise ManagerError(f"a manager with e-mail {address} already exists")
    if is_house and (house := find_house_sender(session)):
        raise ManagerError(f"the house sender is already {house.name} <{house.email}>")
    manager = Manager(
        name=name,
        email=address,
        is_house=is_house,
        timezone=timezone,
        daily_cap=daily_cap,
        signature=signature or name,
        work_starts_at=work_starts_at,
        work_ends_at=work_ends_at,
    )
    session.add(manager)
    session.flush()
    return manager


def find_house_sender(session: Session) -> Manager | None:
    """The fictional persona that keeps mailing contacts nobody works with."""
    return session.scalar(select(Manager).where(Manager.is_house.is_(True)))


def list_managers(session: Session) -> list[Manager]:
    """All managers, house sender last, then by name."""
    return list(session.scalars(select(Manager).order_by(Manager.is_house, Manager.name)))


def find_manager(session: Session, ref: str) -> Manager:
    """A manager by e-mail or exact name (case-insensitive); the house sender as `house`."""
    ref = strip_invisible(ref).strip()
    if fold(ref) in ("house", "дом", "house sender"):
        if house := find_house_sender(session):
            return house
        raise ManagerError("there is no house sender; add one with --house")
    if "@" in ref:
        manager = session.scalar(select(Manager).where(Manager.email == ref.lower()))
        if manager is None:
            try:
                manager = session.scalar(
                    select(Manager).where(Manager.email == normalise_email(ref))
                )
            except ValueError:
                manager = None
    else:
        key = fold(ref)
        matches = [m for m in list_managers(session) if fold(m.name) == key]
        if len(matches) > 1:
            raise ManagerError(f"several managers are called '{ref}'; use the e-mail")
        manager = matches[0] if matches else None
    if manager is None:
        raise ManagerError(f"unknown manager '{ref}'")
    return manager
