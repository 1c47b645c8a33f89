"""The tag taxonomy in the database: seeding it from the CSV and reading it for the parser."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.folding import fold
from mailer.tags.models import Tag, TagAlias, TagKind
from mailer.tags.tagging import TagVocabulary, parse_tags

TAXONOMY_CSV = Path(__file__).resolve().parents[1] / "data" / "taxonomy.csv"


def seed_tags(session: Session, path: Path = TAXONOMY_CSV) -> int:
    """Add the taxonomy's missing tags; tags already there (maybe edited) stay as they are."""
    existing = set(session.scalars(select(Tag.code)))
    taken_aliases = set(session.scalars(select(TagAlias.alias)))
    added = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["code"] in existing:
                continue
            tag = Tag(
                code=row["code"],
                kind=TagKind(row["kind"]),
                label=row["label_ru"],
                description=row["covers_ru"],
                occasion_name=row["default_occasion_ru"],
                occasion_rule=row["default_occasion_rule"],
            )
            for word in [row["label_ru"], *row["aliases"].split("|")]:
                key = fold(word)
                if key and key not in taken_aliases:
                    taken_aliases.add(key)
                    tag.aliases.append(TagAlias(alias=key))
            session.add(tag)
            existing.add(tag.code)
            added += 1
    session.flush()
    return added


def load_vocabulary(session: Session) -> TagVocabulary:
    """The parser's view of the tags as they are in the database now."""
    tags = session.scalars(select(Tag).options(selectinload(Tag.aliases)))
    return TagVocabulary.build(
        (t.code, t.kind.value, [t.label, *(a.alias for a in t.aliases)]) for t in tags
    )


def resolve_tags(session: Session, line: str) -> list[Tag]:
    """Tags for a loose line; raises UnknownTagError naming what it cannot resolve."""
    codes = parse_tags(line, load_vocabulary(session))
    by_code = {t.code: t for t in session.scalars(select(Tag).where(Tag.code.in_(codes)))}
    return [by_code[c] for c in codes]
