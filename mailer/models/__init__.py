"""The contact book's tables; importing this package registers them all on the metadata."""

from mailer.models.contact import Contact
from mailer.models.history import HistoryEntry, HistoryKind
from mailer.models.lease import Lease
from mailer.models.manager import Manager
from mailer.models.outbox import DUE_STATUSES, Letter, LetterStatus
from mailer.models.tag import Tag, TagAlias, TagKind, contact_tags

__all__ = [
    "Contact",
    "HistoryEntry",
    "DUE_STATUSES",
    "HistoryKind",
    "Lease",
    "Letter",
    "LetterStatus",
    "Manager",
    "Tag",
    "TagAlias",
    "TagKind",
    "contact_tags",
]
