"""Search keys: how two spellings of the same word are made equal."""

from __future__ import annotations

import re
from functools import lru_cache

_SPACES = re.compile(r"\s+")
_QUOTES = str.maketrans("", "", "«»\"'“”„`")


@lru_cache(maxsize=65536)  # names, companies and tags repeat across a contact book
def fold(text: str) -> str:
    """Case-fold, treat ё as е, drop quotes and collapse whitespace."""
    text = text.translate(_QUOTES).casefold().replace("ё", "е")
    return _SPACES.sub(" ", text).strip()
