"""The signed-in desks' plumbing: sessions, CSRF, cookie flags, who may see which page.

Every page needs a signed-in user unless its blueprint is public (the recipients' click
and unsubscribe pages): a page added later is closed by default, not open by mistake.
The public endpoints never touch the session, so a click stays cookie-free and fast.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from mailer.config import settings
from mailer.contacts.phones import display_phone
from mailer.plurals import plural_ru
from mailer.web import auth, errors, navigation

# Blueprints a recipient reaches from a letter: no sign-in, no CSRF token (RFC 8058 POST).
PUBLIC_BLUEPRINTS = frozenset({"tracking"})
PUBLIC_ENDPOINTS = frozenset({"static", "auth.sign_in"})

csrf = CSRFProtect()

# A campaign letter's status as the card says it.
LETTER_STATUS_TEXTS = {
    "planned": "запланировано",
    "sending": "отправляется",
    "sent": "отправлено",
    "deferred": "отложено, будет повтор",
    "bounced": "адрес не существует",
    "failed": "не отправлено",
    "expired": "не успело к дате",
    "cancelled": "отменено",
}

# A history entry's kind as the timeline says it.
HISTORY_KIND_TEXTS = {
    "call": "Звонок",
    "meeting": "Встреча",
    "letter": "Письмо менеджера",
    "note": "Заметка",
    "transfer": "Передан",
    "sent": "Отправлено письмо",
    "click": "Клик по ссылке",
    "task": "Задача",
    "unsubscribe": "Отписался",
}


def init_web(app: Flask) -> None:
    """Wire sign-in, CSRF, cookie flags and our error pages into the app."""
    secure = settings(app).letters.public_base_url.startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="mailer_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=secure,
    )
    login = LoginManager(app)
    login.login_view = "auth.sign_in"
    login.login_message = "Войдите, чтобы открыть эту страницу."
    login.login_message_category = "info"
    login.session_protection = "basic"
    login.user_loader(auth.load_user)
    for name in PUBLIC_BLUEPRINTS:
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])
    csrf.init_app(app)
    app.register_blueprint(auth.bp)
    errors.register(app)
    app.context_processor(
        lambda: {
            "menu": navigation.menu,
            "history_kinds": HISTORY_KIND_TEXTS,
            "letter_statuses": LETTER_STATUS_TEXTS,
        }
    )
    app.add_template_filter(plural_ru, "plural")
    app.add_template_filter(display_phone, "phone")
    app.before_request(_require_sign_in)


def _require_sign_in() -> ResponseReturnValue | None:
    """Closed by default: anything outside the public pages needs a signed-in user."""
    if request.blueprint in PUBLIC_BLUEPRINTS or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.endpoint is None:  # no such page: the 404 handler answers
        return None
    if not current_user.is_authenticated:
        manager: LoginManager = current_app.login_manager  # type: ignore[attr-defined]
        return manager.unauthorized()
    return None
