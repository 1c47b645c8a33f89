"""What one word of a name field is: a given name, a patronymic, a surname, a job title, junk...

The morphological dictionary (pymorphy3) decides about names; the short word lists here only
cover what it cannot know: job titles, company markers, placeholders, and given names from
Central Asia and the Caucasus that it lacks.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailer.letters.names_translit import fix_homoglyphs, script_of, to_cyrillic


class Role(enum.StrEnum):
    """The part a word plays in a name field."""

    NAME = "name"
    PATRONYMIC = "patronymic"
    SURNAME = "surname"
    INITIAL = "initial"
    TITLE = "title"  # job title or department: dropped
    HONORIFIC = "honorific"  # "Уважаемый", "г-н", "Добрый день", "Mr": dropped
    FILLER = "filler"  # prepositions, conjunctions, particles: dropped
    PLACEHOLDER = "placeholder"
    COMPANY = "company"
    SOLE_PROPRIETOR = "sole_proprietor"
    WORD = "word"  # a dictionary word that is no part of a person's name
    UNKNOWN = "unknown"  # not in the dictionary: mash, or a foreign surname
    JUNK = "junk"  # digits, e-mails, logins, abbreviations


@dataclass(frozen=True)
class Word:
    """One word of a field, read."""

    text: str  # how it would be printed
    key: str  # lower case, ё as е: for comparing words across fields
    role: Role
    genders: frozenset[str] = frozenset()  # "masc" / "femn" for names and patronymics
    maybe_surname: bool = False  # a given name that the dictionary also knows as a surname
    transliterated: bool = False


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


POSITIONS = _words(
    "бухгалтер главбух бухгалтерия бух директор гендиректор генеральный главный коммерческий "
    "финансовый исполнительный технический ведущий старший младший менеджер офис-менеджер "
    "секретарь секретариат приемная приемный референт ассистент помощник руководитель начальник "
    "заместитель зам председатель президент владелец собственник учредитель управляющий "
    "администратор специалист инженер юрист юрисконсульт экономист логист маркетолог кадровик "
    "закупщик снабженец снабжение снаб закупка отдел департамент служба сектор продажа кладовщик "
    "товаровед прораб мастер водитель охрана канцелярия офис администрация дирекция правление "
    "представитель агент консультант аналитик программист дизайнер оператор диспетчер завхоз "
    "кассир продавец торговый региональный кадр персонал тендерный контрактный лпр ген гл нач "
    "зав пом рук спец "
    "hr ceo cfo cto coo pr it manager director accountant secretary assistant head sales "
    "purchasing procurement office reception accounting department"
)
HONORIFICS = _words(
    "уважаемый дорогой многоуважаемый глубокоуважаемый господин госпожа г-н г-жа гн гжа "
    "товарищ мистер миссис мисс мадам месье сэр здравствуйте здравствуй здравствовать "
    "здрасте привет приветствовать добрый доброе день утро вечер "
    "mr mrs ms miss mister dear sir madam madame monsieur herr frau dr prof hello hi hey "
    "good morning afternoon evening"
)
PLACEHOLDERS = _words(
    "тест тестовый имя фамилия отчество фио нет неизвестно неизвестный аноним клиент контакт "
    "покупатель заказчик коллега друг партнер абонент пользователь человек лицо получатель "
    "адресат test tests testing qwerty asdf xxx noname null none nil na unknown name user "
    "admin client customer contact info mail email support buh zakupki snab no yes example "
    "sample demo anonymous foo bar"
)
COMPANY_MARKERS = _words(
    "ооо оао зао пао нао ао тд гк нпо нпп нпк нпф пк тк ск чоп фгуп гуп муп гбу фгбу мбу ано "
    "нко тоо одо чуп кфх тсж снт llc ltd inc corp co gmbh ag jsc pjsc cjsc ojsc llp plc oy "
    "ab sa bv srl spa pte pty ooo zao oao pao"
)
COMPANY_WORDS = _words(
    "компания фирма группа холдинг корпорация концерн завод фабрика комбинат типография "
    "агентство магазин салон студия центр банк предприятие организация учреждение трест "
    "объединение ассоциация союз фонд институт университет школа клиника больница аптека "
    "ресторан кафе отель гостиница производство мастерская ателье бюро сеть филиал "
    "представительство министерство сервис маркет company group holding bank agency studio "
    "factory shop store service center centre"
)
# Given names the dictionary lacks; without them these people would get the neutral greeting.
EXTRA_NAMES = {
    "masc": _words(
        "абылай алмаз аян бауржан бауыржан баходир бекболат бекжан бесик бобур болат ботир "
        "вазых габдрахман гайк гела грыцько дархан даурен джамол джамшид джахонгир дилшод "
        "думитру елдос ерасыл ержан ерик ерлан ермухамбет ерназар ернар жаксылык жамшид "
        "жанболат жандос жахонгир журабек зокир икром ильназ ильнар ильфат ильхом ислом канат "
        "комил куаныш лечи медет мейрам мераб мирас михай мыкола нодир нурбол нурдаулет нуржан "
        "нурлыбек ойбек олекса ранис ринас сабыр сардор сухроб темирлан умид усен фаиль фаррух "
        "фируз фуркат хетаг хуршид хусан шерали шерзод шохрух штефан юрко"
    ),
    "femn": _words(
        "акбота асылзат балжан барно гулбахор гулноза гулчехра гулшан гульжан гульназ гульнора "
        "гульсина гульсум дарига дилноза дилором дилфуза динора жанар жансая жулдыз зилола "
        "зулфия зульфира ильсия камола кетеван лейсан мавжуда мариям марычка мафтуна меруерт "
        "миляуша мохира муборак мунира мухаббат назерке нафиса нигора нодира нургуль ойша олена "
        "ризида садокат салтанат сауле седа ситора толкын томирис феруза фирюза хава хадижа "
        "хадижат хеда шахло ярына"
    ),
}
# The dictionary has no frequencies, so among several readings of a Latin spelling
# (Natalya: Наталья or the rare Наталя) these everyday names win.
COMMON_NAMES = _words(
    "александр алексей анатолий андрей антон аркадий артем борис вадим валентин валерий василий "
    "виктор виталий владимир владислав вячеслав геннадий георгий глеб григорий даниил денис "
    "дмитрий евгений егор иван игорь илья кирилл константин леонид максим матвей михаил никита "
    "николай олег павел петр роман руслан сергей станислав степан тимофей федор юрий ярослав "
    "александра алина алла анастасия анна валентина валерия вера виктория галина дарья диана "
    "евгения екатерина елена елизавета жанна зинаида инна ирина карина кристина ксения лариса "
    "лидия любовь людмила маргарита марина мария надежда наталья нина оксана ольга полина "
    "светлана софья софия тамара татьяна ульяна юлия яна ярослава слава роза лилия майя злата "
    "милана саша женя маша дима вова леша таня катя настя сережа коля паша юля"
)
# A patronymic the dictionary lacks (Абдуллаевич) is still trusted when its ending is
# unmistakable and what precedes it is a given name the dictionary knows (Абдулла).
_PATRONYMIC_ENDING = re.compile(r"^(?P<stem>\w{2,}?)(?:ь?[оеё]в)(?:ич|(?P<femn>на))$")
# Common English words that a loose reading would take for names ("will" as Вилл).
ENGLISH_FILLERS = _words(
    "the a an and or of in on at to for from by with without about as is are was were be been "
    "will would shall should can could may might must have has had do does did done not no "
    "that this these those there here they them their then than he she it we you your our "
    "my me his her its who whom which what when where why how all any some each every one "
    "two year years time team house home white black queen king go get give use make take see "
    "come know say said like just now only over also back after way even new want because "
    "root guest login pass password web site www lady silver gold"
)
_FOREIGN_MAX_COST = 3
_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ"})
_GENDERS = {
    "masc": frozenset({"masc"}),
    "femn": frozenset({"femn"}),
    "ms-f": frozenset({"masc", "femn"}),
}


@functools.cache
def morph() -> Any:
    """The Russian analyser, built once: building it takes about a second."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


