"""Handing letters to the SMTP relay: pooled sessions, one recipient per message, replies sorted.

SmtpTransport is the front door: a session pool (`pool.py`) driven by the pipelining engine
(`pipeline.py`). The caller owns retries and the outbox state; this only reports what
happened to one attempt.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Collection, Iterator, Sequence
from types import TracebackType
from typing import Self

from mailer.smtp import pipeline
from mailer.smtp.pool import SessionPool
from mailer.smtp.replies import Outgoing, SendResult
from mailer.smtp.settings import SmtpSettings


class SmtpTransport:
    """Sender over a small pool of logged-in sessions to one relay; several threads may
    share it (each call drives its own sessions)."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_idle: int = 4,
    ) -> None:
        self.settings = settings
        self._pool = SessionPool(settings, ssl_context=ssl_context, max_idle=max_idle)

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
        [(_, result)] = self.send_all([Outgoing(envelope_from, recipient, raw)], sessions=1)
        return result

    def send_all(
        self,
        messages: Sequence[Outgoing],
        *,
        sessions: int = 4,
        withdrawn: Collection[int] = (),
        on_start: Callable[[Sequence[int]], None] | None = None,
        start_chunk: int = 20,
    ) -> Iterator[tuple[int, SendResult]]:
        """Send the messages over up to `sessions` sessions; yields (index, result) as the
        replies come in, in no particular order. Indices the caller adds to `withdrawn`
        meanwhile end WITHDRAWN if they have not started. `on_start` hears of the next
        `start_chunk` indices before the first of them gets its MAIL FROM.

        One thread drives all the sessions in rounds, pipelined where the relay offers
        PIPELINING: how, and why no message goes out twice, is in `mailer.smtp.pipeline`.
        """
        return pipeline.send_all(
            self._pool,
            messages,
            sessions=sessions,
            withdrawn=withdrawn,
            on_start=on_start,
            start_chunk=start_chunk,
        )

    def close(self) -> None:
        """Say QUIT on the idle sessions; sessions in use are closed when their call ends."""
        self._pool.close()
