"""`mailer deliver`, `worker`, `scheduler`, `sink`, `web` and `run`: the processes that run."""

from __future__ import annotations

import signal
import threading
from contextlib import ExitStack
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from campaigns.planning import plan_year
from mailer.config import follow_serving_address, settings
from mailer.db import utcnow
from mailer.delivery.sending import DeliveryReport
from mailer.plurals import plural_en
from mailer.run.demo import bring_forward, demo_accounts, load_demo
from mailer.run.scheduling import Scheduler
from mailer.run.sink import SmtpSink
from mailer.run.web import WebServer, stop_process
from mailer.run.workers import default_processes, deliver_in_processes, deliver_loop, describe
from mailer.unit_of_work import unit_of_work


def uses_embedded_sink(app: Flask) -> bool:
    return settings(app).uses_embedded_sink


def outbox_folder(app: Flask) -> Path:
    return Path(app.instance_path) / "outbox"


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _echo_batch(report: DeliveryReport) -> None:
    click.echo(describe(report))


def _deliver(processes: int | None, *, once: bool, idle_seconds: float = 5.0) -> DeliveryReport:
    """The sending processes `deliver` and `worker` run, a failed one as a clean error."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configured = processes or settings(app).worker.processes
    try:
        return deliver_in_processes(
            app,
            _stop_event(),
            processes=int(configured) if configured else default_processes(),
            once=once,
            idle_seconds=idle_seconds,
            on_batch=_echo_batch,
        )
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


_PROCESSES_HELP = "Sending processes (default: WORKER_PROCESSES, else one per CPU core)."


@click.command("deliver")
@click.option("--once", is_flag=True, required=True, help="Send what is due now, then stop.")
@click.option("--processes", type=click.IntRange(min=1), help=_PROCESSES_HELP)
@with_appcontext
def deliver_command(once: bool, processes: int | None) -> None:
    """Send the letters that are due now."""
    click.echo(f"in all: {describe(_deliver(processes, once=True))}")


@click.command("worker")
@click.option("--idle-seconds", type=float, default=5.0, show_default=True)
@click.option("--processes", type=click.IntRange(min=1), help=_PROCESSES_HELP)
@with_appcontext
def worker_command(idle_seconds: float, processes: int | None) -> None:
    """Deliver continuously; several workers share the work through the database."""
    _deliver(processes, once=False, idle_seconds=idle_seconds)


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
    sink = SmtpSink(outbox_folder(app), port=port or settings(app).smtp.port)
    sink.start()
    click.echo(f"SMTP sink on 127.0.0.1:{sink.port}, letters in {sink.folder}")
    _stop_event().wait()
    sink.stop()


_WORKERS_HELP = "gunicorn sync worker processes, forked from the app made once."


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), default=2, show_default=True, help=_WORKERS_HELP
)
@with_appcontext
def web_command(host: str, port: int, workers: int) -> None:
    """Serve the web app with gunicorn; SIGTERM stops it gracefully, Ctrl+C at once."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    follow_serving_address(app, host, port)
    status = WebServer(app, host=host, port=port, workers=workers).run()
    if status:
        raise SystemExit(status)


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), default=2, show_default=True, help=_WORKERS_HELP
)
@with_appcontext
def run_command(host: str, port: int, workers: int) -> None:
    """Web app, scheduler and a worker together for one machine (and the sink by default)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    base_url = follow_serving_address(app, host, port)  # before the web process forks
    # On Ctrl+C or SIGTERM the web app stops first, then the rest in reverse: the worker's
    # stop flag, the worker, the scheduler, the sink (also when a start fails half way).
    with ExitStack() as running:
        # gunicorn forks its workers: its arbiter gets a process of its own, forked before
        # any thread starts here (a fork copies the locks other threads hold, SQLite's too).
        web = WebServer(app, host=host, port=port, workers=workers).start_process()
        running.callback(stop_process, web)
        stop = _stop_event()
        if uses_embedded_sink(app):
            sink = SmtpSink(outbox_folder(app), port=settings(app).smtp.port)
            sink.start()
            running.callback(sink.stop)
            click.echo(f"SMTP sink on 127.0.0.1:{sink.port}: letters arrive in {sink.folder}")
        scheduler = Scheduler(app)
        scheduler.start()
        running.callback(scheduler.stop)
        # One delivery loop in a thread: forking a sending process beside the scheduler's
        # threads is unsafe, and one machine's demo volume needs no more.
        worker = threading.Thread(
            target=deliver_loop,
            kwargs={"app": app, "stop": stop, "once": False, "on_batch": _echo_batch},
            name="worker",
            daemon=True,
        )
        worker.start()
        running.callback(worker.join, timeout=30)
        running.callback(stop.set)
        click.echo(f"web app on http://{host}:{port}/, links in letters to {base_url}/")
        click.echo("Ctrl+C stops everything")
        while not stop.wait(0.5) and web.is_alive():
            pass
        stopped_by_signal = stop.is_set()
        status = stop_process(web)  # first: the rest stops while no request is served
    if not stopped_by_signal:
        raise click.ClickException(f"the web server stopped on its own (exit code {status})")


demo = AppGroup("demo", help="Demo data.")


@demo.command("load")
@click.option("--contacts", "count", type=click.IntRange(min=1), default=400, show_default=True)
@click.option(
    "--send-now",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Make this many planned letters due at once, to see them arrive.",
)
def load_command(count: int, send_now: int) -> None:
    """Demo managers and contacts, this year's plan, and a few letters due now.

    Idempotent: a second run updates the contacts and plans nothing twice.
    """
    now = utcnow()
    with unit_of_work() as session:
        report = load_demo(session, Path(current_app.instance_path), count)
        plan = plan_year(session, now.year, now=now)
        forward = bring_forward(session, send_now, now)
        accounts = demo_accounts(session)
    click.echo(
        f"demo contacts: read {report.rows_read}, accepted {report.accepted} "
        f"(new {report.inserted}, updated {report.updated}), rejected {report.rejected}"
    )
    added = plural_en(plan.added, "letter")
    click.echo(f"{now.year}: {added} planned; {forward} made due now")
    for email, role, password in accounts:  # demo passwords, made anew on every run
        click.echo(f"sign in as {role}: {email} / {password}")
