"""Delivery loops, in this process or in several.

Composing a letter is CPU work in Python, so one process cannot use more than one core;
`WORKER_PROCESSES` forked processes share the queue through the database the same way
workers on several machines do (each claims its own batches), and report to the parent,
which is the only one that prints.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.context import ForkContext
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent

from flask import Flask

from mailer.config import settings
from mailer.db import get_engine
from mailer.delivery.claims import RECOVER_EVERY
from mailer.delivery.sending import DeliveryReport, deliver_due
from mailer.letters.composing import warm_up
from mailer.plurals import plural_en
from mailer.smtp import SmtpTransport
from mailer.storage.gc_tuning import fewer_collections

StopFlag = threading.Event | ProcessEvent
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def describe(report: DeliveryReport) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())) or "nothing due"
    stale = plural_en(report.recovered, "stale claim")
    recovered = f"; {stale} recovered" if report.recovered else ""
    return f"claimed {report.claimed}: {outcomes}{recovered}"


def deliver_loop(
    app: Flask,
    stop: StopFlag,
    *,
    once: bool,
    idle_seconds: float = 5.0,
    on_batch: Callable[[DeliveryReport], None] = lambda report: None,
) -> DeliveryReport:
    """Claim and send batches until nothing is due (`once`) or until `stop` is set.

    A short batch means the queue is empty for now: `once` ends there, a worker sleeps.
    """
    config = settings(app)
    batch = config.worker.batch
    total = DeliveryReport()
    recovered_at = -RECOVER_EVERY
    with fewer_collections(), SmtpTransport(config.smtp) as transport:
        while not stop.is_set():
            recover = time.monotonic() - recovered_at >= RECOVER_EVERY
            if recover:
                recovered_at = time.monotonic()
            report = deliver_due(
                app.extensions["mailer.sessionmaker"],
                transport,
                config.letters,
                batch=batch,
                concurrency=config.worker.concurrency,
                recover=recover,
            )
            total.add(report)
            if report.claimed:
                on_batch(report)
            if report.claimed < batch:
                if once:
                    break
                stop.wait(idle_seconds)
    return total


def deliver_in_processes(
    app: Flask,
    stop: StopFlag,
    *,
    processes: int,
    once: bool,
    idle_seconds: float = 5.0,
    on_batch: Callable[[DeliveryReport], None] = lambda report: None,
) -> DeliveryReport:
    """`deliver_loop` in `processes` forked processes; returns their reports summed.

    The children ignore Ctrl+C and SIGTERM and finish the batch in hand when the parent
    passes `stop` on, so an interrupt never leaves letters half-sent; they die with the
    parent when it is killed, and a killed child's claims go back to the queue through
    `recover_stale_claims`. Raises if a child failed.
    """
    if processes <= 1:
        return deliver_loop(app, stop, once=once, idle_seconds=idle_seconds, on_batch=on_batch)
    warm_up()  # once here rather than once in every child
    context = multiprocessing.get_context("fork")  # the app and its config come along as is
    shared_stop = context.Event()
    reports: multiprocessing.Queue[DeliveryReport | _Ended] = context.Queue()
    children = _start_children(context, app, shared_stop, reports, processes, once, idle_seconds)
    total = DeliveryReport()
    try:
        errors = _relay(children, reports, stop, shared_stop, total, on_batch)
    finally:
        # Also when on_batch raised: the children must not outlive the parent's loop.
        shared_stop.set()
        _wind_down(children, reports, total)
    _raise_if_failed(children, errors)
    return total


@dataclass(frozen=True)
class _Ended:
    """A child's last message: its name, and why it failed (empty: it did not)."""

    name: str
    error: str = ""


def _start_children(
    context: ForkContext,
    app: Flask,
    shared_stop: ProcessEvent,
    reports: multiprocessing.Queue[DeliveryReport | _Ended],
    processes: int,
    once: bool,
    idle_seconds: float,
) -> Sequence[BaseProcess]:
    """Fork `processes` children running `_child`, named so a failure can say which."""
    children = [
        context.Process(
            target=_child,
            args=(app, shared_stop, reports, once, idle_seconds, os.getpid()),
            name=f"mailer-worker-{n}",
        )
        for n in range(processes)
    ]
    for child in children:
        child.start()
    return children


