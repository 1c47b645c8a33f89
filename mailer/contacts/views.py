"""The contact book's web pages: thin callers of the services."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from mailer.config import settings
from mailer.contacts.book import find_existing
from mailer.contacts.candidates import Candidate, group_candidates, owners_of
from mailer.contacts.models import Contact
from mailer.db import session_scope
from mailer.managers.models import Manager
from mailer.plurals import plural_ru
from mailer.web.auth import current_actor

bp = Blueprint("book", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Managers with how many contacts each owns (marketing's; a manager lands on its desk)."""
    if not current_actor().is_marketing:
        return redirect(url_for("hot.index"))
    with session_scope() as session:
        stmt = select(Contact.owner_id, func.count()).group_by(Contact.owner_id)
        counts = {owner_id: n for owner_id, n in session.execute(stmt)}
        managers = session.scalars(select(Manager).order_by(Manager.is_house, Manager.name)).all()
        return render_template("pages/index.html", managers=managers, counts=counts)


@bp.get("/check")
def check() -> str:
    """Who already owns a contact: by e-mail, phone or company (either spelling)."""
    query = request.args.get("q", "").strip()
    candidates, error = [], None
    if query:
        try:
            with session_scope() as session:
                matches = find_existing(
                    session,
                    **{_query_kind(query): query},
                    phone_region=settings().default_phone_region,
                )
                candidates = group_candidates(matches)
                # Rendered here: the candidates' contacts and owners are read as it renders.
                return render_template(
                    "pages/check.html",
                    query=query,
                    candidates=candidates,
                    summary=_summary(candidates),
                    error=None,
                )
        except ValueError as exc:
            error = str(exc)
    return render_template("pages/check.html", query=query, candidates=candidates, error=error)


def _query_kind(query: str) -> str:
    """One search box: an @ means an e-mail, mostly digits a phone, anything else a company."""
    if "@" in query:
        return "email"
    digits = sum(ch.isdigit() for ch in query)
    return "phone" if digits >= 7 and digits >= len(query.replace(" ", "")) * 0.7 else "company"


def _summary(candidates: list[Candidate]) -> str:
    """`Найдено 2 совпадения у 2 владельцев: Анна, Пётр`, or "" for one candidate or none."""
    if len(candidates) < 2:
        return ""
    owners = owners_of(candidates)
    found = plural_ru(len(candidates), "совпадение", "совпадения", "совпадений")
    at = plural_ru(len(owners), "владельца", "владельцев", "владельцев")
    return f"Найдено {found} у {at}: " + ", ".join(o.name for o in owners)
