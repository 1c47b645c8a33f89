"""SMTP delivery against a real (scripted) SMTP server: what each reply means for a letter."""

from __future__ import annotations

import logging
import re
import smtplib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.config import read_settings
from mailer.smtp import (
    Outcome,
    Outgoing,
    SmtpSettings,
    SmtpTransport,
    classify_reply,
    wire_payload,
)
from tests import conftest_smtp
from tests.smtp_server import ScriptedSmtpServer, make_self_signed_cert

# The guard fixture, bound here too so this file does not depend on what conftest.py imports.
no_unexpected_smtp = conftest_smtp.no_unexpected_smtp

SENDER = "anna@gifts.example"


def letter(to: str, *, message_id: str | None = None, body: str = "Добрый день!") -> bytes:
    """A small finished letter with CRLF line ends, as mailer.letters.mime produces them."""
    message_id = message_id or f"<{uuid.uuid4().hex}@gifts.example>"
    return (
        f"From: Anna <{SENDER}>\r\nTo: {to}\r\nSubject: Hello\r\nMessage-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ).encode()


def message_id_of(raw: bytes) -> str | None:
    return BytesHeaderParser().parsebytes(raw)["Message-ID"]


def settings_for(server: ScriptedSmtpServer, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "port": server.port, "timeout": 2.0, "local_hostname": "mailer.test", **overrides
    }  # fmt: skip
    return SmtpSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(params=[False, True], ids=["one-command-at-a-time", "pipelining"])
def smtp_server(request: pytest.FixtureRequest) -> Iterator[ScriptedSmtpServer]:
    """Every test here against a relay with and without PIPELINING: two code paths."""
    with ScriptedSmtpServer(pipelining=request.param) as server:
        yield server


@pytest.fixture
def transport(smtp_server: ScriptedSmtpServer) -> Iterator[SmtpTransport]:
    with SmtpTransport(settings_for(smtp_server)) as transport:
        yield transport


@pytest.fixture(autouse=True)
def _guard(no_unexpected_smtp: set[int]) -> None:
    """Every test here may reach only its own test server."""


def test_it_reports_sent_when_the_relay_answers_250(smtp_server, transport):
    raw = letter("ivan@client.example")

    result = transport.send(SENDER, "ivan@client.example", raw)

    assert result.outcome is Outcome.SENT
    assert result.code == 250
    assert result.message.startswith("END-OF-DATA 250")
    [received] = smtp_server.accepted
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ("ivan@client.example",)
    assert received.data == raw


def test_it_delivers_the_exact_bytes_of_an_8bit_letter_with_leading_dots(smtp_server, transport):
    raw = letter("ivan@client.example", body=".hidden line\r\n..two dots\r\nИтог: ✓\r\n.")

    result = transport.send(SENDER, "ivan@client.example", raw)

    assert result.outcome is Outcome.SENT
    assert raw.endswith(b"\r\n.\r\n")  # a last line that is a lone dot must not end DATA early
    assert smtp_server.accepted[0].data == raw


def test_it_sends_to_a_non_ascii_address_with_smtputf8(smtp_server, transport):
    result = transport.send(SENDER, "иван@пример.рф", letter("иван@пример.рф"))

    assert result.outcome is Outcome.SENT
    assert smtp_server.accepted[0].rcpt_tos == ("иван@пример.рф",)


def test_it_defers_a_recipient_the_relay_answers_451_at_rcpt(smtp_server, transport):
    smtp_server.script("ivan@client.example", rcpt="451 4.7.1 greylisted, try later")

    result = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))

    assert result.outcome is Outcome.DEFERRED
    assert result.code == 451
    assert result.message == "RCPT 451 4.7.1 greylisted, try later"
    assert smtp_server.messages == []