def fold(word: str) -> str:
    """Compare words without regard to case or ё."""
    return word.lower().replace("ё", "е")


def capitalise(word: str) -> str:
    """Fix capitalisation: each part of a double name starts with a capital."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


def _from_dictionary(parse: Any) -> bool:
    # Guessed parses (unknown prefix or suffix, fake dictionary) tag mash such as
    # "йцукен" as a name, so only a plain dictionary hit counts.
    from pymorphy3.units.by_lookup import DictionaryAnalyzer

    stack = parse.methods_stack
    return len(stack) == 1 and isinstance(stack[0][0], DictionaryAnalyzer)


@dataclass(frozen=True)
class _Reading:
    name: float = 0.0
    name_share: float = 0.0  # of all nominative readings, how much is a given name
    surname: float = 0.0
    patronymic: float = 0.0
    name_genders: frozenset[str] = frozenset()
    patronymic_genders: frozenset[str] = frozenset()
    patronymic_full: str | None = None  # the standard form of a colloquial "Иваныч"
    lemmas: frozenset[str] = frozenset()
    known: bool = False
    function_word: bool = False
    organisation: bool = False
    is_fixed_name: bool = False
    personal: bool = False  # some form of a name or surname, e.g. "Сериков" read as "of Сериков"
    name_lemma: bool = False  # the dictionary form of a given name
    guessed: str | None = None  # "surname" / "masc" / "femn" (patronymic) guessed from the ending


@functools.lru_cache(maxsize=4096)
def _read(key: str) -> _Reading:
    """Sum the dictionary's evidence for one lower-case Cyrillic word."""
    every = morph().parse(key)
    parses = [p for p in every if _from_dictionary(p)]
    name = surname = patronymic = nominative = 0.0
    name_genders: set[str] = set()
    patr_genders: set[str] = set()
    full = None
    fixed = False
    for p in parses:
        tags = p.tag.grammemes
        nominative += p.score if "nomn" in tags else 0.0
        if not {"nomn", "sing"} <= tags or tags & {"Erro", "Abbr", "Init"}:
            continue
        gender = next((g for key_, g in _GENDERS.items() if key_ in tags), frozenset())
        if "Name" in tags:
            name += p.score
            name_genders |= gender
            fixed = fixed or "Fixd" in tags
        elif "Surn" in tags:
            surname += p.score
        elif "Patr" in tags:
            patronymic += p.score
            patr_genders |= gender
            if "Infr" in tags and key.endswith("ыч"):
                full = p.normal_form if _standard_patronymic(p.normal_form) else ""
    top = parses[0] if parses else None
    guessed = None
    if not parses and every and "Surn" in every[0].tag:
        guessed = "surname"
    elif not parses and (match := _PATRONYMIC_ENDING.search(key)) and _fathers_name(match):
        guessed = "femn" if match.group("femn") else "masc"
    return _Reading(
        name=name,
        name_share=name / nominative if nominative else 0.0,
        surname=surname,
        patronymic=patronymic,
        name_genders=frozenset(name_genders),
        patronymic_genders=frozenset(patr_genders),
        patronymic_full=full,
        lemmas=frozenset(fold(p.normal_form) for p in parses) | {key},
        known=bool(parses),
        function_word=top is not None and top.tag.POS in _FUNCTION_POS,
        organisation=any("Orgn" in p.tag for p in parses),
        is_fixed_name=fixed,
        personal=any(p.tag.grammemes & {"Name", "Surn", "Patr"} for p in parses),
        name_lemma=any("Name" in p.tag and fold(p.normal_form) == key for p in parses),
        guessed=guessed,
    )


