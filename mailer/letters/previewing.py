"""The letter a contact would get now, composed as delivery would compose it: the one
function behind `mailer letters preview` and the preview page, so both show the same bytes.

Reads only; the caller's transaction is rolled back or simply closed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailer.contacts.book import find_contact
from mailer.contacts.preferred_names import preferred_name
from mailer.letters.composing import ComposedLetter, LetterSettings, compose_letter, letter_tag
from mailer.letters.links import tag_link_ids
from mailer.letters.rendering import LetterKind
from mailer.managers.services import find_house_sender


def preview_letter(
    session: Session,
    email: str,
    kind: LetterKind,
    *,
    tag_code: str | None,
    now: datetime,
    settings: LetterSettings,
) -> ComposedLetter:
    """Compose `kind` for the contact with `email` as if it were sent at `now`.

    Raises ContactError (no such contact), CompositionError (no fitting tag) or
    LetterLintError (the lint would block the letter)."""
    contact = find_contact(session, email)
    tag = letter_tag(contact, kind, tag_code)
    return compose_letter(
        contact,
        kind,
        house_sender=find_house_sender(session),
        now=now,
        tag_code=tag.code if tag else None,
        link_ids=tag_link_ids(session, tag.id) if tag else {},
        settings=settings,
        preferred_name=preferred_name(session, contact.id),
    )
