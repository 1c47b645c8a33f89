"""The contact book on the web desk: list and search, card, add, edit, note, transfer.

Thin: each view reads the form, calls one service with the signed-in Actor, commits, and
redirects. What the actor may not see is NotFound in the service and 404 here.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from mailer.config import settings
from mailer.contacts import card as cards
from mailer.contacts.book import DuplicateContactError
from mailer.contacts.models import NOTE_KINDS, HistoryKind
from mailer.contacts.notes import abandoned_contacts
from mailer.contacts.search import (
    ContactQuery,
    NotFound,
    get_contact,
    owners_for,
    search_contacts,
    tag_choices,
)
from mailer.db import session_scope, utcnow
from mailer.privacy.erasure import erase_contact
from mailer.users.actor import Actor
from mailer.web.auth import current_actor, marketing_only
from mailer.web.russian import russian_error

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

NOTE_KIND_TEXTS = {
    HistoryKind.CALL: "звонок",
    HistoryKind.MEETING: "встреча",
    HistoryKind.LETTER: "письмо",
    HistoryKind.NOTE: "заметка",
}


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("")
def index() -> ResponseReturnValue:
    """One search box over name, e-mail, phone and company; tag and owner filters."""
    actor = current_actor()
    query = ContactQuery(
        text=request.args.get("q", "")[:200],
        tag_code=request.args.get("tag", ""),
        owner_id=_int_arg("owner") if actor.is_marketing else None,
        after_id=_int_arg("after"),
    )
    with session_scope() as session:
        page = search_contacts(session, actor, query)
        return render_template(
            "pages/contacts/list.html",
            page=page,
            query=query,
            owners=owners_for(session, actor) if actor.is_marketing else [],
            tags=tag_choices(session),
        )


@bp.get("/<int:contact_id>")
def card(contact_id: int) -> ResponseReturnValue:
    with session_scope() as session:
        try:
            found = cards.contact_card(session, current_actor(), contact_id)
        except NotFound:
            abort(404)
        owners = owners_for(session, current_actor()) if current_actor().is_marketing else []
        return render_template(
            "pages/contacts/card.html", card=found, owners=owners, note_kinds=NOTE_KIND_TEXTS
        )


@bp.get("/<int:contact_id>/letters/<int:letter_id>")
def letter(contact_id: int, letter_id: int) -> ResponseReturnValue:
    """The exact letter a history line speaks of: campaign, status, dates, Message-ID."""
    with session_scope() as session:
        try:
            found = cards.contact_letter(session, current_actor(), contact_id, letter_id)
        except NotFound:
            abort(404)
        return render_template("pages/contacts/letter.html", letter=found, contact_id=contact_id)


def _done(contact_id: int, message: str) -> ResponseReturnValue:
    flash(message, "info")
    return redirect(url_for("contacts.card", contact_id=contact_id))


def _act(
    contact_id: int, action: Callable[[Session, Actor], object], done: str
) -> ResponseReturnValue:
    """Run one action on the card, commit, and say so; the actor's NotFound is a 404, a
    refusal is a Russian sentence back on the card and nothing is saved."""
    with session_scope() as session:
        try:
            action(session, current_actor())
        except NotFound:
            abort(404)
        except ValueError as exc:
            flash(russian_error(exc), "error")
            return redirect(url_for("contacts.card", contact_id=contact_id))
        session.commit()
    return _done(contact_id, done)


@bp.post("/<int:contact_id>/notes")
def note(contact_id: int) -> ResponseReturnValue:
    kind = request.form.get("kind", HistoryKind.NOTE.value)
    if kind not in {k.value for k in NOTE_KINDS}:
        abort(400)
    body = request.form.get("body", "")
    return _act(
        contact_id,
        lambda session, actor: cards.note_contact(
            session, actor, contact_id, body, HistoryKind(kind)
        ),
        "Записано в историю.",
    )


@bp.post("/<int:contact_id>/fix-name")
def fix_name(contact_id: int) -> ResponseReturnValue:
    return _act(
        contact_id,
        lambda session, actor: cards.fix_name_fields(session, actor, contact_id),
        "Имя разложено по полям.",
    )


@bp.post("/<int:contact_id>/transfer")
@marketing_only
def transfer(contact_id: int) -> ResponseReturnValue:
    to = request.form.get("to", "")
    reason = request.form.get("reason", "")
    return _act(
        contact_id,
        lambda session, actor: cards.transfer_contact(
            session, actor, contact_id, int(to) if to.isdigit() else 0, reason
        ),
        "Контакт передан.",
    )


@bp.post("/<int:contact_id>/erase")
@marketing_only
def erase(contact_id: int) -> ResponseReturnValue:
    """Erase on request: personal fields gone, an anonymous trace and the address's hash kept."""
    if request.form.get("confirm") != "1":
        flash("Отметьте, что клиент просил удалить его данные.", "error")
        return redirect(url_for("contacts.card", contact_id=contact_id))
    return _act(
        contact_id,
        lambda session, actor: erase_contact(session, actor, contact_id, now=utcnow()),
        "Персональные данные удалены; адрес больше не попадёт в рассылки.",
    )


