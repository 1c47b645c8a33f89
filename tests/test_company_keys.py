"""One company, many spellings: the key the owner check compares, and migration 0006."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from mailer.contacts.company import company_key, company_key_pair, company_keys
from mailer.db import make_engine
from mailer.storage import schema

SAME_COMPANY = [
    ("ООО «Тойота»", "Тойота (Toyota)"),
    ("Вектор", "ООО «Вектор»"),
    ("ПАО Газпром", "Газпром"),
    ("ПАО «Газпром»", "газпром"),
    ("альфа банк", "Альфа-Банк"),
    ("Альфа — Банк", "АЛЬФА  БАНК"),
    ("Северсталь 78", "АО Северсталь 78"),
    ("Ёлка, ООО", "елка"),
    ("ЗАО „Ромашка“", "Ромашка"),
    ("“Ромашка” ОАО", "'Ромашка'"),
    ("Общество с ограниченной ответственностью «Ромашка»", "ромашка"),
    ("Акционерное общество Ромашка", "ромашка"),
    ("ИП Иванов", "Иванов"),
    ("НКО «Доброе дело»", "Доброе дело"),
    ("ГК Рики", "Рики"),
    ("Toyota Motor Co., Ltd.", "TOYOTA MOTOR"),
    ("Acme, L.L.C.", "Acme"),
    ("Siemens AG", "Siemens GmbH"),
    ("Apple Inc.", "apple"),
    ("OOO Ёлка", "Ёлка"),  # Latin letters typed on an English keyboard
]


@pytest.mark.parametrize(("typed", "stored"), SAME_COMPANY)
def test_spellings_of_one_company_share_a_key(typed, stored):
    assert company_keys(typed) & company_keys(stored), (typed, stored)


@pytest.mark.parametrize(
    ("one", "other"),
    [("Вектор", "Вектор-Строй"), ("Газпром", "Газпромнефть"), ("ООО Альфа", "ООО Бета")],
)
def test_different_companies_keep_different_keys(one, other):
    assert not company_keys(one) & company_keys(other)


def test_a_name_that_is_only_a_legal_form_names_no_company():
    assert company_key("ООО") == ""
    assert company_keys("«ООО»") == set()
    # `Тойота (ООО)` is not a company whose other name is ООО: it matches no other `… (ООО)`.
    assert company_key_pair("Тойота (ООО)") == ("тойота", "")


def test_the_alias_rule_holds_inside_quotes():
    assert company_key_pair("Тойота (Toyota)") == ("тойота", "toyota")
    assert company_key_pair("ООО «Тойота (Toyota)»") == ("тойота", "toyota")


def _insert_at_0005(conn, name: str, contacts: list[dict[str, str]]) -> None:
    conn.execute(
        text(
            "INSERT INTO managers (id, name, email, signature, timezone, work_starts_at,"
            " work_ends_at, daily_cap, is_active, is_house, created_at) VALUES (1, :name,"
            " 'anna@gifts.example', '', 'Europe/Moscow', '09:00:00', '18:00:00', 40, true,"
            " false, CURRENT_TIMESTAMP)"
        ),
        {"name": name},
    )
    for n, c in enumerate(contacts, start=1):
        conn.execute(
            text(
                "INSERT INTO contacts (id, first_name, middle_name, last_name, company_name,"
                " company_alias, company_key, company_alias_key, position, email, owner_id,"
                " has_consent, consent_source, created_at, updated_at) VALUES (:id, :first,"
                " '', :last, :company, :alias, :key, :alias_key, :position, :email, 1, true,"
                " '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": n, "email": f"c{n}@x.example", **c},
        )


def test_migration_0006_recomputes_keys_and_strips_invisible_characters(db_url):
    engine = make_engine(db_url)
    schema.upgrade(engine, "0005")
    old = {"first": "Иван", "last": "Петров", "alias": "", "alias_key": "", "position": ""}
    with engine.begin() as conn:
        _insert_at_0005(
            conn,
            "Анна\u202e Смирнова",
            [
                {**old, "company": "ООО «Вектор»", "key": "ооо вектор"},
                {**old, "company": "Альфа-Банк", "alias": "Alfa", "key": "альфа-банк"},
                {
                    **old,
                    "first": "\u202eИван\u200b",
                    "last": "Пет\u00adров",
                    "position": "Дирек\u200dтор  по закупкам",
                    "company": "Тойо\u200bта",
                    "alias": "\u2066Toyota\u2069",
                    "key": "тойо\u200bта",
                    "alias_key": "\u2066toyota\u2069",
                },
            ],
        )

    schema.upgrade(engine, "0006")

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT first_name, last_name, position, company_name, company_alias,"
                " company_key, company_alias_key FROM contacts ORDER BY id"
            )
        ).all()
        manager = conn.execute(text("SELECT name FROM managers")).scalar()
    assert [tuple(r) for r in rows] == [
        ("Иван", "Петров", "", "ООО «Вектор»", "", "вектор", ""),
        ("Иван", "Петров", "", "Альфа-Банк", "Alfa", "альфа банк", "alfa"),
        ("Иван", "Петров", "Директор по закупкам", "Тойота", "Toyota", "тойота", "toyota"),
    ]
    assert manager == "Анна Смирнова"

    config = schema.alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT company_key FROM contacts ORDER BY id")).scalars().all()
    assert keys == ["ооо вектор", "альфа-банк", "тойота"]
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    engine.dispose()
