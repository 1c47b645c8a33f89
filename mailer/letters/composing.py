"""Composing one finished letter for a contact, from its owner at this moment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mailer.contacts.models import Contact
from mailer.letters.mime import Address, build_message, make_message_id
from mailer.letters.names_lexicon import morph
from mailer.letters.rendering import (
    LetterKind,
    LetterLinks,
    Occasion,
    Recipient,
    RenderedLetter,
    available_kinds,
    letter_environment,
    render_letter,
)
from mailer.letters.sender import SenderIdentity, resolve_sender
from mailer.letters.signing import click_url, list_unsubscribe_headers, unsubscribe_url
from mailer.managers.models import Manager
from mailer.tags.models import Tag, TagKind
from mailer.tags.occasions import OccasionRuleError, next_occurrence, rule_month

# Which tag a letter kind is built around.
_KIND_TAGS = {
    LetterKind.INDUSTRY_CATALOGUE: TagKind.INDUSTRY,
    LetterKind.NEW_YEAR_CATALOGUE: TagKind.MONTH,
    LetterKind.MAR8: TagKind.HOLIDAY,
    LetterKind.FEB23: TagKind.HOLIDAY,
}


# The honeypot's link id: no campaign link has it, so a click on it is always a machine's.
HONEYPOT_LINK_ID = 0


class CompositionError(ValueError):
    """A letter that cannot be composed for this contact; the message says why."""


@dataclass(frozen=True)
class LetterSettings:
    """What composing needs from the configuration."""

    secret_key: str
    public_base_url: str
    unsubscribe_mailto: str
    envelope_from: str = ""  # where bounces go; empty: the sender's own address

    def links(self, letter_id: int, contact_id: int, link_ids: Mapping[str, int]) -> LetterLinks:
        """The letter's tracked links; a preview (letter 0) gets links that lead nowhere."""
        keys, base = (self.secret_key,), self.public_base_url
        return LetterLinks(
            urls={label: click_url(keys, base, letter_id, i) for label, i in link_ids.items()},
            unsubscribe=unsubscribe_url(keys, base, contact_id),
            honeypot=click_url(keys, base, letter_id, HONEYPOT_LINK_ID),
        )


@dataclass(frozen=True)
class ComposedLetter:
    """The exact bytes to send, and what they were made from."""

    message_id: str
    sender: SenderIdentity
    recipient: str
    letter: RenderedLetter
    raw: bytes


def warm_up() -> None:
    """Build what every letter needs once (the Russian morphology analyser, the compiled
    templates) so that processes forked afterwards share it instead of each building it."""
    morph()
    env = letter_environment()
    for kind in available_kinds():
        for name in ("subject.txt", "body.txt", "body.html"):
            env.get_template(f"{kind}/{name}")


def letter_tag(contact: Contact, kind: LetterKind, code: str | None = None) -> Tag | None:
    """The contact's tag the letter is about: the one asked for, or the first of its kind."""
    wanted = _KIND_TAGS[kind]
    if kind in (LetterKind.MAR8, LetterKind.FEB23):
        code = code or kind.value
    for tag in contact.tags:
        if tag.kind is wanted and (code is None or tag.code == code):
            return tag
    if code:
        raise CompositionError(f"{contact.email} has no tag {code}")
    raise CompositionError(f"{contact.email} has no {wanted.value} tag for a {kind.value} letter")


def check_letter_tag(tag: Tag, kind: LetterKind) -> None:
    """A planned letter's tag must still fit its kind (a tag's kind can be edited)."""
    if tag.kind is not _KIND_TAGS[kind]:
        raise CompositionError(f"the tag {tag.code} is not a {_KIND_TAGS[kind].value} tag")


def compose_letter(
    contact: Contact,
    kind: LetterKind,
    *,
    house_sender: Manager | None,
    now: datetime,
    settings: LetterSettings,
    link_ids: Mapping[str, int],
    tag_code: str | None = None,
    occasion: Occasion | None = None,
    message_id: str | None = None,
    letter_id: int = 0,
    preferred_name: str = "",
) -> ComposedLetter:
    """Render and serialise the letter a contact would get now, from its current owner.

    A preview takes the tag's next occasion. The house sender is passed in
    (`find_house_sender`) so a caller looks it up once, not per letter. `link_ids` are the
    campaign's links by label (`campaign_link_ids`).
    """
    return compose_to(
        Recipient.of(contact, preferred_name),
        contact.id,
        kind,
        sender=resolve_sender(contact.owner, house_sender),
        tag=letter_tag(contact, kind, tag_code),
        now=now,
        settings=settings,
        links=settings.links(letter_id, contact.id, link_ids),
        occasion=occasion,
        message_id=message_id,
    )


def compose_to(
    recipient: Recipient,
    contact_id: int,
    kind: LetterKind,
    *,
    sender: SenderIdentity,
    tag: Tag | None,
    now: datetime,
    settings: LetterSettings,
    links: LetterLinks,
    occasion: Occasion | None = None,
    message_id: str | None = None,
) -> ComposedLetter:
    """The letter from plain values: delivery resolves a batch's senders and tags once,
    not per letter. A planned letter passes the occasion fixed by its campaign and, on a
    retry, the Message-ID of its first attempt."""
    month = None
    try:
        if tag is not None and kind is LetterKind.NEW_YEAR_CATALOGUE:
            month = rule_month(tag.occasion_rule, now.year)
            occasion = None
        elif occasion is None and tag is not None:
            occasion = Occasion(tag.occasion_name, next_occurrence(tag.occasion_rule, now))
    except OccasionRuleError as exc:
        raise CompositionError(str(exc)) from None
    letter = render_letter(
        kind.value,
        recipient,
        sender,
        now=now,
        occasion=occasion,
        purchase_month=month,
        links=links,
    )
    parts = letter.greeting.parts
    to_name = (
        " ".join(p for p in (parts.given_name, parts.surname) if p) if parts.given_name else ""
    )
    message_id = message_id or make_message_id(sender.message_id_domain)
    raw = build_message(
        sender=Address(sender.name, sender.address),
        to=Address(to_name, recipient.email),
        reply_to=Address(sender.name, sender.reply_to),
        subject=letter.subject,
        text=letter.text,
        html=letter.html,
        message_id=message_id,
        date=sender.local_time(now),
        extra_headers=list_unsubscribe_headers(links.unsubscribe, settings.unsubscribe_mailto),
    )
    return ComposedLetter(message_id, sender, recipient.email, letter, raw)