def _relay(
    children: Sequence[BaseProcess],
    reports: multiprocessing.Queue[DeliveryReport | _Ended],
    stop: StopFlag,
    shared_stop: ProcessEvent,
    total: DeliveryReport,
    on_batch: Callable[[DeliveryReport], None],
) -> dict[str, str]:
    """Add up the children's reports and pass `stop` on, until all end or one fails.

    Returns the failed children's errors by name.
    """
    errors: dict[str, str] = {}
    running = len(children)
    # A failed child stops them all: the command exits non-zero and its supervisor
    # restarts it whole, rather than carrying on with a process short.
    while running and not errors:
        if stop.is_set():
            shared_stop.set()
        try:
            message = reports.get(timeout=0.2)
        except queue.Empty:
            if not any(child.is_alive() for child in children):
                break  # every child is gone, some without saying goodbye
            continue
        if isinstance(message, _Ended):
            running -= 1
            if message.error:
                errors[message.name] = message.error
        else:
            total.add(message)
            on_batch(message)
    return errors


def _raise_if_failed(children: Sequence[BaseProcess], errors: dict[str, str]) -> None:
    """Raise naming every child that reported an error or exited non-zero."""
    for child in children:
        if child.exitcode != 0 and child.name not in errors:
            errors[child.name] = f"exit code {child.exitcode}"
    if errors:
        said = "; ".join(f"{name}: {error}" for name, error in errors.items())
        raise RuntimeError(
            f"delivery process(es) failed ({said}); their claimed letters go back to the "
            "queue after the stale-claim timeout"
        )


# How long stopping children may take to finish the batch in hand before they are killed.
STOP_GRACE_SECONDS = 120.0
# While children exit, the queue is looked at this often (a message does not wake `wait`).
_POLL_SECONDS = 0.01


def _wind_down(
    children: Sequence[BaseProcess],
    reports: multiprocessing.Queue[DeliveryReport | _Ended],
    total: DeliveryReport,
) -> None:
    """Wait for stopping children, reading the queue so none blocks on a full pipe; kill
    the ones still running after the grace period (their claims are recovered later)."""
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while True:
        alive = [child.sentinel for child in children if child.is_alive()]
        try:  # what they said before going, then wait for the next exit or message
            message = reports.get_nowait()
        except queue.Empty:
            if not alive or time.monotonic() >= deadline:
                break
            multiprocessing.connection.wait(alive, timeout=_POLL_SECONDS)
            continue
        if isinstance(message, DeliveryReport):
            total.add(message)
    for child in children:
        if child.is_alive():
            child.kill()
        child.join()


def _child(
    app: Flask,
    stop: ProcessEvent,
    reports: multiprocessing.Queue[DeliveryReport | _Ended],
    once: bool,
    idle_seconds: float,
    parent: int,
) -> None:
    _die_with(parent)
    # The parent decides when to stop (it sets `stop`, never from a signal handler: setting a
    # multiprocessing Event there can deadlock against a wait() in progress).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    get_engine(app).dispose(close=False)  # the parent's pooled connections are not ours
    name = multiprocessing.current_process().name
    try:
        deliver_loop(app, stop, once=once, idle_seconds=idle_seconds, on_batch=reports.put)
    except BaseException as exc:
        reports.put(_Ended(name, f"{type(exc).__name__}: {exc}"))
        raise
    else:
        reports.put(_Ended(name))
    finally:
        reports.close()
        reports.join_thread()


def _die_with(parent: int) -> None:
    """Be killed when the parent is, as one worker: `kill -9` on it stops every send.

    Linux's PR_SET_PDEATHSIG; elsewhere the child finishes its loop on its own. Claims a
    killed process held come back through `recover_stale_claims`.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def default_processes() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
