"""How an import reads each column of a file: the guess from its headers, and the user's map.

A CRM export is recognised by the headers only that CRM writes (Bitrix24's `Обращение`
and `Частный e-mail`, amoCRM's `Полное имя контакта` and `Личный email`). E-mails and
phones may come from several columns (work, private or mobile, and a plain one); they are
read in a preference order, the plain column first: it is the one a user maps by hand.
Every other field comes from one column at most. `--map "Header=field"` and a map file
(the same lines, `#` for comments) override the guess; `ignore` leaves a column out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailer.contacts.columns import HEADER_FIELDS, IGNORED_HEADERS
from mailer.contacts.folding import fold

IGNORE = "ignore"
EMAIL_FIELDS = ("email", "email_work", "email_private")
PHONE_FIELDS = ("phone", "phone_work", "phone_mobile")
SINGLE_FIELDS = (
    *("first_name", "middle_name", "last_name", "full_name", "salutation", "company"),
    *("position", "tags", "owner", "consent", "consent_source", "source_id"),
)
FIELDS = (*EMAIL_FIELDS, *PHONE_FIELDS, *SINGLE_FIELDS)
EMAIL_PREFERENCES = ("work", "private")
PHONE_PREFERENCES = ("work", "mobile")

# Spellings the importer reads that no export of ours writes: what CRMs call their columns.
CRM_HEADERS: dict[str, tuple[str, ...]] = {
    "email_work": ("рабочий e-mail", "рабочий email", "work email", "work e-mail"),
    "email_private": (
        *("частный e-mail", "частный email", "личный email", "личный e-mail"),
        *("другой e-mail", "другой email", "private email", "personal email", "other email"),
    ),
    "phone_work": ("рабочий телефон", "рабочий прямой телефон", "work phone"),
    "phone_mobile": (
        *("мобильный телефон", "мобильный", "личный телефон", "домашний телефон"),
        *("другой телефон", "mobile", "mobile phone", "other phone"),
    ),
    "full_name": ("полное имя контакта", "полное имя", "фио", "имя контакта", "full name"),
    "salutation": ("обращение", "salutation"),
    "company": ("компания контакта",),
    "source_id": ("id",),
}
_CRM_FIELDS = {fold(name): field_ for field_, names in CRM_HEADERS.items() for name in names}

# Headers only one CRM writes; two of them make the guess.
SOURCES: dict[str, tuple[str, frozenset[str]]] = {
    "bitrix24": (
        "Bitrix24",
        frozenset({"обращение", "рабочий e-mail", "частный e-mail", "другой e-mail", "кем создан"}),
    ),
    "amocrm": (
        "amoCRM",
        frozenset({"полное имя контакта", "компания контакта", "рабочий email", "личный email"}),
    ),
}
OTHER_SOURCE = "file"  # the source system of ids from a file no CRM is recognised in


class ColumnMapError(ValueError):
    """A map or a header the import cannot go on with; the message says which."""


@dataclass
class ColumnPlan:
    """Which column gives which field; e-mail and phone columns in the order they count."""

    source: str  # "bitrix24", "amocrm" or "" when no CRM was recognised
    single: dict[str, int] = field(default_factory=dict)
    emails: list[int] = field(default_factory=list)
    phones: list[int] = field(default_factory=list)
    reads: list[tuple[str, str]] = field(default_factory=list)  # (header, field or IGNORE)

    @property
    def source_name(self) -> str:
        return SOURCES[self.source][0] if self.source else ""

    @property
    def source_system(self) -> str:
        """What the book stores as the contacts' source: the CRM, or `file`."""
        return self.source or OTHER_SOURCE

    @property
    def ignored(self) -> list[str]:
        return [header for header, target in self.reads if target == IGNORE and header.strip()]


def detect_source(header: list[str]) -> str:
    """The CRM whose export this header looks like, or ""."""
    keys = {fold(name).strip(" *:") for name in header}
    scores = {source: len(keys & markers) for source, (_, markers) in SOURCES.items()}
    best = max(scores, key=lambda source: scores[source])
    others = [score for source, score in scores.items() if source != best]
    return best if scores[best] >= 2 and all(score < scores[best] for score in others) else ""


