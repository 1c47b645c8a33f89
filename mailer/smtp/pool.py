"""The sessions to one relay: logged-in sessions kept for reuse, and the per-domain limit.

Several threads may share one pool. Two things are handed out under one lock: sessions
(`checkout`, then `release` to keep one or `discard` to drop it) and slots of the
per-domain limit (`reserve` takes the first queued message whose recipient domain has room,
`unreserve` gives its slot back).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections import Counter, deque
from typing import Protocol, TypeVar

from mailer.smtp.replies import AUTH, CONNECT, SendResult, deferred_by
from mailer.smtp.settings import SmtpSettings

log = logging.getLogger(__name__)


class Addressed(Protocol):
    """Something queued for a recipient domain: what the per-domain limit counts."""

    @property
    def domain(self) -> str: ...


Queued = TypeVar("Queued", bound=Addressed)


def recipient_domain(address: str) -> str:
    """The part after the last @, lower-cased: what the per-domain limit counts by."""
    return address.rpartition("@")[2].strip().lower()


class ConnectFailed(Exception):
    """Opening a session failed; carries the DEFERRED result for the caller."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.message)
        self.result = result


class SessionPool:
    """Idle sessions to one relay and the sends in flight per recipient domain."""

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
        self._lock = threading.Lock()
        # Messages in flight per recipient domain, over every call: the per-domain limit.
        self._in_flight: Counter[str] = Counter()
        self._domain_freed = threading.Condition(self._lock)
        self._waiting = 0  # calls waiting for a domain slot: only then is a release announced
        self._is_closed = False

    def reserve(self, queue: deque[Queued], *, wait: bool) -> Queued | None:
        """Take the first queued message whose domain is below the limit; with `wait`,
        wait for one (another call holds the slots) instead of returning None."""
        limit = self.settings.per_domain_limit
        with self._lock:
            while True:
                for position, item in enumerate(queue):
                    if self._in_flight[item.domain] < limit:
                        self._in_flight[item.domain] += 1
                        del queue[position]
                        return item
                if not wait:
                    return None
                self._waiting += 1
                try:
                    self._domain_freed.wait(self.settings.timeout)
                finally:
                    self._waiting -= 1

    def unreserve(self, item: Addressed) -> None:
        """Give back the domain slot `reserve` took for the item."""
        with self._lock:
            self._in_flight[item.domain] -= 1
            if not self._in_flight[item.domain]:
                del self._in_flight[item.domain]
            if self._waiting:
                self._domain_freed.notify_all()

    def checkout(self, *, fresh_only: bool) -> tuple[smtplib.SMTP, bool]:
        """A pooled session or a newly opened one; True if reused. Raises ConnectFailed.

        A pooled session is not probed with NOOP (a round trip per letter): if the relay
        closed it meanwhile, MAIL fails before any message byte went out and the message is
        retried once on a fresh session.
        """
        with self._lock:
            if self._is_closed:
                raise RuntimeError("SmtpTransport is closed")
            if self._idle and not fresh_only:
                return self._idle.pop(), True
        return self._open(), False

    def release(self, conn: smtplib.SMTP) -> None:
        """A session between transactions comes back: kept for reuse, or QUIT if not needed."""
        with self._lock:
            if not self._is_closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        _quit(conn)

    def discard(self, conn: smtplib.SMTP) -> None:
        """A session that died or was left mid-transaction: closed, never reused."""
        _close(conn)

    def close(self) -> None:
        """Say QUIT on the idle sessions; sessions in use are closed when their call ends."""
        with self._lock:
            self._is_closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
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
            raise ConnectFailed(deferred_by(stage, exc)) from exc
        return conn

    def _tls(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()


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
