"""The writes a chunk of accepted import rows makes, done with a few statements.

Inserts go in one bulk insert (COPY on PostgreSQL) followed by one lookup of the new ids;
updates never wipe what the book knows with an empty cell; tags, other e-mails and phones
are only ever added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from sqlalchemy import case, not_, select, update
from sqlalchemy.orm import Session

from mailer.contacts.book import Consent, ContactFields
from mailer.contacts.channels import channels_of, keep_channels
from mailer.contacts.models import ChannelKind, Contact
from mailer.db import table_of
from mailer.storage.copy import copy_insert
from mailer.storage.listparams import in_list_param
from mailer.tags.models import contact_tags


@dataclass
class ChunkWrites:
    """A chunk's accepted rows as the writes they make, done with a few statements."""

    now: datetime
    inserts: dict[str, dict[str, object]] = field(default_factory=dict)  # by e-mail
    updates: dict[int, dict[str, object]] = field(default_factory=dict)  # by contact id
    links: dict[str, set[int]] = field(default_factory=dict)  # e-mail → tag ids
    # e-mail → the contact's other e-mails and phones
    channels: dict[str, list[tuple[ChannelKind, str]]] = field(default_factory=dict)

    def insert(self, f: ContactFields, owner_id: int) -> None:
        self.inserts[f.email] = {
            **f.columns(),
            **_NO_CONSENT,
            **_consent_insert(f.consent, self.now),
            "owner_id": owner_id,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def update(self, contact_id: int, f: ContactFields) -> None:
        """A contact in the book (its id), or one inserted earlier in this chunk (id 0)."""
        if contact_id:
            values = self.updates.setdefault(contact_id, {})
            values.update(_changed_columns(f), **_consent_update(f.consent, self.now))
        else:
            self.inserts[f.email].update(
                _changed_columns(f), **_consent_insert(f.consent, self.now)
            )

    def link(self, email: str, tag_ids: list[int]) -> None:
        self.links.setdefault(email, set()).update(tag_ids)

    def keep(self, f: ContactFields) -> None:
        """Keep the row's other e-mails and phones beside the contact's own."""
        pairs = channels_of(f.extra_emails, f.extra_phones)
        self.channels.setdefault(f.email, []).extend(pairs)

    def store(self, session: Session, ids: dict[str, int]) -> None:
        """Write it all; `ids` are the contact ids of the e-mails already in the book."""
        if self.inserts:
            # A plain insert (executemany, or COPY on PostgreSQL), then one lookup: RETURNING
            # in parameter order would make SQLite insert row by row.
            columns = list(next(iter(self.inserts.values())))
            tuples = list(map(itemgetter(*columns), self.inserts.values()))
            copy_insert(session, table_of(Contact), columns, tuples)
            found = session.connection().execute(_IDS_BY_EMAIL, {"keys": list(self.inserts)})
            ids = {**ids, **dict(found.all())}
        for contact_id, values in self.updates.items():
            session.execute(
                update(Contact)
                .where(Contact.id == contact_id)
                .values(**values, updated_at=self.now)
            )
        wanted = {ids[e]: tags for e, tags in self.links.items() if tags}
        _link_tags(session, wanted, list(self.updates), self.now)
        if self.channels:
            others = {ids[e]: pairs for e, pairs in self.channels.items()}
            keep_channels(session, others, list(self.updates))


# The chunk's lookups, built once; each chunk's keys are bound as one list parameter.
_IDS_BY_EMAIL = select(Contact.email, Contact.id).where(in_list_param(Contact.email))
_LINKS = select(contact_tags.c.contact_id, contact_tags.c.tag_id).where(
    in_list_param(contact_tags.c.contact_id)
)


_COMPANY_COLUMNS = ("company_name", "company_alias", "company_key", "company_alias_key")


def _changed_columns(f: ContactFields) -> dict[str, object]:
    """Non-empty fields of the row: an empty cell never wipes what the book knows."""
    columns = f.columns()
    changed = {k: v for k, v in columns.items() if v}
    if f.company_name:
        # A company's name and alias go together: `Лада` replaces `Тойота (Toyota)` whole.
        changed.update({k: columns[k] for k in _COMPANY_COLUMNS})
    return changed


_NO_CONSENT = {"has_consent": False, "consent_at": None, "consent_source": ""}


def _consent_insert(consent: Consent | None, now: datetime) -> dict[str, object]:
    if consent is None:
        return {}
    given_at = (consent.given_at or now) if consent.is_given else None
    return {
        "has_consent": consent.is_given,
        "consent_at": given_at,
        "consent_source": consent.source,
    }


def _consent_update(consent: Consent | None, now: datetime) -> dict[str, object]:
    """Consent from a re-import; an answer the book already has keeps its date and source.

    A re-imported export says "да" or the date consent was given, so rewriting the record
    would replace its exact time and its real source with the import's.
    """
    values = _consent_insert(consent, now)
    if consent is None:
        return values
    unchanged = Contact.has_consent if consent.is_given else not_(Contact.has_consent)
    return {
        "has_consent": consent.is_given,
        "consent_at": case((unchanged, Contact.consent_at), else_=values["consent_at"]),
        "consent_source": case((unchanged, Contact.consent_source), else_=values["consent_source"]),
    }


def _link_tags(
    session: Session, wanted: dict[int, set[int]], existing: list[int], now: datetime
) -> None:
    """Add tags the contacts do not have yet; tags are never removed by an import."""
    if not wanted:
        return
    have: set[tuple[int, int]] = set()
    if existing:  # contacts inserted just now have no tags yet
        links = session.connection().execute(_LINKS, {"keys": existing}).all()
        have = {(cid, tid) for cid, tid in links}
    new = [
        (cid, tid, now) for cid, tags in wanted.items() for tid in tags if (cid, tid) not in have
    ]
    copy_insert(session, contact_tags, ("contact_id", "tag_id", "tagged_at"), new)
