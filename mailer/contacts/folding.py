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


def drop_quotes(text: str) -> str:
    """The text without quotes of any kind."""
    return text.translate(_QUOTES)


@lru_cache(maxsize=65536)
def fold_words(text: str) -> tuple[str, ...]:
    """`fold`, with hyphens and dashes as spaces, split into words without edge punctuation.

    The words of a company name as the owner check compares them (`company.company_key`).
    """
    words = fold(text.translate(_DASHES)).split(" ")
    return tuple(w for w in (w.strip(".,;:!?()[]{}/\\|*") for w in words) if w)


# Invisible format characters (Unicode category Cf): bidi embeddings, overrides and isolates,
# the LRM/RLM/ALM marks, zero-width spaces and joiners, word joiner and invisible operators,
# BOM, soft hyphen, tag characters. In a name they reach the From: display name and the
# letter unseen: U+202E turns "Иван" into "навИ" on screen and hides what a name really says.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\U000e0001-\U000e007f]"
)


def strip_invisible(text: str) -> str:
    """The text without invisible format characters (bidi controls, zero-widths, soft hyphens)."""
    return text if text.isascii() else _INVISIBLE.sub("", text)
