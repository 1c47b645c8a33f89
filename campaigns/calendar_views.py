"""Marketing's calendar page: the year's letters per day as a heatmap, each manager's
weekly load against the cap, and one day's letters. Thin: the figures are counted in the
database (`day_counts`, `manager_load`, `day_letters`), the SVG drawn by `heatmap_svg`."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from campaigns.date_words import day_words
from campaigns.day_counts import LetterFilter, owner_days
from campaigns.day_letters import day_letters
from campaigns.heatmap_svg import render_heatmap
from campaigns.manager_load import load_from_days
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
    with session_scope() as session:
        per_owner = owner_days(session, wanted)  # one pass over the year for both figures
        load = load_from_days(session, per_owner)
    counts: Counter[date] = Counter()
    for (_, day), n in per_owner.items():
        counts[day] += n
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
        total=sum(counts.values()),
        managers=managers,
        campaigns=campaigns,
    )


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
