"""Marketing's outbox page: letters by status, the ones in trouble with their retry or
bounce details, a search by contact, and one contact's letters with `campaigns explain`'s
reasons. Read only; thin over `campaigns.outbox`."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from campaigns.calendar_views import STATUS_TEXTS
from campaigns.explain_words import reason_words
from campaigns.outbox import contact_outbox, search_contacts, status_counts, trouble_letters
from mailer.contacts.models import Contact
from mailer.db import session_scope, utcnow
from mailer.web.marketing import marketing_blueprint

bp = marketing_blueprint("outbox", __name__)

VERDICT_TEXTS = {
    "will get": "получит",
    "got": "получил",
    "will not get": "не получит",
    "did not get": "не получил",
}


@bp.get("/outbox")
def index() -> ResponseReturnValue:
    query = request.args.get("q", "").strip()[:200]
    page = max(1, request.args.get("page", 1, type=int))
    with session_scope() as session:
        counts = status_counts(session)
        total, trouble = trouble_letters(session, page=page)
        found = search_contacts(session, query) if query else []
        return render_template(
            "pages/marketing/outbox.html",
            counts=counts,
            total=total,
            trouble=trouble,
            page=page,
            query=query,
            found=found,
            statuses=STATUS_TEXTS,
        )


@bp.get("/outbox/contacts/<int:contact_id>")
def contact(contact_id: int) -> ResponseReturnValue:
    year = request.args.get("year", type=int) or utcnow().year
    if not 2000 <= year <= 2100:
        abort(404)
    with session_scope() as session:
        found = session.get(Contact, contact_id)
        if found is None:
            abort(404)
        outbox = contact_outbox(session, found, year, now=utcnow())
        return render_template(
            "pages/marketing/outbox_contact.html",
            outbox=outbox,
            year=year,
            statuses=STATUS_TEXTS,
            verdicts=VERDICT_TEXTS,
            reason_words=reason_words,
        )