def guess_field(header: str) -> str:
    """The field a header means by its spelling, or IGNORE."""
    key = fold(header).strip(" *:")
    if key in IGNORED_HEADERS:
        return IGNORE
    return HEADER_FIELDS.get(key) or _CRM_FIELDS.get(key) or IGNORE


def plan_columns(
    header: list[str],
    overrides: dict[str, str] | None = None,
    *,
    prefer_email: str = "work",
    prefer_phone: str = "work",
) -> ColumnPlan:
    """Read the header (with the user's map on top); ColumnMapError when it cannot be read."""
    overrides = {fold(name): target for name, target in (overrides or {}).items()}
    unknown = [name for name in overrides if name not in {fold(h) for h in header}]
    if unknown:
        raise ColumnMapError(
            f"the map names a column the file does not have: '{unknown[0]}'; headers are: "
            + ", ".join(header)
        )
    plan = ColumnPlan(detect_source(header))
    kinds: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        target = overrides.get(fold(name)) or guess_field(name)
        if target == "source_id" and not plan.source and fold(name) not in overrides:
            # An `ID` of a file no CRM is recognised in may be any sheet's row number:
            # taken only when the map says so.
            target = IGNORE
        plan.reads.append((name, target))
        if target in EMAIL_FIELDS or target in PHONE_FIELDS:
            kinds.setdefault(target, []).append(index)
        elif target in plan.single:
            raise ColumnMapError(
                f"two columns mean {target}: '{header[plan.single[target]]}' and '{name}'"
                f' (say which with --map "{name}=ignore")'
            )
        elif target != IGNORE:
            plan.single[target] = index
    email_order = ("email", f"email_{prefer_email}", *EMAIL_FIELDS[1:])
    phone_order = ("phone", f"phone_{prefer_phone}", *PHONE_FIELDS[1:])
    plan.emails = list(dict.fromkeys(i for k in email_order for i in kinds.get(k, [])))
    plan.phones = list(dict.fromkeys(i for k in phone_order for i in kinds.get(k, [])))
    if not plan.emails:
        raise ColumnMapError(
            'no e-mail column (Email / E-mail, or --map "Header=email"); headers are: '
            + ", ".join(header)
        )
    return plan


def parse_map(lines: list[str], where: str = "--map") -> dict[str, str]:
    """`Header=field` lines (a map file's or --map's) as header → field."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip().lstrip("\ufeff")
        if not text or text.startswith("#"):
            continue
        name, sign, target = text.rpartition("=")
        target = target.strip().casefold()
        if not sign or not name.strip():
            raise ColumnMapError(f"{where}, line {number}: '{text}' is not Header=field")
        if target not in FIELDS and target != IGNORE:
            raise ColumnMapError(
                f"{where}, line {number}: unknown field '{target}'; fields are: "
                + ", ".join((*FIELDS, IGNORE))
            )
        mapping[name.strip()] = target
    return mapping


def read_map_file(path: Path) -> dict[str, str]:
    """A saved map: `Header=field` lines, UTF-8."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ColumnMapError(f"cannot read the map file {path}: {exc}") from None
    return parse_map(text.splitlines(), where=str(path))


def describe_plan(plan: ColumnPlan) -> list[str]:
    """How every column will be read, one line each, for --show-mapping."""
    lines = [f"looks like a {plan.source_name} export"] if plan.source else []
    width = max((len(name) for name, _ in plan.reads), default=0)
    order = {index: n for n, index in enumerate(plan.emails)}
    order |= {index: n for n, index in enumerate(plan.phones)}
    for index, (name, target) in enumerate(plan.reads):
        how = "ignored" if target == IGNORE else target
        if index in order:
            how += f" (choice {order[index] + 1})"
        lines.append(f"{name or f'column {index + 1}':<{width}}  → {how}")
    return lines
