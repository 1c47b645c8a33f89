"""Hardened names: invisible and direction characters never reach the book, a From: or a letter."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from mailer.contacts.book import ContactError, clean_fields, find_existing, strip_invisible
from mailer.contacts.importing import import_contacts
from mailer.contacts.models import Contact
from mailer.letters.composing import LetterSettings, compose_letter
from mailer.letters.rendering import LetterKind
from mailer.managers.models import Manager
from mailer.managers.services import find_manager
from tests.factories import make_contact, make_manager
from tests.test_importing import contacts, read_rejects, write_csv

INVISIBLE = [
    "\u202a",  # left-to-right embedding
    "\u202b",  # right-to-left embedding
    "\u202c",  # pop directional formatting
    "\u202d",  # left-to-right override
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2067",  # right-to-left isolate
    "\u2068",  # first strong isolate
    "\u2069",  # pop directional isolate
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u200b",  # zero width space
    "\u200c",  # zero width non-joiner
    "\u200d",  # zero width joiner
    "\u2060",  # word joiner
    "\ufeff",  # BOM / zero width no-break space
    "\u00ad",  # soft hyphen
]
FIELDS = ["first_name", "middle_name", "last_name", "company", "position"]


def spiked(text: str, ch: str) -> str:
    """The text with the character at its start, in its middle and at its end."""
    middle = len(text) // 2
    return f"{ch}{text[:middle]}{ch}{text[middle:]}{ch}"


@pytest.mark.parametrize("ch", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("field", FIELDS)
def test_it_strips_invisible_characters_from_every_name_field(field, ch):
    fields = clean_fields(email="ivan@toyota.example", **{field: spiked("Иван Петров", ch)})
    stored = fields.company_name if field == "company" else getattr(fields, field)
    assert stored == "Иван Петров"


def test_a_company_alias_and_its_search_keys_are_stripped_too():
    fields = clean_fields(email="a@b.example", company="Тойо\u200bта (\u202eToyota\u202c)")
    assert (fields.company_name, fields.company_alias) == ("Тойота", "Toyota")
    assert (fields.company_key, fields.company_alias_key) == ("тойота", "toyota")


def test_stripping_keeps_letters_spaces_and_plain_ascii():
    assert strip_invisible("Ёлкина-Смирнова Анна") == "Ёлкина-Смирнова Анна"
    assert strip_invisible("O'Brien") == "O'Brien"


def test_a_line_break_hidden_behind_invisible_characters_is_still_refused():
    with pytest.raises(ContactError, match="перевод строки в поле «Фамилия»"):
        clean_fields(email="a@b.example", last_name="\u202eИванов\r\nBcc: x@y.example")


def test_a_contact_added_with_a_direction_override_is_stored_without_it(session):
    contact = make_contact(
        session, first_name="\u202eнавИ", last_name="Пет\u00adров", company="\ufeffЛада"
    )
    stored = session.scalar(select(Contact).where(Contact.id == contact.id))
    assert (stored.first_name, stored.last_name, stored.company_name) == ("навИ", "Петров", "Лада")
    assert [m.contact for m in find_existing(session, company="Ла\u200bда")] == [contact]


@pytest.mark.parametrize("ch", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_a_manager_name_is_stored_without_invisible_characters(session, ch):
    manager = make_manager(session, name=spiked("Анна Смирнова", ch))
    stored = session.scalar(select(Manager).where(Manager.id == manager.id))
    assert stored.name == "Анна Смирнова"
    assert stored.signature == "Анна Смирнова"
    assert find_manager(session, f"Анна{ch} Смирнова") == manager


def test_the_from_display_name_carries_no_direction_override(session):
    petr = make_manager(session, name="Пётр \u202eвортеП", email="petr@gifts.example")
    contact = make_contact(session, owner=petr, first_name="\u2067Мария\u2069", tags="строители")
    composed = compose_letter(
        contact,
        LetterKind.INDUSTRY_CATALOGUE,
        house_sender=None,
        now=datetime(2027, 7, 20, 9, 30, tzinfo=UTC),
        settings=LetterSettings(
            secret_key="test-secret-key-0123456789",
            public_base_url="https://mail.gifts.example",
            unsubscribe_mailto="unsubscribe@gifts.example",
        ),
        link_ids={"каталог": 1, "скидка": 2},
    )
    msg = BytesParser(policy=policy.default).parsebytes(composed.raw)
    assert msg["From"].addresses[0].display_name == "Пётр вортеП"
    text = msg.get_body(("plain",)).get_content()
    assert "Мария" in text
    assert not any(ch in text for ch in INVISIBLE)


def test_an_import_strips_invisible_characters_and_finds_the_owner_through_them(session, tmp_path):
    make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    session.commit()
    header = ["Фамилия", "Имя", "Компания", "Должность", "Email", "Ответственный"]
    row = ["\u202eвонавИ", "Иван\u200b", "\ufeffТойота", "Дирек\u00adтор", "ivan@toyota.example"]
    path = write_csv(tmp_path / "crm.csv", [header, [*row, "Анна\u200e Смирнова"]])

    report = import_contacts(session, path, default_owner=None)

    assert (report.accepted, report.rejected) == (1, 0)
    ivan = contacts(session)["ivan@toyota.example"]
    assert (ivan.last_name, ivan.first_name, ivan.company_name, ivan.position) == (
        "вонавИ",
        "Иван",
        "Тойота",
        "Директор",
    )
    assert ivan.owner.name == "Анна Смирнова"


def test_an_import_rejects_look_alike_emails_naming_the_character(session, tmp_path):
    owner = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    session.commit()
    header = ["Имя", "Email"]
    rows = [
        ["Вася", "v\u0430sya@example.com"],
        ["Иван", "\uff49\uff56\uff41\uff4e@example.com"],
        ["Пётр", "petr@почта.рф"],
    ]
    path = write_csv(tmp_path / "crm.csv", [header, *rows])

    report = import_contacts(session, path, default_owner=owner)

    assert (report.rows_read, report.accepted, report.rejected) == (3, 1, 2)
    assert list(contacts(session)) == ["petr@xn--80a1acny.xn--p1ai"]
    rejected = read_rejects(report.rejects_path, encoding="utf-8", delimiter=",")[1:]
    assert [r[:-1] for r in rejected] == rows[:2]
    assert [r[-1] for r in rejected] == [
        "неверный e-mail 'v\u0430sya@example.com': до @ есть кириллическая буква (\u0430?)"
        " — наберите адрес латиницей",
        "неверный e-mail '\uff49\uff56\uff41\uff4e@example.com': до @ есть широкие буквы"
        " (\uff49?) — наберите адрес латиницей",
    ]
