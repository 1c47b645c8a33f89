"""The finished bytes of a letter: what a receiver's parser (the stdlib's) reads back out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailer.letters import mime
from mailer.letters.mime import (
    Address,
    HeaderInjectionError,
    build_message,
    check_header_block,
    format_date,
    make_message_id,
)

MSK = timezone(timedelta(hours=3))
EVIL = "=?utf-8?q?Hi=0D=0ABcc:_x@evil.test?="
UNSUBSCRIBE_URL = "https://mail.example.ru/u/" + "Zm9vYmFyYmF6cXV4LnNpZ25lZC10b2tlbg" * 6
LIST_UNSUBSCRIBE = f"<{UNSUBSCRIBE_URL}>, <mailto:unsubscribe@example.ru?subject=unsubscribe>"
EXTRA = (
    ("List-Unsubscribe", LIST_UNSUBSCRIBE),
    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ("X-Mailer-Letter-Id", "42"),
)
HEADERS = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version",
           "Content-Type", *(name for name, _ in EXTRA)]  # fmt: skip
TEXT = "Здравствуйте, Иван Петрович!\n\nПоздравляем вас с Новым годом.\n\nАнна Кузнецова\n"
HTML = "<p>Здравствуйте, Иван Петрович!</p>\n<p>Поздравляем вас с Новым годом.</p>\n"


def _letter(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "sender": Address("Анна Кузнецова", "a.kuznetsova@example.ru"),
        "to": Address("Иван Петрович Сидоров", "ivan@client.ru"),
        "reply_to": Address("Анна Кузнецова", "sales@example.ru"),
        "subject": "Иван Петрович, с наступающим Новым годом!",
        "text": TEXT,
        "html": HTML,
        "message_id": "<0a1b2c3d4e5f@example.ru>",
        "date": datetime(2025, 12, 26, 10, 0, tzinfo=MSK),
        "extra_headers": EXTRA,
    }
    return build_message(**(fields | overrides))


def _parse(message: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(message)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _display_name(message: bytes, field: str) -> str:
    """The display name as an RFC 2047 reader sees it.

    Python 3.11's parser puts a space between two adjacent encoded words of a display name
    (gh-128110) where RFC 2047 6.2 says the whitespace between them is ignored, and it
    collapses a decoded no-break space next to a space into one space; so an encoded name
    is read with email.header.decode_header, which follows the RFC.
    """
    raw = message_from_bytes(message, policy=policy.compat32)[field]
    if not re.search(r"=\?utf-8\?b\?", raw):
        return _parse(message)[field].addresses[0].display_name
    phrase = raw[: raw.rindex("<")].rstrip()
    return str(make_header(decode_header(phrase)))


def _header_lines(message: bytes) -> list[bytes]:
    return message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def test_it_round_trips_russian_names_and_subject() -> None:
    subject = "Иван Петрович, поздравляем с наступающим 2026 годом и благодарим за работу!"
    message = _letter(
        sender=Address("Анна Кузнецова", "a.kuznetsova@example.ru"),
        to=Address("ООО «Ромашка», Иван", "ivan@client.ru"),
        subject=subject,
    )
    msg = _parse(message)
    assert msg["From"].addresses[0].display_name == "Анна Кузнецова"
    assert msg["To"].addresses[0].display_name == "ООО «Ромашка», Иван"
    assert msg["To"].addresses[0].addr_spec == "ivan@client.ru"
    assert msg["Subject"] == subject
    assert all(not header.defects for header in msg.values())


def test_a_full_name_too_long_for_one_encoded_word_reads_back_per_rfc_2047() -> None:
    name = "Константин Константинович Константинопольский"
    message = _letter(sender=Address(name, "k@example.ru"))
    assert _display_name(message, "From") == name
    # The whitespace is inside the encoded words, none of which breaks a word.
    raw = message_from_bytes(message, policy=policy.compat32)["From"]
    words = re.findall(r"=\?utf-8\?b\?([^?]*)\?=", raw)
    assert len(words) > 1
    pieces = [str(make_header(decode_header(f"=?utf-8?b?{w}?="))) for w in words]
    assert all(piece.endswith(" ") for piece in pieces[:-1])


def test_a_name_that_fits_one_encoded_word_is_not_split() -> None:
    name = "Анна Сергеевна Кузнецова"[:22]  # 43 bytes of UTF-8: one 75-character word
    message = _letter(sender=Address(name, "a@example.ru"))
    from_lines = [line for line in _header_lines(message) if line.startswith(b"From:")]
    assert from_lines[0].count(b"=?") == 1
    assert _parse(message)["From"].addresses[0].display_name == name


def test_it_quotes_ascii_display_names_with_specials() -> None:
    message = _letter(to=Address('Smith, John "JJ" (Sales) \\ Co.', "john@example.com"))
    assert b'To: "Smith, John \\"JJ\\" (Sales) \\\\ Co." <john@example.com>' in message
    assert _parse(message)["To"].addresses[0].display_name == 'Smith, John "JJ" (Sales) \\ Co.'
    plain = _letter(to=Address("John Smith", "john@example.com"))
    assert b"To: John Smith <john@example.com>\r\n" in plain


def test_long_ascii_names_and_subjects_fold_at_spaces_and_stay_unencoded() -> None:
    name = "Very Long Company Name Limited, Department of Strategic Partnerships (EMEA)"
    subject = "A plain ASCII subject that is much longer than one header line can hold " * 3
    message = _letter(
        sender=Address("Anna Kuznetsova", "anna@example.ru"),
        to=Address(name, "partners@example.com"),
        reply_to=None,
        subject=subject.strip(),
    )
    head = _header_lines(message)
    assert b"=?" not in b"".join(head)
    assert max(len(line) for line in head if not line.startswith(b"List-")) <= 78
    msg = _parse(message)
    assert msg["To"].addresses[0].display_name == name
    assert msg["Subject"] == subject.strip()


def test_a_subject_word_longer_than_a_line_goes_out_encoded() -> None:
    subject = "x" * 1200
    message = _letter(subject=subject)
    assert max(map(len, _header_lines(message))) <= 998
    assert _parse(message)["Subject"] == subject


def test_an_empty_name_sends_the_bare_address() -> None:
    message = _letter(to=Address("", "ivan@client.ru"), reply_to=None)
    assert b"To: ivan@client.ru\r\n" in message
    assert "Reply-To" not in _parse(message)


def test_it_never_folds_a_long_list_unsubscribe_url_into_an_encoded_word() -> None:
    assert len(LIST_UNSUBSCRIBE) > 200
    message = _letter()
    line = f"List-Unsubscribe: {LIST_UNSUBSCRIBE}".encode()
    assert line in _header_lines(message)
    msg = _parse(message)
    assert msg["List-Unsubscribe"] == LIST_UNSUBSCRIBE
    assert re.findall(r"<([^>]*)>", msg["List-Unsubscribe"])[0] == UNSUBSCRIBE_URL
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_it_folds_a_list_unsubscribe_past_998_only_between_its_items() -> None:
    urls = [f"<https://mail.example.ru/u/{i}/{'t' * 600}>" for i in range(3)]
    value = ", ".join(urls)
    message = _letter(extra_headers=[("List-Unsubscribe", value)])
    lines = _header_lines(message)
    start = next(i for i, line in enumerate(lines) if line.startswith(b"List-Unsubscribe:"))
    assert lines[start] == f"List-Unsubscribe: {urls[0]},".encode()
    assert lines[start + 1 : start + 3] == [f" {urls[1]},".encode(), f" {urls[2]}".encode()]
    assert _parse(message)["List-Unsubscribe"] == value


def test_it_refuses_a_header_value_with_a_part_longer_than_998() -> None:
    with pytest.raises(HeaderInjectionError, match="998"):
        _letter(extra_headers=[("List-Unsubscribe", f"<https://x.ru/{'t' * 1000}>")])


BAD_CHARS = ["\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\x1c", "\x7f", "\x85", "\u2028", "\u2029"]
FIELDS = {
    "sender name": lambda bad: {"sender": Address(f"Анна{bad}Кузнецова", "a@example.ru")},
    "sender address": lambda bad: {"sender": Address("Анна", f"a{bad}@example.ru")},
    "to name": lambda bad: {"to": Address(f"Ivan{bad}Bcc: x@evil.test", "i@client.ru")},
    "to address": lambda bad: {"to": Address("Иван", f"i@client.ru{bad}")},
    "reply-to name": lambda bad: {"reply_to": Address(f"{bad}Анна", "s@example.ru")},
    "reply-to address": lambda bad: {"reply_to": Address("Анна", f"s@exa{bad}mple.ru")},
    "subject": lambda bad: {"subject": f"С Новым годом!{bad}Bcc: x@evil.test"},
    "ascii subject": lambda bad: {"subject": f"Happy New Year{bad}Bcc: x@evil.test"},
    "message id": lambda bad: {"message_id": f"<1@example.ru>{bad}Bcc: x@evil.test"},
    "extra value": lambda bad: {"extra_headers": [("X-Mailer-Letter-Id", f"1{bad}Bcc: x")]},
    "extra name": lambda bad: {"extra_headers": [(f"X-Id{bad}Bcc", "1")]},
}


@pytest.mark.parametrize("bad", BAD_CHARS, ids=repr)
@pytest.mark.parametrize("field", FIELDS)
def test_it_refuses_cr_lf_in_any_header_field(field: str, bad: str) -> None:
    with pytest.raises(HeaderInjectionError):
        _letter(**FIELDS[field](bad))


@pytest.mark.parametrize(
    "name",
    ["X Mailer", "X:Mailer", "X-Ид", "", "Bcc", "cc", "From", "content-transfer-encoding"],
)
def test_it_refuses_extra_header_names_that_are_malformed_or_ours(name: str) -> None:
    with pytest.raises(HeaderInjectionError):
        _letter(extra_headers=[(name, "1")])


@pytest.mark.parametrize("value", ["Новый год", "<https://x.ru/?a=?utf-8?q?x?=>"])
def test_it_refuses_extra_values_that_are_not_ascii_or_hold_an_encoded_word(value: str) -> None:
    with pytest.raises(HeaderInjectionError):
        _letter(extra_headers=[("X-Campaign", value)])


def test_an_encoded_word_in_a_name_cannot_add_a_bcc_header() -> None:
    message = _letter(sender=Address(EVIL, "a@example.ru"), to=Address(EVIL, "i@client.ru"))
    msg = _parse(message)
    assert "Bcc" not in msg
    assert msg["From"].addresses[0].display_name == EVIL
    assert msg["To"].addresses[0].display_name == EVIL
    assert [addr.addr_spec for addr in msg["To"].addresses] == ["i@client.ru"]
    check_header_block(message)


def test_an_encoded_word_in_the_subject_cannot_add_a_bcc_header() -> None:
    message = _letter(subject=EVIL)
    msg = _parse(message)
    assert "Bcc" not in msg
    assert msg["Subject"] == EVIL
    # A receiver that parses and writes the letter out again (the CVE-2024-6923 path)
    # still ends up with the literal text and no Bcc.
    again = _parse(msg.as_bytes())
    assert "Bcc" not in again
    assert again["Subject"] == EVIL


def test_check_header_block_refuses_an_injected_bcc_line() -> None:
    message = _letter()
    check_header_block(message)
    check_header_block(message, expected=HEADERS)
    tampered = message.replace(b"\r\nSubject:", b"\r\nBcc: x@evil.test\r\nSubject:", 1)
    with pytest.raises(HeaderInjectionError, match="(?i)bcc"):
        check_header_block(tampered)
    with pytest.raises(HeaderInjectionError):
        check_header_block(tampered, expected=HEADERS)


def test_check_header_block_refuses_a_raw_encoded_word_that_decodes_to_a_line_break() -> None:
    message = _letter(to=Address("", "i@client.ru"))
    tampered = message.replace(b"To: i@client.ru", f"To: {EVIL} <i@client.ru>".encode(), 1)
    with pytest.raises(HeaderInjectionError, match="decodes"):
        check_header_block(tampered)
    subject = message.replace(b"\r\nSubject: ", f"\r\nSubject: {EVIL} ".encode(), 1)
    with pytest.raises(HeaderInjectionError, match="decodes"):
        check_header_block(subject)


TAMPERINGS = {
    "bcc line": lambda head: head.replace(b"\r\nSubject:", b"\r\nBcc: x@evil.test\r\nSubject:"),
    "bare lf": lambda head: head.replace(b"\r\nSubject:", b"\nBcc: x@evil.test\r\nSubject:"),
    "bare cr": lambda head: head.replace(b"\r\nSubject:", b"\rBcc: x@evil.test\r\nSubject:"),
    "raw word": lambda head: head.replace(b"To: ", f"To: {EVIL} ".encode()),
    "blank line": lambda head: head.replace(b"\r\nSubject:", b"\r\n\r\nSubject:"),
    "form feed": lambda head: head.replace(b"\r\nSubject:", b"\r\n\x0cBcc: x\r\nSubject:"),
    "lost colon": lambda head: head.replace(b"Subject:", b"Subject"),
}


@pytest.mark.parametrize("tamper", TAMPERINGS)
def test_the_cheap_check_refuses_what_the_full_check_refuses(tamper: str) -> None:
    message = _letter(to=Address("", "i@client.ru"))
    head, body = message.split(b"\r\n\r\n", 1)
    fields = [name.encode() + b":" for name in HEADERS]
    mime._check_built_header_block(head, fields)  # untouched: passes
    tampered = TAMPERINGS[tamper](head)
    with pytest.raises(HeaderInjectionError):
        check_header_block(tampered + b"\r\n\r\n" + body, expected=HEADERS)
    with pytest.raises(HeaderInjectionError):
        mime._check_built_header_block(tampered, fields)


def test_it_writes_crlf_line_endings_only() -> None:
    message = _letter(
        text="Строка один\nСтрока два\rСтрока три\r\n\n" * 20,
        html="<p>one</p>\r<p>two</p>\n<p>three</p>\r\n",
        subject="Очень длинная тема письма, которая не помещается в одну строку заголовка " * 3,
    )
    assert message.count(b"\n") == message.count(b"\r") == message.count(b"\r\n")
    lines = message.split(b"\r\n")
    assert max(map(len, lines)) <= 998
    assert message.isascii()
    head = _header_lines(message)
    long_lines = [line for line in head if len(line) > 78 and not line.startswith(b"List-")]
    assert not long_lines


def test_every_encoded_word_is_at_most_75_characters_and_folds_between_words() -> None:
    subject = "Поздравляем с наступающим Новым годом и Рождеством! " * 5
    message = _letter(subject=subject)
    head = b"\r\n".join(_header_lines(message)).decode()
    words = re.findall(r"=\?utf-8\?b\?[A-Za-z0-9+/=]*\?=", head)
    assert len(words) > 3
    assert max(map(len, words)) <= 75
    subject_lines = head.split("Subject: ", 1)[1].split("\r\nDate:")[0].split("\r\n")
    assert all(re.fullmatch(r" ?=\?utf-8\?b\?[A-Za-z0-9+/=]*\?=", s) for s in subject_lines)
    assert _parse(message)["Subject"] == subject


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("Здравствуйте!\n\nС Новым годом.\n", "base64"),
        ("Hello!\n\nHappy New Year.\n", "7bit"),
        ("Hello, Zoë!\n\nHappy New Year, see you in the café.\n", "quoted-printable"),
        ("A line of plain ASCII far longer than seventy-eight characters " * 4, "quoted-printable"),
        ("trailing spaces   \n\tand a tab\nand = signs =3D\n.\nFrom here\n", "7bit"),
        ("", "7bit"),
        ("\x00 nul, \x0c form feed and \x7f", "quoted-printable"),
    ],
)
def test_text_and_html_parts_decode_back_exactly(body: str, encoding: str) -> None:
    html = f"<pre>{body}</pre>"
    msg = _parse(_letter(text=body, html=html))
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = msg.iter_parts()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content_charset() == rich.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == encoding
    assert plain.get_content() == _crlf(body)
    assert rich.get_content() == _crlf(html)


def test_the_boundary_never_occurs_in_a_body(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([b"\x00" * 12, b"\x01" * 12])
    monkeypatch.setattr(mime.os, "urandom", lambda n: next(draws))
    body = "before\n--=_" + "00" * 12 + "\nafter\n"
    message = _letter(text=body)
    assert b'boundary="=_' + b"01" * 12 + b'"' in message
    assert _parse(message).get_body(("plain",)).get_content() == _crlf(body)


def test_idn_domains_go_out_in_ascii() -> None:
    message = _letter(
        sender=Address("Анна", "anna@почта.рф"),
        to=Address("", "info@пример.испытание"),
        message_id=make_message_id("почта.рф", "letter-42"),
    )
    msg = _parse(message)
    assert msg["From"].addresses[0].addr_spec == "anna@xn--80a1acny.xn--p1ai"
    assert msg["To"].addresses[0].addr_spec == "info@xn--e1afmkfd.xn--80akhbyknj4f"
    assert msg["Message-ID"] == "<letter-42@xn--80a1acny.xn--p1ai>"
    assert message.isascii()


@pytest.mark.parametrize("address", ["иван@client.ru", "no-at-sign", "a b@client.ru",
                                     "x@evil.test>, <y@client.ru", "a=?b?=@client.ru",
                                     "a@-bad-.ru", "a@"])  # fmt: skip
def test_it_refuses_an_address_it_cannot_send_as_plain_ascii(address: str) -> None:
    with pytest.raises(HeaderInjectionError, match="To"):
        _letter(to=Address("Иван", address))


def test_make_message_id_is_random_unless_given() -> None:
    first, second = make_message_id("example.ru"), make_message_id("example.ru")
    assert first != second
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.ru>", first)
    assert make_message_id("example.ru", "2025.42") == "<2025.42@example.ru>"
    with pytest.raises(HeaderInjectionError):
        make_message_id("example.ru", "a@b")


@given(st.datetimes(timezones=st.timezones()), st.integers(-23 * 60 - 59, 23 * 60 + 59))
def test_format_date_writes_what_the_stdlib_would(date: datetime, minutes: int) -> None:
    date = date.astimezone(timezone(timedelta(minutes=minutes)))
    assert format_date(date) == format_datetime(date)


def test_format_date_refuses_a_naive_date() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_date(datetime(2025, 12, 26, 10, 0))
    assert (
        format_date(datetime(2025, 12, 26, 7, 0, tzinfo=UTC)) == "Fri, 26 Dec 2025 07:00:00 +0000"
    )


# Property tests: anything printable goes through; a line break anywhere is refused.

PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
NAMES = st.text(PRINTABLE, max_size=60)
ASCII_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


def _normalised_name(name: str) -> str:
    return re.sub(r" +", " ", name).strip(" ")


@settings(max_examples=300, deadline=None)
@example(  # a no-break space beside a space, which Python's own parser folds into one
    sender_name="0 \xa0",
    to_name="a \xa0b",
    subject="",
    text="",
    html="",
    letter_id="",
    has_reply_to=True,
)
@given(
    sender_name=NAMES,
    to_name=NAMES,
    subject=st.text(PRINTABLE, max_size=200),
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
    html=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
    letter_id=ASCII_VALUE.filter(lambda v: "=?" not in v),
    has_reply_to=st.booleans(),
)
def test_any_printable_names_subject_and_bodies_parse_back_identically(
    sender_name: str,
    to_name: str,
    subject: str,
    text: str,
    html: str,
    letter_id: str,
    has_reply_to: bool,
) -> None:
    reply_to = Address(sender_name, "sales@example.ru") if has_reply_to else None
    extra = (("List-Unsubscribe", LIST_UNSUBSCRIBE), ("X-Mailer-Letter-Id", letter_id))
    message = _letter(
        sender=Address(sender_name, "a@example.ru"),
        to=Address(to_name, "i@client.ru"),
        reply_to=reply_to,
        subject=subject,
        text=text,
        html=html,
        extra_headers=extra,
    )
    msg = _parse(message)
    expected = ["From", "To", *(["Reply-To"] if has_reply_to else []), "Subject", "Date",
                "Message-ID", "MIME-Version", "Content-Type", "List-Unsubscribe",
                "X-Mailer-Letter-Id"]  # fmt: skip
    assert msg.keys() == expected
    assert _display_name(message, "From") == _normalised_name(sender_name)
    assert _display_name(message, "To") == _normalised_name(to_name)
    if has_reply_to:
        assert _display_name(message, "Reply-To") == _normalised_name(sender_name)
    assert msg["To"].addresses[0].addr_spec == "i@client.ru"
    assert msg["Subject"] == subject
    assert msg["List-Unsubscribe"] == LIST_UNSUBSCRIBE
    assert msg["X-Mailer-Letter-Id"] == letter_id.strip(" ")
    plain, rich = msg.iter_parts()
    assert plain.get_content() == _crlf(text)
    assert rich.get_content() == _crlf(html)
    assert max(map(len, message.split(b"\r\n"))) <= 998
    check_header_block(message, expected=expected)


@st.composite
def _with_a_line_break(draw: st.DrawFn) -> str:
    text = draw(st.text(max_size=40))
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(["\r", "\n", "\r\n"])) + text[at:]


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(FIELDS)), bad=_with_a_line_break())
def test_a_line_break_anywhere_in_any_header_field_is_refused(field: str, bad: str) -> None:
    with pytest.raises(HeaderInjectionError):
        _letter(**FIELDS[field](bad))
