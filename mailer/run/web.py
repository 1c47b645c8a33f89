"""Serving the web app with gunicorn: the app is made once in the master, then forked.

Werkzeug's development server is for tests only. `WebServer` runs gunicorn's arbiter in
the calling (main) thread, which owns the signals: SIGTERM stops gracefully, SIGINT and
SIGQUIT at once, and `run` returns the exit status in the master.

A forked worker starts from a copy of the master's stack, below the arbiter: whatever the
caller meant to do after serving (stop a scheduler, release a lease, close a sink) is the
master's duty, so a worker leaves with `os._exit` the moment it is done instead of
unwinding into it. It also gets its own database pool: connections opened in the master
before the fork are never used by two processes.

The master must have no other thread: a fork copies every lock but only the forking thread,
so a lock another thread held at that moment (SQLAlchemy's mapper lock, SQLite's own
mutexes) stays held in the worker forever, and its first query hangs. Where threads must
run beside the web app (`mailer run`), `start_process` gives the arbiter a process of its
own, forked before those threads start.
"""

from __future__ import annotations

import contextvars
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]
from sqlalchemy.orm import configure_mappers

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class WebServer(BaseApplication):
    """gunicorn serving one Flask app, preloaded in the master (sync workers by default)."""

    def __init__(
        self,
        app_factory_or_app: Flask | Callable[[], Flask],
        *,
        host: str,
        port: int,
        workers: int,
        threads: int = 1,
        **options: Any,
    ) -> None:
        self.target = app_factory_or_app
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.options: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "sync" if threads == 1 else "gthread",
            "preload_app": True,
            "proc_name": "mailer",
            "post_fork": _own_database_pool,
            # gunicorn >= 25.1 opens a control socket at one path shared by every instance
            # of a user (and a thread in the master): not wanted beside other servers.
            "control_socket_disable": True,
            **options,
        }
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            if name in self.cfg.settings:  # settings newer than the installed gunicorn
                self.cfg.set(name, value)

    def load(self) -> Flask:
        app = self.target if isinstance(self.target, Flask) else self.target()
        # Once here rather than on every worker's first query, under SQLAlchemy's global lock.
        configure_mappers()
        # What the app holds now (templates, mappers, the morphology dictionary) lives as
        # long as the process: the collector need not walk it after every few requests,
        # and the forked workers keep sharing its pages instead of copying them.
        gc.collect()
        gc.freeze()
        return app

    def run(self) -> int:
        """Serve until a signal stops the arbiter; the master returns its exit status."""
        master = os.getpid()
        saved = {sig: signal.getsignal(sig) for sig in (*Arbiter.SIGNALS, signal.SIGCHLD)}
        try:
            # A fresh context: an app context the CLI pushed must not be inherited by every
            # request, or requests would share one `g`.
            contextvars.Context().run(super().run)
        except SystemExit as exc:
            if os.getpid() != master:
                _leave_worker(exc)
            return _status(exc)
        finally:
            if os.getpid() == master:
                for sig, handler in saved.items():
                    signal.signal(sig, handler)
        return 0

    def start_process(self) -> BaseProcess:
        """Serve from a child process forked now (before the caller starts any thread).

        The child is the arbiter; it is sent SIGTERM when this process dies, and its exit
        code is `run`'s status.
        """
        process = multiprocessing.get_context("fork").Process(
            target=_serve_in_child, args=(self, os.getpid()), name="web", daemon=True
        )
        process.start()
        return process


def stop_process(process: BaseProcess, *, timeout: float = 60) -> int | None:
    """Stop a `start_process` server gracefully (SIGKILL after `timeout`); its exit code."""
    if process.is_alive():
        process.terminate()  # SIGTERM: gunicorn lets requests in flight finish
        process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
    return process.exitcode


def _serve_in_child(server: WebServer, parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: a daemon process is still stopped when the parent exits normally
    if os.getppid() != parent:  # the parent died before prctl took effect
        return
    sys.exit(server.run())


def _own_database_pool(_arbiter: Any, worker: Any) -> None:
    """In a new worker: forget the master's pooled connections without closing them."""
    engine = worker.app.wsgi().extensions.get("mailer.engine")
    if engine is not None:
        engine.dispose(close=False)


def _leave_worker(exc: SystemExit) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_status(exc))


def _status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
