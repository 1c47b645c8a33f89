"""Reading the loose tag lines managers type (`строители, сентябрь, торговля, 8`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mailer.contacts.folding import fold

# Pieces are separated by commas, semicolons, slashes, pluses or new lines.
_SEPARATORS = re.compile(r"[,;/+\n\r]+")
_EDGE_PUNCTUATION = ".!?:()[]{}«»\"' -–—"
# "НГ сентябрь" means the September New Year purchase: the qualifier belongs to a month tag.
NEW_YEAR_QUALIFIERS = frozenset({"нг", "новый год", "новогодние", "новогодний", "ny"})
_LONGEST_ALIAS_WORDS = 4


class UnknownTagError(ValueError):
    """Some words of a tag line resolve to no tag; nothing is guessed or dropped."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        super().__init__("unknown tag: " + ", ".join(f"'{w}'" for w in words))


@dataclass(frozen=True)
class TagVocabulary:
    """What the parser knows: folded alias → tag code, and which codes are months."""

    aliases: Mapping[str, str]
    month_codes: frozenset[str] = frozenset()
    # Pieces repeat across thousands of rows: folded piece → (codes, qualifiers, unknown).
    _pieces: dict[str, tuple[list[str], list[str], list[str]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str, Iterable[str]]]) -> TagVocabulary:
        """From (code, kind, aliases) triples; the code itself is always an alias."""
        aliases: dict[str, str] = {}
        months = set()
        for code, kind, words in entries:
            for word in (code, *words):
                if key := fold(word):
                    aliases.setdefault(key, code)
            if kind == "month":
                months.add(code)
        return cls(aliases, frozenset(months))


def parse_tags(line: str, vocabulary: TagVocabulary) -> list[str]:
    """Resolve a loose line to tag codes in the order typed; raise naming every unknown word."""
    codes: list[str] = []
    unknown: list[str] = []
    qualifiers: list[str] = []
    for piece in _SEPARATORS.split(line):
        found, marks, bad = _parse_piece(fold(piece), vocabulary)
        codes.extend(c for c in found if c not in codes)
        qualifiers.extend(marks)
        unknown.extend(bad)
    if qualifiers and not any(c in vocabulary.month_codes for c in codes):
        unknown.extend(f"{q} (назовите месяц закупки)" for q in qualifiers)
    if unknown:
        raise UnknownTagError(unknown)
    return codes


def _parse_piece(piece: str, vocabulary: TagVocabulary) -> tuple[list[str], list[str], list[str]]:
    """Codes, New Year qualifiers and unknown words of one folded piece (cached)."""
    cached = vocabulary._pieces.get(piece)
    if cached is not None:
        return cached
    codes: list[str] = []
    qualifiers: list[str] = []
    unknown: list[str] = []
    words = [w for w in (w.strip(_EDGE_PUNCTUATION) for w in piece.split(" ")) if w]
    i = 0
    while i < len(words):
        step, code = _match_at(words, i, vocabulary.aliases)
        if code:
            codes.append(code)
        elif " ".join(words[i : i + step]) in NEW_YEAR_QUALIFIERS:
            qualifiers.append(" ".join(words[i : i + step]))
        else:
            unknown.append(words[i])
        i += step
    result = (codes, qualifiers, unknown)
    if len(vocabulary._pieces) < 100_000:
        vocabulary._pieces[piece] = result
    return result


def _match_at(words: list[str], i: int, aliases: Mapping[str, str]) -> tuple[int, str | None]:
    """The longest alias (or qualifier) starting at word i, as (words used, code)."""
    for n in range(min(_LONGEST_ALIAS_WORDS, len(words) - i), 0, -1):
        chunk = words[i : i + n]
        for key in (" ".join(chunk), "".join(chunk)):
            if key in aliases:
                return n, aliases[key]
            if key in NEW_YEAR_QUALIFIERS:
                return n, None
    return 1, None
