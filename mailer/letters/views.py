"""Marketing's preview page: any letter kind for a chosen contact, exactly as it would be
sent now, and "send a test to me", which goes through the relay to the signed-in user only.

Thin: `previewing.preview_letter` composes (the same function as `mailer letters preview`),
`preview.py` reads the bytes back, `lint.py` names what would block the letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import cast

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from mailer.config import settings
from mailer.contacts.book import ContactError
from mailer.db import session_scope
from mailer.letters.composing import ComposedLetter, CompositionError
from mailer.letters.lint import LetterLintError, LetterText, lint_letter
from mailer.letters.preview import SHOWN_HEADERS, html_links
from mailer.letters.previewing import preview_letter
from mailer.letters.rendering import LetterKind
from mailer.smtp import SmtpTransport
from mailer.smtp.replies import Outcome
from mailer.web.marketing import marketing_blueprint

bp = marketing_blueprint("preview", __name__)


@dataclass(frozen=True)
class PreviewQuery:
    """What the form asks for; `problem` is the Russian sentence when it cannot be shown."""

    email: str
    kind: str
    tag: str

    @classmethod
    def from_request(cls) -> PreviewQuery:
        values = request.form if request.method == "POST" else request.args
        return cls(
            values.get("email", "").strip()[:320],
            values.get("kind", LetterKind.INDUSTRY_CATALOGUE.value),
            values.get("tag", "").strip()[:100],
        )


@dataclass(frozen=True)
class Shown:
    """The composed letter as the page shows it."""

    headers: list[tuple[str, str]]
    text: str
    html: str
    links: list[tuple[str, str, bool]]
    greeting: str
    greeting_reason: str
    greeting_message: str
    lint: list[str]
    size: int


def _compose(query: PreviewQuery, now: datetime) -> ComposedLetter:
    """The letter, or a ValueError whose message is the Russian sentence to show."""
    if query.kind not in {kind.value for kind in LetterKind}:
        raise ValueError("Выберите вид письма из списка.")
    if not query.email:
        raise ValueError("Укажите e-mail контакта.")
    with session_scope() as session:
        try:
            return preview_letter(
                session,
                query.email,
                LetterKind(query.kind),
                tag_code=query.tag or None,
                now=now,
                settings=settings().letters,
            )
        except ContactError:
            raise ValueError(f"Контакта с e-mail {query.email} нет в базе.") from None
        except LetterLintError as exc:
            problems = "; ".join(exc.problems)
            raise ValueError(f"Письмо заблокирует проверка текста: {problems}") from None
        except CompositionError as exc:
            raise ValueError(f"Письмо для этого контакта не собрать: {exc}") from None


def _shown(composed: ComposedLetter) -> Shown:
    message = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(composed.raw))
    text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    text = str(text_part.get_content()).replace("\r\n", "\n") if text_part else ""
    html = str(html_part.get_content()) if html_part else ""
    rendered = composed.letter
    greeting = rendered.greeting
    return Shown(
        headers=[(name, str(message[name])) for name in SHOWN_HEADERS if message[name] is not None],
        text=text,
        html=html,
        links=[(link.text, link.url, link.is_hidden) for link in html_links(html)],
        greeting=greeting.text,
        greeting_reason=greeting.reason,
        greeting_message=greeting.message,
        lint=lint_letter(
            LetterText(
                rendered.subject,
                rendered.text,
                rendered.html,
                greeting.text,
                greeting.parts.surname or "",
            )
        ),
        size=len(composed.raw),
    )


@bp.get("/preview")
def index() -> ResponseReturnValue:
    query = PreviewQuery.from_request()
    shown, error = None, ""
    if query.email:
        try:
            shown = _shown(_compose(query, datetime.now(UTC)))
        except ValueError as exc:
            error = str(exc)
    return render_template(
        "pages/marketing/preview.html",
        query=query,
        shown=shown,
        error=error,
        kinds=[kind.value for kind in LetterKind],
        me=current_user.email,
    ), (400 if error else 200)


@bp.post("/preview/send")
def send_test() -> ResponseReturnValue:
    """The same letter, delivered to the signed-in user's own address and nobody else."""
    query = PreviewQuery.from_request()
    back = url_for("preview.index", email=query.email, kind=query.kind, tag=query.tag or None)
    try:
        composed = _compose(query, datetime.now(UTC))
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(back)
    config = settings()
    me = current_user.email
    sender = config.letters.envelope_from or composed.sender.address
    with SmtpTransport(config.smtp) as transport:
        result = transport.send(sender, me, composed.raw)
    if result.outcome is Outcome.SENT:
        flash(f"Тестовое письмо отправлено на {me}.", "info")
    else:
        flash(f"Тестовое письмо не отправлено: сервер ответил «{result.message}».", "error")
    return redirect(back)