def test_it_bounces_a_550_with_the_stage_the_code_and_the_text(smtp_server, transport):
    smtp_server.script("nobody@client.example", rcpt="550 5.1.1 no such user")

    result = transport.send(SENDER, "nobody@client.example", letter("nobody@client.example"))

    assert result.outcome is Outcome.BOUNCED
    assert result.code == 550
    assert result.message == "RCPT 550 5.1.1 no such user"
    assert result.is_after_data is False


def test_a_refused_recipient_does_not_affect_the_next_messages_on_the_same_connection(
    smtp_server,
    transport,
):
    smtp_server.script("nobody@client.example", rcpt="550 5.1.1 no such user")
    good = [f"user{i}@client.example" for i in range(3)]
    raws = {address: letter(address) for address in good}

    outcomes = [transport.send(SENDER, good[0], raws[good[0]]).outcome]
    outcomes.append(transport.send(SENDER, "nobody@client.example", letter("x")).outcome)
    outcomes += [transport.send(SENDER, address, raws[address]).outcome for address in good[1:]]

    assert outcomes == [Outcome.SENT, Outcome.BOUNCED, Outcome.SENT, Outcome.SENT]
    assert [m.data for m in smtp_server.accepted] == [raws[address] for address in good]
    assert [m.rcpt_tos for m in smtp_server.accepted] == [(address,) for address in good]
    assert smtp_server.connections == 1


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("451 4.3.0 queue full, try later", Outcome.DEFERRED),
        ("554 5.7.1 spam", Outcome.REJECTED),
        ("550 5.1.1 no such user", Outcome.BOUNCED),
    ],
)
def test_it_sorts_a_refusal_at_the_end_of_data_by_its_code(smtp_server, transport, reply, outcome):
    smtp_server.script(data_end=reply)

    result = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))

    assert result.outcome is outcome
    assert result.code == int(reply[:3])
    assert result.message == f"END-OF-DATA {reply}"
    assert result.is_after_data is False
    assert transport.send(SENDER, "ivan@client.example", letter("x")).outcome is outcome
    assert smtp_server.connections == 1  # a refusal after DATA leaves the session usable


@pytest.mark.parametrize(
    ("stage", "reply", "outcome"),
    [
        ("RCPT", "550 5.1.1 no such user", Outcome.BOUNCED),
        ("RCPT", "553 5.1.3 bad address syntax", Outcome.BOUNCED),
        ("RCPT", "550 no such user here", Outcome.BOUNCED),  # no enhanced code: as ever
        ("RCPT", "550 5.2.1 mailbox disabled", Outcome.BOUNCED),
        ("END-OF-DATA", "554 5.7.1 message rejected as spam", Outcome.REJECTED),
        ("RCPT", "550 5.7.26 unauthenticated mail is prohibited", Outcome.REJECTED),
        ("END-OF-DATA", "552 5.3.4 message too big for system", Outcome.REJECTED),
        ("END-OF-DATA", "552 5.2.3 message exceeds the size limit", Outcome.REJECTED),
        ("END-OF-DATA", "554 5.6.0 content refused", Outcome.REJECTED),
        ("RCPT", "550 4.7.1 a class that disagrees with the code", Outcome.BOUNCED),
        ("MAIL", "530 5.7.0 authentication required", Outcome.DEFERRED),
        ("RCPT", "450 4.2.0 mailbox busy", Outcome.DEFERRED),
    ],
)
def test_it_sorts_a_permanent_refusal_by_its_enhanced_status_code(stage, reply, outcome):
    code, text = reply.split(" ", 1)

    result = classify_reply(stage, int(code), text)

    assert result.outcome is outcome
    assert result.message == f"{stage} {reply}"


