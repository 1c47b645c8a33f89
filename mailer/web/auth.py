"""Signing in and out, the signed-in user, and the Actor views hand to services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from mailer.db import session_scope
from mailer.users.actor import Actor
from mailer.users.models import Role, User
from mailer.users.services import Locked, authenticate

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class SignedInUser(UserMixin):
    """What a request knows about its user; loaded fresh on every request."""

    id: int
    email: str
    role: Role
    manager_id: int | None
    manager_name: str
    session_token: str

    def get_id(self) -> str:
        # A new password changes the token: every older session stops matching.
        return f"{self.id}:{self.session_token}"

    @property
    def is_marketing(self) -> bool:
        return self.role is Role.MARKETING

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.id, role=self.role, manager_id=self.manager_id)


def load_user(user_ref: str) -> SignedInUser | None:
    """Flask-Login's loader: the account if it still exists, is active and the token matches."""
    user_id, _, token = user_ref.partition(":")
    if not user_id.isdigit() or not token:
        return None
    with session_scope() as db:
        user = db.scalar(select(User).where(User.id == int(user_id), User.is_active.is_(True)))
        if user is None or user.session_token != token:
            return None
        return SignedInUser(
            id=user.id,
            email=user.email,
            role=user.role,
            manager_id=user.manager_id,
            manager_name=user.manager.name if user.manager else "",
            session_token=user.session_token,
        )


def current_actor() -> Actor:
    """The signed-in user as services take it (pages run only signed in)."""
    user: SignedInUser = current_user  # type: ignore[assignment]
    return user.actor


def marketing_only(view: F) -> F:
    """A page for marketing: for anyone else it does not exist (404, not 403)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated or not current_user.is_marketing:
            abort(404)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


class SignInForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired("Укажите e-mail."), Length(max=320)])
    password = PasswordField(
        "Пароль", validators=[DataRequired("Введите пароль."), Length(max=1000)]
    )


def _landing() -> str:
    """The first page of the user's menu: hot clicks for a manager."""
    from mailer.web.navigation import menu

    items = menu()
    return str(items[0]["url"]) if items else url_for("auth.sign_in")


def _safe_next(target: str | None) -> str:
    """Only a path on this site: `next` must never send the user elsewhere."""
    if not target:
        return _landing()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return _landing()
    if "\\" in target:
        return _landing()
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """The sign-in form; a wrong password says the same whether the e-mail exists or not."""
    if current_user.is_authenticated:
        return redirect(_landing())
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        with session_scope() as db:
            try:
                result = authenticate(db, form.email.data or "", form.password.data or "")
            except Locked as exc:
                result, error = None, _locked_text(exc)
            db.commit()
        if result is not None:
            session.clear()  # a fresh session: nothing from before signing in survives
            user = load_user(f"{result.user_id}:{result.session_token}")
            if user is not None:
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
        error = error or "Неверный e-mail или пароль."
    status = 200 if error is None and not form.errors else 400
    if error and error.startswith("Слишком"):
        status = 429
    return render_template("pages/sign_in.html", form=form, error=error), status


def _locked_text(exc: Locked) -> str:
    return (
        "Слишком много неверных попыток: вход закрыт до "
        f"{exc.until:%H:%M} UTC. Попробуйте позже или попросите сменить пароль."
    )


@bp.post("/sign-out")
@login_required
def sign_out() -> Response:
    logout_user()
    session.clear()
    flash("Вы вышли.", "info")
    return redirect(url_for("auth.sign_in"))
