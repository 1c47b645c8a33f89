"""Latin script in name fields: homoglyph repair and reading Latin spellings back into Cyrillic.

Pure helpers: the caller supplies the dictionary look-ups, so this module knows no analyser.
"""

from __future__ import annotations

import heapq
import unicodedata
from collections.abc import Callable, Iterator

# Latin letters that look exactly like Cyrillic ones: "Ивaн" with a Latin "a" is still Иван.
_HOMOGLYPHS = str.maketrans("aceopxyABCEHKMOPTXY", "асеорхуАВСЕНКМОРТХУ")

# Reverse of the romanisations Russians actually use (passport/ICAO, BGN, GOST, informal).
# Options are in order of preference; the position in the list is the cost of choosing it.
# fmt: off
_RUSSIAN: dict[str, tuple[str, ...]] = {
    "shch": ("щ",), "sch": ("щ", "ш"), "zh": ("ж",), "kh": ("х",), "ts": ("ц", "тс"),
    "tz": ("ц",), "tc": ("ц",), "ch": ("ч",), "sh": ("ш",),
    "yu": ("ю",), "ju": ("ю",), "iu": ("ию", "ю", "ью"),
    "ya": ("я", "ья", "ия"), "ja": ("я",), "ia": ("ия", "ья", "я"),
    "yo": ("ё", "ьо", "йо"), "jo": ("ё",), "io": ("ио", "ё"),
    "ye": ("е", "ье"), "je": ("е",), "ie": ("ие", "ье"),
    "iy": ("ий",), "ij": ("ий",), "yy": ("ый", "ий"),
    "x": ("кс",), "w": ("в",), "q": ("к",), "c": ("к", "ц", "с"), "j": ("й",),
    "a": ("а",), "b": ("б",), "v": ("в",), "g": ("г",), "d": ("д",), "e": ("е", "э", "ё"),
    "z": ("з",), "i": ("и", "й", "ы", "ий"), "ii": ("ий", "ии"), "y": ("ы", "й", "и", "ий"),
    "k": ("к",), "l": ("л",),
    "m": ("м",), "n": ("н",), "o": ("о",), "p": ("п",), "r": ("р",), "s": ("с",), "t": ("т",),
    "u": ("у", "ю"), "f": ("ф",), "'": ("ь",),
}
# "h" alone is Russian only inside a word (Mihail); a word-initial h is foreign (Hans, Harry).
_RUSSIAN_INNER = {"h": ("х",)}
# Anglicised spellings such as Alexander keep an "e" that Russian drops at the end.
_RUSSIAN_FINAL = {"er": ("ер", "р")}

# English, German, French and Spanish habits on top of the Russian table (John, Michael, Juan).
_FOREIGN_EXTRA: dict[str, tuple[str, ...]] = {
    "j": ("дж", "х"), "ch": ("к", "ш", "х"), "th": ("т", "с"), "ph": ("ф",), "ck": ("к",),
    "gh": ("г", ""), "wh": ("у", "в"), "w": ("у",), "h": ("х", ""), "ee": ("и",),
    "ea": ("и", "е"), "oo": ("у",), "ou": ("у", "оу", "ау"), "ow": ("оу", "ау"), "oh": ("о",),
    "ae": ("э", "е", "а", ""), "ai": ("эй", "е"), "ay": ("эй",), "au": ("ау", "о"),
    "eu": ("ей", "ой", "э"), "ei": ("ай",), "ie": ("и",), "ue": ("ю", "у"), "qu": ("кв", "к"),
    "e": ("", "и"), "i": ("ай",), "y": ("ай",), "a": ("э", "ей"), "g": ("дж", "ж"),
    "s": ("з",), "u": ("а", "ю"), "o": ("оу",), "z": ("ц",),
    "ll": ("л",), "ss": ("с",), "tt": ("т",), "mm": ("м",), "nn": ("н",), "rr": ("р",),
    "pp": ("п",), "ff": ("ф",), "dd": ("д",),
}
# fmt: on
# A final "e" is mostly silent outside Russian (Pierre, Michelle).
_FOREIGN_FINAL = {"e": ("",)}
# Consonants after which romanisations silently drop a soft sign (Olga, Igor, Natalya).
_SOFTENABLE = frozenset("лнтрдсзмвбпф")
_MAX_COST = 6


def fix_homoglyphs(word: str) -> str | None:
    """Turn Latin look-alikes inside a Cyrillic word into Cyrillic; None if other Latin remains."""
    fixed = word.translate(_HOMOGLYPHS)
    return None if any(script_of(ch) == "latin" for ch in fixed) else fixed


def script_of(ch: str) -> str:
    """Name the script of one letter, because names are only read in Cyrillic or Latin."""
    if not ch.isalpha():
        return "other"
    name = unicodedata.name(ch, "")
    if name.startswith("CYRILLIC"):
        return "cyrillic"
    if name.startswith("LATIN"):
        return "latin"
    return "other"


def strip_accents(word: str) -> str:
    """Drop diacritics so that José and Jose are read alike."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _options(word: str, pos: int, foreign: bool) -> Iterator[tuple[int, str, int]]:
    """Yield (letters consumed, Cyrillic, cost) for every grapheme that starts at pos."""
    digraph_here = False
    for size in (4, 3, 2, 1):
        chunk = word[pos : pos + size]
        if len(chunk) < size:
            continue
        choices = list(_RUSSIAN.get(chunk, ()))
        if pos > 0:
            choices += _RUSSIAN_INNER.get(chunk, ())
        if pos + size == len(word):
            choices += _RUSSIAN_FINAL.get(chunk, ())
        if foreign:
            if pos + size == len(word):
                choices = list(_FOREIGN_FINAL.get(chunk, ())) + choices
            choices += [c for c in _FOREIGN_EXTRA.get(chunk, ()) if c not in choices]
        # Reading a digraph letter by letter ("s"+"h" for "sh") costs one extra step.
        penalty = 1 if size == 1 and digraph_here else 0
        digraph_here = digraph_here or bool(choices)
        for cost, cyr in enumerate(choices):
            yield size, cyr, cost + penalty


def to_cyrillic(
    word: str,
    is_prefix: Callable[[str], bool],
    accept: Callable[[str], bool],
    *,
    foreign: bool = False,
    limit: int = 6,
) -> list[tuple[str, int]]:
    """Cyrillic readings of a Latin word that `accept` vouches for, with their cost, cheapest first.

    A best-first walk over the spelling options, pruned by dictionary prefixes, so a
    mistyped or made-up word dies out after a few letters instead of exploding.
    """
    word = strip_accents(word).lower()
    if not word or not all("a" <= ch <= "z" or ch == "'" for ch in word):
        return []
    heap: list[tuple[int, int, str]] = [(0, 0, "")]
    seen: set[tuple[int, str]] = set()
    found: dict[str, int] = {}
    while heap and len(found) < limit:
        cost, pos, out = heapq.heappop(heap)
        if (pos, out) in seen:
            continue
        seen.add((pos, out))
        if pos == len(word):
            if out and out not in found and accept(out):
                found[out] = cost
            continue
        for size, cyr, step in _options(word, pos, foreign):
            new_cost = cost + step
            new = out + cyr
            if new_cost > _MAX_COST or (cyr and not is_prefix(new)):
                continue
            heapq.heappush(heap, (new_cost, pos + size, new))
            if cyr and cyr[-1] in _SOFTENABLE and is_prefix(new + "ь"):
                heapq.heappush(heap, (new_cost + 1, pos + size, new + "ь"))
    return list(found.items())
