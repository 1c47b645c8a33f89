"""Search keys: how two spellings of the same word are made equal."""

from __future__ import annotations

import re
from functools import lru_cache

_SPACES = re.compile(r"\s+")
# Quotes of every kind people and word processors type: «» “” „“ ‘’ ‚‘ ‹› "" '' `´ and
# the full-width ones.
_QUOTES = str.maketrans("", "", "«»\"'“”„‟‘’‚‛‹›`´＂＇")
# Hyphens and dashes: `Альфа-Банк` and `альфа банк` are one company.
_DASHES = str.maketrans(dict.fromkeys("-‐‑‒–—―−﹣－", " "))


@lru_cache(maxsize=65536)  # names, companies and tags repeat across a contact book
def fold(text: str) -> str:
    """Case-fold, treat ё as е, drop quotes and collapse whitespace."""
    text = text.translate(_QUOTES).casefold().replace("ё", "е")
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def fold_words(text: str) -> tuple[str, ...]:
    """`fold`, with hyphens and dashes as spaces, split into words without edge punctuation.

    The words of a company name as the owner check compares them (`company.company_key`).
    """
    words = fold(text.translate(_DASHES)).split(" ")
    return tuple(w for w in (w.strip(".,;:!?()[]{}/\\|*") for w in words) if w)
