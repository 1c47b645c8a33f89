"""What a check before adding found, as people weigh it: one candidate per matched kind,
company spelling and owner, with its contacts.

A company of forty people is one candidate, not forty lines; two managers holding two
spellings of one company are two candidates, each with its owner (issue 12: a check that
finds several candidates lists them all with their owners).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailer.contacts.book import ExistingMatch
from mailer.contacts.models import Contact
from mailer.managers.models import Manager
from mailer.plurals import plural_en

# How many of a candidate's contacts a line names before "and N more".
NAMED_CONTACTS = 5

MATCHED_BY_RU = {"email": "по e-mail", "phone": "по телефону", "company": "по компании"}


@dataclass
class Candidate:
    """Contacts matched the same way, of one company spelling and one owner."""

    matched_by: str  # "email", "phone" or "company"
    company: str
    owner: Manager
    contacts: list[Contact] = field(default_factory=list)

    @property
    def matched_by_ru(self) -> str:
        return MATCHED_BY_RU.get(self.matched_by, self.matched_by)

    def named_contacts(self) -> list[str]:
        """The first NAMED_CONTACTS contacts as `Name <e-mail>` (e-mail shown in Unicode)."""
        return [
            f"{c.full_name} <{c.email_display}>" if c.full_name else c.email_display
            for c in self.contacts[:NAMED_CONTACTS]
        ]

    @property
    def unnamed(self) -> int:
        return max(len(self.contacts) - NAMED_CONTACTS, 0)

    def describe(self) -> str:
        """One line for the CLI: what matched, the owner, the contacts."""
        company = f"'{self.company}'" if self.company else "(no company)"
        named = ", ".join(self.named_contacts())
        more = f", and {self.unnamed} more" if self.unnamed else ""
        return (
            f"{self.matched_by} matches {company}, owned by {self.owner.name} "
            f"<{self.owner.email}>: {plural_en(len(self.contacts), 'contact')} ({named}{more})"
        )


def group_candidates(matches: list[ExistingMatch]) -> list[Candidate]:
    """The matches as candidates, in the order they were found (e-mail, phone, company)."""
    groups: dict[tuple[str, str, int], Candidate] = {}
    for match in matches:
        c = match.contact
        key = (match.matched_by, c.company_display, c.owner_id)
        if key not in groups:
            groups[key] = Candidate(match.matched_by, c.company_display, c.owner)
        groups[key].contacts.append(c)
    return list(groups.values())


def owners_of(candidates: list[Candidate]) -> list[Manager]:
    """The distinct owners of the candidates, in order."""
    return list({c.owner.id: c.owner for c in candidates}.values())
