"""The greeting line of a letter, made safe from whatever people typed into the name fields.

Only three forms are ever produced: "Здравствуйте, Имя!", "Здравствуйте, Имя Отчество!" and
the neutral "Здравствуйте!". A wrong name is worse than the neutral form, so every doubt
falls back to it. Pure: no Flask, no database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache

from mailer.letters.names_lexicon import Role, Word, fold, read_word
from mailer.letters.names_translit import fix_homoglyphs

NEUTRAL_GREETING = "Здравствуйте!"

FIRST, MIDDLE, LAST = "first_name", "middle_name", "last_name"

# A CRM's salutation (Bitrix24's `Обращение`) as the gender it tells.
SALUTATION_GENDERS = {"г-н": "masc", "г-жа": "femn"}

# Reason codes and what the web UI tells the manager about them.
MESSAGES: dict[str, str] = {
    "name": "Обращение по имени.",
    "name_patronymic": "Обращение по имени и отчеству.",
    "full_name_in_first_field": "В поле «Имя» записано больше, чем имя: разнести ФИО по полям?",
    "fields_swapped": "Имя найдено в поле «Фамилия»: поля перепутаны?",
    "title_dropped": "В поле «Имя» есть должность или обращение: оставить только имя?",
    "transliterated": "Имя написано латиницей; в письме оно будет кириллицей.",
    "middle_name_ignored": "В поле «Отчество» не отчество: оно пропущено. Исправить?",
    "patronymic_gender_mismatch": "Отчество не согласуется с именем по роду: оно пропущено.",
    "patronymic_conflict": "Отчества в полях «Имя» и «Отчество» различаются: оно пропущено.",
    "empty": "Имя не указано: нейтральное приветствие.",
    "punctuation": "В поле «Имя» только знаки препинания: нейтральное приветствие.",
    "email": "В поле «Имя» записан e-mail или логин: нейтральное приветствие.",
    "phone": "В поле «Имя» записан телефон или число: нейтральное приветствие.",
    "placeholder": "В поле «Имя» заглушка вместо имени: нейтральное приветствие.",
    "company": "В поле «Имя» записана компания: нейтральное приветствие.",
    "position": "В поле «Имя» только должность: нейтральное приветствие.",
    "greeting_words": "В поле «Имя» только слова приветствия: нейтральное приветствие.",
    "surname_only": "В поле «Имя» только фамилия: нейтральное приветствие.",
    "patronymic_only": "В поле «Имя» только отчество: нейтральное приветствие.",
    "initials": "В поле «Имя» только инициалы: нейтральное приветствие.",
    "ambiguous_name": "Не понять, какое из слов имя: нейтральное приветствие.",
    "unknown_word": "«{word}» не похоже на имя: нейтральное приветствие.",
    "junk": "В поле «Имя» нет имени: нейтральное приветствие.",
}
_CLEAN_REASONS = frozenset({"name", "name_patronymic"})

_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"})
_SEPARATORS = re.compile(r"[^\w.@-]+")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_NOT_APPLICABLE = re.compile(r"^\s*(?:n/?a|н/?д|n\.a\.)\s*$", re.IGNORECASE)
_DROPPED = frozenset({Role.TITLE, Role.HONORIFIC, Role.FILLER, Role.SOLE_PROPRIETOR, Role.JUNK})


@dataclass(frozen=True)
class NameParts:
    """The name parts found across the three fields, and whether the fields need repair."""

    given_name: str | None = None
    patronymic: str | None = None
    surname: str | None = None
    source_field: str | None = None  # the field the given name came from
    needs_fix: bool = False


@dataclass(frozen=True)
class Greeting:
    """A greeting line with the reason for it, so the UI can explain or ask for a fix."""

    text: str
    first_name: str | None
    patronymic: str | None
    reason: str
    message: str
    parts: NameParts = field(default_factory=NameParts)


@dataclass(frozen=True)
class _Field:
    words: tuple[Word, ...]
    flags: frozenset[str]  # "email", "digits", "company", "junk" seen while splitting
    raw: str


@dataclass(frozen=True)
class _Person:
    name: Word | None = None
    patronymic: Word | None = None
    surname: Word | None = None
    reason: str = "empty"
    word: str = ""  # the word that made us give up, for the message
    has_extra: bool = False  # the field held a surname, patronymic or company marker too
    has_title: bool = False


def _split(raw: str | None) -> _Field:
    """Cut a field into words, setting aside e-mails, logins, digits and initials."""
    text = unicodedata.normalize("NFC", raw or "").translate(_DASHES)
    flags: set[str] = set()
    words: list[Word] = []
    if "«" in text or "»" in text:
        flags.add("company")
    if _NOT_APPLICABLE.match(text):
        return _Field((), frozenset({"placeholder"}), text)
    for chunk in _SEPARATORS.split(text):
        if "@" in chunk:
            flags.add("email")
            continue
        chunk = chunk.strip("-._")
        if any(ch.isdigit() for ch in chunk):
            flags.add("digits")
            chunk = re.sub(r"\d+", "", chunk).strip("-._")  # "Мария2" is Мария
        if not chunk:
            continue
        pieces = [p for p in re.split(r"[._]+", chunk) if p]
        if len(pieces) > 1:
            if all(len(p) == 1 for p in pieces):  # "В.И."
                words.extend(read_word(p) for p in pieces)
            else:  # "ivan.petrov", "user_1"
                flags.add("email")
            continue
        if _WORD.fullmatch(chunk):
            words.append(read_word(chunk))
        else:
            flags.add("junk")
    return _Field(tuple(words), frozenset(flags), text)


def _why_not(fld: _Field) -> tuple[str, str]:
    """Name the reason a field holds no given name."""
    roles = {w.role for w in fld.words}
    for role, reason in (
        (Role.COMPANY, "company"),
        (Role.PATRONYMIC, "patronymic_only"),
        (Role.INITIAL, "initials"),
        (Role.SURNAME, "surname_only"),
        (Role.PLACEHOLDER, "placeholder"),
    ):
        if role in roles:
            return reason, ""
    unknown = [w.text for w in fld.words if w.role in (Role.WORD, Role.UNKNOWN)]
    if unknown:
        return "unknown_word", unknown[0]
    if Role.TITLE in roles:
        return "position", ""
    if Role.HONORIFIC in roles:
        return "greeting_words", ""
    for flag, reason in (("placeholder", "placeholder"), ("email", "email"), ("digits", "phone")):
        if flag in fld.flags:
            return reason, ""
    if fld.words or "junk" in fld.flags:
        return "junk", ""
    return ("punctuation" if fld.raw.strip() else "empty"), ""


def _agree(name: Word, patronymic: Word | None) -> bool:
    return patronymic is not None and bool(name.genders & patronymic.genders)


def _pick_name(words: list[Word], surname_keys: frozenset[str]) -> Word | None:
    """Choose the given name among several candidates; None when it stays a guess."""
    names = [i for i, w in enumerate(words) if w.role is Role.NAME]
    if len({words[i].key for i in names}) > 1:
        # A word that is also in the surname field is the surname: "Роман Сергей" / "Роман".
        names = [i for i in names if words[i].key not in surname_keys] or names
    if len({words[i].key for i in names}) > 1:
        # Богдан, Роман are surnames too; Ольга, Иван are not.
        names = [i for i in names if not words[i].maybe_surname] or names
    if len({words[i].key for i in names}) > 1:
        # "Имя Отчество" order: the name right before a patronymic that agrees with it.
        names = [
            i
            for i in names
            if i + 1 < len(words)
            and words[i + 1].role is Role.PATRONYMIC
            and _agree(words[i], words[i + 1])
        ] or names
    return words[names[0]] if len({words[i].key for i in names}) == 1 else None


def _read_person(fld: _Field, surname_keys: frozenset[str]) -> _Person:
    """Find the given name, patronymic and surname in one field's words."""
    roles = {w.role for w in fld.words}
    if "company" in fld.flags or Role.COMPANY in roles:
        return _Person(reason="company")
    kept = [w for w in fld.words if w.role not in _DROPPED and w.role is not Role.INITIAL]
    has_title = bool(roles & {Role.TITLE, Role.HONORIFIC})
    surnames = [w for w in kept if w.role is Role.SURNAME]
    if not any(w.role is Role.NAME for w in kept):
        reason, word = _why_not(fld)
        return _Person(surname=surnames[0] if surnames else None, reason=reason, word=word)
    name = _pick_name(kept, surname_keys)
    if name is None:
        return _Person(reason="ambiguous_name")
    at = kept.index(name)
    patronymics = [w for w in kept if w.role is Role.PATRONYMIC]
    after = kept[at + 1] if at + 1 < len(kept) else None
    patronymic = after if after in patronymics else (patronymics[0] if patronymics else None)
    if len({p.key for p in patronymics}) > 1 and patronymic is not after:
        patronymic = None
    strangers = [w for w in kept if w.role in (Role.WORD, Role.PLACEHOLDER)]
    if strangers and not _agree(name, patronymic):
        # "Типография Надежда": a common word beside a name means it may not be a person.
        role = strangers[0].role
        return _Person(
            reason=role.value if role is Role.PLACEHOLDER else "unknown_word",
            word=strangers[0].text,
        )
    others = [w for w in kept if w is not name and w.role in (Role.SURNAME, Role.NAME)]
    return _Person(
        name=name,
        patronymic=patronymic,
        surname=others[0] if others else None,
        reason="name",
        has_extra=len(kept) > 1 or Role.SOLE_PROPRIETOR in roles,
        has_title=has_title,
    )


