"""`mailer letters preview` as a person reads it, template typos as one line, and
`mailer letters send-now` through the normal delivery path (a real SMTP server)."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select, update

from campaigns.planning import plan_year
from mailer.contacts.models import HistoryEntry, HistoryKind
from mailer.db import session_scope
from mailer.delivery.models import Letter, LetterStatus
from mailer.delivery.sending import deliver_claimed
from mailer.letters import rendering
from mailer.letters.composing import LetterSettings
from mailer.letters.preview import html_links
from mailer.smtp import SmtpSettings, SmtpTransport
from tests.factories import configure, make_contact, make_manager
from tracking.unsubscribe import unsubscribe

NEXT_YEAR = datetime.now(UTC).year + 1


@pytest.fixture
def petr(session):
    return make_manager(session, name="Пётр Петров", email="petr@gifts.example")


def preview(runner, email, *extra):
    return runner.invoke(
        args=["mailer", "letters", "preview", "--contact", email, "--kind", "mar8", *extra]
    )


@pytest.fixture
def typo_templates(tmp_path, monkeypatch):
    """The real templates, copied, with marketing's typo on line 7 of mar8/body.txt."""
    folder = tmp_path / "letters"
    shutil.copytree(rendering.LETTER_TEMPLATES, folder)
    body = folder / "mar8" / "body.txt"
    lines = body.read_text(encoding="utf-8").splitlines()
    assert "{{ company_phrase }}" in lines[6]
    lines[6] = lines[6].replace("company_phrase", "compnay_phrase")
    body.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(rendering, "LETTER_TEMPLATES", folder)
    return body


def test_preview_shows_decoded_headers_the_text_and_the_html_links(runner, session, petr):
    contact = make_contact(session, owner=petr, first_name="Мария", tags="8")
    session.commit()
    result = preview(runner, contact.email)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "From: Пётр Петров <petr@gifts.example>" in out
    assert "Reply-To: Пётр Петров <petr@gifts.example>" in out
    assert f"To: Мария <{contact.email}>" in out
    assert "Subject: Подарки к 8 Марта" in out
    assert "List-Unsubscribe: <http" in out and "List-Unsubscribe-Post: " in out
    assert "--- text ---\nЗдравствуйте, Мария!" in out
    assert "=?utf-8?" not in out and "Content-Transfer-Encoding" not in out  # nothing raw
    html_line = next(line for line in out.splitlines() if line.startswith("--- html: "))
    assert html_line.endswith("bytes, 4 links ---")
    assert "«подборка подарков» http" in out and "«скидка» http" in out
    assert "(hidden honeypot) http" in out


def test_preview_raw_prints_the_bytes_and_out_writes_them(runner, session, petr, tmp_path):
    contact = make_contact(session, owner=petr, tags="8")
    session.commit()
    raw = preview(runner, contact.email, "--raw")
    assert raw.exit_code == 0, raw.output
    assert BytesParser(policy=policy.default).parsebytes(raw.stdout_bytes)["Subject"] == (
        "Подарки к 8 Марта"
    )
    assert b"Content-Transfer-Encoding: base64" in raw.stdout_bytes
    out = tmp_path / "x.eml"
    written = preview(runner, contact.email, "--out", str(out))
    assert written.exit_code == 0 and out.read_bytes().startswith(b"From: =?utf-8?")
    missing = preview(runner, contact.email, "--out", str(tmp_path / "no" / "x.eml"))
    assert missing.exit_code == 1 and missing.output.startswith("Error: cannot write")


def test_the_links_of_an_html_part_are_read_with_their_text():
    links = html_links('<p><a href="https://a.example/1">один <b>два</b></a><a href="x"></a></p>')
    assert [(link.url, link.text) for link in links] == [
        ("https://a.example/1", "один два"),
        ("x", ""),
    ]


def test_a_template_typo_is_one_line_naming_file_line_and_name(
    runner, session, petr, typo_templates
):
    contact = make_contact(session, owner=petr, tags="8")
    session.commit()
    result = preview(runner, contact.email)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: letter blocked: {typo_templates}, line 7: unknown name 'compnay_phrase'\n"
    )
    assert "Traceback" not in result.output


def test_delivery_fails_a_letter_whose_template_has_a_typo_and_sends_nothing(
    app, session, petr, typo_templates, smtp_server
):
    contact = make_contact(session, owner=petr, tags="8")
    plan_year(session, NEXT_YEAR, now=datetime.now(UTC))
    session.commit()
    [letter_id] = session.scalars(select(Letter.id))
    session.execute(update(Letter).values(status=LetterStatus.SENDING, claim_token="t"))
    session.commit()
    settings = LetterSettings("test-secret-key-0123456789", "https://m.example", "u@m.example")
    with SmtpTransport(SmtpSettings(host=smtp_server.host, port=smtp_server.port)) as transport:
        outcomes = deliver_claimed(session, [letter_id], transport, settings, now=datetime.now(UTC))
    assert outcomes == Counter({"failed": 1})
    assert smtp_server.messages == []
    session.expire_all()
    letter = session.get(Letter, letter_id)
    assert "compnay_phrase" in letter.last_error and "line 7" in letter.last_error
    assert contact.id == letter.contact_id


