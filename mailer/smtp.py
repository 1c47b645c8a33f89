"""Handing letters to the SMTP relay: pooled sessions, one recipient per message, replies sorted.

The caller owns retries and the outbox state; this module only reports what happened to one
attempt. A letter is never transmitted twice by this module: the only transparent retry is
a reconnect *before* any byte of the message went out (a relay that closed an idle session).
"""

from __future__ import annotations

import enum
import logging
import re
import smtplib
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)

SECURITY_MODES = ("none", "starttls", "ssl")

# The stage names that prefix SendResult.message, so a log line says where it went wrong.
CONNECT, AUTH, MAIL, RCPT, DATA, END_OF_DATA = (
    "CONNECT", "AUTH", "MAIL", "RCPT", "DATA", "END-OF-DATA",
)  # fmt: skip


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the relay; the password stays out of reprs and logs."""

    host: str = "127.0.0.1"
    port: int = 8025
    security: str = "none"  # none | starttls | ssl
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    per_domain_limit: int = 2  # sends in flight per recipient domain, per sending process
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, got {self.security!r}"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"SMTP_PORT must be between 1 and 65535, got {self.port}")
        if not self.timeout > 0:
            raise ValueError(f"SMTP_TIMEOUT must be a positive number, got {self.timeout}")
        if self.per_domain_limit < 1:
            limit = self.per_domain_limit
            raise ValueError(f"SMTP_PER_DOMAIN_LIMIT must be at least 1, got {limit}")
        if not self.host:
            raise ValueError("SMTP_HOST must not be empty")

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any]) -> SmtpSettings:
        """Settings from SMTP_* keys; env values arrive as strings, absent or empty keys default."""
        default = cls()
        return cls(
            host=_text(mapping, "SMTP_HOST", default.host),
            port=_integer(mapping, "SMTP_PORT", default.port),
            security=_text(mapping, "SMTP_SECURITY", default.security).lower(),
            username=_text(mapping, "SMTP_USERNAME", default.username),
            # A numeric password may have been JSON-decoded into an int by the config loader.
            password=_text(mapping, "SMTP_PASSWORD", default.password, strip=False),
            timeout=_number(mapping, "SMTP_TIMEOUT", default.timeout),
            per_domain_limit=_integer(mapping, "SMTP_PER_DOMAIN_LIMIT", default.per_domain_limit),
            local_hostname=_text(mapping, "SMTP_LOCAL_HOSTNAME", "") or None,
        )


def _raw(mapping: Mapping[str, Any], key: str) -> Any:
    value = mapping.get(key)
    if isinstance(value, str) and not value.strip():
        return None  # `SMTP_PORT=` in an env file means "not set"
    return value


def _text(mapping: Mapping[str, Any], key: str, default: str, *, strip: bool = True) -> str:
    value = _raw(mapping, key)
    if value is None:
        return default
    text = str(value)
    return text.strip() if strip else text


def _integer(mapping: Mapping[str, Any], key: str, default: int) -> int:
    value = _raw(mapping, key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{key} must be a whole number, got {value!r}") from None


def _number(mapping: Mapping[str, Any], key: str, default: float) -> float:
    value = _raw(mapping, key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key} must be a number of seconds, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{key} must be a number of seconds, got {value!r}") from None


class Outcome(enum.StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    BOUNCED = "bounced"


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to; `message` starts with the stage, e.g. "RCPT 550 5.1.1 …"."""

    outcome: Outcome
    code: int | None
    message: str
    # The session dropped after the whole message went out but before the final reply: the
    # relay may have accepted it. Deferred; retry with the same bytes (the same Message-ID).
    is_after_data: bool = False


def classify_reply(stage: str, code: int, text: str) -> SendResult:
    """2xx sent, 4xx deferred, 5xx bounced; anything else is not trusted and is deferred.

    A 5xx to MAIL FROM is about the sender or the relay (authentication required, relaying
    denied), never the recipient: deferred, so the address is not suppressed and a fixed
    configuration still delivers.
    """
    message = f"{stage} {code} {text}".rstrip()
    if 200 <= code < 300:
        return SendResult(Outcome.SENT, code, message)
    if 500 <= code < 600 and stage != MAIL:
        return SendResult(Outcome.BOUNCED, code, message)
    return SendResult(Outcome.DEFERRED, code, message)


def recipient_domain(address: str) -> str:
    """The part after the last @, lower-cased: what the per-domain limit counts by."""
    return address.rpartition("@")[2].strip().lower()


