"""The two addresses every letter carries: tracked links and one-click unsubscribe.

Nothing irreversible happens on GET (scanners fetch every link): a click GET is only
recorded, to be judged later; unsubscribing acts on POST. A redirect goes only to the
destination stored for the link, never to anything taken from the request.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from mailer.config import settings
from mailer.contacts.models import Contact
from mailer.db import get_engine, session_scope, utcnow
from mailer.letters.composing import HONEYPOT_LINK_ID
from mailer.letters.signing import TokenError, read_click_token, read_unsubscribe_token
from tracking.clicks import ClickRecorder, Visit
from tracking.journal import ClickJournal
from tracking.unsubscribe import unsubscribe

bp = Blueprint("tracking", __name__)


def _recorder() -> ClickRecorder:
    """One per process: the journal file is this process's own (made after a fork)."""
    app = current_app
    recorder = app.extensions.get("tracking.recorder")
    if recorder is None:
        tracking = settings(app).tracking
        journal = ClickJournal(tracking.journal_dir, fsync=tracking.journal_fsync)
        recorder = app.extensions["tracking.recorder"] = ClickRecorder(
            get_engine(app), journal, directory_seconds=tracking.directory_seconds
        )
    return recorder


def _not_found() -> tuple[str, int]:
    return render_template("pages/public/not_found.html"), 404


@bp.route("/c/<path:token>", methods=["GET"])  # Flask answers HEAD with this view too
def click(token: str) -> Response | tuple[str, int]:
    """Verify, record (GET only), and redirect to the link's stored destination."""
    try:
        letter_id, link_id = read_click_token(settings().secret_keys, token)
    except TokenError:
        return _not_found()
    recorder = _recorder()
    if link_id == HONEYPOT_LINK_ID:
        destination = None
        is_known = recorder.is_letter(letter_id)
    else:
        destination = recorder.destination(letter_id, link_id)
        is_known = destination is not None
    if is_known and request.method == "GET":
        recorder.record(
            Visit(
                letter_id=letter_id,
                link_id=link_id,
                method=request.method,
                ip=request.remote_addr or "",
                user_agent=request.environ.get("HTTP_USER_AGENT", ""),
                purpose=_purpose(),
            )
        )
    if destination is None:
        return _not_found()
    return Response(
        status=302,
        headers={
            "Location": destination,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _purpose() -> str:
    """Sec-Purpose, Purpose, X-Purpose or X-Moz: a browser's prefetch says so."""
    environ = request.environ
    for key in ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ"):
        if value := environ.get(key):
            return str(value)
    return ""


@bp.route("/u/<path:token>", methods=["GET", "POST"])
def unsubscribe_page(token: str) -> tuple[str, int] | str:
    """GET asks (a scanner's fetch changes nothing); POST — the button or the mail
    client's RFC 8058 one-click — unsubscribes at once, without cookie or login."""
    try:
        contact_id = read_unsubscribe_token(settings().secret_keys, token)
    except TokenError:
        return _not_found()
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            return _not_found()
        if request.method == "GET":
            done = contact.unsubscribed_at is not None
            hint = _email_hint(contact.email)
            return render_template("pages/public/unsubscribe.html", done=done, email_hint=hint)
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        unsubscribe(
            session,
            contact_id,
            now=utcnow(),
            how="в один клик из почты" if one_click else "по ссылке из письма",
        )
        session.commit()
    return render_template("pages/public/unsubscribe.html", done=True)


def _email_hint(email: str) -> str:
    """`i***@toyota.example`: enough to recognise one's address, not to harvest it."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
