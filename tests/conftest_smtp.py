"""SMTP fixtures: a scripted real server, and a guard against mail leaving for anywhere else.

tests/conftest.py imports them (`from tests.conftest_smtp import smtp_server`).
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from mailer.run.sink import SmtpSink
from tests.smtp_server import LISTENING_PORTS, ScriptedSmtpServer

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def smtp_server() -> Iterator[ScriptedSmtpServer]:
    """A real SMTP server on 127.0.0.1 that records every message; script its replies."""
    with ScriptedSmtpServer() as server:
        yield server


@pytest.fixture
def no_unexpected_smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[int]]:
    """Fail the test on an SMTP connection to anything but a test server or sink.

    A test that means to reach another local port adds it to the yielded set. Sinks count
    when started after this fixture (make it autouse so it comes first).
    """
    allowed: set[int] = set()
    connect = smtplib.SMTP.connect
    start_sink = SmtpSink.start

    def guarded_connect(
        self: smtplib.SMTP,
        host: str = "localhost",
        port: int = 0,
        source_address: tuple[str, int] | None = None,
    ) -> tuple[int, bytes]:
        target_host, target_port = host, port
        if not port and host.find(":") == host.rfind(":") and ":" in host:
            target_host, _, text = host.rpartition(":")
            target_port = int(text) if text.isdigit() else 0
        target_port = target_port or self.default_port
        if target_host not in LOOPBACK or target_port not in LISTENING_PORTS | allowed:
            pytest.fail(
                f"unexpected SMTP connection to {target_host}:{target_port}: tests may only "
                "reach a ScriptedSmtpServer or an SmtpSink",
                pytrace=False,
            )
        return connect(self, host, port, source_address)

    def registering_start(self: SmtpSink) -> None:
        start_sink(self)
        allowed.add(self.port)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded_connect)
    monkeypatch.setattr(SmtpSink, "start", registering_start)
    yield allowed
