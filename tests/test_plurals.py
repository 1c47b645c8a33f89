import pytest

from mailer.plurals import plural_en, plural_ru


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 писем"),
        (1, "1 письмо"),
        (2, "2 письма"),
        (4, "4 письма"),
        (5, "5 писем"),
        (11, "11 писем"),
        (12, "12 писем"),
        (14, "14 писем"),
        (21, "21 письмо"),
        (22, "22 письма"),
        (111, "111 писем"),
        (101, "101 письмо"),
    ],
)
def test_russian_forms_follow_the_last_digits(n: int, expected: str) -> None:
    assert plural_ru(n, "письмо", "письма", "писем") == expected


def test_english_singular_only_for_one() -> None:
    assert [plural_en(n, "letter") for n in (0, 1, 2)] == ["0 letters", "1 letter", "2 letters"]
    assert plural_en(2, "reply", "replies") == "2 replies"
