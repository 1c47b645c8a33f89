"""A real SMTP server for tests: records what it received and answers as the test scripts it.

Not a test module. It runs aiosmtpd in a background thread on 127.0.0.1 and a free port, so
the code under test talks real SMTP over a real socket; only the replies are scripted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailer.run.sink import FreePortController

HOST = "127.0.0.1"

# Ports of the test SMTP servers running in this process: the only ones tests may dial.
LISTENING_PORTS: set[int] = set()


@dataclass(frozen=True)
class ReceivedMessage:
    """One DATA the server read to the end, and what it answered (None: dropped unanswered)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message_id: str | None
    reply: str | None

    @property
    def is_accepted(self) -> bool:
        return self.reply is not None and self.reply.startswith("2")


@dataclass
class Rule:
    """How to answer transactions for `recipient` ("@domain": a whole domain; None: any).

    `times` None means every matching transaction; a number is used up one per transaction.
    """

    recipient: str | None = None
    rcpt: str | None = None  # reply to RCPT TO, e.g. "550 5.1.1 no such user"
    data_end: str | None = None  # reply after the final dot, e.g. "451 4.3.0 try later"
    drop_after_data: bool = False  # read the whole message, then hang up without a reply
    data_delay: float = 0.0  # seconds to sit on the message before answering
    times: int | None = None

    def matches(self, address: str) -> bool:
        is_used_up = self.times is not None and self.times <= 0
        address = address.lower()
        if self.recipient is None or self.recipient == address:
            return not is_used_up
        is_domain_rule = self.recipient.startswith("@")
        return not is_used_up and is_domain_rule and address.endswith(self.recipient)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate only, with host name checks on."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_self_signed_cert(folder: Path) -> TlsFiles:
    """A throwaway certificate for 127.0.0.1/localhost; skips the test without `cryptography`."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        pytest.skip("TLS not tested: the `cryptography` package is not installed to make a cert")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def _message_id(data: bytes) -> str | None:
    value = BytesHeaderParser(policy=compat32).parsebytes(data).get("Message-ID")
    return None if value is None else str(value).strip()


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


class _Handler:
    """aiosmtpd hooks; they run on the server's event loop thread."""

    def __init__(self, owner: ScriptedSmtpServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.owner.pipelining:  # aiosmtpd reads commands in order, so it can honour it
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # AUTH is enforced here rather than with aiosmtpd's auth_required, which would insist on
        # TLS first; this way AUTH over plain text on 127.0.0.1 can be tested too.
        if self.owner.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.owner.take_hang_up_at_mail():
            await _hang_up(server)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        rule = self.owner.take_rule(address)
        if rule is not None and rule.rcpt is not None:
            if not rule.rcpt.startswith("2"):
                return rule.rcpt
        envelope.rcpt_tos.append(address)
        envelope.scripted_rule = rule  # type: ignore[attr-defined]
        return "250 OK" if rule is None or rule.rcpt is None else rule.rcpt

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rule: Rule | None = getattr(envelope, "scripted_rule", None)
        domains = {_domain(address) for address in envelope.rcpt_tos}
        self.owner.enter_data(domains)
        try:
            if rule is not None and rule.data_delay:
                await asyncio.sleep(rule.data_delay)
        finally:
            self.owner.leave_data(domains)
        reply = "250 2.0.0 Ok: queued"
        if rule is not None and rule.data_end is not None:
            reply = rule.data_end
        is_dropped = rule is not None and rule.drop_after_data
        self.owner.record(envelope, None if is_dropped else reply)
        if is_dropped:
            await _hang_up(server)
        return reply


async def _hang_up(server: SMTP) -> None:
    """Close the session without answering the command in progress."""
    assert server.transport is not None
    server.transport.close()
    await asyncio.Event().wait()  # cancelled by connection_lost, so no reply is ever pushed


class _Controller(FreePortController):
    def __init__(self, owner: ScriptedSmtpServer, **kwargs: Any) -> None:
        super().__init__(_Handler(owner), **kwargs)
        self.owner = owner

    def factory(self) -> SMTP:
        smtp = super().factory()
        self.owner.connection_made(smtp)
        return smtp


class ScriptedSmtpServer:
    """A real SMTP server whose replies a test scripts per recipient or per transaction."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        tls: TlsFiles | None = None,
        require_starttls: bool = False,
        implicit_tls: bool = False,
        pipelining: bool = False,
    ) -> None:
        self.host = HOST
        self.port = 0
        self.credentials = credentials
        self.tls = tls
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls  # TLS from the first byte (port 465 style), no STARTTLS
        self.pipelining = pipelining  # offer PIPELINING (RFC 2920) in the EHLO reply
        self.logins: list[str] = []
        self._rules: list[Rule] = []
        self._messages: list[ReceivedMessage] = []
        self._sessions: list[SMTP] = []
        self._connections = 0
        self._hang_ups_at_mail = 0
        self._in_data: Counter[str] = Counter()
        self._max_in_data: Counter[str] = Counter()
        self._max_in_data_total = 0
        self._lock = threading.Lock()
        self._controller: _Controller | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Listen (on a free port the first time, on the same port after a restart)."""
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": "scripted.test",
            "decode_data": False,
            "enable_SMTPUTF8": True,
            "ready_timeout": 5.0,
        }
        if self.tls is not None and self.implicit_tls:
            kwargs["ssl_context"] = self.tls.server_context()
        elif self.tls is not None:
            kwargs["tls_context"] = self.tls.server_context()
            kwargs["require_starttls"] = self.require_starttls
        if self.credentials is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = self.tls is not None
        controller = _Controller(self, **kwargs)
        controller.start()
        self._controller = controller
        self.port = int(controller.port)
        with self._lock:
            # Controller.start() wakes the server with a throwaway connection; not ours to count.
            self._connections = 0
        LISTENING_PORTS.add(self.port)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        LISTENING_PORTS.discard(self.port)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------

    def script(self, recipient: str | None = None, **behaviour: Any) -> Rule:
        """Add a rule (see Rule); rules are tried in the order added, first match wins."""
        rule = Rule(recipient=None if recipient is None else recipient.lower(), **behaviour)
        with self._lock:
            self._rules.append(rule)
        return rule

    def hang_up_at_mail(self, times: int = 1) -> None:
        """Close the next `times` sessions at MAIL FROM: a server dropping a reused session."""
        with self._lock:
            self._hang_ups_at_mail += times

    def refuse_connections(self) -> None:
        """Stop listening: new connections are refused until accept_connections()."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def accept_connections(self) -> None:
        """Listen again on the same port."""
        connections = self.connections
        self.start()
        with self._lock:
            self._connections = connections

    def close_connections(self) -> None:
        """Hang up every open session, as a server does with idle ones after its timeout."""
        assert self._controller is not None

        async def close_all() -> None:
            for smtp in self._open_sessions():
                assert smtp.transport is not None
                smtp.transport.close()
            while self._open_sessions():
                await asyncio.sleep(0.01)

        future = asyncio.run_coroutine_threadsafe(close_all(), self._controller.loop)
        future.result(timeout=5)

    # -- what it saw -----------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every message read to the final dot, whatever the reply."""
        with self._lock:
            return list(self._messages)

    @property
    def accepted(self) -> list[ReceivedMessage]:
        return [message for message in self.messages if message.is_accepted]

    @property
    def connections(self) -> int:
        """TCP connections accepted since start."""
        with self._lock:
            return self._connections

    def max_in_data(self, domain: str | None = None) -> int:
        """Most DATA phases seen at once for `domain` (None: across all domains)."""
        with self._lock:
            return self._max_in_data_total if domain is None else self._max_in_data[domain]

    # -- called from the handler on the server thread --------------------------------------

    def take_rule(self, address: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(address):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def take_hang_up_at_mail(self) -> bool:
        with self._lock:
            if self._hang_ups_at_mail <= 0:
                return False
            self._hang_ups_at_mail -= 1
            return True

    def record(self, envelope: Envelope, reply: str | None) -> None:
        data = envelope.original_content or b""
        message = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            message_id=_message_id(data),
            reply=reply,
        )
        with self._lock:
            self._messages.append(message)

    def enter_data(self, domains: set[str]) -> None:
        with self._lock:
            for domain in domains:
                self._in_data[domain] += 1
                self._max_in_data[domain] = max(self._max_in_data[domain], self._in_data[domain])
            total = sum(self._in_data.values())
            self._max_in_data_total = max(self._max_in_data_total, total)

    def leave_data(self, domains: set[str]) -> None:
        with self._lock:
            for domain in domains:
                self._in_data[domain] -= 1

    def connection_made(self, smtp: SMTP) -> None:
        with self._lock:
            self._connections += 1
            self._sessions.append(smtp)

    def _open_sessions(self) -> list[SMTP]:
        with self._lock:
            return [smtp for smtp in self._sessions if smtp.transport is not None]

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = data.login.decode("utf-8", "replace")
        password = data.password.decode("utf-8", "replace")
        is_ok = (login, password) == self.credentials
        if is_ok:
            with self._lock:
                self.logins.append(login)
        return AuthResult(success=is_ok, handled=False)
