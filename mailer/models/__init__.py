"""The contact book's tables; importing this package registers them all on the metadata."""

from mailer.models.contact import Contact
from mailer.models.history import HistoryEntry, HistoryKind
from mailer.models.manager import Manager
from mailer.models.tag import Tag, TagAlias, TagKind, contact_tags

__all__ = [
    "Contact",
    "HistoryEntry",
    "HistoryKind",
    "Manager",
    "Tag",
    "TagAlias",
    "TagKind",
    "contact_tags",
]
