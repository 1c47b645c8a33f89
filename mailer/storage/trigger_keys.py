"""Foreign keys that PostgreSQL keeps by triggers checking a statement's rows at once.

PostgreSQL checks a key with a query per inserted row; for the millions of letters a
year's plan copies in, the two keys of `letters` (to its contact; to its campaign and
that campaign's tag) were most of the cost. Migration 0004 replaces them on PostgreSQL by
triggers that keep the same guarantees for a whole statement (locks, cascades, refused
changes); SQLite keeps the keys, which cost it little. The models still declare them
(SQLite's schema, the ORM's joins) with `info=kept_by_triggers()`, and autogenerate asks
`is_kept_by_triggers` so that it does not report them missing on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

_TRIGGERS = "triggers"
# The databases whose migrations replaced the keys so marked by triggers.
_DIALECTS = ("postgresql",)


def kept_by_triggers() -> dict[str, Any]:
    """`info` of a foreign key that the databases doing so keep by triggers."""
    return dict.fromkeys(_DIALECTS, _TRIGGERS)


def is_kept_by_triggers(constraint: Any, dialect_name: str) -> bool:
    """Whether this database keeps `constraint` (a model's foreign key) by triggers."""
    return constraint.info.get(dialect_name) == _TRIGGERS