def _fathers_name(match: re.Match[str]) -> bool:
    stem = match["stem"]
    candidates = {stem, stem + "й", stem + "ь", stem + "а", stem + "я"}
    return any(_read(c).name_lemma or c in EXTRA_NAMES["masc"] for c in candidates)


def _standard_patronymic(word: str) -> bool:
    return any(
        _from_dictionary(p) and "Patr" in p.tag and "Erro" not in p.tag for p in morph().parse(word)
    )


def _listed(reading: _Reading, words: frozenset[str]) -> bool:
    return bool(reading.lemmas & words)


def read_cyrillic(word: str, *, transliterated: bool = False) -> Word:
    """Read one Cyrillic word (letters and hyphens) as typed in a name field."""
    key = fold(word)
    text = capitalise(word)

    def make(role: Role, genders: frozenset[str] = frozenset(), **kw: Any) -> Word:
        return Word(text, key, role, genders, transliterated=transliterated, **kw)

    if len(key.replace("-", "")) == 1:
        return make(Role.INITIAL)
    if key == "ип":
        return make(Role.SOLE_PROPRIETOR)
    r = _read(key)
    if key in COMPANY_MARKERS or _listed(r, COMPANY_WORDS) or r.organisation:
        return make(Role.COMPANY)
    if _listed(r, HONORIFICS):
        return make(Role.HONORIFIC)
    if _listed(r, POSITIONS):
        return make(Role.TITLE)
    if _listed(r, PLACEHOLDERS):
        return make(Role.PLACEHOLDER)
    if r.function_word:
        return make(Role.FILLER)
    if r.patronymic and r.patronymic >= r.name:
        if r.patronymic_full == "":
            return make(Role.JUNK)  # a colloquial patronymic we cannot expand safely
        full = capitalise(r.patronymic_full) if r.patronymic_full else text
        return Word(full, fold(full), Role.PATRONYMIC, r.patronymic_genders)
    if r.name and r.name >= r.surname:
        return make(Role.NAME, r.name_genders, maybe_surname=r.surname > 0)
    if r.surname:
        return make(Role.SURNAME)
    for gender, names in EXTRA_NAMES.items():
        if key in names:
            return make(Role.NAME, frozenset({gender}))
    if "-" in key and not r.known:
        return _read_hyphenated(word, make)
    if r.personal or r.guessed == "surname":
        return make(Role.SURNAME)
    if r.guessed:
        return make(Role.PATRONYMIC, frozenset({r.guessed}))
    if r.known:
        return make(Role.WORD)
    if word.isupper() and len(word) <= 3:
        return make(Role.JUNK)  # an abbreviation such as "ТК" or "ЦБ"
    return make(Role.UNKNOWN)