@pytest.fixture
def relay(app, smtp_server):
    configure(app, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    return smtp_server


def plan_next_year(session) -> None:
    plan_year(session, NEXT_YEAR, now=datetime.now(UTC))
    session.commit()


def send_now(runner, email, campaign="mar8", *extra):
    return runner.invoke(
        args=["mailer", "letters", "send-now", "--contact", email, "--campaign", campaign, *extra]
    )


def letter_of(app, contact) -> Letter:
    with session_scope(app) as s:
        letter = s.scalar(select(Letter).where(Letter.contact_id == contact.id))
        s.expunge_all()
    return letter


def test_send_now_sends_the_planned_letter_at_once_and_keeps_it_in_history(
    runner, app, session, petr, relay
):
    contact = make_contact(session, owner=petr, tags="8, 23")
    plan_next_year(session)
    result = send_now(runner, contact.email)
    assert result.exit_code == 0, result.output
    [received] = relay.accepted
    assert received.rcpt_tos == (contact.email,)
    with session_scope(app) as s:  # the mar8 letter went; the feb23 one still waits
        mar8 = s.scalar(
            select(Letter).where(Letter.contact_id == contact.id, Letter.kind == "mar8")
        )
        feb23 = s.scalar(
            select(Letter).where(Letter.contact_id == contact.id, Letter.kind == "feb23")
        )
        assert mar8.status is LetterStatus.SENT and mar8.message_id == received.message_id
        assert feb23.status is LetterStatus.PLANNED
        [entry] = s.scalars(select(HistoryEntry).where(HistoryEntry.contact_id == contact.id))
        assert entry.kind is HistoryKind.SENT and entry.body == "«Подарки к 8 Марта»"
        assert entry.letter_id == mar8.id  # the card's timeline links to the letter
    assert f"sent mar8 letter {mar8.id} to {contact.email}" in result.output
    again = send_now(runner, contact.email)
    assert again.exit_code == 1 and "was already sent on" in again.output
    assert len(relay.accepted) == 1


def test_send_now_refuses_a_contact_who_unsubscribed_or_gave_no_consent(
    runner, app, session, petr, relay
):
    gone = make_contact(session, owner=petr, tags="8")
    silent = make_contact(session, owner=petr, tags="8")
    plan_next_year(session)
    unsubscribe(session, gone.id, now=datetime.now(UTC), how="test")
    silent.has_consent = False
    session.commit()
    for contact, reason in ((gone, "unsubscribed"), (silent, "no consent")):
        result = send_now(runner, contact.email)
        assert result.exit_code == 1
        assert result.output == f"Error: {contact.email} may get no letters: {reason}\n"
    assert relay.messages == []
    assert letter_of(app, silent).status is LetterStatus.PLANNED  # nothing changed
    assert letter_of(app, silent).attempts == 0


def test_send_now_refuses_when_nothing_is_planned_or_the_tag_is_unknown(
    runner, session, petr, relay
):
    contact = make_contact(session, owner=petr, tags="8")
    session.commit()
    result = send_now(runner, contact.email, "mar8", "--year", str(NEXT_YEAR))
    assert result.exit_code == 1
    assert result.output == f"Error: {contact.email} has no mar8 letter planned for {NEXT_YEAR}\n"
    assert send_now(runner, contact.email, "nosuchtag").output.startswith(
        "Error: no campaign tag 'nosuchtag'"
    )
    assert send_now(runner, "nobody@x.example").exit_code == 1
    assert relay.messages == []


def test_send_now_reports_a_deferral_and_the_letter_waits_for_its_retry(
    runner, app, session, petr, relay
):
    contact = make_contact(session, owner=petr, tags="8")
    plan_next_year(session)
    relay.script(contact.email, data_end="451 4.3.0 try again later", times=1)
    result = send_now(runner, contact.email)
    assert result.exit_code == 1
    assert result.output.startswith("Error: not sent: deferred: END-OF-DATA 451 4.3.0")
    assert "; delivery retries it at " in result.output
    letter = letter_of(app, contact)
    assert letter.status is LetterStatus.DEFERRED and letter.attempts == 1
    assert letter.due_at > datetime.now(UTC) + timedelta(minutes=4)


def test_send_now_without_a_year_takes_the_first_letter_still_waiting(
    runner, app, session, petr, relay
):
    contact = make_contact(session, owner=petr, tags="8")
    for year in (NEXT_YEAR, NEXT_YEAR + 1):
        plan_year(session, year, now=datetime.now(UTC))
    session.commit()
    assert send_now(runner, contact.email).exit_code == 0
    with session_scope(app) as s:
        sent = {letter.year: letter.status for letter in s.scalars(select(Letter))}
    assert sent == {NEXT_YEAR: LetterStatus.SENT, NEXT_YEAR + 1: LetterStatus.PLANNED}
    result = send_now(runner, contact.email, "mar8", "--year", str(NEXT_YEAR))
    assert result.output.startswith(f"Error: {contact.email}'s mar8 letter of {NEXT_YEAR} was")