def test_a_drop_after_data_is_deferred_as_maybe_delivered_and_a_resend_keeps_the_message_id(
    smtp_server,
    transport,
):
    smtp_server.script("ivan@client.example", drop_after_data=True, times=1)
    raw = letter("ivan@client.example", message_id="<letter-42@gifts.example>")

    first = transport.send(SENDER, "ivan@client.example", raw)
    second = transport.send(SENDER, "ivan@client.example", raw)

    assert first.outcome is Outcome.DEFERRED
    assert first.is_after_data is True
    assert first.message.startswith("END-OF-DATA SMTPServerDisconnected")
    assert second.outcome is Outcome.SENT
    dropped, accepted = smtp_server.messages
    assert dropped.reply is None and dropped.data == raw  # the server had the whole letter
    assert dropped.message_id == accepted.message_id == "<letter-42@gifts.example>"
    assert message_id_of(accepted.data) == message_id_of(raw)


def test_it_defers_when_the_relay_refuses_connections(smtp_server):
    smtp_server.refuse_connections()
    with SmtpTransport(settings_for(smtp_server)) as transport:
        result = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))

        assert result.outcome is Outcome.DEFERRED
        assert result.code is None
        assert result.message.startswith("CONNECT ConnectionRefusedError")

        smtp_server.accept_connections()
        assert transport.send(SENDER, "ivan@client.example", letter("x")).outcome is Outcome.SENT


def test_it_reuses_one_connection_for_twenty_sequential_sends(smtp_server, transport):
    results = [transport.send(SENDER, f"u{i}@client.example", letter("x")) for i in range(20)]

    assert {result.outcome for result in results} == {Outcome.SENT}
    assert len(smtp_server.accepted) == 20
    assert smtp_server.connections == 1


def test_it_reopens_an_idle_connection_the_server_closed_before_sending(smtp_server, transport):
    raws = [letter("ivan@client.example") for _ in range(2)]
    transport.send(SENDER, "ivan@client.example", raws[0])
    smtp_server.close_connections()

    result = transport.send(SENDER, "ivan@client.example", raws[1])

    assert result.outcome is Outcome.SENT
    assert [m.data for m in smtp_server.messages] == raws  # each once, nothing duplicated
    assert smtp_server.connections == 2


def test_it_retries_on_a_new_connection_when_a_reused_one_dies_at_mail(smtp_server, transport):
    raws = [letter("ivan@client.example") for _ in range(2)]
    transport.send(SENDER, "ivan@client.example", raws[0])
    smtp_server.hang_up_at_mail()  # the pooled session dies at MAIL: the race a pool has

    result = transport.send(SENDER, "ivan@client.example", raws[1])

    assert result.outcome is Outcome.SENT
    assert [m.data for m in smtp_server.messages] == raws
    assert smtp_server.connections == 2


def test_it_defers_without_retrying_when_a_new_connection_drops_before_data(smtp_server):
    smtp_server.hang_up_at_mail(times=5)
    with SmtpTransport(settings_for(smtp_server)) as transport:
        result = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))

    assert result.outcome is Outcome.DEFERRED
    assert result.is_after_data is False
    assert result.message.startswith("MAIL SMTPServerDisconnected")
    assert smtp_server.connections == 1
    assert smtp_server.messages == []


def test_it_keeps_at_most_the_limit_in_flight_per_domain_while_other_domains_proceed(
    smtp_server,
):
    smtp_server.script("@slow.example", data_delay=0.1)
    settings = settings_for(smtp_server, per_domain_limit=2)
    with SmtpTransport(settings, max_idle=8) as transport, ThreadPoolExecutor(10) as pool:
        slow = [
            pool.submit(transport.send, SENDER, f"u{i}@slow.example", letter("x"))
            for i in range(10)
        ]
        deadline = time.monotonic() + 2
        while smtp_server.max_in_data("slow.example") < 2 and time.monotonic() < deadline:
            time.sleep(0.005)

        started = time.monotonic()
        fast = transport.send(SENDER, "ivan@fast.example", letter("ivan@fast.example"))
        fast_seconds = time.monotonic() - started
        slow_pending_when_fast_done = sum(not future.done() for future in slow)

        slow_outcomes = [future.result(timeout=5).outcome for future in slow]

    assert fast.outcome is Outcome.SENT
    assert fast_seconds < 0.5
    assert slow_pending_when_fast_done >= 4  # the fast domain did not wait for the slow one
    assert slow_outcomes == [Outcome.SENT] * 10
    assert smtp_server.max_in_data("slow.example") == 2
    assert smtp_server.max_in_data() == 3  # two slow ones and the fast one at the same time
    assert Counter(m.rcpt_tos[0] for m in smtp_server.accepted) == Counter(
        [f"u{i}@slow.example" for i in range(10)] + ["ivan@fast.example"]
    )