def _read_hyphenated(word: str, make: Callable[..., Word]) -> Word:
    """Анна-Мария is a name when every part is; Петров-Водкин is a double surname."""
    parts = [read_cyrillic(part) for part in word.split("-") if part]
    roles = {p.role for p in parts}
    if roles == {Role.NAME} and len({p.key for p in parts}) == len(parts):
        genders = frozenset.intersection(*(p.genders for p in parts))
        return make(Role.NAME, genders) if genders else make(Role.UNKNOWN)
    if roles & {Role.SURNAME, Role.UNKNOWN} or (Role.NAME in roles and Role.WORD in roles):
        return make(Role.SURNAME)
    return make(Role.WORD if Role.WORD in roles else Role.UNKNOWN)


def _is_prefix(text: str) -> bool:
    return next(iter(morph().dictionary.words.iterkeys(text)), None) is not None


def _is_known_name_part(text: str) -> bool:
    r = _read(text)
    return bool(r.name or r.surname or r.patronymic)


def _rank(reading: str, cost: int) -> tuple[int, int]:
    r = _read(reading)
    penalty = 2 * r.is_fixed_name - 2 * (fold(reading) in COMMON_NAMES)
    return (cost + penalty, cost)


def _plausible_name(reading: str) -> bool:
    # A Latin word whose Cyrillic reading is mostly something else ("any" -> "аны") is
    # not trusted as a name unless it is an everyday name such as Вера.
    return fold(reading) in COMMON_NAMES or _read(fold(reading)).name_share >= 0.5


@functools.lru_cache(maxsize=4096)
def read_latin(word: str) -> Word:
    """Read a Latin word: a Russian name goes back to Cyrillic, a foreign one stays as typed."""
    key = word.lower()
    text = capitalise(word)
    if len(key.replace("-", "")) == 1:
        return Word(text, key, Role.INITIAL)
    if not all(ch.isalpha() or ch == "-" for ch in text):
        return Word(word, key, Role.UNKNOWN)  # capitals that grow combining marks: never printed
    for role, words in (
        (Role.COMPANY, COMPANY_MARKERS | COMPANY_WORDS),
        (Role.HONORIFIC, HONORIFICS),
        (Role.TITLE, POSITIONS),
        (Role.PLACEHOLDER, PLACEHOLDERS),
        (Role.FILLER, ENGLISH_FILLERS),
    ):
        if key in words:
            return Word(text, key, role)
    if "-" in key:
        parts = [read_latin(part) for part in word.split("-") if part]
        genders = frozenset.intersection(*(p.genders for p in parts)) if parts else frozenset()
        if all(p.role is Role.NAME for p in parts) and genders and len(parts) > 1:
            joined = "-".join(p.text for p in parts)  # Jean-Pierre, Anna-Maria as Анна-Мария
            translit = any(p.transliterated for p in parts)
            return Word(joined, fold(joined), Role.NAME, genders, transliterated=translit)
        return Word(text, key, Role.UNKNOWN)
    readings = to_cyrillic(key, _is_prefix, _is_known_name_part)
    for reading, _cost in sorted(readings, key=lambda rc: _rank(*rc)):
        found = read_cyrillic(reading, transliterated=True)
        if found.role is not Role.NAME or _plausible_name(reading):
            return found
    for reading, cost in to_cyrillic(key, _is_prefix, _is_known_name_part, foreign=True):
        found = read_cyrillic(reading)
        if found.role is Role.SURNAME or (
            found.role is Role.NAME and cost <= _FOREIGN_MAX_COST and _plausible_name(reading)
        ):
            # A foreign name keeps its own spelling; the Cyrillic reading only vouches for it.
            return Word(text, key, found.role, found.genders, found.maybe_surname)
    return Word(text, key, Role.UNKNOWN)


def read_word(word: str) -> Word:
    """Read a token of letters and hyphens in whatever script it was typed."""
    scripts = {script_of(ch) for ch in word if ch != "-"}
    if scripts == {"cyrillic"}:
        return read_cyrillic(word)
    if scripts == {"latin"}:
        return read_latin(word)
    if scripts == {"cyrillic", "latin"}:
        fixed = fix_homoglyphs(word)
        if fixed is not None:
            return read_cyrillic(fixed)
    return Word(word, fold(word), Role.UNKNOWN)
