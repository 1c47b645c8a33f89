"""Marketing's calendar page: the year's letters per day as a heatmap, each manager's
weekly load against the cap, and one day's letters. Thin: the figures are counted in the
database (`day_counts`, `manager_load`, `day_letters`), the SVG drawn by `heatmap_svg`."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.date_words import day_words
from campaigns.day_counts import LetterFilter, letters_per_day
from campaigns.day_letters import day_letters
from campaigns.heatmap_svg import render_heatmap
from campaigns.manager_load import manager_load
from campaigns.models import Campaign
from mailer.db import session_scope, utcnow
from mailer.managers.models import Manager
from mailer.tags.models import Tag
from mailer.web.marketing import marketing_blueprint

bp = marketing_blueprint("calendar", __name__)

STATUS_TEXTS = {
    "planned": "в плане",
    "sending": "отправляется",
    "deferred": "отложено",
    "sent": "отправлено",
    "bounced": "не доставлено",
    "failed": "ошибка",
    "expired": "просрочено",
    "cancelled": "отменено",
}


def _filter() -> LetterFilter:
    year = request.args.get("year", type=int) or utcnow().year
    if not 2000 <= year <= 2100:
        abort(404)
    return LetterFilter(
        year,
        request.args.get("manager", type=int) or None,
        request.args.get("campaign", type=int) or None,
    )


def _choices() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    with session_scope() as session:
        managers = list(session.execute(select(Manager.id, Manager.name).order_by(Manager.name)))
        campaigns = list(
            session.execute(select(Campaign.id, Tag.code).join(Tag).order_by(Tag.code))
        )
    return [tuple(m) for m in managers], [tuple(c) for c in campaigns]  # type: ignore[misc]


@bp.get("/calendar")
def index() -> ResponseReturnValue:
    wanted = _filter()
    args: dict[str, Any] = {"manager": wanted.manager_id, "campaign": wanted.campaign_id}
    page = max(request.args.get("page", 1, type=int), 1)
    with session_scope() as session:
        counts = letters_per_day(session, wanted)
        # Each manager's weeks from the per-day summary; a page of managers at a time
        # (thousands of managers' weeks at once is neither quick nor readable).
        shown, more = _manager_page(session, wanted, page)
        load = [w for m in shown for w in manager_load(session, replace(wanted, manager_id=m))]
    svg = render_heatmap(
        wanted.year,
        counts,
        day_href=lambda day: url_for("calendar.day", day=day.isoformat(), **args),
    )
    managers, campaigns = _choices()
    return render_template(
        "pages/marketing/calendar.html",
        wanted=wanted,
        svg=Markup(svg),  # noqa: S704  (heatmap_svg escapes everything it puts in)
        load=load,
        page=page,
        more=more,
        args=args,
        total=sum(counts.values()),
        managers=managers,
        campaigns=campaigns,
    )


LOAD_MANAGERS = 20  # managers per page of the weekly load


def _manager_page(session: Session, wanted: LetterFilter, page: int) -> tuple[list[int], bool]:
    """The managers whose load the page shows, by name, and whether more follow."""
    if wanted.manager_id:
        return [wanted.manager_id], False
    ids = list(
        session.scalars(
            select(Manager.id)
            .where(Manager.is_active)
            .order_by(Manager.name, Manager.id)
            .offset((page - 1) * LOAD_MANAGERS)
            .limit(LOAD_MANAGERS + 1)
        )
    )
    return ids[:LOAD_MANAGERS], len(ids) > LOAD_MANAGERS


@bp.get("/calendar/<day>")
def day(day: str) -> ResponseReturnValue:
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    wanted = LetterFilter(
        when.year,
        request.args.get("manager", type=int) or None,
        request.args.get("campaign", type=int) or None,
    )
    with session_scope() as session:
        found = day_letters(session, wanted, when, page=request.args.get("page", 1, type=int))
    return render_template(
        "pages/marketing/calendar_day.html",
        found=found,
        wanted=wanted,
        title=day_words(when),
        statuses=STATUS_TEXTS,
    )