def test_several_threads_share_one_transport_and_every_letter_arrives_once(smtp_server):
    raws = {f"u{i}@d{i % 4}.example": letter(f"u{i}@d{i % 4}.example") for i in range(40)}
    with (
        SmtpTransport(settings_for(smtp_server), max_idle=8) as transport,
        ThreadPoolExecutor(8) as pool,
    ):
        results = list(pool.map(lambda item: transport.send(SENDER, *item), raws.items()))

    assert {result.outcome for result in results} == {Outcome.SENT}
    assert sorted(m.data for m in smtp_server.accepted) == sorted(raws.values())
    assert smtp_server.connections <= 8


def send_all(transport: SmtpTransport, recipients: list[str], **options: int):
    """Results in the recipients' order, and the letters sent."""
    raws = [letter(address) for address in recipients]
    messages = [Outgoing(SENDER, a, raw) for a, raw in zip(recipients, raws, strict=True)]
    results = dict(transport.send_all(messages, **options))
    return [results[i] for i in range(len(messages))], raws


def test_send_all_streams_many_letters_over_one_session_in_order(smtp_server, transport):
    recipients = [f"u{i}@d{i % 3}.example" for i in range(12)]

    results, raws = send_all(transport, recipients, sessions=1)

    assert [r.outcome for r in results] == [Outcome.SENT] * 12
    assert [m.data for m in smtp_server.accepted] == raws
    assert [m.rcpt_tos for m in smtp_server.accepted] == [(a,) for a in recipients]
    assert smtp_server.connections == 1


def test_send_all_uses_several_sessions_and_each_letter_arrives_once(smtp_server):
    recipients = [f"u{i}@d{i % 5}.example" for i in range(40)]
    with SmtpTransport(settings_for(smtp_server), max_idle=4) as transport:
        results, raws = send_all(transport, recipients, sessions=4)

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(m.data for m in smtp_server.accepted) == sorted(raws)
    assert smtp_server.connections == 4


def test_send_all_keeps_the_domain_limit_across_its_sessions(smtp_server):
    smtp_server.script("@slow.example", data_delay=0.05)
    recipients = [f"u{i}@slow.example" for i in range(8)] + ["ivan@fast.example"]
    with SmtpTransport(settings_for(smtp_server, per_domain_limit=2)) as transport:
        results, _ = send_all(transport, recipients, sessions=4)

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert smtp_server.max_in_data("slow.example") <= 2
    assert len(smtp_server.accepted) == 9


def test_send_all_goes_on_after_a_refused_recipient_on_the_same_session(smtp_server, transport):
    smtp_server.script("nobody@client.example", rcpt="550 5.1.1 no such user")
    recipients = ["a@client.example", "nobody@client.example", "b@client.example"]

    results, raws = send_all(transport, recipients, sessions=1)

    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.BOUNCED, Outcome.SENT]
    assert results[1].message == "RCPT 550 5.1.1 no such user"
    assert [m.data for m in smtp_server.accepted] == [raws[0], raws[2]]
    assert smtp_server.connections == 1


