"""Cookie sessions that cost nothing on a request that brings no session cookie.

Flask builds a signing serializer for every request to look for a session, which on the
click endpoint (a recipient's browser never has our cookie) was a tenth of the request.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class LazyCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened only when the request carries the cookie."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if "HTTP_COOKIE" not in request.environ:
            return self.session_class() if app.secret_key else None
        return super().open_session(app, request)
