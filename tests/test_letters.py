"""Letters: default templates (snapshots), the sandbox, escaping, the evening wish, the lint."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.sandbox import SecurityError

from mailer.letters.lint import LetterLintError, LetterText, lint_letter
from mailer.letters.rendering import (
    LetterKind,
    LetterLinks,
    Occasion,
    Recipient,
    available_kinds,
    company_phrase,
    letter_environment,
    render_letter,
)
from mailer.letters.sender import SenderIdentity
from mailer.letters.template_errors import LetterTemplateError

SNAPSHOTS = Path(__file__).with_name("snapshots") / "letters"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"

SENDER = SenderIdentity(
    manager_id=1,
    name="Пётр Петров",
    address="petr.petrov@gifts.example",
    signature="Пётр Петров\nДом Подарков, корпоративные подарки\n+7 495 123-45-67",
    timezone=ZoneInfo("Europe/Moscow"),
    is_house=False,
)
IVAN = Recipient(
    email="ivan@toyota.example",
    first_name="Василий",
    middle_name="Иванович",
    last_name="Кондрашов",
    company="Тойота",
)
AFTERNOON = datetime(2027, 7, 20, 9, 30, tzinfo=UTC)  # 12:30 in Moscow
EVENING = datetime(2027, 7, 20, 15, 10, tzinfo=UTC)  # 18:10 in Moscow
LINKS = LetterLinks(
    {"каталог": "https://gifts.example/c/cat", "скидка": "https://gifts.example/c/off"},
    unsubscribe="https://gifts.example/u/tok",
    honeypot="https://gifts.example/c/hp",
)

CASES = {
    LetterKind.INDUSTRY_CATALOGUE: {"occasion": Occasion("День строителя", date(2027, 8, 8))},
    LetterKind.MAR8: {"occasion": Occasion("8 марта", date(2028, 3, 8))},
    LetterKind.FEB23: {"occasion": Occasion("23 февраля", date(2028, 2, 23))},
    LetterKind.NEW_YEAR_CATALOGUE: {"purchase_month": 8},
}


def render(kind, recipient=IVAN, now=AFTERNOON, **overrides):
    kwargs = {**CASES[kind], "links": LINKS, **overrides}
    return render_letter(kind, recipient, SENDER, now=now, **kwargs)


@pytest.mark.parametrize("kind", list(LetterKind))
@pytest.mark.parametrize("part", ["subject", "text", "html"])
def test_default_letters_match_their_snapshots(kind, part):
    letter = render(kind, now=EVENING)
    got = getattr(letter, part)
    path = (
        SNAPSHOTS
        / f"{kind}.{ {'subject': 'subject.txt', 'text': 'body.txt', 'html': 'body.html'}[part] }"
    )
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"snapshot {path.name} was missing and has been written; check it in")
    assert got == path.read_text(encoding="utf-8")


def test_every_letter_kind_has_a_template_folder():
    assert available_kinds() == sorted(k.value for k in LetterKind)


def test_the_new_year_letter_mentions_the_clients_own_purchase_month():
    letter = render(LetterKind.NEW_YEAR_CATALOGUE, purchase_month=8)
    assert "подарки к Новому году закупаете в августе" in letter.text
    assert "подарки к Новому году закупаете в августе" in letter.html


def test_the_industry_letter_names_the_day_and_its_date():
    letter = render(LetterKind.INDUSTRY_CATALOGUE)
    assert "8 августа — День строителя." in letter.text
    assert letter.subject.startswith("День строителя")


def test_it_greets_with_name_and_patronymic_and_never_the_surname():
    letter = render(LetterKind.MAR8)
    assert letter.text.startswith("Здравствуйте, Василий Иванович!\n")
    assert "Кондрашов" not in letter.text


def test_a_full_name_in_the_first_name_field_still_gives_a_safe_greeting():
    recipient = Recipient(email="x@y.example", first_name="Кондрашов Василий Иванович")
    assert render(LetterKind.MAR8, recipient).text.startswith("Здравствуйте, Василий Иванович!")


def test_the_company_appears_where_it_reads_naturally():
    assert "для компании «Тойота»" in render(LetterKind.FEB23).text
    assert company_phrase("ООО «Ромашка»") == "для ООО «Ромашка»"
    assert company_phrase("") == "для вашей команды"


def test_an_evening_letter_closes_with_an_evening_wish_in_the_senders_time():
    assert "Хорошего вечера!" in render(LetterKind.MAR8, now=EVENING).text
    assert "Хорошего вечера!" not in render(LetterKind.MAR8, now=AFTERNOON).text
    vladivostok = SenderIdentity(**{**SENDER.__dict__, "timezone": ZoneInfo("Asia/Vladivostok")})
    # 09:30 UTC is 19:30 in Vladivostok: evening for that sender.
    letter = render_letter(
        LetterKind.MAR8,
        IVAN,
        vladivostok,
        now=AFTERNOON,
        links=LINKS,
        **CASES[LetterKind.MAR8],
    )
    assert "Хорошего вечера!" in letter.text


def test_contact_data_is_escaped_in_html_and_plain_in_text():
    recipient = Recipient(email="x@y.example", first_name="Иван", company='<script>"x"</script>')
    letter = render(LetterKind.MAR8, recipient)
    assert "<script>" not in letter.html
    assert "&lt;script&gt;" in letter.html
    assert "<script>" in letter.text


def test_the_signature_keeps_its_lines_in_html_and_is_escaped():
    sender = SenderIdentity(**{**SENDER.__dict__, "signature": "Пётр <b>\nотдел подарков"})
    letter = render_letter(
        LetterKind.MAR8,
        IVAN,
        sender,
        now=AFTERNOON,
        links=LINKS,
        **CASES[LetterKind.MAR8],
    )
    assert "Пётр &lt;b&gt;<br>\nотдел подарков" in letter.html


def test_a_typo_in_a_template_fails_the_render_instead_of_printing_nothing(tmp_path):
    (tmp_path / "oops").mkdir()
    (tmp_path / "oops" / "subject.txt").write_text("Подарки {{ ocasion.name }}")
    (tmp_path / "oops" / "body.txt").write_text("{{ greeting }}")
    (tmp_path / "oops" / "body.html").write_text("<p>{{ greeting }}</p>")
    with pytest.raises(LetterTemplateError, match="ocasion") as raised:
        render_letter("oops", IVAN, SENDER, now=AFTERNOON, links=LINKS, folder=tmp_path)
    assert raised.value.name == "ocasion" and raised.value.line == 1
    assert raised.value.file.endswith("oops/subject.txt")


def test_a_typo_names_the_template_file_its_line_and_the_unknown_name(tmp_path):
    (tmp_path / "oops").mkdir()
    (tmp_path / "oops" / "subject.txt").write_text("Подарки")
    (tmp_path / "oops" / "body.txt").write_text("{{ greeting }}\n\nВарианты {{ compnay_phrase }}")
    (tmp_path / "oops" / "body.html").write_text("<p>{{ greeting }}</p>")
    with pytest.raises(LetterTemplateError) as raised:
        render_letter("oops", IVAN, SENDER, now=AFTERNOON, links=LINKS, folder=tmp_path)
    error = raised.value
    assert (Path(error.file), error.line, error.name) == (
        tmp_path / "oops" / "body.txt",
        3,
        "compnay_phrase",
    )
    assert isinstance(error, LetterLintError)  # delivery fails such a letter unsent
    assert (
        str(error)
        == f"letter blocked: {tmp_path}/oops/body.txt, line 3: unknown name 'compnay_phrase'"
    )
    assert "\n" not in str(error)


def test_a_typo_in_an_included_file_names_that_file_and_an_unknown_attribute(tmp_path):
    (tmp_path / "oops").mkdir()
    (tmp_path / "_sign.txt").write_text("С уважением,\n{{ sender.nmae }}\n")
    (tmp_path / "oops" / "subject.txt").write_text("Подарки")
    (tmp_path / "oops" / "body.txt").write_text('{{ greeting }}\n{% include "_sign.txt" %}')
    (tmp_path / "oops" / "body.html").write_text("<p>{{ greeting }}</p>")
    with pytest.raises(LetterTemplateError) as raised:
        render_letter("oops", IVAN, SENDER, now=AFTERNOON, links=LINKS, folder=tmp_path)
    assert (Path(raised.value.file).name, raised.value.line, raised.value.name) == (
        "_sign.txt",
        2,
        "nmae",
    )


def test_a_template_that_does_not_compile_names_its_file_and_line(tmp_path):
    (tmp_path / "oops").mkdir()
    (tmp_path / "oops" / "subject.txt").write_text("Подарки")
    (tmp_path / "oops" / "body.txt").write_text("{{ greeting }}\n{{ company_phrase }")
    (tmp_path / "oops" / "body.html").write_text("<p>{{ greeting }}</p>")
    with pytest.raises(LetterTemplateError, match=r"body.txt, line 2: template syntax error"):
        render_letter("oops", IVAN, SENDER, now=AFTERNOON, links=LINKS, folder=tmp_path)


def test_a_template_naming_a_link_its_campaign_lacks_is_blocked():
    links = LetterLinks(
        {"каталог": "https://gifts.example/c/cat"},
        unsubscribe=LINKS.unsubscribe,
        honeypot=LINKS.honeypot,
    )
    with pytest.raises(LetterLintError, match="скидка"):
        render(LetterKind.MAR8, links=links)


@pytest.mark.parametrize("kind", list(LetterKind))
def test_the_honeypot_is_hidden_in_the_html_and_absent_from_the_text(kind):
    letter = render(kind)
    assert LINKS.honeypot in letter.html
    assert LINKS.honeypot not in letter.text


@pytest.mark.parametrize("kind", list(LetterKind))
def test_the_unsubscribe_address_is_visible_in_both_text_and_html(kind):
    letter = render(kind)
    assert LINKS.unsubscribe in letter.text
    assert LINKS.unsubscribe in letter.html


def test_templates_render_in_a_sandbox(tmp_path):
    env = letter_environment(tmp_path)
    with pytest.raises(SecurityError):
        env.from_string("{{ sender.__class__.__init__.__globals__ }}").render(sender=SENDER)


# --- the lint -----------------------------------------------------------------------------


def _letter(**overrides) -> LetterText:
    base = {
        "subject": "Подарки",
        "text": "Здравствуйте, Иван!\n\nТекст.\n",
        "html": "<p>Здравствуйте, Иван!</p>",
        "greeting": "Здравствуйте, Иван!",
        "surname": "Петров",
    }
    return LetterText(**{**base, **overrides})


def test_the_lint_passes_a_clean_letter():
    assert lint_letter(_letter()) == []


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"greeting": "Здравствуйте, Иван!!", "text": "Здравствуйте, Иван!!\n"}, "doubled"),
        ({"greeting": "Здравствуйте!!", "text": "Здравствуйте!!\n"}, "doubled"),
        ({"text": "Здравствуйте, Иван!\nДля вас , коллеги.\n"}, "space before a comma"),
        ({"html": "<p>Здравствуйте, Иван! {{ link('каталог') }}</p>"}, "unresolved"),
        ({"subject": "Подарки }}"}, "unresolved"),
        ({"greeting": "", "text": "Текст.\n"}, "empty greeting"),
        ({"greeting": "Здравствуйте, Петров!", "text": "Здравствуйте, Петров!\n"}, "surname"),
        ({"subject": "  "}, "empty subject"),
    ],
)
def test_the_lint_blocks_each_kind_of_mistake(overrides, problem):
    assert any(problem in p for p in lint_letter(_letter(**overrides)))


def test_a_letter_the_lint_blocks_is_never_returned(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "subject.txt").write_text("Подарки")
    (tmp_path / "bad" / "body.txt").write_text("{{ greeting }}!\n")
    (tmp_path / "bad" / "body.html").write_text("<p>{{ greeting }}</p>")
    with pytest.raises(LetterLintError, match="doubled punctuation"):
        render_letter("bad", IVAN, SENDER, now=AFTERNOON, links=LINKS, folder=tmp_path)


_field = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
_names = st.one_of(
    _field,
    st.sampled_from(
        [
            "Иван",
            "Мария",
            "Кондрашов Василий Иванович",
            "!",
            "test",
            "ООО Ромашка",
            "Вера",
            "ivan",
            "Наталья Сергеевна",
            "  ",
            "Иванов",
            "{{ x }}",
            "Иван ,",
        ]
    ),
)


@settings(max_examples=150, deadline=None)
@given(first=_names, middle=_names, last=_names, company=_field, kind=st.sampled_from(LetterKind))
def test_the_lint_never_fires_on_a_letter_the_renderer_produced(first, middle, last, company, kind):
    recipient = Recipient("x@y.example", first, middle, last, company)
    render(kind, recipient)  # raises LetterLintError if the lint fired
