"""Letters as the owning manager would write them: templates, context, rendering, lint.

Templates live in `templates/letters/<kind>/` as `subject.txt`, `body.txt`, `body.html` and
are edited by marketing, so they render in a sandbox, and an undefined name fails the
render instead of becoming an empty string.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateSyntaxError,
    UndefinedError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from mailer.letters.greeting import Greeting, greet
from mailer.letters.lint import LetterLintError, LetterText, check_letter
from mailer.letters.sender import SenderIdentity
from mailer.letters.template_errors import syntax_problem, unknown_name

LETTER_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "letters"

_MONTHS_GENITIVE = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_MONTHS_PREPOSITIONAL = (
    "январе",
    "феврале",
    "марте",
    "апреле",
    "мае",
    "июне",
    "июле",
    "августе",
    "сентябре",
    "октябре",
    "ноябре",
    "декабре",
)
# A legal form or quotes: the name reads on its own ("для ООО «Ромашка»").
_LEGAL_FORM = re.compile(
    r"(^|\s)(ООО|ОАО|ЗАО|ПАО|АО|ИП|ТД|ГК|НПО|ФГУП|МУП|LLC|Ltd|Inc|GmbH)(\s|$)|[«\"]"
)
EVENING_STARTS_AT = 17
_BRACES = str.maketrans("{}", "()")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")


class LetterKind(enum.StrEnum):
    INDUSTRY_CATALOGUE = "industry_catalogue"
    MAR8 = "mar8"
    FEB23 = "feb23"
    NEW_YEAR_CATALOGUE = "new_year_catalogue"


@dataclass(frozen=True)
class Occasion:
    """The day a letter is built around, as a reader sees it."""

    name: str
    day: date | None = None

    @property
    def date_text(self) -> str:
        return f"{self.day.day} {_MONTHS_GENITIVE[self.day.month - 1]}" if self.day else ""


@dataclass(frozen=True)
class Recipient:
    """The contact fields a letter may use; plain data, escaped by the HTML templates."""

    email: str
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    company: str = ""
    preferred_name: str = ""  # what the client asked to be called; the greeting uses it

    @classmethod
    def of(cls, contact: ContactFields, preferred_name: str | None = None) -> Recipient:
        """From a contact, or a row carrying its columns (and `preferred_name`, if it has it)."""
        return cls(
            email=contact.email,
            first_name=contact.first_name,
            middle_name=contact.middle_name,
            last_name=contact.last_name,
            company=contact.company_name,
            preferred_name=preferred_name or getattr(contact, "preferred_name", None) or "",
        )

    def greeting(self) -> Greeting:
        """The preferred name when there is one, verbatim if the parser does not know it;
        else the greeting read from the name fields."""
        if not self.preferred_name:
            return greet(self.first_name, self.middle_name, self.last_name)
        found = greet(self.preferred_name)
        if found.first_name is not None:
            return found
        name = " ".join(self.preferred_name.split())
        return Greeting(f"Здравствуйте, {name}!", name, None, "preferred", "как просил клиент")


class ContactFields(Protocol):
    """What Recipient.of reads: a Contact's columns of those names."""

    email: str
    first_name: str
    middle_name: str
    last_name: str
    company_name: str


@dataclass(frozen=True)
class LetterLinks:
    """The tracked addresses a letter carries: its campaign's links by label, the one-click
    unsubscribe page, and a honeypot only a machine follows (hidden in the HTML)."""

    urls: Mapping[str, str]
    unsubscribe: str
    honeypot: str = ""

    def url(self, label: str) -> str:
        """`{{ link("каталог") }}` in a template: a label the campaign lacks blocks the letter."""
        try:
            return self.urls[label]
        except KeyError:
            known = ", ".join(sorted(self.urls)) or "none"
            raise LetterLintError(
                [f"the template names a link {label!r} its campaign lacks (it has: {known})"]
            ) from None


@dataclass(frozen=True)
class RenderedLetter:
    subject: str
    text: str
    html: str
    greeting: Greeting


def purchase_month_text(month: int) -> str:
    """`в августе`: how the letter names the month the client buys New Year gifts in."""
    return f"в {_MONTHS_PREPOSITIONAL[month - 1]}"


def company_phrase(company: str) -> str:
    """The company inside a sentence without declining it: `для компании «Тойота»`."""
    company = _as_prose(company)
    if not company:
        return "для вашей команды"
    if _LEGAL_FORM.search(company):
        return f"для {company}"
    return f"для компании «{company}»"


def _as_prose(value: str) -> str:
    """Contact text made fit for a sentence: one line, no stray space before a comma, no
    template braces (a company typed as `{{Рога}}` must not look like a broken template)."""
    value = " ".join(value.split()).translate(_BRACES)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", value).strip()


def evening_wish(local_time: datetime) -> str:
    """A closing line for a letter sent in the sender's evening, and nothing otherwise."""
    return "Хорошего вечера!" if local_time.hour >= EVENING_STARTS_AT else ""


def _nl2br(value: Any) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


class _LetterEnvironment(SandboxedEnvironment):
    """Templates get their globals as one plain dict: every render copies them into its
    context, and copying Jinja's default ChainMap costs more than a short template's
    render. Our globals are set before any template loads and never change after."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


@lru_cache(maxsize=8)
def letter_environment(folder: Path = LETTER_TEMPLATES) -> SandboxedEnvironment:
    """One sandboxed environment per template folder; compiled templates are cached in it."""
    env = _LetterEnvironment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        auto_reload=False,
        keep_trailing_newline=False,
    )
    env.filters["nl2br"] = _nl2br
    return env


def available_kinds(folder: Path = LETTER_TEMPLATES) -> list[str]:
    """Letter kinds that have a template folder."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))


def render_letter(
    kind: str,
    recipient: Recipient,
    sender: SenderIdentity,
    *,
    now: datetime,
    links: LetterLinks,
    occasion: Occasion | None = None,
    purchase_month: int | None = None,
    folder: Path | None = None,
) -> RenderedLetter:
    """Subject, text and HTML of one letter; raises LetterLintError when it must not go out
    (LetterTemplateError, naming file, line and name, when a template cannot render)."""
    folder = folder or LETTER_TEMPLATES
    greeting = recipient.greeting()
    local = sender.local_time(now)
    context: dict[str, Any] = {
        "greeting": greeting.text,
        "contact": recipient,
        "company_phrase": company_phrase(recipient.company),
        "sender": sender,
        "occasion": occasion or Occasion(""),
        "purchase_month": purchase_month_text(purchase_month) if purchase_month else "",
        "link": links.url,
        "unsubscribe_url": links.unsubscribe,
        "honeypot_url": links.honeypot,
        "evening_wish": evening_wish(local),
        "year": local.year,
    }
    env = letter_environment(folder)
    try:
        subject = " ".join(env.get_template(f"{kind}/subject.txt").render(context).split())
        text = env.get_template(f"{kind}/body.txt").render(context).strip() + "\n"
        html = env.get_template(f"{kind}/body.html").render(context).strip() + "\n"
    except UndefinedError as exc:
        raise unknown_name(exc, folder) from None
    except TemplateSyntaxError as exc:
        raise syntax_problem(exc, folder) from None
    check_letter(LetterText(subject, text, html, greeting.text, greeting.parts.surname or ""))
    return RenderedLetter(subject, text, html, greeting)
