"""Issue 12's readable contact book: the card, transfers that say why, exports in Russian with
Unicode e-mails that import back, and `greeting --csv` on the product's own export."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailer.contacts.book import Consent
from mailer.contacts.exporting import export_contacts
from mailer.contacts.importing import import_contacts
from mailer.contacts.models import Contact, HistoryKind
from mailer.contacts.notes import add_note
from mailer.letters.cli import greeting_command
from tests.desk import sign_in_marketing
from tests.factories import make_contact, make_manager


@pytest.fixture
def ivan(session):
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    contact = make_contact(
        session,
        owner=anna,
        email="ivan@почта.рф",
        first_name="Иван",
        middle_name="Иванович",
        last_name="Кондрашов",
        company="ООО «Тойота» (Toyota)",
        position="Директор",
        phone="+7 916 123-45-67",
        tags="строители, НГ сентябрь, 8",
        consent=Consent(True, datetime(2026, 3, 12, 9, 30, tzinfo=UTC), "устно, звонок 12.03"),
    )
    for n in range(7):
        add_note(session, contact, f"звонок {n}", kind=HistoryKind.CALL, author=anna)
    session.commit()
    return contact


def test_show_prints_the_card(runner, ivan):
    result = runner.invoke(args=["mailer", "contacts", "show", "IVAN@почта.рф"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.splitlines()[0] == "Кондрашов Иван Иванович <ivan@почта.рф>"
    for line in (
        "company:     ООО «Тойота» (Toyota)",
        "phone:       +79161234567",
        "owner:       Анна Смирнова <anna@gifts.example>",
        "consent:     given on 2026-03-12 09:30 UTC: «устно, звонок 12.03»",
        "mailing:     letters may be sent",
        "greeting:    Здравствуйте, Иван Иванович!",
        "history: 7 entries, the last 5:",
    ):
        assert line in out, line
    tags = next(line for line in out.splitlines() if line.startswith("  tags:"))
    assert set(tags.split(":", 1)[1].strip().split(", ")) == {"Строители", "8 марта", "Сентябрь"}
    calls = [line.rsplit(": ", 1)[-1] for line in out.splitlines() if " call " in line]
    assert calls == [f"звонок {n}" for n in range(2, 7)]


def test_show_of_an_unknown_email_is_one_line_and_exit_1(runner, ivan):
    result = runner.invoke(args=["mailer", "contacts", "show", "nobody@x.example"])
    assert result.exit_code == 1
    assert result.output == "Error: no contact with e-mail nobody@x.example\n"


def test_transfer_says_why_nothing_moved(runner, session, ivan):
    make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    session.commit()
    args = ["mailer", "contacts", "transfer", "--email", "ivan@почта.рф", "--to"]
    result = runner.invoke(args=[*args, "anna@gifts.example"])
    assert (result.exit_code, result.output) == (
        0,
        "transferred 0 of 1 contact to Анна Смирнова; 1 already belonged to Анна Смирнова\n",
    )
    result = runner.invoke(args=[*args, "nobody@gifts.example"])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    result = runner.invoke(
        args=["mailer", "contacts", "transfer", "--company", "Никто", "--to", "petr@gifts.example"]
    )
    assert result.exit_code == 1
    assert "no contact matches" in result.output
    result = runner.invoke(args=[*args, "petr@gifts.example"])
    assert result.output == "transferred 1 of 1 contact to Пётр Петров\n"


def test_lists_show_idn_emails_in_unicode(runner, session, ivan, client):
    for args in (["check", "--email", "ivan@xn--80a1acny.xn--p1ai"], ["abandoned", "--days", "0"]):
        result = runner.invoke(args=["mailer", "contacts", *args])
        assert "ivan@почта.рф" in result.output and "xn--" not in result.output, args
    sign_in_marketing(client, session)
    page = client.get("/check", query_string={"q": "ivan@почта.рф"}).get_data(as_text=True)
    assert "ivan@почта.рф" in page and "xn--" not in page


def test_transfer_to_an_inactive_manager_is_one_line(runner, session, ivan):
    make_manager(session, name="Ушедший", email="gone@gifts.example").is_active = False
    session.commit()
    result = runner.invoke(
        args=[
            "mailer",
            "contacts",
            "transfer",
            "--email",
            "ivan@почта.рф",
            "--to",
            "gone@gifts.example",
        ]
    )
    assert result.exit_code == 1
    assert (
        result.output == "Error: Ушедший <gone@gifts.example> is not active; activate them first\n"
    )


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_export_shows_russian_tag_names_and_unicode_emails_that_import_back(
    session, tmp_path, ivan, suffix
):
    path = tmp_path / f"book{suffix}"
    export_contacts(session, path)
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            row = list(csv.reader(fh, delimiter=";"))[1]
        assert row[5] == "ivan@почта.рф"
        assert set(row[7].split(", ")) == {"Строители", "8 марта", "Сентябрь"}
    ivan.tags = []
    session.commit()

    report = import_contacts(session, path)

    assert (report.updated, report.rejected) == (1, 0)
    session.expire_all()
    contact = session.scalar(select(Contact))
    assert contact.email == "ivan@xn--80a1acny.xn--p1ai"  # ASCII stored, as sent
    assert [t.code for t in contact.tags] == ["construction", "mar8", "ny_sep"]


def test_the_export_command_counts_in_english(runner, ivan, tmp_path):
    result = runner.invoke(args=["mailer", "contacts", "export", str(tmp_path / "one.csv")])
    assert result.output == f"exported 1 contact to {tmp_path / 'one.csv'}\n"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_greeting_reads_the_products_own_export(session, tmp_path, ivan, suffix):
    path = tmp_path / f"book{suffix}"
    export_contacts(session, path)

    result = CliRunner().invoke(greeting_command, ["--csv", str(path)])

    assert result.exit_code == 0, result.output
    header, row = list(csv.reader(result.output.splitlines(), delimiter=";"))
    assert header[:3] == ["Фамилия", "Имя", "Отчество"] and header[-1] == "Приветствие"
    assert row[:3] == ["Кондрашов", "Иван", "Иванович"]
    assert row[-1] == "Здравствуйте, Иван Иванович!"
