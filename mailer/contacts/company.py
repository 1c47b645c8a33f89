"""Company names in the house convention `Тойота (Toyota)`: a name and its other name."""

from __future__ import annotations

import re
from functools import lru_cache

from mailer.contacts.folding import fold

# The last bracketed group at the end is the alias; inner brackets stay part of the name.
_ALIAS_AT_END = re.compile(r"^(?P<name>.*?\S)\s*\((?P<alias>[^()]+)\)\s*$", re.S)


@lru_cache(maxsize=65536)
def company_display(name: str, alias: str) -> str:
    """The company as people write it: `Тойота (Toyota)`."""
    return f"{name} ({alias})" if alias else name


def split_company(raw: str) -> tuple[str, str]:
    """Split `Тойота (Toyota)` into (`Тойота`, `Toyota`); a name without brackets has no alias."""
    raw = " ".join(raw.split())
    match = _ALIAS_AT_END.match(raw)
    if not match:
        return raw, ""
    return match["name"].strip(), match["alias"].strip()


def company_keys(raw: str) -> set[str]:
    """Every search key a typed company name can match: the whole, the name, the alias."""
    name, alias = split_company(raw)
    return {k for k in (fold(raw), fold(name), fold(alias)) if k}
