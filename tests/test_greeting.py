"""The greeting line: the labelled cases, the safety properties, and `mailer greeting`."""

from __future__ import annotations

import ast
import csv
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.letters.cli import greeting_command
from mailer.letters.greeting import NEUTRAL_GREETING, Greeting, greet, greeting_text
from mailer.letters.names_lexicon import fold, morph

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("MAILER_SHARED_DATA", REPO.parent / "shared" / "data"))
CASES_FILE = DATA_DIR / "greeting_cases.csv"
NO_CASES = f"{CASES_FILE} not found (set MAILER_SHARED_DATA to the shared data folder)"


def _load_cases() -> list[dict[str, str]]:
    if not CASES_FILE.is_file():
        return []
    with CASES_FILE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


CASES = _load_cases()
NAME_WORD = r"[^\W\d_]+(?:-[^\W\d_]+)*"
GREETING_FORM = re.compile(rf"Здравствуйте(?:, {NAME_WORD}(?: {NAME_WORD})?)?!")


def _case_id(case: dict[str, str]) -> str:
    return f"{case['category']}:{case['first_name']}|{case['middle_name']}|{case['last_name']}"


@pytest.mark.parametrize(
    "case",
    CASES or [pytest.param({}, marks=pytest.mark.skip(reason=NO_CASES))],
    ids=[_case_id(c) for c in CASES] or ["no-cases"],
)
def test_it_greets_each_labelled_case_as_a_careful_manager_would(case: dict[str, str]) -> None:
    got = greet(case["first_name"], case["middle_name"], case["last_name"])
    assert got.text == case["expected_greeting"], got.reason


@pytest.mark.skipif(not CASES, reason=NO_CASES)
def test_it_never_prints_a_name_the_label_does_not_have(capsys: pytest.CaptureFixture[str]) -> None:
    wrong, unsafe = [], []
    for case in CASES:
        got = greeting_text(case["first_name"], case["middle_name"], case["last_name"])
        if got != case["expected_greeting"]:
            wrong.append((_case_id(case), got))
            if got != NEUTRAL_GREETING:
                unsafe.append((_case_id(case), got))
    right = len(CASES) - len(wrong)
    with capsys.disabled():
        print(f"\ngreeting_cases.csv: {right}/{len(CASES)} right ({right / len(CASES):.1%})")
    assert not unsafe, f"names the label does not have: {unsafe}"


def _greets(first: str, middle: str = "", last: str = "") -> str:
    return greet(first, middle, last).text


def test_it_falls_back_on_keyboard_mash() -> None:
    for mash in ("йцукен", "фывапролдж", "ывапр", "qwerty", "asdfgh", "ЫЫЫ", "xxx", "Аб"):
        assert _greets(mash) == NEUTRAL_GREETING, mash


def test_it_takes_apart_a_full_name_in_the_first_field() -> None:
    got = greet("Кондрашов Василий Иванович")
    assert got.text == "Здравствуйте, Василий Иванович!"
    assert got.reason == "full_name_in_first_field"
    assert (got.parts.given_name, got.parts.patronymic, got.parts.surname) == (
        "Василий",
        "Иванович",
        "Кондрашов",
    )
    assert got.parts.needs_fix and got.parts.source_field == "first_name"
    assert _greets("Иванович Василий Кондрашов") == "Здравствуйте, Василий Иванович!"


def test_it_never_doubles_the_exclamation_mark() -> None:
    assert _greets("!") == NEUTRAL_GREETING
    assert _greets("Иван!!!") == "Здравствуйте, Иван!"
    assert _greets("Иван", "Петрович!") == "Здравствуйте, Иван Петрович!"


def test_it_adds_the_patronymic_only_when_its_gender_agrees() -> None:
    assert _greets("Мария", "Петрович") == "Здравствуйте, Мария!"
    assert greet("Иван", "Петровна").reason == "patronymic_gender_mismatch"
    assert _greets("Саша", "Петровна") == "Здравствуйте, Саша Петровна!"
    assert _greets("Иван Иваныч") == "Здравствуйте, Иван Иванович!"


