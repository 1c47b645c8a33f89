"""The pipelining engine: one thread drives several sessions of a pool in rounds.

Every session writes its next group of commands, then every session reads its replies, so
the relay works on all of them while we wait on one. With PIPELINING a message costs one
write and one read: its content goes out together with the next message's MAIL, RCPT and
DATA (RFC 2920 lets the content open a group and DATA close it).

A letter is never transmitted twice here: the only transparent retry is on a new session
*before* any byte of the message's content went out (a relay that closed a session it had
carried letters on). The caller owns retries and the outbox state.
"""

from __future__ import annotations

import logging
import re
import smtplib
from collections import deque
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from mailer.smtp.pool import ConnectFailed, SessionPool, recipient_domain
from mailer.smtp.replies import (
    DATA,
    END_OF_DATA,
    MAIL,
    RCPT,
    WITHDRAWN_RESULT,
    Outcome,
    Outgoing,
    SendResult,
    classify_reply,
    deferred_by,
    reply_text,
)

log = logging.getLogger(__name__)

_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def send_all(
    pool: SessionPool,
    messages: Sequence[Outgoing],
    *,
    sessions: int,
    withdrawn: Collection[int] = (),
) -> Iterator[tuple[int, SendResult]]:
    """Send the messages over up to `sessions` sessions of the pool; yields (index, result)
    as the replies come in, in no particular order.

    The caller may add indices to `withdrawn` while it reads the results: those still
    queued then end as WITHDRAWN, unsent; one already under way goes out as usual.
    """
    return _Exchange(pool, messages, max(1, sessions), withdrawn).results()


def wire_payload(raw: bytes) -> bytes:
    """The DATA payload: CRLF line ends (SMTP forbids bare CR/LF), dot-stuffed, terminated."""
    data = raw
    # The regexes cost more than sending; what mailer.letters.mime writes rarely needs them.
    lf = data.count(b"\n")
    if data.count(b"\r") != lf or data.count(b"\r\n") != lf:
        data = _LINE_END.sub(b"\r\n", data)
    if data.startswith(b".") or b"\n." in data:
        data = _LEADING_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


@dataclass(eq=False)
class _Item:
    """A message of one send_all call, from its turn in the queue to its result."""

    index: int
    message: Outgoing
    domain: str
    retried: bool = False  # already moved once off a session that died before its content
    refusal: tuple[str, int, bytes] | None = None  # the first non-2xx of its envelope


@dataclass(frozen=True)
class _Step:
    """One command (or a message's content) and the reply it waits for."""

    stage: str  # MAIL, RCPT, DATA, END_OF_DATA (the content) or RSET
    item: _Item | None
    data: bytes


_RSET = _Step("RSET", None, b"RSET\r\n")


class _Lane:
    """One session of a send_all call and the steps it has still to write."""

    def __init__(self) -> None:
        self.conn: smtplib.SMTP | None = None
        self.is_pipelined = False
        # The session carried a message before: if it dies before a message's content went
        # out, that message is retried once on a fresh session (no duplicate is possible).
        self.has_carried = False
        self.items: list[_Item] = []  # in flight here: envelope sent or content awaited
        self.todo: list[_Step] = []
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

    def group(self) -> list[_Step]:
        """The steps to write now: up to and with DATA (RFC 2920: DATA ends a group)."""
        if self.must_reset:
            self.todo.insert(0, _RSET)
            self.must_reset = False
        if not self.is_pipelined:
            return [self.todo.pop(0)]
        ends = (n for n, step in enumerate(self.todo, 1) if step.stage == DATA)
        cut = next(ends, len(self.todo))
        group, self.todo = self.todo[:cut], self.todo[cut:]
        return group


