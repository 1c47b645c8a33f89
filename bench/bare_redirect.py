"""The click benchmark's baseline: a bare Flask app answering every /c/<token> with one
fixed 302, served with the product's gunicorn settings (mailer.run.web.WebServer).

    .venv/bin/python bench/bare_redirect.py --port 5099 [--workers 2] [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import sys

from flask import Flask, Response

from mailer.run.web import WebServer

DESTINATION = "https://gifts.example/catalogue/industry_catalogue"


def create_app() -> Flask:
    """One view, the product's click response without its work: no verify, no lookup."""
    app = Flask("bare_redirect")

    @app.get("/c/<path:token>")
    def click(token: str) -> Response:
        # The product's headers, so both send the same bytes back.
        return Response(
            status=302,
            headers={
                "Location": DESTINATION,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5099)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    return WebServer(create_app, host=args.host, port=args.port, workers=args.workers).run()


if __name__ == "__main__":
    sys.exit(main())