def test_it_keeps_names_that_are_common_words_in_the_first_name_field() -> None:
    for name in ("Вера", "Любовь", "Роман", "Слава", "Надежда", "Лев", "Роза"):
        assert _greets(name.upper()) == f"Здравствуйте, {name}!"


def test_it_does_not_take_a_firm_beside_a_name_for_a_person() -> None:
    for firm in ("Типография Надежда", "Компания Вера", "ТД Лев", "ООО «Вера»", "Ромашка Иван"):
        assert _greets(firm) == NEUTRAL_GREETING, firm
    assert _greets("ИП Смирнова Ольга") == "Здравствуйте, Ольга!"


def test_it_writes_russian_names_typed_in_latin_in_cyrillic_and_keeps_foreign_ones() -> None:
    assert _greets("Natalya") == "Здравствуйте, Наталья!"
    assert _greets("Igor", "Petrovich") == "Здравствуйте, Игорь Петрович!"
    assert greet("Ivan").reason == "transliterated"
    assert _greets("JOHN SMITH") == "Здравствуйте, John!"
    assert _greets("Mr. Smith") == NEUTRAL_GREETING


def test_it_never_prints_the_surname() -> None:
    assert _greets("Ольга", "", "Смирнова") == "Здравствуйте, Ольга!"
    assert _greets("Роман Сергей", "", "Роман") == "Здравствуйте, Сергей!"
    assert _greets("Иван Петрович", "", "Петрович") == "Здравствуйте, Иван!"
    for surname_only in ("Иванов", "Ким", "Шевченко", "Кондрашов В.И.", "г-н Иванов"):
        assert _greets(surname_only) == NEUTRAL_GREETING, surname_only


def test_it_stays_neutral_when_it_cannot_tell_the_name_from_the_surname() -> None:
    assert greet("Павел Федор").reason == "ambiguous_name"
    assert _greets("Богдан Иван") == "Здравствуйте, Иван!"  # Богдан is a surname too


def test_it_reads_a_name_typed_into_the_surname_field() -> None:
    got = greet("Кондрашов", "", "Василий")
    assert got.text == "Здравствуйте, Василий!" and got.reason == "fields_swapped"
    assert got.parts.source_field == "last_name"
    assert _greets("", "", "Роман") == NEUTRAL_GREETING


def test_it_drops_job_titles_and_greeting_words_before_a_name() -> None:
    assert _greets("Главный бухгалтер Ольга Петровна") == "Здравствуйте, Ольга Петровна!"
    assert _greets("Добрый день, Ольга") == "Здравствуйте, Ольга!"
    assert greet("Генеральный директор").reason == "position"


def test_it_explains_the_neutral_greeting() -> None:
    expectations = {
        "": "empty",
        "ivan.petrov@mail.ru": "email",
        "+7 (916) 123-45-67": "phone",
        "ООО Ромашка": "company",
        "тест": "placeholder",
        "И.И.": "initials",
        "Иванович": "patronymic_only",
    }
    for typed, reason in expectations.items():
        got = greet(typed)
        assert (got.text, got.reason, got.first_name) == (NEUTRAL_GREETING, reason, None), typed
        assert got.message
    assert "Ромашка" in greet("Ромашка").message


def test_it_marks_a_cleanly_filled_contact_as_needing_no_fix() -> None:
    clean = greet("Мария", "Ивановна", "Кондрашова")
    assert clean.reason == "name_patronymic" and not clean.parts.needs_fix
    assert greet("МАРИЯ").parts.needs_fix
    assert greet("Иван", "Петров").reason == "middle_name_ignored"


def test_it_builds_the_analyser_once() -> None:
    assert morph() is morph()


def test_it_is_a_pure_module() -> None:
    for module in ("greeting.py", "names_lexicon.py", "names_translit.py"):
        tree = ast.parse((REPO / "mailer" / "letters" / module).read_text(encoding="utf-8"))
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        assert not {m for m in imported if m.split(".")[0] in {"flask", "sqlalchemy"}}, module


