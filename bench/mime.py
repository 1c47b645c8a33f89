"""MIME benchmark: letters/s for mailer.letters.mime.build_message against stdlib EmailMessage.

Both build the same N letters (realistic Russian names, subject, a ~1,000-character text and a
~1,500-character HTML body, a ~150-character List-Unsubscribe) on one core; the stdlib route
is set_content + add_alternative + as_bytes with max_line_length=998, run on at most 2,000 of
them because it is slow. Also prints what one body costs as base64 and as quoted-printable.

    .venv/bin/python bench/mime.py [--letters 20000]
"""

from __future__ import annotations

import argparse
import binascii
import time
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.headerregistry import Address as StdAddress
from email.message import EmailMessage

from mailer.letters import mime
from mailer.letters.mime import Address, build_message, check_header_block, make_message_id

MSK = timezone(timedelta(hours=3))
FIRST = ["Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Елена", "Сергей", "Наталья"]
MIDDLE = ["Петрович", "Сергеевна", "Иванович", "Алексеевна", "Дмитриевич", "Олеговна"]
LAST = ["Кузнецов", "Смирнова", "Попов", "Волкова", "Соколов", "Лебедева", "Новиков"]
COMPANY = ["ООО «Ромашка»", "АО «Северсталь-Логистика»", "ИП Сидоров", "ПАО «Техснаб»"]

TEXT = """{greeting}

Поздравляем вас и весь коллектив компании {company} с наступающим Новым годом!

Спасибо за доверие и за совместную работу в уходящем году. Мы ценим, что вы выбираете нас,
и надеемся, что следующий год принесёт вашей компании новые проекты, надёжных партнёров
и стабильный рост. Пусть в доме будет тепло, а в работе — ясные цели и хорошие результаты.

В январе мы подготовили для постоянных клиентов специальные условия на поставку
оборудования и сервисное обслуживание. Если вам интересно, просто ответьте на это письмо —
я пришлю подробности и рассчитаю стоимость под ваши объёмы.

Напоминаю, что склад и офис работают до 29 декабря включительно, а с 9 января мы снова
принимаем заявки в обычном режиме. Все отгрузки, оплаченные до 27 декабря, будут
доставлены в этом году. По срочным вопросам в праздники пишите мне напрямую.

С уважением,
{manager}
менеджер по работе с ключевыми клиентами
+7 (495) 123-45-67
"""