def test_send_all_defers_a_drop_after_data_and_moves_the_next_letter_to_a_new_session(
    smtp_server, transport
):
    smtp_server.script("c@client.example", drop_after_data=True, times=1)
    recipients = [f"{name}@client.example" for name in "abcde"]

    results, raws = send_all(transport, recipients, sessions=1)

    assert [r.outcome for r in results] == [Outcome.SENT] * 2 + [Outcome.DEFERRED] + [
        Outcome.SENT
    ] * 2
    assert results[2].is_after_data is True
    # d's envelope may have gone out beside c's content; d itself went out once, on session 2.
    assert [m.data for m in smtp_server.messages] == raws
    assert smtp_server.connections == 2


def test_send_all_withdraws_the_letters_still_queued_when_the_caller_asks(smtp_server, transport):
    recipients = [f"u{i}@client.example" for i in range(8)]
    messages = [Outgoing(SENDER, address, letter(address)) for address in recipients]
    withdrawn: set[int] = set()

    results = {}
    for index, result in transport.send_all(messages, sessions=1, withdrawn=withdrawn):
        results[index] = result
        if index == 0:
            withdrawn.update({0, 6, 7})  # 0 is done: nothing changes for it

    assert [results[i].outcome for i in range(8)] == [Outcome.SENT] * 6 + [Outcome.WITHDRAWN] * 2
    assert [m.rcpt_tos for m in smtp_server.messages] == [(a,) for a in recipients[:6]]
    assert transport.send(SENDER, "x@client.example", letter("x")).outcome is Outcome.SENT
    assert smtp_server.connections == 1  # withdrawing leaves the session clean


def test_send_all_defers_the_whole_queue_at_once_when_no_session_opens(smtp_server):
    smtp_server.refuse_connections()
    with SmtpTransport(settings_for(smtp_server)) as transport:
        results, _ = send_all(transport, [f"u{i}@client.example" for i in range(30)], sessions=3)

    assert {r.outcome for r in results} == {Outcome.DEFERRED}
    assert {r.message.split(":")[0] for r in results} == {"CONNECT ConnectionRefusedError"}


def test_a_caller_that_stops_reading_frees_the_domain_slots_and_closes_its_sessions(smtp_server):
    settings = settings_for(smtp_server, per_domain_limit=1)
    with SmtpTransport(settings) as transport:
        messages = [Outgoing(SENDER, f"u{i}@client.example", letter("x")) for i in range(5)]
        results = transport.send_all(messages, sessions=2)
        next(results)
        results.close()  # e.g. the worker's database went away mid-batch

        with ThreadPoolExecutor(1) as pool:  # a leaked slot would make this wait forever
            later = pool.submit(transport.send, SENDER, "ivan@client.example", letter("y"))
            assert later.result(timeout=5).outcome is Outcome.SENT


def test_it_logs_in_when_the_relay_requires_auth(caplog):
    with ScriptedSmtpServer(credentials=("anna", "s3cret-pw")) as server:
        settings = settings_for(server, username="anna", password="s3cret-pw")
        with SmtpTransport(settings) as transport:
            result = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))

    assert result.outcome is Outcome.SENT
    assert server.logins == ["anna"]
    assert "s3cret-pw" not in repr(settings)


def test_it_defers_at_mail_with_the_stage_named_when_auth_is_required_but_not_configured():
    with ScriptedSmtpServer(credentials=("anna", "s3cret-pw")) as server:
        with SmtpTransport(settings_for(server)) as transport:
            result = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))

    # The relay's fault (or ours), not the recipient's: no bounce, so no suppression.
    assert result.outcome is Outcome.DEFERRED
    assert result.message == "MAIL 530 5.7.0 Authentication required"


def test_it_defers_on_a_wrong_password_and_never_logs_it(caplog):
    caplog.set_level(logging.DEBUG)
    with ScriptedSmtpServer(credentials=("anna", "s3cret-pw")) as server:
        settings = settings_for(server, username="anna", password="wrong-pw")
        with SmtpTransport(settings) as transport:
            result = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))

    assert result.outcome is Outcome.DEFERRED
    assert result.code == 535
    assert result.message.startswith("AUTH 535")
    assert server.messages == []
    assert "wrong-pw" not in caplog.text
    assert "wrong-pw" not in result.message


