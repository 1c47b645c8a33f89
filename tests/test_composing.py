"""Composing a finished letter for a contact: the sender resolved at rendering, the exact bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from mailer.letters.composing import CompositionError, LetterSettings, compose_letter
from mailer.letters.rendering import LetterKind
from mailer.letters.sender import SenderError, resolve_sender
from mailer.letters.signing import read_unsubscribe_token
from mailer.tags.occasions import next_occurrence, rule_month
from tests.factories import make_contact, make_manager

SETTINGS = LetterSettings(
    secret_key="test-secret-key-0123456789",
    public_base_url="https://mail.gifts.example",
    unsubscribe_mailto="unsubscribe@gifts.example",
)
NOW = datetime(2027, 7, 20, 9, 30, tzinfo=UTC)
LINK_IDS = {"каталог": 1, "скидка": 2}


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def plain(msg) -> str:
    """The text part; canonical MIME text has CRLF line ends."""
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


@pytest.fixture
def petr(session):
    return make_manager(
        session,
        name="Пётр Петров",
        email="petr@gifts.example",
        signature="Пётр Петров\nДом Подарков",
        timezone="Asia/Yekaterinburg",
    )


@pytest.fixture
def house(session):
    return make_manager(
        session,
        name="Дом Подарков",
        email="hello@gifts.example",
        is_house=True,
        signature="Команда «Дома Подарков»",
    )


def test_the_letter_comes_from_the_owner_in_every_field(session, petr, house):
    contact = make_contact(session, owner=petr, first_name="Мария", tags="строители, НГ август")
    composed = compose_letter(
        contact,
        LetterKind.NEW_YEAR_CATALOGUE,
        house_sender=house,
        now=NOW,
        settings=SETTINGS,
        link_ids=LINK_IDS,
    )
    msg = parse(composed.raw)
    assert msg["From"].addresses[0].display_name == "Пётр Петров"
    assert msg["From"].addresses[0].addr_spec == "petr@gifts.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "petr@gifts.example"
    assert msg["Message-ID"].endswith("@gifts.example>")
    # Date in the owner's time zone (Yekaterinburg, UTC+5).
    assert msg["Date"].datetime.utcoffset().total_seconds() == 5 * 3600
    text = plain(msg)
    assert text.startswith("Здравствуйте, Мария!")
    assert "закупаете в августе" in text
    body, footer = text.rsplit("\n--\n", 1)  # the visible unsubscribe line follows the signature
    assert body.rstrip().endswith("Пётр Петров\nДом Подарков")
    token = footer.strip().rsplit("https://mail.gifts.example/u/", 1)[1]
    assert read_unsubscribe_token([SETTINGS.secret_key], token) == contact.id
    assert "Команда" not in text


def test_a_transfer_made_before_rendering_changes_the_sender(session, petr, house):
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    contact = make_contact(session, owner=petr, tags="8")
    from mailer.contacts.transfers import transfer_contacts

    transfer_contacts(session, [contact], anna)
    composed = compose_letter(
        contact, LetterKind.MAR8, house_sender=house, now=NOW, settings=SETTINGS, link_ids=LINK_IDS
    )
    msg = parse(composed.raw)
    assert msg["From"].addresses[0].display_name == "Анна Смирнова"
    assert msg["Reply-To"].addresses[0].addr_spec == "anna@gifts.example"


def test_an_inactive_owner_resolves_to_the_house_sender_whole(session, petr, house):
    contact = make_contact(session, owner=petr, tags="23")
    petr.is_active = False
    composed = compose_letter(
        contact, LetterKind.FEB23, house_sender=house, now=NOW, settings=SETTINGS, link_ids=LINK_IDS
    )
    msg = parse(composed.raw)
    assert msg["From"].addresses[0].addr_spec == "hello@gifts.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "hello@gifts.example"
    assert "Команда «Дома Подарков»" in plain(msg)
    assert "Пётр" not in composed.raw.decode("ascii", "replace")


def test_without_an_active_owner_or_house_sender_nothing_is_sent(session):
    owner = make_manager(session)
    owner.is_active = False
    with pytest.raises(SenderError):
        resolve_sender(owner, None)


def test_the_message_is_multipart_alternative_with_one_click_unsubscribe(session, petr, house):
    contact = make_contact(session, owner=petr, tags="строители")
    composed = compose_letter(
        contact,
        LetterKind.INDUSTRY_CATALOGUE,
        house_sender=house,
        now=NOW,
        settings=SETTINGS,
        link_ids=LINK_IDS,
    )
    msg = parse(composed.raw)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
    unsubscribe = str(msg["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://mail.gifts.example/u/")
    token = unsubscribe.split(">", 1)[0].removeprefix("<https://mail.gifts.example/u/")
    assert read_unsubscribe_token([SETTINGS.secret_key], token) == contact.id
    assert f"subject=unsubscribe%20{token}>" in unsubscribe
    assert "<mailto:unsubscribe@gifts.example?subject=" in unsubscribe
    assert "=?" not in unsubscribe  # never folded into an encoded word
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "8 августа — День строителя" in plain(msg)


def test_an_idn_address_goes_out_in_ascii(session, petr, house):
    contact = make_contact(session, owner=petr, email="ivan@пример.рф", tags="8")
    composed = compose_letter(
        contact, LetterKind.MAR8, house_sender=house, now=NOW, settings=SETTINGS, link_ids=LINK_IDS
    )
    assert parse(composed.raw)["To"].addresses[0].addr_spec == "ivan@xn--e1afmkfd.xn--p1ai"


def test_a_letter_needs_the_tag_it_is_about(session, petr, house):
    contact = make_contact(session, owner=petr, tags="8")
    with pytest.raises(CompositionError, match="month"):
        compose_letter(
            contact,
            LetterKind.NEW_YEAR_CATALOGUE,
            house_sender=house,
            now=NOW,
            settings=SETTINGS,
            link_ids=LINK_IDS,
        )


def test_the_programmers_day_moves_with_leap_years():
    rule = "FREQ=YEARLY;BYYEARDAY=256"
    assert next_occurrence(rule, datetime(2027, 1, 1)).isoformat() == "2027-09-13"
    assert next_occurrence(rule, datetime(2028, 1, 1)).isoformat() == "2028-09-12"
    assert next_occurrence(rule, datetime(2027, 9, 14)).isoformat() == "2028-09-12"


def test_a_purchase_month_is_the_month_its_rule_falls_in():
    assert rule_month("FREQ=YEARLY;BYMONTH=8;BYMONTHDAY=1", 2027) == 8
    assert rule_month("FREQ=YEARLY;BYMONTH=11", 2027) == 11


def test_a_tag_rule_that_cannot_be_read_is_a_composition_error(session, petr, house):
    contact = make_contact(session, owner=petr, tags="НГ сентябрь")
    contact.tags[0].occasion_rule = "FREQ=SOMETIMES"
    with pytest.raises(CompositionError, match="cannot be read"):
        compose_letter(
            contact,
            LetterKind.NEW_YEAR_CATALOGUE,
            house_sender=house,
            now=NOW,
            settings=SETTINGS,
            link_ids=LINK_IDS,
        )


def test_preview_writes_the_exact_eml_that_would_be_sent(runner, session, petr, house, tmp_path):
    contact = make_contact(
        session, owner=petr, first_name="Кондрашов Василий Иванович", tags="НГ сентябрь"
    )
    session.commit()
    out = tmp_path / "letter.eml"
    result = runner.invoke(
        args=[
            "mailer",
            "letters",
            "preview",
            "--contact",
            contact.email,
            "--kind",
            "new_year_catalogue",
            "--out",
            str(out),
            "--at",
            "2027-09-01T07:00",
        ]
    )
    assert result.exit_code == 0, result.output
    msg = parse(out.read_bytes())
    assert msg["Subject"] == "Новогодний каталог: выбрать заранее"
    assert plain(msg).startswith("Здравствуйте, Василий Иванович!")


def test_preview_to_stdout_and_a_clear_error_for_an_unknown_contact(runner, session, petr, house):
    contact = make_contact(session, owner=petr, tags="8")
    session.commit()
    result = runner.invoke(
        args=["mailer", "letters", "preview", "--contact", contact.email, "--kind", "mar8"]
    )
    assert result.exit_code == 0, result.output
    assert parse(result.stdout_bytes)["Subject"] == "Подарки к 8 Марта"
    result = runner.invoke(
        args=["mailer", "letters", "preview", "--contact", "no@x.example", "--kind", "mar8"]
    )
    assert result.exit_code != 0 and "no contact" in result.output
