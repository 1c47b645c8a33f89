"""Rendering benchmark: finished letters per second on one core.

Each letter is the whole path a letter takes before SMTP: the safe greeting, the Jinja
templates (subject, text, HTML) with the lint, and the MIME bytes with List-Unsubscribe.
Every 100th letter is parsed back with email.parser.BytesParser and checked.

    .venv/bin/python bench/render.py [--letters 20000]
"""

from __future__ import annotations

import argparse
import itertools
import time
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from zoneinfo import ZoneInfo

from mailer.letters.mime import Address, build_message, make_message_id
from mailer.letters.rendering import LetterKind, LetterLinks, Occasion, Recipient, render_letter
from mailer.letters.sender import SenderIdentity
from mailer.letters.signing import list_unsubscribe_headers, unsubscribe_url
from mailer.run.demo import fake_contacts

SENDERS = [
    SenderIdentity(n, name, email, f"{name}\nДом Подарков", ZoneInfo(tz), False)
    for n, (name, email, tz) in enumerate(
        [
            ("Пётр Петров", "petr.petrov@gifts.example", "Europe/Moscow"),
            ("Анна Смирнова", "anna.smirnova@gifts.example", "Asia/Yekaterinburg"),
            ("Ольга Новикова", "olga.novikova@gifts.example", "Asia/Vladivostok"),
        ],
        start=1,
    )
]
KINDS = [
    (LetterKind.INDUSTRY_CATALOGUE, {"occasion": Occasion("День строителя", date(2027, 8, 8))}),
    (LetterKind.MAR8, {"occasion": Occasion("8 марта", date(2028, 3, 8))}),
    (LetterKind.FEB23, {"occasion": Occasion("23 февраля", date(2028, 2, 23))}),
    (LetterKind.NEW_YEAR_CATALOGUE, {"purchase_month": 8}),
]
KEYS = ("bench-secret-key-0123456789",)
BASE_URL = "https://mail.gifts.example"
URLS = {"каталог": "https://gifts.example/c/cat", "скидка": "https://gifts.example/c/off"}


def letter_bytes(n: int, row: list[str], now: datetime) -> bytes:
    last, first, middle, company, _, email = row[:6]
    sender = SENDERS[n % len(SENDERS)]
    kind, extra = KINDS[n % len(KINDS)]
    recipient = Recipient(email, first, middle, last, company)
    unsubscribe = unsubscribe_url(KEYS, BASE_URL, n)
    links = LetterLinks(URLS, unsubscribe=unsubscribe, honeypot="https://gifts.example/c/hp")
    letter = render_letter(kind, recipient, sender, now=now, links=links, **extra)
    return build_message(
        sender=Address(sender.name, sender.address),
        to=Address(f"{first} {last}", email),
        reply_to=Address(sender.name, sender.address),
        subject=letter.subject,
        text=letter.text,
        html=letter.html,
        message_id=make_message_id(sender.message_id_domain),
        date=sender.local_time(now),
        extra_headers=list_unsubscribe_headers(unsubscribe, "unsubscribe@gifts.example"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=20_000)
    args = parser.parse_args()
    rows = list(itertools.islice(fake_contacts(args.letters, ["x@gifts.example"]), args.letters))
    start_at = datetime(2027, 7, 20, 6, 0, tzinfo=UTC)
    # Warm-up: the analyser's dictionaries and the compiled templates are loaded once.
    letter_bytes(0, rows[0], start_at)
    cpu, wall = time.process_time(), time.perf_counter()
    checked = 0
    for n, row in enumerate(rows):
        raw = letter_bytes(n, row, start_at + timedelta(minutes=n % 720))
        if n % 100 == 0:
            msg = BytesParser(policy=policy.default).parsebytes(raw)
            assert msg["To"].addresses[0].addr_spec == row[5].lower()
            assert msg.get_body(("plain",)).get_content().startswith("Здравствуйте")
            checked += 1
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{args.letters} letters in {wall:.2f} s wall, {cpu:.2f} s CPU (one core)")
    print(
        f"{args.letters / cpu:.0f} finished letters/s per core (target 1,500); "
        f"{checked} parsed back intact"
    )


if __name__ == "__main__":
    main()
