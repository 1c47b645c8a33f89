"""What delivery sends through: the one thing the send loop needs of a transport.

The send loop depends on this protocol, not on SmtpTransport (listmonk's messenger), so a
test or a benchmark can hand it another sender.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
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
    ) -> Iterator[tuple[int, SendResult]]:
        """Yield (index into `messages`, result) for every message, in any order; indices
        added to `withdrawn` meanwhile end WITHDRAWN if they have not gone out yet."""
        ...
