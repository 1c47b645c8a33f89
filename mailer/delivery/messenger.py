"""What delivery sends through: the one thing the send loop needs of a transport.

The send loop depends on this protocol, not on SmtpTransport (listmonk's messenger), so a
test or a benchmark can hand it another sender.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Protocol

from mailer.smtp import Outgoing, SendResult


class Messenger(Protocol):
    """Sends a batch of messages and reports each one's result as it comes in."""

    def send_all(
        self,
        messages: Sequence[Outgoing],
        *,
        sessions: int = 4,
        withdrawn: Collection[int] = (),
        on_start: Callable[[Sequence[int]], None] | None = None,
        start_chunk: int = 20,
    ) -> Iterator[tuple[int, SendResult]]:
        """Yield (index into `messages`, result) for every message, in any order; indices
        added to `withdrawn` meanwhile end WITHDRAWN if they have not gone out yet.
        `on_start`, if given, hears of up to `start_chunk` indices before the first of them
        begins (its MAIL FROM), so the caller can record that they may reach the relay."""
        ...
