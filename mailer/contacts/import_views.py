"""Marketing's import page: upload a CSV or XLSX, read the dry run's report, confirm,
download the rejected rows. A file over the background size is checked and imported by a
thread while the page shows a progress bar; the state is on disk (`import_jobs`), so a
reload finds the bar where it is."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import (
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from mailer.config import settings
from mailer.contacts import import_jobs
from mailer.contacts.import_jobs import ImportJob, UploadError
from mailer.db import session_scope
from mailer.managers.models import Manager
from mailer.web.marketing import marketing_blueprint

bp = marketing_blueprint("imports", __name__)
log = logging.getLogger("mailer.web")
BACKGROUND_BYTES = 1_000_000  # larger uploads run in a thread; app.config may lower it


def _root() -> Path:
    return Path(current_app.instance_path) / "imports"


def _job(job_id: str) -> ImportJob:
    job = import_jobs.find_job(_root(), job_id)
    if job is None:
        abort(404)
    return job


def _run(app: Flask, job: ImportJob, confirm: bool) -> None:
    """One stage in the app's context; whatever goes wrong ends as the job's one sentence."""
    config = settings(app)
    try:
        with app.app_context(), session_scope(app) as session:
            import_jobs.run_stage(
                session,
                job,
                confirm=confirm,
                chunk_size=config.import_chunk_size,
                phone_region=config.default_phone_region,
            )
    except Exception:
        log.exception("import %s failed", job.id)
        job.update(stage="failed", error="Импорт прервался из-за ошибки на сервере.")


def _start(job: ImportJob, confirm: bool) -> None:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    limit = app.config.get("MAILER_IMPORT_BACKGROUND_BYTES", BACKGROUND_BYTES)
    if job.state()["size"] <= limit:
        _run(app, job, confirm)
        return
    job.update(stage="importing" if confirm else "checking", done_bytes=0)
    threading.Thread(target=_run, args=(app, job, confirm), daemon=True).start()


def _upload_page(error: str = "", status: int = 200) -> ResponseReturnValue:
    with session_scope() as session:
        managers = list(session.execute(select(Manager.id, Manager.name).order_by(Manager.name)))
    return render_template("pages/marketing/import.html", managers=managers, error=error), status


@bp.route("/import", methods=["GET", "POST"])
def upload() -> ResponseReturnValue:
    if request.method == "GET":
        return _upload_page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_page("Выберите файл CSV или XLSX.", 400)
    owner_id = request.form.get("owner", type=int) or None
    try:
        job = import_jobs.new_job(_root(), upload.filename, upload.stream, owner_id)
    except UploadError as exc:
        return _upload_page(str(exc), 400)
    _start(job, confirm=False)
    state = job.state()
    if state["stage"] == "failed":  # not a table: said on the form, nothing kept
        import_jobs.discard(job)
        return _upload_page(state["error"], 400)
    return redirect(url_for("imports.job", job_id=job.id))


@bp.get("/import/<job_id>")
def job(job_id: str) -> ResponseReturnValue:
    state = _job(job_id).state()
    return render_template("pages/marketing/import_job.html", state=state)


@bp.get("/import/<job_id>/state")
def job_state(job_id: str) -> ResponseReturnValue:
    """The state as JSON, for the progress bar to ask while a thread works."""
    return _job(job_id).state()


@bp.post("/import/<job_id>/confirm")
def confirm(job_id: str) -> ResponseReturnValue:
    job = _job(job_id)
    if job.state()["stage"] != "checked":
        return redirect(url_for("imports.job", job_id=job_id))
    try:
        (job.folder / "confirmed").touch(exist_ok=False)  # a second click imports nothing
    except FileExistsError:
        return redirect(url_for("imports.job", job_id=job_id))
    _start(job, confirm=True)
    return redirect(url_for("imports.job", job_id=job_id))


@bp.get("/import/<job_id>/rejects")
def rejects(job_id: str) -> ResponseReturnValue:
    job = _job(job_id)
    state = job.state()
    path = job.rejects("import" if "import" in state else "check")
    if not path.is_file():
        abort(404)
    name = f"{Path(state['filename']).stem}.rejects.csv"
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name=name)