_PIECES = st.sampled_from(
    "Иван Мария Ольга Вера Роман Лев Саша Иванович Петровна Иваныч Кондрашов Смирнова Ким "
    "Ivan Petrov John Smith ООО ИП бухгалтер Уважаемый тест Ромашка И. В.И. Анна-Мария "
    'Ивaн CЕРГЕЙ ivan@mail.ru 8916 ! !! , . - « » ( ) " Здравствуйте'.split()
)
_FIELD = st.one_of(
    st.text(max_size=24),
    st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=4).map(" ".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_FIELD, middle=_FIELD, last=_FIELD)
def test_it_always_gives_one_of_the_three_forms(first: str, middle: str, last: str) -> None:
    got: Greeting = greet(first, middle, last)
    assert GREETING_FORM.fullmatch(got.text), got.text
    assert "!!" not in got.text and " ," not in got.text
    assert all(ch.isalpha() or ch in " -,!" for ch in got.text)
    surname = re.findall(NAME_WORD, last)
    printed = [fold(w) for w in re.findall(NAME_WORD, got.text)[1:]]
    if len(surname) == 1 and fold(surname[0]) in printed:
        assert got.first_name is not None and fold(got.first_name) == fold(surname[0])


def _run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(greeting_command, list(args), input=input)
    return result.exit_code, result.output


def test_the_command_prints_one_greeting() -> None:
    assert _run("Кондрашов Василий Иванович") == (0, "Здравствуйте, Василий Иванович!\n")
    code, out = _run("!", "--explain")
    assert code == 0 and out.splitlines()[0] == NEUTRAL_GREETING
    assert out.splitlines()[1].startswith("punctuation: ")


def test_the_command_appends_a_greeting_column_to_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    rows = (
        "email,first_name,middle_name,last_name\n"
        "a@x.ru,Кондрашов Василий Иванович,,\n"
        'b@x.ru,"Ольга, бухгалтер",Петровна,Смирнова\n'
        "c@x.ru,!,,\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + rows.encode("utf-8"))  # Excel's byte-order mark
    code, out = _run("--csv", str(path), "--explain")
    assert code == 0, out
    lines = list(csv.reader(out.splitlines()))
    assert lines[0] == [
        "email",
        "first_name",
        "middle_name",
        "last_name",
        "greeting",
        "greeting_reason",
    ]
    assert lines[1][:5] == [
        "a@x.ru",
        "Кондрашов Василий Иванович",
        "",
        "",
        "Здравствуйте, Василий Иванович!",
    ]
    assert lines[2][1] == "Ольга, бухгалтер" and lines[2][4] == "Здравствуйте, Ольга Петровна!"
    assert lines[3][4:] == [NEUTRAL_GREETING, "punctuation"]


def test_the_command_reads_csv_from_stdin() -> None:
    code, out = _run("--csv", "-", input="first_name,middle_name,last_name\nИван,,\n")
    assert code == 0 and out.splitlines()[1] == 'Иван,,,"Здравствуйте, Иван!"'


def test_the_command_rejects_bad_input_clearly(tmp_path: Path) -> None:
    code, out = _run("--csv", str(tmp_path / "missing.csv"))
    assert code == 1 and "cannot read" in out and "Traceback" not in out
    wrong_columns = tmp_path / "wrong.csv"
    wrong_columns.write_text("email,company\na@x.ru,Тойота\n", encoding="utf-8")
    code, out = _run("--csv", str(wrong_columns))
    assert code == 1 and "no first-name column ('Имя' or 'first_name')" in out
    assert _run()[0] == 2


def test_the_command_reads_a_cp1251_file_as_the_importer_does(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes("Имя;Отчество;Фамилия\r\nВасилий;Иванович;Кондрашов\r\n".encode("cp1251"))
    code, out = _run("--csv", str(path))
    assert code == 0, out
    assert out.splitlines() == [
        "Имя;Отчество;Фамилия;Приветствие",
        "Василий;Иванович;Кондрашов;Здравствуйте, Василий Иванович!",
    ]


def test_rerunning_on_its_own_output_refreshes_the_greeting_column(tmp_path: Path) -> None:
    path = tmp_path / "greeted.csv"
    path.write_text("Имя;Приветствие\nОльга;старое\n", encoding="utf-8")
    code, out = _run("--csv", str(path))
    assert (code, out.splitlines()) == (0, ["Имя;Приветствие", "Ольга;Здравствуйте, Ольга!"])