def _edit_form() -> cards.EditForm:
    f = request.form
    return cards.EditForm(
        **{name: f.get(name, "")[:1000] for name in cards.EditForm.__dataclass_fields__}
    )


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int) -> ResponseReturnValue:
    actor = current_actor()
    with session_scope() as session:
        try:
            contact = get_contact(session, actor, contact_id)
            if request.method == "POST":
                cards.edit_contact(
                    session,
                    actor,
                    contact_id,
                    _edit_form(),
                    phone_region=settings().default_phone_region,
                )
                session.commit()
                return _done(contact_id, "Изменения сохранены.")
        except NotFound:
            abort(404)
        except ValueError as exc:
            session.rollback()
            contact = get_contact(session, actor, contact_id)
            return render_template(
                "pages/contacts/edit.html",
                contact=contact,
                form=_edit_form(),
                error=russian_error(exc),
            ), 400
        form = cards.EditForm(
            contact.first_name,
            contact.middle_name,
            contact.last_name,
            contact.company_display,
            contact.position,
            contact.phone or "",
            cards.preferred_name(session, contact.id),
        )
        return render_template("pages/contacts/edit.html", contact=contact, form=form, error=None)


@bp.route("/new", methods=["GET", "POST"])
def new() -> ResponseReturnValue:
    actor = current_actor()
    with session_scope() as session:
        owners = owners_for(session, actor)
        error, matches = None, []
        if request.method == "POST":
            owner = request.form.get("owner", "")
            try:
                contact = cards.new_contact(
                    session,
                    actor,
                    dict(request.form),
                    owner_id=int(owner) if owner.isdigit() else None,
                    same_company=request.form.get("same_company") == "1",
                    phone_region=settings().default_phone_region,
                )
                session.commit()
                return _done(contact.id, "Контакт добавлен.")
            except DuplicateContactError as exc:
                matches = exc.matches
                error = "Такой контакт уже есть в базе — не добавлено."
            except ValueError as exc:
                error = russian_error(exc)
        status = 200 if error is None else 400
        return render_template(
            "pages/contacts/new.html",
            owners=owners,
            form=request.form,
            error=error,
            matches=matches,
        ), status


@bp.get("/abandoned")
def abandoned() -> ResponseReturnValue:
    """No call, meeting, letter or note for N days, per owner; transfers for marketing."""
    actor = current_actor()
    days = _int_arg("days")
    days = 90 if days is None else min(days, 3650)
    with session_scope() as session:
        owner_id = None if actor.is_marketing else (actor.manager_id or -1)
        rows = abandoned_contacts(session, days, owner_id=owner_id)
        owners = owners_for(session, actor) if actor.is_marketing else []
        return render_template(
            "pages/contacts/abandoned.html",
            rows=rows[:1000],
            total=len(rows),
            days=days,
            owners=owners,
        )
