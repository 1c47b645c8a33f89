"""`campaigns explain`'s reasons as the outbox page says them in Russian."""

from __future__ import annotations

import pytest

from campaigns.explain_words import reason_words


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("no tag mar8", "нет тега mar8"),
        ("no consent", "нет согласия на рассылку"),
        ("no occasion in 2027", "в 2027 году у повода нет даты"),
        (
            "tagged after the window closed on 2027-03-01",
            "тег поставлен после окна рассылки (оно закрылось 2027-03-01)",
        ),
        ("tag mar8, consent given", "тег mar8, согласие есть"),
        (
            "not planned yet (window 2027-02-15..2027-03-01): run the planner",
            "ещё не запланировано (окно 2027-02-15 – 2027-03-01): запустите планирование",
        ),
        (
            "planned 2027-02-15 10:05 Europe/Moscow (paced within Пётр Петров's hours)",
            "запланировано на 2027-02-15 10:05 (Europe/Moscow), в рабочие часы: Пётр Петров",
        ),
        ("sent 2027-02-15 10:05 UTC", "отправлено 2027-02-15 10:05 UTC"),
        ("from Пётр Петров <petr@gifts.example>", "от Пётр Петров <petr@gifts.example>"),
        (
            "but unsubscribed now: it will be cancelled at sending",
            "но сейчас контакт отписался: при отправке письмо отменят",
        ),
        (
            "deferred after 2 attempts: 451 try later",
            "отложено после попыток: 2; ответ сервера: 451 try later",
        ),
        ("bounced: 550 no mailbox", "не доставлено: 550 no mailbox"),
        ("something new", "something new"),
    ],
)
def test_each_reason_reads_in_russian_or_stays_as_it_is(reason, words):
    assert reason_words(reason) == words