def test_it_sends_over_starttls_and_logs_in_inside_it(tmp_path: Path):
    tls = make_self_signed_cert(tmp_path)
    server = ScriptedSmtpServer(credentials=("anna", "pw"), tls=tls, require_starttls=True)
    with server:
        settings = settings_for(server, security="starttls", username="anna", password="pw")
        with SmtpTransport(settings, ssl_context=tls.client_context()) as transport:
            results = [transport.send(SENDER, "ivan@client.example", letter("x")) for _ in range(3)]

    assert [result.outcome for result in results] == [Outcome.SENT] * 3
    assert server.logins == ["anna"]
    assert server.connections == 1


@pytest.mark.parametrize("pipelining", [False, True])
def test_send_all_streams_over_starttls_sessions(tmp_path: Path, pipelining):
    tls = make_self_signed_cert(tmp_path)
    server = ScriptedSmtpServer(
        credentials=("anna", "pw"), tls=tls, require_starttls=True, pipelining=pipelining
    )
    with server:
        settings = settings_for(server, security="starttls", username="anna", password="pw")
        with SmtpTransport(settings, ssl_context=tls.client_context()) as transport:
            recipients = [f"u{i}@d{i % 3}.example" for i in range(9)]
            results, raws = send_all(transport, recipients, sessions=2)

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(m.data for m in server.accepted) == sorted(raws)
    assert server.logins == ["anna", "anna"]
    assert server.connections == 2


def test_it_sends_over_implicit_tls(tmp_path: Path):
    tls = make_self_signed_cert(tmp_path)
    with ScriptedSmtpServer(tls=tls, implicit_tls=True) as server:
        settings = settings_for(server, security="ssl")
        with SmtpTransport(settings, ssl_context=tls.client_context()) as transport:
            result = transport.send(SENDER, "ivan@client.example", letter("x"))

    assert result.outcome is Outcome.SENT
    assert len(server.accepted) == 1


def test_it_defers_when_the_relay_certificate_is_not_trusted(tmp_path: Path):
    tls = make_self_signed_cert(tmp_path)
    with ScriptedSmtpServer(tls=tls) as server:
        with SmtpTransport(settings_for(server, security="starttls")) as transport:
            result = transport.send(SENDER, "ivan@client.example", letter("x"))

    assert result.outcome is Outcome.DEFERRED
    assert result.message.startswith("STARTTLS SSLCertVerificationError")
    assert server.messages == []


def test_it_never_falls_back_to_plain_text_when_starttls_is_not_offered(smtp_server):
    settings = settings_for(smtp_server, security="starttls", username="anna", password="pw")
    with SmtpTransport(settings) as transport:
        result = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))

    assert result.outcome is Outcome.DEFERRED
    assert result.message.startswith("STARTTLS SMTPNotSupportedError")
    assert smtp_server.messages == []


def test_a_closed_transport_refuses_to_send(smtp_server):
    transport = SmtpTransport(settings_for(smtp_server))
    transport.close()

    with pytest.raises(RuntimeError, match="closed"):
        transport.send(SENDER, "ivan@client.example", letter("x"))


# What every app has; the SMTP keys below are read beside them when the app is made.
BASE_CONFIG = {"SECRET_KEY": "k" * 32, "PUBLIC_BASE_URL": "https://mail.example"}


def smtp_settings_from(config: dict) -> SmtpSettings:
    return read_settings({**BASE_CONFIG, **config}).smtp


