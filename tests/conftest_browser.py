"""Browser fixtures for the web desks: the app on a live port, headless Chromium, signing in.

Debian's chromium driven by Playwright (`executablePath=/usr/bin/chromium`, no browser
download). One browser for the whole run; each test gets fresh contexts (no shared
cookies). Screenshots go to tests/artifacts/ (ignored by git): look at them.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.desk import PASSWORD

CHROMIUM = os.environ.get("MAILER_TEST_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("MAILER_TEST_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def _missing_browser() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not shutil.which(CHROMIUM):
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the run (starting one costs about a second)."""
    reason = _missing_browser()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"MAILER_TEST_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served on a free port in a thread, for the browser to reach."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page(browser: Any, live_url: str) -> Iterator[Any]:
    """A fresh browser tab (its own cookies), not signed in."""
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture
def signed_in_page(browser: Any, live_url: str) -> Iterator[Callable[..., Any]]:
    """`signed_in_page(email, viewport=DESKTOP)`: a new tab of its own, signed in as `email`.

    Each call is a separate browser context, so two users can be signed in side by side.
    """
    contexts: list[Any] = []

    def open_as(email: str, password: str = PASSWORD, viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport, locale="ru-RU")
        contexts.append(context)
        tab = context.new_page()
        sign_in_browser(tab, live_url, email, password)
        return tab

    yield open_as
    for context in contexts:
        context.close()


def sign_in_browser(tab: Any, live_url: str, email: str, password: str = PASSWORD) -> None:
    """Fill in and send the sign-in form; waits until the landing page is shown."""
    tab.goto(f"{live_url}/sign-in")
    tab.fill("input[name=email]", email)
    tab.fill("input[name=password]", password)
    tab.click("button[type=submit]")
    tab.wait_for_selector("#who")


def screenshot(tab: Any, name: str) -> Path:
    """Save the whole page as tests/artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=path, full_page=True)
    return path
