"""Managers: adding them, finding them, and the house sender."""

from __future__ import annotations

from dataclasses import dataclass
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
    name = _checked_name(name)
    address = normalise_email(email)
    _check_timezone(timezone)
    _check_cap(daily_cap)
    _check_hours(work_starts_at, work_ends_at)
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


@dataclass(frozen=True)
class ManagerChanges:
    """What `managers set` changes; None leaves a field as it is."""

    name: str | None = None
    signature: str | None = None
    timezone: str | None = None
    daily_cap: int | None = None
    hours: tuple[time, time] | None = None


def update_manager(session: Session, manager: Manager, changes: ManagerChanges) -> list[str]:
    """Change a manager's name, signature, time zone, hours or cap, checked as `add_manager`
    checks them: a bad value raises ManagerError before anything is changed. Returns what
    changed. Letters already planned keep their times; delivery uses the new name and
    signature at once (the sender is resolved when a letter is rendered)."""
    name = _checked_name(changes.name) if changes.name is not None else None
    if changes.signature is not None and not changes.signature.strip():
        raise ManagerError("the signature is empty")
    if changes.timezone is not None:
        _check_timezone(changes.timezone)
    if changes.daily_cap is not None:
        _check_cap(changes.daily_cap)
    if changes.hours is not None:
        _check_hours(*changes.hours)
    said: list[str] = []
    if name is not None:
        manager.name = name
        said.append(f"name {name}")
    if changes.signature is not None:
        manager.signature = changes.signature.strip("\n")
        said.append("signature")
    if changes.timezone is not None:
        manager.timezone = changes.timezone
        said.append(f"time zone {changes.timezone}")
    if changes.hours is not None:
        manager.work_starts_at, manager.work_ends_at = changes.hours
        said.append(f"hours {changes.hours[0]:%H:%M}-{changes.hours[1]:%H:%M}")
    if changes.daily_cap is not None:
        manager.daily_cap = changes.daily_cap
        said.append(f"daily cap {changes.daily_cap}")
    session.flush()
    return said


def _checked_name(name: str) -> str:
    name = " ".join(strip_invisible(name).split())  # it becomes the From: display name
    if not name:
        raise ManagerError("manager name is empty")
    return name


def _check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ManagerError(f"unknown time zone '{timezone}'") from None


def _check_cap(daily_cap: int) -> None:
    if daily_cap <= 0:
        raise ManagerError("daily cap must be a positive number of letters")


def _check_hours(starts_at: time, ends_at: time) -> None:
    if starts_at >= ends_at:
        raise ManagerError("working hours must start before they end")


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
