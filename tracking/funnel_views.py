"""Marketing's funnel page: sent → opened a link → catalogue → offer → taken, per campaign
or per sender over a period, machines' clicks apart; the same table as a CSV whose cells
are neutralised (no formula runs when a spreadsheet opens it). Thin over `tracking.funnel`."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue

from mailer.db import session_scope, utcnow
from mailer.web.marketing import marketing_blueprint
from tracking.funnel import CSV_HEADERS, FunnelBy, funnel, write_funnel_csv

bp = marketing_blueprint("funnel", __name__)


def _period() -> tuple[date, date, str]:
    """The period's first and last day from the form; a Russian sentence when it is wrong."""
    today = utcnow().date()
    start_raw = request.args.get("start", "")
    end_raw = request.args.get("end", "")
    try:
        start = date.fromisoformat(start_raw) if start_raw else date(today.year, 1, 1)
        end = date.fromisoformat(end_raw) if end_raw else today
    except ValueError:
        return date(today.year, 1, 1), today, "Даты периода — в виде ГГГГ-ММ-ДД."
    if end < start:
        return start, end, "Конец периода раньше его начала."
    return start, end, ""


def _by() -> FunnelBy:
    return FunnelBy.MANAGER if request.args.get("by") == "manager" else FunnelBy.CAMPAIGN


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time(), UTC),
        datetime.combine(end + timedelta(days=1), time(), UTC),
    )


@bp.get("/funnel")
def index() -> ResponseReturnValue:
    start, end, error = _period()
    by = _by()
    rows = []
    if not error:
        with session_scope() as session:
            rows = funnel(session, *_bounds(start, end), by=by)
    return render_template(
        "pages/marketing/funnel.html",
        rows=rows,
        by=by,
        start=start,
        end=end,
        error=error,
        first_header=CSV_HEADERS[by],
    ), (400 if error else 200)


@bp.get("/funnel.csv")
def export() -> ResponseReturnValue:
    start, end, error = _period()
    if error:
        return Response(error, status=400, mimetype="text/plain")
    by = _by()
    with session_scope() as session:
        rows = funnel(session, *_bounds(start, end), by=by)
    out = io.StringIO()
    write_funnel_csv(rows, out, by=by)
    name = f"funnel-{by.value}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # Excel reads UTF-8 with the byte-order mark
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
