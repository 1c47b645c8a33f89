"""Marketing's campaigns pages: the list, the edit form with the next dates, the links.

Thin: `campaigns.editing` checks and re-plans, `tracking.links` checks destinations; a
refused value is answered on the form with the service's Russian sentence, and the
transaction is rolled back, so nothing changes.
"""

from __future__ import annotations

from datetime import date

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from campaigns.calendar import WorkCalendar
from campaigns.cli import change_lines
from campaigns.date_words import day_month_words, day_words, span_words
from campaigns.editing import (
    MAX_DAYS_BEFORE,
    MAX_WINDOW_DAYS,
    CampaignEdit,
    CampaignEditError,
    rule_preview,
    upcoming,
    update_campaign,
)
from campaigns.models import Campaign
from mailer.config import settings
from mailer.db import session_scope, utcnow
from mailer.letters.rendering import LetterKind
from mailer.web.marketing import marketing_blueprint
from mailer.web.russian import russian_error
from tracking.campaign_rows import campaign_rows
from tracking.destinations import DestinationError
from tracking.links import add_link, campaign_links, remove_link, set_link

bp = marketing_blueprint("campaigns", __name__)

ROLE_TEXTS = {"catalogue": "каталог", "offer": "предложение", "other": "другое"}


@bp.get("/campaigns")
def index() -> ResponseReturnValue:
    today = utcnow().date()
    year = request.args.get("year", type=int) or today.year
    if not 2000 <= year <= 2100:
        raise NotFound()
    with session_scope() as session:
        rows = campaign_rows(session, year, today=today)
    return render_template(
        "pages/marketing/campaigns.html", rows=rows, year=year, day_words=_short_date
    )


def _short_date(day: date) -> str:
    """«8 марта 2027»: the list's next dates, short enough for a narrow column."""
    return f"{day_month_words(day)} {day.year}"


@bp.get("/campaigns/dates")
def dates() -> ResponseReturnValue:
    """The next three dates of a rule being typed: the edit form asks as marketing types."""
    try:
        words = rule_preview(request.args.get("rule", ""), today=utcnow().date())
    except CampaignEditError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(dates=words)


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound()
    return campaign


def _edit_page(
    session: Session, campaign: Campaign, *, error: str = "", status: int = 200
) -> tuple[str, int]:
    today = utcnow().date()
    form = request.form if request.method == "POST" else None
    return render_template(
        "pages/marketing/campaign_edit.html",
        campaign=campaign,
        form=form,
        error=error,
        upcoming=upcoming(campaign, today=today, cal=WorkCalendar()),
        links=campaign_links(session, campaign.id),
        kinds=[kind.value for kind in LetterKind],
        roles=ROLE_TEXTS,
        max_window=MAX_WINDOW_DAYS,
        max_before=MAX_DAYS_BEFORE,
        day_words=day_words,
        span_words=span_words,
    ), status


def _number(name: str) -> int:
    raw = request.form.get(name, "").strip()
    try:
        return int(raw)
    except ValueError:
        label = {"window_days": "Окно рассылки", "days_before": "Отступ до праздника"}[name]
        raise CampaignEditError(f"{label} — целое число рабочих дней, а не «{raw}»") from None


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
def edit(campaign_id: int) -> ResponseReturnValue:
    with session_scope() as session:
        campaign = _campaign(session, campaign_id)
        if request.method == "GET":
            return _edit_page(session, campaign)
        tag = campaign.tag.code
        try:
            change = update_campaign(
                session,
                tag,
                CampaignEdit(
                    occasion_rule=request.form.get("occasion_rule", ""),
                    days_before=_number("days_before"),
                    window_days=_number("window_days"),
                    letter_kind=request.form.get("letter_kind", ""),
                    is_active=request.form.get("is_active") == "on",
                ),
                now=utcnow(),
            )
        except CampaignEditError as exc:
            session.rollback()
            return _edit_page(session, _campaign(session, campaign_id), error=str(exc), status=400)
        session.commit()
    # The dates are on the page itself; the message says what changed and what moved.
    said = [line for line in change_lines(change)[1:] if not line.startswith((" ", "Ближайшие"))]
    if not change.changed:
        said = ["Ничего не изменилось."]
    flash(" ".join([f"Сохранено: кампания {change.tag}.", *said]), "info")
    return redirect(url_for("campaigns.edit", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/links")
def links(campaign_id: int) -> ResponseReturnValue:
    """Add, re-point or remove one link; the destination checked as `campaigns links` does."""
    action = request.form.get("action", "")
    label = request.form.get("label", "")
    url = request.form.get("url", "")
    domains = settings().link_domains
    with session_scope() as session:
        campaign = _campaign(session, campaign_id)
        try:
            if action == "add":
                add_link(
                    session,
                    campaign,
                    label=label,
                    role=request.form.get("role", ""),
                    url=url,
                    allowed_domains=domains,
                )
            elif action == "set":
                set_link(session, campaign, label=label, url=url, allowed_domains=domains)
            elif action == "remove":
                remove_link(session, campaign, label=label)
            else:
                raise ValueError("неизвестное действие со ссылкой")
        except (ValueError, LookupError) as exc:
            session.rollback()
            text = _link_error(exc)
            return _edit_page(session, _campaign(session, campaign_id), error=text, status=400)
        session.commit()
    done = {"add": "добавлена", "set": "теперь ведёт на новый адрес", "remove": "удалена"}[action]
    flash(f"Ссылка «{' '.join(label.split())}» {done}.", "info")
    return redirect(url_for("campaigns.edit", campaign_id=campaign_id, _anchor="links"))


_LINK_ERRORS = [
    ("a link needs a label", "У ссылки должно быть название, например «каталог»."),
    ("a link's label is at most", "Название ссылки — не длиннее 100 символов."),
    ("a link's role is one of", "Роль ссылки — каталог, предложение или другое."),
    ("the campaign already has a link", "У кампании уже есть ссылка с таким названием."),
]


def _link_error(exc: Exception) -> str:
    message = str(exc).strip("'\"")
    for prefix, text in _LINK_ERRORS:
        if message.startswith(prefix):
            return text
    if " has no link " in message:
        return "У кампании нет ссылки с таким названием."
    if isinstance(exc, DestinationError):
        return f"Адрес не принят: {exc}."
    return russian_error(exc)
