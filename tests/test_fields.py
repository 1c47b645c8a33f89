"""Pure normalisation of e-mails, phones and company names."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mailer.contacts.addresses import BadEmailError, normalise_email
from mailer.contacts.book import ContactError, clean_fields
from mailer.contacts.company import company_keys, split_company
from mailer.contacts.folding import fold
from mailer.contacts.phones import BadPhoneError, normalise_phone


def test_it_keeps_idn_domains_in_ascii_form_for_sending():
    assert normalise_email(" Ivan.Petrov@Пример.РФ ") == "ivan.petrov@xn--e1afmkfd.xn--p1ai"


@pytest.mark.parametrize("bad", ["", "ivan", "ivan@", "@x.ru", "a b@x.ru", "a@x.ru\r\nBcc: y@z.ru"])
def test_it_refuses_bad_emails_with_a_reason(bad):
    with pytest.raises(BadEmailError):
        normalise_email(bad)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("8 (495) 123-45-67", "+74951234567"),
        ("+7 916 123 45 67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("+375 29 123-45-67", "+375291234567"),
        ("", None),
    ],
)
def test_it_normalises_phones_to_e164(raw, e164):
    assert normalise_phone(raw) == e164


def test_it_refuses_text_in_the_phone_field():
    with pytest.raises(BadPhoneError):
        normalise_phone("позвонить секретарю")


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("Тойота (Toyota)", ("Тойота", "Toyota")),
        ("ГК Рики (Смешарики)", ("ГК Рики", "Смешарики")),
        ("  ООО   Ромашка ", ("ООО Ромашка", "")),
        ("ООО Альфа (Москва) (Alpha)", ("ООО Альфа (Москва)", "Alpha")),
    ],
)
def test_it_splits_a_company_into_name_and_alias(raw, parts):
    assert split_company(raw) == parts


def test_search_keys_ignore_case_yo_and_quotes():
    assert fold("«Ёлка»  ООО") == fold('"елка" ооо') == "елка ооо"
    assert {"тойота", "toyota"} <= company_keys("ТОЙОТА (Toyota)")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("v\u0430sya@example.com", "кириллическая буква (\u0430?)"),
        ("\uff49\uff56\uff41\uff4e@example.com", "широкие буквы (\uff49?)"),
        ("\u03b1lex@example.com", "греческая буква (\u03b1?)"),
        ("j\u00f6ran@example.com", "буквы с диакритикой (\u00f6?)"),
        ("iv\u200ban@example.com", "особый символ (U+200B)"),
        ('"\u0432\u0430\u0441\u044f"@example.com', "кириллическая буква (\u0432?)"),
    ],
)
def test_it_refuses_a_non_ascii_local_part_naming_the_character(address, reason):
    with pytest.raises(BadEmailError) as error:
        normalise_email(address)
    assert str(error.value) == (
        f"неверный e-mail '{address}': до @ есть {reason} — наберите адрес латиницей"
    )


def test_it_keeps_accepting_an_idn_domain_with_a_latin_local_part():
    assert normalise_email("ivan@почта.рф") == "ivan@xn--80a1acny.xn--p1ai"


def test_a_look_alike_email_is_refused_as_a_contact_field():
    with pytest.raises(ContactError, match=r"кириллическая буква \(\u0430\?\)"):
        clean_fields(email="v\u0430sya@example.com", first_name="Вася")


def test_a_line_break_in_a_name_field_is_refused():
    with pytest.raises(ContactError, match="перевод строки в поле «Имя»"):
        clean_fields(email="a@b.ru", first_name="Иван\r\nBcc: x@y.ru")


_LOCAL = st.text(
    alphabet=string.ascii_letters + string.digits + ".!#$%&'*+/=?^_`{|}~-\"@ ", max_size=70
)
_DOMAIN = st.sampled_from(
    [
        "example.ru",
        "пример.рф",
        "x",
        "a..b",
        "-a.ru",
        "localhost",
        "b.test",
        "mail.example.com",
        "xn--e1afmkfd.xn--p1ai",
        "a" * 250 + ".ru",
    ]
)


@given(_LOCAL, _DOMAIN)
def test_the_fast_email_path_agrees_with_email_validator(local, domain):
    from email_validator import EmailNotValidError, validate_email

    address = f"{local}@{domain}"
    try:
        result = validate_email(address.strip(), check_deliverability=False)
        expected = (result.ascii_email or result.normalized).lower()
    except EmailNotValidError:
        expected = None
    try:
        got = normalise_email(address)
    except BadEmailError:
        got = None
    if "\r" in address or "\n" in address or not address.strip():
        return
    assert got == expected


@given(st.text(alphabet="0123456789 +()-.", max_size=20))
@example("8 (495) 123-45-67")
@example("79161234567")
@example("7 916 1234567")
@example("+7 (3412) 12-34-56")
@example("8 800 123 45 67")
@example("4951234567")
@example("84951234567")
@example("+74951234567")
@example("8-9161234567")
def test_the_fast_phone_path_agrees_with_phonenumbers(raw):
    import phonenumbers

    try:
        number = phonenumbers.parse(raw.strip(), "RU")
        ok = phonenumbers.is_possible_number(number)
        expected = (
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if ok else None
        )
    except phonenumbers.NumberParseException:
        expected = None
    try:
        got = normalise_phone(raw)
    except BadPhoneError:
        got = None
    if raw.strip():
        assert got == expected
