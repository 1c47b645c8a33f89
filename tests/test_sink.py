"""The demo SMTP sink: every letter it accepts is an .eml file holding exactly what was sent."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mailer.run.sink import SmtpSink, run_sink, safe_message_id
from mailer.smtp import Outcome, SmtpSettings, SmtpTransport
from tests import conftest_smtp

no_unexpected_smtp = conftest_smtp.no_unexpected_smtp

SENDER = "anna@gifts.example"


def letter(to: str, message_id: str | None = None) -> bytes:
    message_id = message_id or f"<{uuid.uuid4().hex}@gifts.example>"
    return (
        f"From: Anna <{SENDER}>\r\nTo: {to}\r\nSubject: С Новым годом\r\n"
        f"Message-ID: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nЗдравствуйте!\r\n.\r\n"
    ).encode()


@pytest.fixture
def sink(tmp_path: Path, no_unexpected_smtp: set[int]) -> Iterator[SmtpSink]:
    with SmtpSink(tmp_path / "outbox") as sink:
        yield sink


def transport_for(sink: SmtpSink) -> SmtpTransport:
    return SmtpTransport(SmtpSettings(port=sink.port, timeout=2.0, local_hostname="mailer.test"))


def test_it_stores_each_letter_as_an_eml_file_with_the_exact_bytes(sink):
    raw = letter("иван@пример.рф", message_id="<42.year-2025@gifts.example>")
    with transport_for(sink) as transport:
        result = transport.send(SENDER, "иван@пример.рф", raw)

    assert result.outcome is Outcome.SENT
    [path] = sink.folder.iterdir()  # no temp file left behind
    assert path.suffix == ".eml"
    assert path.name.endswith("-000001-42.year-2025_gifts.example.eml")
    assert path.read_bytes() == raw
    assert sink.count() == 1


def test_concurrent_sends_all_land_once(sink):
    raws = [letter(f"u{i}@d{i % 3}.example") for i in range(40)]
    with transport_for(sink) as transport, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda raw: transport.send(SENDER, "x@d.example", raw), raws))

    assert {result.outcome for result in results} == {Outcome.SENT}
    assert sink.count() == 40
    assert sorted(path.read_bytes() for path in sink.folder.glob("*.eml")) == sorted(raws)


def test_count_ignores_a_letter_still_being_written(sink):
    (sink.folder / ".half-written.tmp").write_bytes(b"From: a")
    with smtplib.SMTP("127.0.0.1", sink.port, "mailer.test", timeout=2) as client:
        client.sendmail(SENDER, ["ivan@client.example"], letter("ivan@client.example"))

    assert sink.count() == 1


def test_it_listens_on_the_same_port_after_a_restart(sink):
    port = sink.port
    sink.stop()
    sink.start()

    assert sink.port == port
    with transport_for(sink) as transport:
        assert transport.send(SENDER, "a@b.example", letter("a@b.example")).outcome is Outcome.SENT


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Message-ID: <a/b\\..c d@x.example>\r\n", "a_b_..c_d_x.example"),
        ("Message-ID: <../../etc/passwd>\r\n", "etc_passwd"),
        ("", "no-id"),
    ],
)
def test_the_file_name_takes_only_safe_characters_of_the_message_id(header, expected):
    assert safe_message_id(f"{header}Subject: x\r\n\r\nbody\r\n".encode()) == expected


def test_run_sink_serves_until_interrupted(tmp_path: Path, no_unexpected_smtp: set[int]):
    seen: list[int] = []

    def send_one_then_interrupt(sink: SmtpSink) -> None:
        seen.append(sink.port)
        with smtplib.SMTP("127.0.0.1", sink.port, "mailer.test", timeout=2) as client:
            client.sendmail(SENDER, ["ivan@client.example"], letter("ivan@client.example"))
        raise KeyboardInterrupt

    run_sink(tmp_path / "outbox", port=0, on_ready=send_one_then_interrupt)

    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    with pytest.raises(OSError):  # it stopped listening on the way out
        smtplib.SMTP("127.0.0.1", seen[0], timeout=0.5)
