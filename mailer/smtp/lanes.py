"""The pipelining engine's parts: a message on its way, one command, one session's lane."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from mailer.smtp.replies import DATA, END_OF_DATA, Outgoing


@dataclass(eq=False)
class Item:
    """A message of one send_all call, from its turn in the queue to its result."""

    index: int
    message: Outgoing
    domain: str
    retried: bool = False  # already moved once off a session that died before its content
    refusal: tuple[str, int, bytes] | None = None  # the first non-2xx of its envelope


@dataclass(frozen=True)
class Step:
    """One command (or a message's content) and the reply it waits for."""

    stage: str  # MAIL, RCPT, DATA, END_OF_DATA (the content) or RSET
    item: Item | None
    data: bytes


RSET = Step("RSET", None, b"RSET\r\n")


class Lane:
    """One session of a send_all call and the steps it has still to write."""

    def __init__(self) -> None:
        self.conn: smtplib.SMTP | None = None
        self.is_pipelined = False
        # The session carried a message before: if it dies before a message's content went
        # out, that message is retried once on a fresh session (no duplicate is possible).
        self.has_carried = False
        self.items: list[Item] = []  # in flight here: envelope sent or content awaited
        self.todo: list[Step] = []
        self.must_reset = False  # a refused envelope left a transaction open
        self.is_shut = False  # could not open a session: not tried again in this call

    def wants(self) -> bool:
        """Room for one more message: an idle lane, or a pipelined one whose only message
        has its content to go (the next envelope rides along with it)."""
        if self.is_shut:
            return False
        if not self.items:
            return True
        return (
            self.is_pipelined
            and len(self.items) == 1
            and len(self.todo) == 1
            and self.todo[0].stage == END_OF_DATA
        )

    def group(self) -> list[Step]:
        """The steps to write now: up to and with DATA (RFC 2920: DATA ends a group)."""
        if self.must_reset:
            self.todo.insert(0, RSET)
            self.must_reset = False
        if not self.is_pipelined:
            return [self.todo.pop(0)]
        ends = (n for n, step in enumerate(self.todo, 1) if step.stage == DATA)
        cut = next(ends, len(self.todo))
        group, self.todo = self.todo[:cut], self.todo[cut:]
        return group
