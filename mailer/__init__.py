"""The mailer core: contact book, owners, tags, history, and the app factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; the one composition root. It starts no thread, scheduler or socket."""
    instance_path = os.environ.get("MAILER_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(Path(__file__).resolve().parent.parent / "templates"),
    )
    import mailer.tables  # noqa: F401  (every table joins the one metadata)
    from mailer import config, db
    from mailer.cli import register_cli
    from mailer.contacts import desk_views, views
    from mailer.sessions import LazyCookieSessions
    from mailer.web import init_web
    from mailer.web.public import PublicPaths, public_app
    from tracking import desk_views as hot_views
    from tracking import views as tracking_views
    from tracking.marketing import MARKETING_BLUEPRINTS

    checked = config.load(app, test_config)
    db.init_app(app)
    app.session_interface = LazyCookieSessions()
    app.register_blueprint(views.bp)
    app.register_blueprint(tracking_views.bp)
    app.register_blueprint(desk_views.bp)
    app.register_blueprint(hot_views.bp)
    for blueprint in MARKETING_BLUEPRINTS:  # marketing's desk (issue 14)
        app.register_blueprint(blueprint)
    init_web(app)  # sign-in, CSRF and error pages over every blueprint registered above
    # What letters link to is served by a small app of its own, before any desk hook runs.
    public = public_app(app, tracking_views.bp)
    app.wsgi_app = PublicPaths(public.wsgi_app, app.wsgi_app)  # type: ignore[method-assign,assignment]
    if checked.tracking.trusted_proxies:  # believe X-Forwarded-For from that many hops
        hops = checked.tracking.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    register_cli(app)
    return app
