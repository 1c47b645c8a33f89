"""The contact book's tables; importing this package registers them all on the metadata."""

from mailer.models.contact import Contact
from mailer.models.history import HistoryEntry, HistoryKind
from mailer.models.lease import Lease
from mailer.models.manager import Manager
from mailer.models.outbox import CLAIMABLE, DUE_STATUSES, IN_FLIGHT, Letter, LetterStatus
from mailer.models.tag import Tag, TagAlias, TagKind, contact_tags

__all__ = [
    "CLAIMABLE",
    "Contact",
    "HistoryEntry",
    "DUE_STATUSES",
    "HistoryKind",
    "IN_FLIGHT",
    "Lease",
    "Letter",
    "LetterStatus",
    "Manager",
    "Tag",
    "TagAlias",
    "TagKind",
    "contact_tags",
]
