"""The name a client asked to be called: set on the card, and the letters greet with it."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from mailer.contacts.preferred_names import preferred_name, set_preferred_name
from mailer.letters.rendering import Recipient
from mailer.smtp import SmtpSettings, SmtpTransport
from tests.factories import make_contact, make_manager
from tests.test_delivery import deliver, planned


def _plain(raw: bytes) -> str:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_a_delivered_letter_greets_with_the_preferred_name(app, session, smtp_server):
    [contact], due = planned(session)
    contact.first_name, contact.middle_name = "Александра", "Ивановна"
    set_preferred_name(session, contact.id, "  Саша ")
    session.commit()
    with SmtpTransport(SmtpSettings(host=smtp_server.host, port=smtp_server.port)) as transport:
        deliver(app.extensions["mailer.sessionmaker"], transport, due)
    [received] = smtp_server.accepted
    assert _plain(received.data).startswith("Здравствуйте, Саша!")


def test_the_preview_greets_with_it_and_clearing_it_brings_the_name_fields_back(runner, session):
    petr = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    make_manager(session, name="Дом Подарков", email="hello@gifts.example", is_house=True)
    contact = make_contact(session, owner=petr, tags="8", first_name="Александра")
    set_preferred_name(session, contact.id, "Саша")
    session.commit()
    args = ["mailer", "letters", "preview", "--contact", contact.email, "--kind", "mar8", "--raw"]
    assert _plain(runner.invoke(args=args).stdout_bytes).startswith("Здравствуйте, Саша!")
    set_preferred_name(session, contact.id, "")
    session.commit()
    assert preferred_name(session, contact.id) == ""
    assert _plain(runner.invoke(args=args).stdout_bytes).startswith("Здравствуйте, Александра!")


def test_a_name_the_parser_does_not_know_is_used_as_the_client_wrote_it():
    recipient = Recipient(email="a@b.example", first_name="Иван", preferred_name="Джон")
    assert recipient.greeting().text == "Здравствуйте, Джон!"
    assert Recipient(email="a@b.example", first_name="Иван").greeting().text == (
        "Здравствуйте, Иван!"
    )


def test_a_preferred_name_too_long_is_refused(session):
    contact = make_contact(session)
    with pytest.raises(ValueError, match="длиннее"):
        set_preferred_name(session, contact.id, "я" * 201)