def test_settings_come_from_string_config_values():
    settings = smtp_settings_from(
        {
            "SMTP_HOST": " relay.example ",
            "SMTP_PORT": "587",
            "SMTP_SECURITY": "STARTTLS",
            "SMTP_USERNAME": "anna",
            "SMTP_PASSWORD": 12345,  # a JSON-decoding config loader turns digits into an int
            "SMTP_TIMEOUT": "7.5",
            "SMTP_PER_DOMAIN_LIMIT": "3",
            "SMTP_LOCAL_HOSTNAME": "",
        }
    )

    assert settings == SmtpSettings(
        host="relay.example", port=587, security="starttls", username="anna",
        password="12345", timeout=7.5, per_domain_limit=3,
    )  # fmt: skip
    assert smtp_settings_from({}) == SmtpSettings()


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("SMTP_PORT", "smtp", "SMTP_PORT must be a whole number from 1 to 65535, got 'smtp'"),
        ("SMTP_PORT", "70000", "SMTP_PORT must be a whole number from 1 to 65535"),
        ("SMTP_PORT", True, "SMTP_PORT must be a whole number"),
        ("SMTP_SECURITY", "tls", "SMTP_SECURITY must be one of none, starttls, ssl"),
        ("SMTP_TIMEOUT", "soon", "SMTP_TIMEOUT must be a positive number of seconds"),
        ("SMTP_TIMEOUT", "0", "SMTP_TIMEOUT must be a positive number"),
        ("SMTP_PER_DOMAIN_LIMIT", "0", "SMTP_PER_DOMAIN_LIMIT must be a whole number from 1"),
    ],
)
def test_settings_reject_a_bad_value_naming_the_key(key, value, complaint):
    with pytest.raises(ValueError, match=complaint):
        smtp_settings_from({key: value})


def test_the_wire_payload_is_crlf_dot_stuffed_and_terminated():
    assert wire_payload(b"a\n.b\r\n..c\rd") == b"a\r\n..b\r\n...c\r\nd\r\n.\r\n"


@given(st.lists(st.sampled_from([b"a", b".", b"\r", b"\n", b"\r\n", b"\xd0\x96"])).map(b"".join))
def test_the_wire_payload_skips_the_regexes_only_when_they_would_change_nothing(raw):
    reference = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r\n|\r|\n", b"\r\n", raw))
    reference += b"" if reference.endswith(b"\r\n") else b"\r\n"
    assert wire_payload(raw) == reference + b".\r\n"


def test_the_guard_fails_a_test_that_dials_an_unexpected_smtp_port():
    with pytest.raises(pytest.fail.Exception, match="unexpected SMTP connection"):
        smtplib.SMTP("127.0.0.1", 1, timeout=0.5)


def test_with_pipelining_the_envelope_goes_out_in_one_write(smtp_server, transport, monkeypatch):
    writes: list[bytes | str] = []
    send = smtplib.SMTP.send

    def counting_send(self: smtplib.SMTP, data: bytes | str) -> None:
        writes.append(data)
        send(self, data)

    transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))  # connect
    monkeypatch.setattr(smtplib.SMTP, "send", counting_send)
    result = transport.send(SENDER, "olga@client.example", letter("olga@client.example"))

    assert result.outcome is Outcome.SENT
    # MAIL, RCPT and DATA in one write when the relay offers PIPELINING; then the message.
    assert len(writes) == (2 if smtp_server.pipelining else 4)


def test_a_line_break_in_the_envelope_is_refused_before_anything_goes_out(smtp_server, transport):
    smuggled = "anna@gifts.example>\r\nRCPT TO:<other@elsewhere.example"
    result = transport.send(smuggled, "ivan@client.example", letter("ivan@client.example"))
    assert result.outcome is Outcome.DEFERRED
    assert result.message.startswith("MAIL CR or LF in an SMTP address")

    after = transport.send(SENDER, "ivan@client.example", letter("ivan@client.example"))
    assert after.outcome is Outcome.SENT
    assert [m.rcpt_tos for m in smtp_server.messages] == [("ivan@client.example",)]
    assert smtp_server.connections == 1  # the session stayed clean and was reused
