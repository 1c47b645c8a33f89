"""Who is asking: passed into services so that authorization lives in their queries.

A manager's queries are filtered by owner in SQL; what is not theirs is never loaded, so a
page or an export cannot leak it, and an object of another manager is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import InstrumentedAttribute

from mailer.users.models import Role


@dataclass(frozen=True)
class Actor:
    """The signed-in user as services see it."""

    user_id: int
    role: Role
    manager_id: int | None  # the manager a manager's account works as

    @property
    def is_marketing(self) -> bool:
        return self.role is Role.MARKETING

    def owns(
        self, owner_column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
    ) -> ColumnElement[bool]:
        """A WHERE clause: every row for marketing, only the manager's own rows otherwise."""
        if self.is_marketing:
            return true()
        if self.manager_id is None:
            return false()
        return owner_column == self.manager_id

    def may_see(self, owner_id: int | None) -> bool:
        """The same rule for a row already loaded."""
        return self.is_marketing or (self.manager_id is not None and owner_id == self.manager_id)


# Scripts and the CLI act with every right, as marketing does.
SYSTEM = Actor(user_id=0, role=Role.MARKETING, manager_id=None)
