"""Every reason an import rejects a row with is Russian: managers and marketing read them in
Excel and on the import page, grouped by kind."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from mailer.contacts.import_jobs import rejection_reasons
from mailer.contacts.importing import import_contacts
from mailer.contacts.ownership import COMPANY, EMAIL, PHONE, Refusal
from mailer.contacts.table_rows import MAX_FIELD_CHARS, MAX_ROW_FIELDS
from mailer.privacy.models import ErasedAddress
from mailer.privacy.suppression import address_hash
from tests.factories import make_contact, make_manager

HEADER = ["Email", "Личный email", "Имя", "Компания", "Телефон", "Теги", "Ответственный"]
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# Three Latin words in a row are an English sentence; a value, a flag or an address is not.
ENGLISH = re.compile(r"\b[A-Za-z]{2,}\b(?:[ ,;:]+\b[A-Za-z]{2,}\b){2,}")


def _row(email: str = "", name: str = "Иван", owner: str = "Анна Смирнова", **cells: str):
    row = dict.fromkeys(HEADER, "")
    row.update({"Email": email, "Имя": name, "Ответственный": owner})
    row.update({key.replace("_", " "): value for key, value in cells.items()})
    return [row[h] for h in HEADER]


def _bad_rows() -> list[list[str]]:
    """One row of each kind the import rejects (the CRM-id kind is in test_crm_import)."""
    return [
        _row("not-an-email"),
        _row("ivan@@x.example"),
        _row("v\u0430sya@x.example"),
        _row("", name="Безадресный"),
        _row("multi@x.example", name="Иван\r\nИванович"),
        _row("line\r\n@x.example"),
        _row("phone1@x.example", Телефон="+7 916\n123-45-67"),
        _row("phone2@x.example", Телефон="12"),
        _row("phone3@x.example", Телефон="abc"),
        _row("tag@x.example", Теги="квадрокоптеры"),
        _row("owner1@x.example", owner="Нет Такого"),
        _row("owner2@x.example", owner="Олег Тёзкин"),
        _row("owner3@x.example", owner="gone@gifts.example"),
        _row("nobody@x.example", owner=""),
        [*_row("wide@x.example"), "лишнее"],
        [*_row("wider@x.example"), *["1"] * MAX_ROW_FIELDS],
        _row("long@x.example", name="я" * (MAX_FIELD_CHARS + 1)),
        _row("huge@x.example", name="я" * 200_000),
        _row("taken@lada.example"),
        _row("boss@toyota.example", Компания="Тойота"),
        _row("caller@x.example", Телефон="8 916 123-45-67"),
        _row("erased@x.example"),
        _row("own1@x.example", Личный_email="own2@x.example"),
        _row("own2@x.example"),
    ]


def _english(reason: str) -> str:
    found = ENGLISH.search(reason)
    return found[0] if found else ""


def test_every_reject_reason_is_russian_and_grouped_by_kind(session, tmp_path: Path):
    make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    boris = make_manager(session, name="Борис Орлов", email="boris@gifts.example")
    make_manager(session, name="Олег Тёзкин", email="oleg1@gifts.example")
    make_manager(session, name="Олег Тёзкин", email="oleg2@gifts.example")
    make_manager(session, name="Ушедший", email="gone@gifts.example").is_active = False
    make_contact(session, owner=boris, email="taken@lada.example", company="Лада")
    make_contact(session, owner=boris, company="Тойота (Toyota)", phone="+7 916 123-45-67")
    session.add(ErasedAddress(address_hash=address_hash("erased@x.example")))
    session.commit()
    bad = _bad_rows()
    path = tmp_path / "crm.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([HEADER, *bad, _row("good@x.example")])

    report = import_contacts(session, path)

    assert (report.accepted, report.rejected) == (2, len(bad) - 1), report  # own1 is stored
    text = report.rejects_path.read_text(encoding="utf-8")
    reasons = [
        row[-1] for row in csv.reader(text.replace("я" * 200_000, "я").splitlines(keepends=True))
    ][1:]
    assert len(reasons) == len(bad) - 1
    for reason in reasons:
        assert CYRILLIC.search(reason) and not _english(reason), reason
    kinds = rejection_reasons(report.rejects_path, limit=100)
    assert sum(count for _, count in kinds) == len(reasons)
    assert len(kinds) < len(reasons)  # grouped: several rows share a kind
    for kind, _ in kinds:
        assert CYRILLIC.search(kind) and len(kind) <= 40, kind
    assert dict(kinds)["неверный e-mail"] == 3
    assert dict(kinds)["неверный телефон"] == 2


def test_every_owner_refusal_reads_in_russian():
    names = {1: "Анна Смирнова", 2: "Борис Орлов"}
    refusals = [
        Refusal(EMAIL, "a@b.example", (1,), is_same_company_ok=False),
        Refusal(EMAIL, "a@b.example", (1,), is_same_company_ok=False, is_someone_else=False),
        Refusal(PHONE, "+79161234567", (1, 2)),
        Refusal(COMPANY, "Тойота (Toyota)", (2,)),
    ]
    for refusal in refusals:
        reason = refusal.reason(names)
        assert CYRILLIC.search(reason.split(":")[0]) and not _english(reason), reason
    assert refusals[3].reason(names) == (
        "компания у другого менеджера: 'Тойота (Toyota)' — уже у менеджера Борис Орлов;"
        " если это другой человек этой компании — импортируйте с --allow-same-company"
    )
    assert "у менеджеров Анна Смирнова, Борис Орлов" in refusals[2].reason(names)