class _Exchange:
    """One send_all call: the queue, the lanes and the rounds that drive them."""

    def __init__(
        self,
        pool: SessionPool,
        messages: Sequence[Outgoing],
        sessions: int,
        withdrawn: Collection[int],
    ) -> None:
        self.pool = pool
        self.withdrawn = withdrawn
        self.withdrawn_seen = 0  # how many the queue was last swept for
        self.queue: deque[_Item] = deque(
            _Item(index, message, recipient_domain(message.recipient))
            for index, message in enumerate(messages)
        )
        self.lanes = [_Lane() for _ in range(min(sessions, len(self.queue)) or 1)]
        self.ended: list[tuple[int, SendResult]] = []
        self.connect_failure: SendResult | None = None

    def results(self) -> Iterator[tuple[int, SendResult]]:
        try:
            while self.queue or any(lane.items for lane in self.lanes):
                if len(self.withdrawn) != self.withdrawn_seen:
                    self._take_back_withdrawn()
                self._assign()
                if self.queue and all(lane.is_shut for lane in self.lanes):
                    self._give_up_on_queue()
                busy = [lane for lane in self.lanes if lane.todo or lane.must_reset]
                written = [(lane, self._write(lane)) for lane in busy]
                for lane, group in written:
                    if group:
                        self._read(lane, group)
                yield from self.ended
                self.ended.clear()
        finally:
            self._finish()

    def _take_back_withdrawn(self) -> None:
        """End the queued messages the caller withdrew (queued ones hold no domain slot)."""
        self.withdrawn_seen = len(self.withdrawn)
        kept: deque[_Item] = deque()
        for item in self.queue:
            if item.index in self.withdrawn:
                self.ended.append((item.index, WITHDRAWN_RESULT))
            else:
                kept.append(item)
        self.queue = kept

    def _assign(self) -> None:
        """Give each lane with room its next message whose domain is below the limit."""
        for lane in self.lanes:
            while self.queue and lane.wants():
                idle = not any(other.items for other in self.lanes)
                item = self.pool.reserve(self.queue, wait=idle)
                if item is None:
                    return
                if self._start(lane, item):
                    break

    def _start(self, lane: _Lane, item: _Item) -> bool:
        """Queue the item's envelope on the lane, opening its session if needed; False if
        the item ended at once (no session, or an address the relay cannot take)."""
        if lane.conn is None:
            try:
                lane.conn, lane.has_carried = self.pool.checkout(fresh_only=item.retried)
            except ConnectFailed as failed:
                # A relay that cannot be reached is not tried once per letter (a timeout each):
                # the lane stays shut, and once every lane is, the rest wait for the next run.
                lane.is_shut = True
                self.connect_failure = failed.result
                self._end(item, failed.result)
                return False
            lane.is_pipelined = lane.conn.has_extn("pipelining")
        message, conn = item.message, lane.conn
        options = []
        encoding = "ascii"
        if not (message.envelope_from + message.recipient).isascii():
            if not conn.has_extn("smtputf8"):
                text = f"{MAIL} the relay does not offer SMTPUTF8 for a non-ASCII address"
                self._end(item, SendResult(Outcome.BOUNCED, None, text))
                return False
            options.append(" SMTPUTF8")
            encoding = "utf-8"
        if not message.raw.isascii() and conn.has_extn("8bitmime"):
            # Without 8BITMIME we still send: nearly every relay takes 8-bit bodies anyway.
            options.append(" BODY=8BITMIME")
        try:
            mail = f"MAIL FROM:{_path(message.envelope_from)}{''.join(options)}\r\n"
            rcpt = f"RCPT TO:{_path(message.recipient)}\r\n"
        except ValueError as exc:  # nothing went out: the session is still clean
            self._end(item, SendResult(Outcome.DEFERRED, None, f"{MAIL} {exc}"))
            return False
        lane.items.append(item)
        lane.todo += [
            _Step(MAIL, item, mail.encode(encoding)),
            _Step(RCPT, item, rcpt.encode(encoding)),
            _Step(DATA, item, b"DATA\r\n"),
        ]
        return True

    def _write(self, lane: _Lane) -> list[_Step]:
        """Write the lane's next group; [] if the session died (its items are sorted out)."""
        assert lane.conn is not None
        group = lane.group()
        try:
            lane.conn.send(b"".join(step.data for step in group))
        except (smtplib.SMTPException, OSError) as exc:
            # Content that may be half out is not "after data": the relay cannot have taken it.
            self._lost(lane, group, exc, is_content_out=False)
            return []
        return group

    def _read(self, lane: _Lane, group: list[_Step]) -> None:
        """Each reply of the group, sorted by the step it answers."""
        conn = lane.conn
        assert conn is not None
        for position, step in enumerate(group):
            try:
                code, text = conn.getreply()
            except (smtplib.SMTPException, OSError) as exc:
                self._lost(lane, group[position:], exc, is_content_out=True)
                return
            item = step.item
            if step.stage == END_OF_DATA:
                assert item is not None
                lane.has_carried = True
                self._end(item, classify_reply(END_OF_DATA, code, reply_text(text)), lane)
                if code == 421:  # the relay is closing the session
                    self._lost(lane, group[position + 1 :], None, is_content_out=True)
                    return
            elif code == 421:  # closing before this message's content went out
                result = classify_reply(step.stage, code, reply_text(text))
                self._lost(lane, group[position:], result, is_content_out=True)
                return
            elif step.stage == "RSET":
                if code != 250:
                    self._lost(lane, group[position + 1 :], None, is_content_out=True)
                    return
            else:
                assert item is not None
                self._envelope_reply(lane, step, item, code, text)

    def _envelope_reply(
        self, lane: _Lane, step: _Step, item: _Item, code: int, text: bytes
    ) -> None:
        is_ok = code == 354 if step.stage == DATA else 200 <= code < 300
        if not is_ok and item.refusal is None:
            item.refusal = (step.stage, code, text)
        refusal = item.refusal
        if refusal is None:
            if step.stage == DATA:  # the content goes first in the lane's next group
                lane.todo.insert(0, _Step(END_OF_DATA, item, wire_payload(item.message.raw)))
            return
        if lane.is_pipelined and step.stage != DATA:
            return  # the rest of its envelope is on the wire: read those replies first
        lane.todo = [other for other in lane.todo if other.item is not item]
        self._end(item, classify_reply(refusal[0], refusal[1], reply_text(refusal[2])), lane)
        if code == 354:
            # The relay took DATA after refusing the envelope: the session is waiting for a
            # message we will not send, so it cannot be reused.
            self._lost(lane, [], None, is_content_out=True)
        else:
            lane.must_reset = True

    def _lost(
        self,
        lane: _Lane,
        unanswered: list[_Step],
        cause: BaseException | SendResult | None,
        *,
        is_content_out: bool,
    ) -> None:
        """The session is gone: end or requeue what it held, and close it.

        Content that went out whole may have been accepted: deferred as after-data. A
        message whose content never went out is retried once on a fresh session if this
        session had carried one before (a relay closing a pooled or busy session), and is
        otherwise deferred at the stage it reached.
        """
        assert lane.conn is not None
        stage_of: dict[int, str] = {}
        for step in unanswered:
            if step.item is not None:
                stage_of.setdefault(id(step.item), step.stage)
        for item in lane.items:
            stage = stage_of.get(id(item), MAIL)
            if stage == END_OF_DATA:
                result = _failure(END_OF_DATA, cause, is_after_data=is_content_out)
            elif lane.has_carried and not item.retried:
                log.info("smtp session went stale; retrying %s on a new one", item.index)
                item.retried = True
                self.queue.appendleft(item)
                self.pool.unreserve(item)
                continue
            else:
                result = _failure(stage, cause)
            self._end(item, result)
        lane.items.clear()
        lane.todo.clear()
        lane.must_reset = False
        self.pool.discard(lane.conn)
        lane.conn = None

    def _give_up_on_queue(self) -> None:
        """No session could be opened: what is still queued is deferred with that reason."""
        assert self.connect_failure is not None
        while self.queue:
            item = self.queue.popleft()
            self.ended.append((item.index, self.connect_failure))

    def _end(self, item: _Item, result: SendResult, lane: _Lane | None = None) -> None:
        if lane is not None:
            lane.items.remove(item)
        self.pool.unreserve(item)
        log.debug("smtp %s for %s: %s", result.outcome, item.message.recipient, result.message)
        self.ended.append((item.index, result))

    def _finish(self) -> None:
        """Idle sessions go back to the pool; one left mid-transaction (the caller stopped
        reading, or an error) is closed, and its messages' domain slots are given back."""
        for lane in self.lanes:
            for item in lane.items:
                self.pool.unreserve(item)
            if lane.conn is None:
                continue
            if lane.items or lane.todo:
                self.pool.discard(lane.conn)
                continue
            if lane.must_reset:
                try:
                    if lane.conn.rset()[0] != 250:
                        raise smtplib.SMTPException("RSET refused")
                except (smtplib.SMTPException, OSError):
                    self.pool.discard(lane.conn)
                    continue
            self.pool.release(lane.conn)
        self.lanes.clear()


def _failure(
    stage: str, cause: BaseException | SendResult | None, *, is_after_data: bool = False
) -> SendResult:
    if isinstance(cause, SendResult):
        return cause
    if cause is None:
        cause = smtplib.SMTPServerDisconnected("the relay closed the session")
    return deferred_by(stage, cause, is_after_data=is_after_data)


def _path(address: str) -> str:
    """`<address>` for MAIL FROM or RCPT TO. The addresses are validated on the way in; a
    CR or LF inside would smuggle in a command, so it is refused here once more."""
    if "\r" in address or "\n" in address:
        raise ValueError(f"CR or LF in an SMTP address: {address!r}")
    address = address.strip()
    return address if address.startswith("<") and address.endswith(">") else f"<{address}>"
