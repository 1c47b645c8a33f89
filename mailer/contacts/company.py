"""Company names in the house convention `Тойота (Toyota)`: a name and its other name.

Two spellings are one company when their keys are equal (`company_key`): legal forms
(ООО, ПАО, LLC, GmbH…, abbreviated or spelled out, in any position), quotes of every kind,
case, ё/е, hyphens versus spaces and repeated spaces do not count. `ООО «Тойота»`,
`Тойота, ООО` and `тойота` share the key `тойота`; `Альфа-Банк` and `альфа банк` share
`альфа банк`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mailer.contacts.folding import drop_quotes, fold, fold_words

# The last bracketed group at the end is the alias; inner brackets stay part of the name.
_ALIAS_AT_END = re.compile(r"^(?P<name>.*?\S)\s*\((?P<alias>[^()]+)\)\s*$", re.S)

# Legal forms as one word, folded and without dots (`L.L.C.` is `llc`). The Latin `ooo`,
# `oao`, `zao`, `pao` are the Russian forms typed on an English keyboard.
LEGAL_FORM_WORDS = frozenset(
    {
        # Russian and CIS
        "ооо", "оао", "зао", "пао", "ао", "нао", "ип", "пбоюл", "нко", "ано", "гк", "тоо",
        "одо", "чп", "фгуп", "гуп", "муп", "ooo", "oao", "zao", "pao",
        # English, German, and the other forms seen in CRM exports
        "llc", "llp", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "plc",
        "gmbh", "ag", "kg", "sa", "sas", "sarl", "spa", "srl", "sro", "bv", "nv", "oy",
        "oyj", "ab",
    }
)  # fmt: skip

# Legal forms spelled out, and pairs such as `Co., Ltd.`: removed as whole word sequences.
LEGAL_FORM_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (
            tuple(fold(phrase).split())
            for phrase in (
                "общество с ограниченной ответственностью",
                "открытое акционерное общество",
                "закрытое акционерное общество",
                "публичное акционерное общество",
                "непубличное акционерное общество",
                "акционерное общество",
                "индивидуальный предприниматель",
                "автономная некоммерческая организация",
                "некоммерческая организация",
                "группа компаний",
                "limited liability company",
                "public limited company",
                "private limited company",
                "co ltd",
                "co llc",
                "co inc",
                "company limited",
            )
        ),
        key=len,
        reverse=True,
    )
)


# Phrases by their first word, longest first: most words of a name start none.
_PHRASES_BY_FIRST_WORD: dict[str, tuple[tuple[str, ...], ...]] = {}
for _phrase in LEGAL_FORM_PHRASES:
    _PHRASES_BY_FIRST_WORD[_phrase[0]] = (*_PHRASES_BY_FIRST_WORD.get(_phrase[0], ()), _phrase)


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


@lru_cache(maxsize=65536)
def company_key(text: str) -> str:
    """The key two spellings of one company share; "" when nothing but a legal form is left.

    A name that is only `ООО` names no company, so it matches nothing rather than every
    other `ООО`.
    """
    words = fold_words(text)
    kept: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        starting = _PHRASES_BY_FIRST_WORD.get(word, ())
        phrase = next((p for p in starting if words[i : i + len(p)] == p), None)
        if phrase:
            i += len(phrase)
            continue
        if (word.replace(".", "") if "." in word else word) not in LEGAL_FORM_WORDS:
            kept.append(word)
        i += 1
    return " ".join(kept)


def company_key_pair(raw: str) -> tuple[str, str]:
    """The keys a contact's company is stored with: its name's and its alias's.

    Split after dropping quotes, so `ООО «Тойота (Toyota)»` has the alias `Toyota` as
    `Тойота (Toyota)` has.
    """
    name, alias = split_company(drop_quotes(raw))
    return company_key(name), company_key(alias)


def company_keys(raw: str) -> set[str]:
    """Every search key a typed company name can match: the whole, the name, the alias."""
    return {k for k in (company_key(raw), *company_key_pair(raw)) if k}