def _find_name(first: _Field, last: _Field, surname_keys: frozenset[str]) -> tuple[_Person, str]:
    """Look in the first-name field, then in a surname field that holds the name instead."""
    person = _read_person(first, surname_keys)
    if person.name is not None:
        return person, FIRST
    if len(last.words) > 1:
        swapped = _read_person(last, frozenset())
        if swapped.name is not None:
            return swapped, LAST
    elif len(last.words) == 1 and person.reason == "surname_only":
        only = last.words[0]
        if only.role is Role.NAME:  # "Кондрашов" / "Василий": the two fields swapped
            surname = next(w for w in first.words if w.role is Role.SURNAME)
            return _Person(name=only, surname=surname, reason="name"), LAST
    return person, FIRST


def _surname_keys(last: _Field) -> frozenset[str]:
    """Words of the surname field that must never be printed as anything but the given name."""
    typed = _WORD.findall(last.raw)
    keys = {w.key for w in last.words if w.role is Role.SURNAME}
    if len(typed) == 1:  # one word, however decorated ("Петрова@", "Ивaнова"), is the surname
        keys |= {fold(typed[0]), fold(fix_homoglyphs(typed[0]) or typed[0])}
        keys |= {w.key for w in last.words}
    return frozenset(keys)


def _choose_patronymic(
    name: Word, person: _Person, middle: _Field, surname_keys: frozenset[str]
) -> tuple[Word | None, str | None, bool]:
    """The patronymic to print, why one was dropped, and whether the middle field went unused."""
    from_middle = [w for w in middle.words if w.role is Role.PATRONYMIC]
    patronymic = from_middle[0] if len(from_middle) == 1 else None
    note = None
    if person.patronymic and patronymic and person.patronymic.key != patronymic.key:
        patronymic, note = None, "patronymic_conflict"
    patronymic = patronymic or (person.patronymic if note is None else None)
    if patronymic is not None and patronymic.key in surname_keys:
        patronymic = None  # the same word as the surname: a copy slip, not a patronymic
    if patronymic is not None and not _agree(name, patronymic):
        patronymic, note = None, "patronymic_gender_mismatch"
    middle_unused = bool(middle.raw.strip()) and (patronymic is None or not from_middle)
    return patronymic, note, middle_unused


