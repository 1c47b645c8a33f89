"""The addresses letters carry (`/c/`, `/u/`), served by an app of their own.

A recipient's click is the busiest request there is and needs none of the desks' layers:
no sign-in check, no CSRF hook, no remember-me cookie. On the click benchmark those hooks
cost as much as the click's own work. So the app factory builds a second, small app that
shares the desk app's settings and engine (its `config` and `extensions`, so one click
recorder and one pool serve both), holds only the recipients' blueprint, and answers
anything else under its paths with the public 404 page. `PublicPaths` sends a request to
it by its path before either app does any work; nothing added to the desks later can
reach a recipient's request by mistake.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, render_template, request
from werkzeug.exceptions import HTTPException

from mailer.sessions import LazyCookieSessions
from mailer.web.errors import BARE_500

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PREFIXES = ("/c/", "/u/")

log = logging.getLogger("mailer.web")


def public_app(desk: Flask, blueprint: Blueprint) -> Flask:
    """The recipients' app beside `desk`, sharing its settings and database."""
    app = Flask(
        desk.import_name, instance_path=desk.instance_path, template_folder=desk.template_folder
    )
    app.config = desk.config
    app.extensions = desk.extensions
    app.session_interface = LazyCookieSessions()
    app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
    return app


class PublicPaths:
    """WSGI: requests under PREFIXES go to the public app, the rest to the desks."""

    def __init__(
        self, public: WSGIApplication, desk: WSGIApplication, prefixes: Iterable[str] = PREFIXES
    ) -> None:
        self.public, self.desk, self.prefixes = public, desk, tuple(prefixes)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        target = self.public if path.startswith(self.prefixes) else self.desk
        return target(environ, start_response)


def _http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
    status = exc.code or 500
    if status < 400:
        return exc
    return render_template("pages/public/not_found.html"), 404 if status in (404, 405) else status


def _server_error(exc: Exception) -> tuple[str, int]:
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return BARE_500, 500
