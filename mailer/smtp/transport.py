"""Handing letters to the SMTP relay: pooled sessions, one recipient per message, replies sorted.

The caller owns retries and the outbox state; this module only reports what happened to one
attempt. A letter is never transmitted twice by this module: the only transparent retry is
on a new session *before* any byte of the message's content went out (a relay that closed a
session it had carried letters on).
"""

from __future__ import annotations

import enum
import logging
import re
import smtplib
import ssl
import threading
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
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
    # The regexes cost more than sending; what mailer.letters.mime writes rarely needs them.
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


@dataclass(frozen=True)
class Outgoing:
    """One message for one recipient, as `SmtpTransport.send_all` takes them."""

    envelope_from: str
    recipient: str
    raw: bytes


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
        self, messages: Sequence[Outgoing], *, sessions: int = 4
    ) -> Iterator[tuple[int, SendResult]]:
        """Send the messages over up to `sessions` sessions; yields (index, result) as the
        replies come in, in no particular order.

        One thread drives all the sessions in rounds: every session writes its next group
        of commands, then every session reads its replies, so the relay works on all of them
        while we wait on one. With PIPELINING a message costs one write and one read: its
        content goes out together with the next message's MAIL, RCPT and DATA (RFC 2920
        lets the content open a group and DATA close it).
        """
        return _Exchange(self, messages, max(1, sessions)).results()

    def close(self) -> None:
        """Say QUIT on the idle sessions; sessions in use are closed when their call ends."""
        with self._lock:
            self._is_closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            _quit(conn)

    def _reserve(self, queue: deque[_Item], *, wait: bool) -> _Item | None:
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

    def _unreserve(self, item: _Item) -> None:
        with self._lock:
            self._in_flight[item.domain] -= 1
            if not self._in_flight[item.domain]:
                del self._in_flight[item.domain]
            if self._waiting:
                self._domain_freed.notify_all()

    def _checkout(self, *, fresh_only: bool) -> tuple[smtplib.SMTP, bool]:
        """A pooled session or a newly opened one; True if reused.

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
        self, transport: SmtpTransport, messages: Sequence[Outgoing], sessions: int
    ) -> None:
        self.transport = transport
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

    def _assign(self) -> None:
        """Give each lane with room its next message whose domain is below the limit."""
        for lane in self.lanes:
            while self.queue and lane.wants():
                idle = not any(other.items for other in self.lanes)
                item = self.transport._reserve(self.queue, wait=idle)
                if item is None:
                    return
                if self._start(lane, item):
                    break

    def _start(self, lane: _Lane, item: _Item) -> bool:
        """Queue the item's envelope on the lane, opening its session if needed; False if
        the item ended at once (no session, or an address the relay cannot take)."""
        if lane.conn is None:
            try:
                lane.conn, lane.has_carried = self.transport._checkout(fresh_only=item.retried)
            except _ConnectFailed as failed:
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
                self._end(item, classify_reply(END_OF_DATA, code, _text_of(text)), lane)
                if code == 421:  # the relay is closing the session
                    self._lost(lane, group[position + 1 :], None, is_content_out=True)
                    return
            elif code == 421:  # closing before this message's content went out
                result = classify_reply(step.stage, code, _text_of(text))
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
        self._end(item, classify_reply(refusal[0], refusal[1], _text_of(refusal[2])), lane)
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
                self.transport._unreserve(item)
                continue
            else:
                result = _failure(stage, cause)
            self._end(item, result)
        lane.items.clear()
        lane.todo.clear()
        lane.must_reset = False
        _close(lane.conn)
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
        self.transport._unreserve(item)
        log.debug("smtp %s for %s: %s", result.outcome, item.message.recipient, result.message)
        self.ended.append((item.index, result))

    def _finish(self) -> None:
        """Idle sessions go back to the pool; one left mid-transaction (the caller stopped
        reading, or an error) is closed, and its messages' domain slots are given back."""
        for lane in self.lanes:
            for item in lane.items:
                self.transport._unreserve(item)
            if lane.conn is None:
                continue
            if lane.items or lane.todo:
                _close(lane.conn)
                continue
            if lane.must_reset:
                try:
                    if lane.conn.rset()[0] != 250:
                        raise smtplib.SMTPException("RSET refused")
                except (smtplib.SMTPException, OSError):
                    _close(lane.conn)
                    continue
            self.transport._release(lane.conn)
        self.lanes.clear()


def _failure(
    stage: str, cause: BaseException | SendResult | None, *, is_after_data: bool = False
) -> SendResult:
    if isinstance(cause, SendResult):
        return cause
    if cause is None:
        cause = smtplib.SMTPServerDisconnected("the relay closed the session")
    return _deferred(stage, cause, is_after_data=is_after_data)


def _path(address: str) -> str:
    """`<address>` for MAIL FROM or RCPT TO. The addresses are validated on the way in; a
    CR or LF inside would smuggle in a command, so it is refused here once more."""
    if "\r" in address or "\n" in address:
        raise ValueError(f"CR or LF in an SMTP address: {address!r}")
    address = address.strip()
    return address if address.startswith("<") and address.endswith(">") else f"<{address}>"


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