def _reason(
    name: Word,
    person: _Person,
    source: str,
    note: str | None,
    *,
    middle_unused: bool,
    has_patronymic: bool,
) -> str:
    """The reason code of a greeting by name: the first doubt about the fields, if any."""
    if note:
        return note
    if source == LAST:
        return "fields_swapped"
    if person.has_extra:
        return "full_name_in_first_field"
    if person.has_title:
        return "title_dropped"
    if name.transliterated:
        return "transliterated"
    if middle_unused:
        return "middle_name_ignored"
    return "name_patronymic" if has_patronymic else "name"


@lru_cache(maxsize=65536)  # pure, and names repeat across a contact book
def greet(
    first_name: str | None,
    middle_name: str | None = None,
    last_name: str | None = None,
    salutation: str = "",
) -> Greeting:
    """Build the greeting for one contact; every doubt gives the neutral form.

    A salutation (`г-н` / `г-жа`) settles the gender of a name that leaves it open (Саша,
    Женя, or a name the dictionary does not know), so the patronymic must agree with it.
    """
    first, middle, last = _split(first_name), _split(middle_name), _split(last_name)
    surname_keys = _surname_keys(last)
    person, source = _find_name(first, last, surname_keys)
    name = person.name
    gender = SALUTATION_GENDERS.get(salutation)
    if name is not None and gender and (not name.genders or gender in name.genders):
        name = replace(name, genders=frozenset({gender}))
    surname = person.surname or next(
        (w for w in last.words if w.role in (Role.SURNAME, Role.NAME, Role.UNKNOWN)), None
    )
    if name is not None and surname is not None and surname.key == name.key:
        surname = None  # the name copied into the surname field: a slip, not a surname
    if name is None:
        reason = person.reason
        message = MESSAGES[reason].format(word=person.word)
        parts = NameParts(
            surname=surname.text if surname else None, needs_fix=bool(first.raw.strip())
        )
        return Greeting(NEUTRAL_GREETING, None, None, reason, message, parts)

    patronymic, note, middle_unused = _choose_patronymic(name, person, middle, surname_keys)
    reason = _reason(
        name, person, source, note, middle_unused=middle_unused, has_patronymic=bool(patronymic)
    )

    text = f"Здравствуйте, {name.text}{' ' + patronymic.text if patronymic else ''}!"
    needs_fix = (
        reason not in _CLEAN_REASONS
        or first.raw.strip() != name.text  # capitals, punctuation or look-alike letters to fix
        or (patronymic is not None and middle.raw.strip() != patronymic.text)
    )
    parts = NameParts(
        given_name=name.text,
        patronymic=patronymic.text if patronymic else None,
        surname=surname.text if surname else None,
        source_field=source,
        needs_fix=needs_fix,
    )
    message = MESSAGES[reason].format(word="")
    return Greeting(text, name.text, parts.patronymic, reason, message, parts)


def greeting_text(
    first_name: str | None, middle_name: str | None = None, last_name: str | None = None
) -> str:
    """Just the greeting line, for templates."""
    return greet(first_name, middle_name, last_name).text
