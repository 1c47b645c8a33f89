"""The morning page on the web desk: hot clicks and reminders, and closing them.

Thin: views call tracking.desk / tasks / reminders with the signed-in Actor and commit.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from mailer.contacts.search import NotFound
from mailer.db import session_scope, utcnow
from mailer.web.auth import current_actor
from mailer.web.russian import russian_error
from tracking.desk import hot_desk, visible_task
from tracking.models import TaskOutcome
from tracking.reminders import add_reminder, close_reminder
from tracking.tasks import OUTCOME_TEXTS, close_task

bp = Blueprint("hot", __name__)


@bp.get("/hot")
def index() -> ResponseReturnValue:
    actor = current_actor()
    today = utcnow().date()
    with session_scope() as session:
        desk = hot_desk(session, actor, today)
        return render_template(
            "pages/hot.html", desk=desk, today=today, outcomes=OUTCOME_TEXTS, actor=actor
        )


@bp.get("/tasks/<int:task_id>")
def task(task_id: int) -> ResponseReturnValue:
    """The digest's link to a task: the task on the hot-click page, if it is the reader's."""
    with session_scope() as session:
        try:
            visible_task(session, current_actor(), task_id)
        except NotFound:
            abort(404)
    return redirect(url_for("hot.index", _anchor=f"task-{task_id}"))


@bp.post("/hot/tasks/<int:task_id>/close")
def close(task_id: int) -> ResponseReturnValue:
    actor = current_actor()
    outcome = request.form.get("outcome", "")
    if outcome not in {o.value for o in TaskOutcome}:
        abort(400)
    with session_scope() as session:
        try:
            visible_task(session, actor, task_id)
            close_task(
                session,
                task_id,
                outcome=TaskOutcome(outcome),
                note=request.form.get("note", "")[:2000],
                now=utcnow(),
                author_id=actor.manager_id,
            )
        except NotFound:
            abort(404)
        except ValueError as exc:
            flash(russian_error(exc), "error")
            return redirect(url_for("hot.index"))
        session.commit()
    flash(f"Задача закрыта: {OUTCOME_TEXTS[TaskOutcome(outcome)]}.", "info")
    return redirect(url_for("hot.index"))


@bp.post("/hot/contacts/<int:contact_id>/remind")
def remind(contact_id: int) -> ResponseReturnValue:
    actor = current_actor()
    with session_scope() as session:
        try:
            due = date.fromisoformat(request.form.get("due", ""))
        except ValueError:
            flash("Укажите дату напоминания.", "error")
            return redirect(url_for("contacts.card", contact_id=contact_id))
        try:
            add_reminder(
                session, actor, contact_id, due, request.form.get("text", ""), today=utcnow().date()
            )
        except NotFound:
            abort(404)
        except ValueError as exc:
            flash(russian_error(exc), "error")
            return redirect(url_for("contacts.card", contact_id=contact_id))
        session.commit()
    flash(f"Напомним {due:%d.%m.%Y}.", "info")
    return redirect(url_for("contacts.card", contact_id=contact_id))


@bp.post("/hot/reminders/<int:reminder_id>/done")
def reminder_done(reminder_id: int) -> ResponseReturnValue:
    with session_scope() as session:
        try:
            close_reminder(
                session,
                current_actor(),
                reminder_id,
                note=request.form.get("note", "")[:2000],
                now=utcnow(),
            )
        except NotFound:
            abort(404)
        except ValueError as exc:
            flash(russian_error(exc), "error")
            return redirect(url_for("hot.index"))
        session.commit()
    flash("Напоминание закрыто.", "info")
    return redirect(url_for("hot.index"))
