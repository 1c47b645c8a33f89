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
import smtplib
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence

from mailer.smtp.lanes import Item, Lane, Step
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
from mailer.smtp.wire import smtp_path, wire_payload

log = logging.getLogger(__name__)


def send_all(
    pool: SessionPool,
    messages: Sequence[Outgoing],
    *,
    sessions: int,
    withdrawn: Collection[int] = (),
    on_start: Callable[[Sequence[int]], None] | None = None,
    start_chunk: int = 20,
) -> Iterator[tuple[int, SendResult]]:
    """Send the messages over up to `sessions` sessions of the pool; yields (index, result)
    as the replies come in, in no particular order.

    The caller may add indices to `withdrawn` while it reads the results: those still
    queued then end as WITHDRAWN, unsent; one already under way goes out as usual.
    `on_start`, if given, is called with the next `start_chunk` queued indices before the
    first of them gets its MAIL FROM (so the caller can record that they may have begun);
    indices it adds to `withdrawn` meanwhile are not started.
    """
    exchange = _Exchange(pool, messages, max(1, sessions), withdrawn)
    exchange.on_start, exchange.start_chunk = on_start, max(1, start_chunk)
    return exchange.results()


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
        self.queue: deque[Item] = deque(
            Item(index, message, recipient_domain(message.recipient))
            for index, message in enumerate(messages)
        )
        self.lanes = [Lane() for _ in range(min(sessions, len(self.queue)) or 1)]
        self.ended: list[tuple[int, SendResult]] = []
        self.connect_failure: SendResult | None = None
        self.on_start: Callable[[Sequence[int]], None] | None = None
        self.start_chunk = 20
        self.started: set[int] = set()  # indices the caller was told about (on_start)

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
        kept: deque[Item] = deque()
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

    def _start(self, lane: Lane, item: Item) -> bool:
        """Queue the item's envelope on the lane, opening its session if needed; False if
        the item ended at once (no session, or an address the relay cannot take)."""
        if lane.conn is None:
            try:
                lane.conn, lane.has_carried = self.pool.checkout(fresh_only=item.retried)
            except ConnectFailed as failed:
                # A relay that cannot be reached (or never greets) is not tried once per
                # lane, a timeout each: every lane still without a session is shut, and the
                # rest of the batch goes over the sessions already open, or waits for the
                # next run if there are none.
                for other in self.lanes:
                    other.is_shut = other.is_shut or other.conn is None
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
            mail = f"MAIL FROM:{smtp_path(message.envelope_from)}{''.join(options)}\r\n"
            rcpt = f"RCPT TO:{smtp_path(message.recipient)}\r\n"
        except ValueError as exc:  # nothing went out: the session is still clean
            self._end(item, SendResult(Outcome.DEFERRED, None, f"{MAIL} {exc}"))
            return False
        if self.on_start is not None and item.index not in self.started:
            if not self._announce(item):
                return False
        lane.items.append(item)
        lane.todo += [
            Step(MAIL, item, mail.encode(encoding)),
            Step(RCPT, item, rcpt.encode(encoding)),
            Step(DATA, item, b"DATA\r\n"),
        ]
        return True

    def _announce(self, item: Item) -> bool:
        """Tell the caller the item and the next queued ones are about to begin; False if
        the caller withdrew the item meanwhile (it ends WITHDRAWN, unsent)."""
        assert self.on_start is not None
        chunk = [item.index]
        for queued in self.queue:
            if len(chunk) >= self.start_chunk:
                break
            if queued.index not in self.started:
                chunk.append(queued.index)
        self.started.update(chunk)
        try:
            self.on_start(chunk)
        except BaseException:
            self.pool.unreserve(item)
            raise
        if item.index in self.withdrawn:
            self._end(item, WITHDRAWN_RESULT)
            return False
        return True

    def _write(self, lane: Lane) -> list[Step]:
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

    def _read(self, lane: Lane, group: list[Step]) -> None:
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

    def _envelope_reply(self, lane: Lane, step: Step, item: Item, code: int, text: bytes) -> None:
        is_ok = code == 354 if step.stage == DATA else 200 <= code < 300
        if not is_ok and item.refusal is None:
            item.refusal = (step.stage, code, text)
        refusal = item.refusal
        if refusal is None:
            if step.stage == DATA:  # the content goes first in the lane's next group
                lane.todo.insert(0, Step(END_OF_DATA, item, wire_payload(item.message.raw)))
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
        lane: Lane,
        unanswered: list[Step],
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

    def _end(self, item: Item, result: SendResult, lane: Lane | None = None) -> None:
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
