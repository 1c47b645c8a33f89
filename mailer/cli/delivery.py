"""`mailer deliver`, `worker`, `scheduler`, `sink` and `run`: the processes that send."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from mailer.composing import LetterSettings
from mailer.delivery import DeliveryReport, deliver_due
from mailer.scheduling import Scheduler
from mailer.sink import SmtpSink
from mailer.smtp import SmtpSettings, SmtpTransport


def smtp_settings(app: Flask) -> SmtpSettings:
    """The configured relay, or the embedded sink's address when none is configured."""
    config = dict(app.config)
    config["SMTP_HOST"] = config.get("SMTP_HOST") or "127.0.0.1"
    return SmtpSettings.from_config(config)


def uses_embedded_sink(app: Flask) -> bool:
    return not app.config.get("SMTP_HOST")


def outbox_folder(app: Flask) -> Path:
    return Path(app.instance_path) / "outbox"


def _deliver(app: Flask, transport: SmtpTransport) -> DeliveryReport:
    return deliver_due(
        app.extensions["mailer.sessionmaker"],
        transport,
        LetterSettings.from_config(app.config),
        batch=app.config["WORKER_BATCH"],
        concurrency=app.config["WORKER_CONCURRENCY"],
    )


def _describe(report: DeliveryReport) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())) or "nothing due"
    recovered = f"; {report.recovered} stale claims recovered" if report.recovered else ""
    return f"claimed {report.claimed}: {outcomes}{recovered}"


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_worker(app: Flask, stop: threading.Event, *, idle_seconds: float = 5.0) -> None:
    """Deliver continuously until `stop` is set; sleeps only when nothing was due."""
    with SmtpTransport(smtp_settings(app)) as transport:
        while not stop.is_set():
            report = _deliver(app, transport)
            if report.claimed:
                click.echo(_describe(report))
            else:
                stop.wait(idle_seconds)


@click.command("deliver")
@click.option("--once", is_flag=True, required=True, help="Send what is due now, then stop.")
@with_appcontext
def deliver_command(once: bool) -> None:
    """Send the letters that are due now."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with SmtpTransport(smtp_settings(app)) as transport:
        while True:
            report = _deliver(app, transport)
            click.echo(_describe(report))
            if report.claimed < app.config["WORKER_BATCH"]:
                break


@click.command("worker")
@click.option("--idle-seconds", type=float, default=5.0, show_default=True)
@with_appcontext
def worker_command(idle_seconds: float) -> None:
    """Deliver continuously; several workers share the work through the database."""
    run_worker(current_app._get_current_object(), _stop_event(), idle_seconds=idle_seconds)  # type: ignore[attr-defined]


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Daily planning and delivery every minute; one active scheduler across machines."""
    scheduler = Scheduler(current_app._get_current_object())  # type: ignore[attr-defined]
    stop = _stop_event()
    scheduler.start()
    click.echo(f"scheduler {scheduler.holder} started")
    stop.wait()
    scheduler.stop()


@click.command("sink")
@click.option("--port", type=int, help="Default: SMTP_PORT.")
@with_appcontext
def sink_command(port: int | None) -> None:
    """Run the demo SMTP sink: every letter received is kept as an .eml file."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sink = SmtpSink(outbox_folder(app), port=port or app.config["SMTP_PORT"])
    sink.start()
    click.echo(f"SMTP sink on 127.0.0.1:{sink.port}, letters in {sink.folder}")
    _stop_event().wait()
    sink.stop()


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """Web app, scheduler and a worker together for one machine (and the sink by default)."""
    from werkzeug.serving import make_server

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = _stop_event()
    sink = None
    if uses_embedded_sink(app):
        sink = SmtpSink(outbox_folder(app), port=app.config["SMTP_PORT"])
        sink.start()
        click.echo(f"SMTP sink on 127.0.0.1:{sink.port}: letters arrive in {sink.folder}")
    scheduler = Scheduler(app)
    scheduler.start()
    worker = threading.Thread(target=run_worker, args=(app, stop), name="worker", daemon=True)
    worker.start()
    server = make_server(host, port, app, threaded=True)
    web = threading.Thread(target=server.serve_forever, name="web", daemon=True)
    web.start()
    click.echo(f"web app on http://{host}:{port}/ — Ctrl+C stops everything")
    stop.wait()
    server.shutdown()
    worker.join(timeout=30)
    scheduler.stop()
    if sink:
        sink.stop()
