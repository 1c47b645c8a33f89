"""Loose tag lines resolve through aliases; unknown words are errors, never dropped."""

from __future__ import annotations

import csv

import pytest

from mailer.tags.tagging import TagVocabulary, UnknownTagError, parse_tags
from mailer.tags.taxonomy import TAXONOMY_CSV


@pytest.fixture(scope="module")
def vocabulary() -> TagVocabulary:
    with TAXONOMY_CSV.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return TagVocabulary.build(
        (r["code"], r["kind"], [r["label_ru"], *r["aliases"].split("|")]) for r in rows
    )


def test_it_resolves_the_briefs_example_line_to_four_tags(vocabulary):
    line = "строители, сентябрь, торговля, 8"
    assert parse_tags(line, vocabulary) == ["construction", "ny_sep", "trade", "mar8"]


@pytest.mark.parametrize(
    ("line", "codes"),
    [
        ("СТРОИТЕЛИ", ["construction"]),
        ("8 марта; 23 февраля", ["mar8", "feb23"]),
        ("8марта", ["mar8"]),
        ("23", ["feb23"]),
        ("Морской транспорт", ["maritime"]),
        ("НГ август", ["ny_aug"]),
        ("нг сент.", ["ny_sep"]),
        ("айти / жд + нефть", ["it", "railway", "oil"]),
        ("строители строители", ["construction"]),
        ("ny_dec", ["ny_dec"]),
        ("риэлторы\nвосьмое марта", ["construction", "mar8"]),
        ("", []),
    ],
)
def test_it_understands_aliases_case_abbreviations_and_separators(vocabulary, line, codes):
    assert parse_tags(line, vocabulary) == codes


def test_it_names_every_unknown_word(vocabulary):
    with pytest.raises(UnknownTagError) as info:
        parse_tags("строители, бухгалтеры, 8, космонавты", vocabulary)
    assert info.value.words == ["бухгалтеры", "космонавты"]
    assert "бухгалтеры" in str(info.value) and "космонавты" in str(info.value)


def test_a_new_year_mark_without_a_month_is_an_error(vocabulary):
    with pytest.raises(UnknownTagError, match="нг"):
        parse_tags("НГ, строители", vocabulary)


def test_the_packaged_taxonomy_matches_the_shared_reference(shared_data):
    assert TAXONOMY_CSV.read_text(encoding="utf-8") == (shared_data / "taxonomy.csv").read_text(
        encoding="utf-8"
    )


def test_tags_parse_prints_codes_one_per_line(runner):
    result = runner.invoke(args=["mailer", "tags", "parse", "строители, сентябрь, торговля, 8"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["construction", "ny_sep", "trade", "mar8"]


def test_tags_parse_exits_non_zero_naming_the_unknown_word(runner):
    result = runner.invoke(args=["mailer", "tags", "parse", "строители, бухгалтеры"])
    assert result.exit_code != 0
    assert "бухгалтеры" in result.output


def test_an_alias_added_in_the_database_is_understood(session):
    from sqlalchemy import select

    from mailer.tags.models import Tag, TagAlias
    from mailer.tags.taxonomy import resolve_tags

    tag = session.scalar(select(Tag).where(Tag.code == "construction"))
    tag.aliases.append(TagAlias(alias="стройматериалы"))
    session.flush()
    assert [t.code for t in resolve_tags(session, "Стройматериалы")] == ["construction"]


def test_seeding_twice_adds_nothing_and_keeps_edits(session):
    from sqlalchemy import func, select

    from mailer.tags.models import Tag
    from mailer.tags.taxonomy import seed_tags

    tag = session.scalar(select(Tag).where(Tag.code == "it"))
    tag.label = "ИТ-компании"
    session.flush()
    assert seed_tags(session) == 0
    assert session.scalar(select(func.count()).select_from(Tag)) == 23
    assert session.scalar(select(Tag.label).where(Tag.code == "it")) == "ИТ-компании"