_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def wire_payload(raw: bytes) -> bytes:
    """The DATA payload: CRLF line ends (SMTP forbids bare CR/LF), dot-stuffed, terminated."""
    data = raw
    # The regexes cost more than sending; what mailer.mime writes rarely needs them.
    lf = data.count(b"\n")
    if data.count(b"\r") != lf or data.count(b"\r\n") != lf:
        data = _LINE_END.sub(b"\r\n", data)
    if data.startswith(b".") or b"\n." in data:
        data = _LEADING_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _text_of(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _deferred(stage: str, exc: BaseException, *, is_after_data: bool = False) -> SendResult:
    code = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else None
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = f"{exc.smtp_code} {_text_of(exc.smtp_error)}"
    else:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return SendResult(Outcome.DEFERRED, code, f"{stage} {detail}", is_after_data=is_after_data)


class _ConnectFailed(Exception):
    """Opening a session failed; carries the DEFERRED result for the caller."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.message)
        self.result = result


@dataclass
class _Attempt:
    result: SendResult
    is_reusable: bool = False  # the session is clean and may go back to the pool
    is_stale: bool = False  # the session died before any message byte went out


class SmtpTransport:
    """Thread-safe sender over a small pool of logged-in sessions to one relay."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_idle: int = 4,
    ) -> None:
        self.settings = settings
        # None: the system trust store with host name checks, which is what a real relay needs.
        self._ssl_context = ssl_context
        self._max_idle = max_idle
        self._idle: list[smtplib.SMTP] = []
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        self._is_closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, envelope_from: str, recipient: str, raw: bytes) -> SendResult:
        """Offer one message for one recipient; waits while its domain has sends in flight."""
        payload = wire_payload(raw)
        with self._slot(recipient_domain(recipient)):
            result = self._deliver(envelope_from, recipient, payload)
        log.debug("smtp %s for %s: %s", result.outcome, recipient, result.message)
        return result

    def close(self) -> None:
        """Say QUIT on the idle sessions; sessions in use are closed when their send returns."""
        with self._lock:
            self._is_closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            _quit(conn)

    def _slot(self, domain: str) -> threading.BoundedSemaphore:
        # One semaphore per domain: a slow or throttling domain cannot hold up the others,
        # and we never open more than per_domain_limit parallel deliveries to one receiver.
        with self._lock:
            slot = self._slots.get(domain)
            if slot is None:
                slot = self._slots[domain] = threading.BoundedSemaphore(
                    self.settings.per_domain_limit
                )
            return slot

    def _deliver(self, envelope_from: str, recipient: str, payload: bytes) -> SendResult:
        # A pooled session may have been closed by the relay while it sat idle; since no
        # message byte has gone out by then, one retry on a fresh session is safe and not a
        # duplicate.
        for is_fresh_only in (False, True):
            try:
                conn, is_reused = self._checkout(fresh_only=is_fresh_only)
            except _ConnectFailed as failed:
                return failed.result
            attempt = self._transact(conn, envelope_from, recipient, payload)
            if attempt.is_reusable:
                self._release(conn)
            else:
                _close(conn)
            if not (attempt.is_stale and is_reused):
                return attempt.result
            log.info("smtp session to %s went stale; reconnecting", self.settings.host)
        return attempt.result

    def _transact(
        self, conn: smtplib.SMTP, envelope_from: str, recipient: str, payload: bytes
    ) -> _Attempt:
        """MAIL, RCPT, DATA and the payload, each reply sorted by the stage it came at."""
        stage = MAIL
        is_payload_started = is_payload_sent = False
        refusal: tuple[str, int, bytes] | None = None
        try:
            conn.command_encoding = "ascii"  # smtplib leaves it at utf-8 after an SMTPUTF8 send
            options: list[str] = []
            if not (envelope_from + recipient).isascii():
                if not conn.has_extn("smtputf8"):
                    message = f"{MAIL} the relay does not offer SMTPUTF8 for a non-ASCII address"
                    return _Attempt(SendResult(Outcome.BOUNCED, None, message), is_reusable=True)
                options.append("SMTPUTF8")
                conn.command_encoding = "utf-8"
            if not payload.isascii() and conn.has_extn("8bitmime"):
                # Without 8BITMIME we still send: nearly every relay takes 8-bit bodies anyway.
                options.append("BODY=8BITMIME")
            try:
                commands = [
                    (
                        MAIL,
                        f"MAIL FROM:{_path(envelope_from)}{''.join(' ' + o for o in options)}\r\n",
                    ),
                    (RCPT, f"RCPT TO:{_path(recipient)}\r\n"),
                    (DATA, "DATA\r\n"),
                ]
            except ValueError as exc:  # nothing went out: the session is still clean
                return _Attempt(SendResult(Outcome.DEFERRED, None, f"{MAIL} {exc}"), True)
            # With PIPELINING (RFC 2920) the three go out in one write and their replies come
            # back together: one round trip instead of three. DATA by hand instead of
            # conn.data(): only this way do we know whether the whole payload went out
            # before the session dropped (is_after_data) or not.
            is_pipelined = conn.has_extn("pipelining")
            if is_pipelined:
                conn.send("".join(line for _, line in commands))
            for stage, line in commands:
                if not is_pipelined:
                    conn.send(line)
                code, reply = conn.getreply()
                is_ok = code == 354 if stage == DATA else 200 <= code < 300
                if not is_ok and refusal is None:
                    refusal = (stage, code, reply)
                if refusal and (not is_pipelined or refusal[1] == 421):
                    break  # after a 421 the relay closes the session: nothing more to read
            if refusal is not None:
                if is_pipelined and code == 354:
                    # The relay took DATA after refusing the envelope: the session is
                    # waiting for a message we will not send, so it cannot be reused.
                    return _Attempt(classify_reply(*refusal[:2], _text_of(refusal[2])))
                return self._refused(conn, *refusal)
            stage = END_OF_DATA
            is_payload_started = True
            conn.send(payload)
            is_payload_sent = True
            code, reply = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            if refusal is not None:  # pipelined: refused, then the session dropped
                return _Attempt(classify_reply(*refusal[:2], _text_of(refusal[2])))
            result = _deferred(stage, exc, is_after_data=is_payload_sent)
            return _Attempt(result, is_stale=not is_payload_started)
        result = classify_reply(stage, code, _text_of(reply))
        # After the final reply the relay is back at the start of a transaction.
        return _Attempt(result, is_reusable=code != 421)

    def _refused(self, conn: smtplib.SMTP, stage: str, code: int, reply: bytes) -> _Attempt:
        result = classify_reply(stage, code, _text_of(reply))
        if code == 421:  # the relay is closing this session: retry on a new one if reused
            return _Attempt(result, is_stale=True)
        try:
            is_reset = conn.rset()[0] == 250
        except (smtplib.SMTPException, OSError):
            is_reset = False
        return _Attempt(result, is_reusable=is_reset)

    def _checkout(self, *, fresh_only: bool) -> tuple[smtplib.SMTP, bool]:
        """A pooled session or a newly opened one; True if reused.

        A pooled session is not probed with NOOP (a round trip per letter): if the relay
        closed it meanwhile, MAIL fails before any message byte went out and `_deliver`
        retries once on a fresh session.
        """
        with self._lock:
            if self._is_closed:
                raise RuntimeError("SmtpTransport is closed")
            if self._idle and not fresh_only:
                return self._idle.pop(), True
        return self._open(), False

    def _release(self, conn: smtplib.SMTP) -> None:
        with self._lock:
            if not self._is_closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        _quit(conn)

    def _open(self) -> smtplib.SMTP:
        """A new session: greeting, EHLO, STARTTLS if configured, AUTH if configured."""
        s = self.settings
        stage = CONNECT
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    s.host, s.port, s.local_hostname, timeout=s.timeout, context=self._tls()
                )
            else:
                conn = smtplib.SMTP(s.host, s.port, s.local_hostname, timeout=s.timeout)
            conn.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                # Never fall back to plain text: the password and the letters would leak.
                stage = "STARTTLS"
                conn.starttls(context=self._tls())
                conn.ehlo()
            if s.username:
                stage = AUTH
                conn.login(s.username, s.password)
        except (smtplib.SMTPException, OSError) as exc:
            if conn is not None:
                _close(conn)
            # Failures here are about us or the relay, never the recipient: defer, like a
            # relay does for a failed SASL login, so a fixed config still delivers everything.
            log.warning("smtp %s to %s:%s failed: %s", stage, s.host, s.port, exc)
            raise _ConnectFailed(_deferred(stage, exc)) from exc
        return conn

    def _tls(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()


def _path(address: str) -> str:
    """`<address>` for MAIL FROM or RCPT TO; a CR or LF inside would smuggle in a command
    (smtplib.quoteaddr would quietly parse it into some other address instead)."""
    if "\r" in address or "\n" in address:
        raise ValueError(f"CR or LF in an SMTP address: {address!r}")
    return smtplib.quoteaddr(address)


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        pass
    _close(conn)


def _close(conn: smtplib.SMTP) -> None:
    try:
        conn.close()
    except OSError:
        pass