HTML = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>С Новым годом</title></head>
<body style="font-family: Arial, sans-serif; font-size: 15px; color: #222;">
<p>{greeting}</p>
<p>Поздравляем вас и весь коллектив компании <b>{company}</b> с наступающим Новым годом!</p>
<p>Спасибо за доверие и за совместную работу в уходящем году. Мы ценим, что вы выбираете
нас, и надеемся, что следующий год принесёт вашей компании новые проекты, надёжных
партнёров и стабильный рост. Пусть в доме будет тепло, а в работе — ясные цели и хорошие
результаты.</p>
<p>В январе мы подготовили для постоянных клиентов специальные условия на поставку
оборудования и сервисное обслуживание. Если вам интересно, просто ответьте на это
письмо — я пришлю подробности и рассчитаю стоимость под ваши объёмы.</p>
<p>Напоминаю, что склад и офис работают до <b>29 декабря</b> включительно, а с 9 января мы
снова принимаем заявки в обычном режиме. Все отгрузки, оплаченные до 27 декабря, будут
доставлены в этом году.</p>
<p>С уважением,<br>{manager}<br>менеджер по работе с ключевыми клиентами<br>
<a href="tel:+74951234567">+7 (495) 123-45-67</a></p>
<p style="font-size: 12px; color: #888;">Вы получили это письмо, потому что ваша компания
работает с нами. Если вы не хотите получать наши письма,
<a href="https://mail.example.ru/u/{token}">отпишитесь</a>.</p>
</body></html>
"""


def _letters(n: int) -> list[dict]:
    letters = []
    sender = Address("Анна Сергеевна Кузнецова", "a.kuznetsova@example.ru")
    for i in range(n):
        name = f"{FIRST[i % 8]} {MIDDLE[i % 6]} {LAST[i % 7]}"
        greeting = f"Здравствуйте, {FIRST[i % 8]} {MIDDLE[i % 6]}!"
        token = f"{i:08d}." + "Zm9vYmFyYmF6cXV4" * 4
        fields = {"greeting": greeting, "company": COMPANY[i % 4], "manager": sender.name}
        letters.append(
            {
                "sender": sender,
                "to": Address(name, f"client{i}@example{i % 50}.ru"),
                "reply_to": None,
                "subject": f"{FIRST[i % 8]} {MIDDLE[i % 6]}, с наступающим Новым годом!",
                "text": TEXT.format(**fields),
                "html": HTML.format(**fields, token=token),
                "message_id": make_message_id("example.ru"),
                "date": datetime(2025, 12, 26, 10, 0, tzinfo=MSK) + timedelta(seconds=i),
                "extra_headers": (
                    (
                        "List-Unsubscribe",
                        f"<https://mail.example.ru/u/{token}>, "
                        "<mailto:unsubscribe@example.ru?subject=unsubscribe>",
                    ),  # fmt: skip
                    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                    ("X-Mailer-Letter-Id", str(i)),
                ),
            }
        )
    return letters


def _stdlib(letter: dict, std_policy: policy.EmailPolicy) -> bytes:
    msg = EmailMessage(policy=std_policy)
    for field in ("sender", "to"):
        a = letter[field]
        msg["From" if field == "sender" else "To"] = StdAddress(a.name, addr_spec=a.address)
    msg["Subject"] = letter["subject"]
    msg["Date"] = letter["date"]
    msg["Message-ID"] = letter["message_id"]
    for name, value in letter["extra_headers"]:
        msg[name] = value
    msg.set_content(letter["text"])
    msg.add_alternative(letter["html"], subtype="html")
    return msg.as_bytes()


def _rate(fn, items: list) -> float:
    started = time.process_time()
    for item in items:
        fn(item)
    return len(items) / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=20_000)
    args = parser.parse_args()
    letters = _letters(args.letters)
    print(f"{len(letters)} letters, text {len(letters[0]['text'])} chars, "
          f"html {len(letters[0]['html'])} chars, "
          f"List-Unsubscribe {len(letters[0]['extra_headers'][0][1])} chars")  # fmt: skip
    size = len(build_message(**letters[0]))

    fast = _rate(lambda letter: build_message(**letter), letters)
    print(f"build_message:        {fast:9,.0f} letters/s  ({1e6 / fast:6.1f} us/letter, "
          f"{size} bytes)")  # fmt: skip

    std_policy = policy.default.clone(max_line_length=998)
    sample = letters[: min(len(letters), 2_000)]
    std_size = len(_stdlib(sample[0], std_policy))
    std = _rate(lambda letter: _stdlib(letter, std_policy), sample)
    print(f"stdlib EmailMessage:  {std:9,.0f} letters/s  ({1e6 / std:6.1f} us/letter, "
          f"{std_size} bytes, {len(sample)} letters)")  # fmt: skip
    print(f"ratio:                {fast / std:9.1f}x")

    message = build_message(**letters[0])
    head = message.split(b"\r\n\r\n", 1)[0]
    fields = [line.split(b":", 1)[0] + b":" for line in head.split(b"\r\n") if line[:1] != b" "]
    for label, check, rounds in (
        ("check_header_block (stdlib parse)", lambda: check_header_block(message), 2_000),
        ("built-in cheap check", lambda: mime._check_built_header_block(head, fields), 20_000),
    ):
        started = time.process_time()
        for _ in range(rounds):
            check()
        took = (time.process_time() - started) / rounds * 1e6
        print(f"{label:34}: {took:7.1f} us/letter")

    body = letters[0]["html"].replace("\n", "\r\n").encode()
    rounds = 20_000

    def b64(data: bytes) -> bytes:
        encoded = binascii.b2a_base64(data, newline=False)
        return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)])

    for label, encode in (
        ("base64", b64),
        ("quoted-printable", lambda data: binascii.b2a_qp(data + b"\r\n", istext=True)),
    ):
        started = time.process_time()
        for _ in range(rounds):
            out = encode(body)
        took = (time.process_time() - started) / rounds * 1e6
        print(f"html body as {label:16}: {took:5.2f} us, {len(out)} bytes for {len(body)}")
    print(f"(measured at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, process CPU time, one core)")


if __name__ == "__main__":
    main()
