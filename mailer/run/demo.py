"""Realistic Russian demo contacts: for `make demo` and the import benchmark."""

from __future__ import annotations

import csv
import random
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer.contacts.columns import EXPORT_HEADERS
from mailer.contacts.importing import ImportReport, import_contacts
from mailer.delivery.models import Letter, LetterStatus
from mailer.managers.services import add_manager, find_house_sender, list_managers
from mailer.users.models import Role, User
from mailer.users.services import add_user, set_password

_MALE = [
    ("Иван", "Иванович"),
    ("Пётр", "Петрович"),
    ("Сергей", "Сергеевич"),
    ("Алексей", "Алексеевич"),
    ("Дмитрий", "Дмитриевич"),
    ("Андрей", "Андреевич"),
    ("Михаил", "Михайлович"),
    ("Николай", "Николаевич"),
    ("Василий", "Васильевич"),
    ("Олег", "Олегович"),
    ("Артём", "Артёмович"),
    ("Юрий", "Юрьевич"),
]
_FEMALE = [
    "Мария",
    "Ольга",
    "Елена",
    "Татьяна",
    "Наталья",
    "Анна",
    "Ирина",
    "Светлана",
    "Юлия",
    "Екатерина",
    "Алёна",
    "Ксения",
]
_SURNAMES = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
]
_COMPANIES = [
    "Тойота (Toyota)",
    "ГК Рики (Смешарики)",
    "ООО «Стройинвест»",
    "АО Северсталь",
    "Ромашка",
    "ТД Весна",
    "Газпромнефть (ГПН)",
    "Сбер (Сбербанк)",
    "РЖД",
    "Медси",
    "Совкомфлот (SCF)",
    "Мосэнерго",
    "Лента",
    "Яндекс (Yandex)",
    "Автодом",
]
_POSITIONS = [
    "Директор",
    "Менеджер по закупкам",
    "Офис-менеджер",
    "Главный бухгалтер",
    "HR-директор",
    "Руководитель отдела маркетинга",
    "Помощник руководителя",
]
_TAG_WORDS = [
    "строители",
    "айти",
    "медики",
    "жд",
    "нефть",
    "торговля",
    "финансы",
    "энергетики",
    "авто",
    "моряки",
    "промышленность",
    "8",
    "23",
    "8 марта",
    "НГ август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
    "март",
    "июнь",
]
_TRANSLIT = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "д": "d",
        "е": "e",
        "ё": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "й": "y",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ф": "f",
        "х": "h",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "sch",
        "ъ": "",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    }
)
DEMO_MANAGERS = [
    ("Пётр Петров", "petr.petrov@gifts.example", False),
    ("Анна Смирнова", "anna.smirnova@gifts.example", False),
    ("Ольга Новикова", "olga.novikova@gifts.example", False),
    ("Дом Подарков", "hello@gifts.example", True),
]


def fake_contacts(count: int, owners: list[str], seed: int = 1) -> Iterator[list[str]]:
    """`count` rows in the import's Russian layout; e-mails are unique, owners by e-mail."""
    rnd = random.Random(seed)
    for n in range(count):
        if rnd.random() < 0.5:
            first, middle = rnd.choice(_MALE)
            last = rnd.choice(_SURNAMES)
        else:
            first = rnd.choice(_FEMALE)
            father = rnd.choice(_MALE)[1]
            middle = father[:-2] + "на" if father.endswith("ич") else father
            last = rnd.choice(_SURNAMES) + "а"
        middle = middle if rnd.random() < 0.6 else ""
        login = f"{first.lower().translate(_TRANSLIT)}.{last.lower().translate(_TRANSLIT)}{n}"
        # One company, one domain, one owner: no company ends up with two owners.
        k = n % 5000
        yield [
            last,
            first,
            middle,
            _company(k),
            rnd.choice(_POSITIONS),
            f"{login}@client{k}.example",
            f"+7 9{n // 10**7 % 100:02d} {n // 10**4 % 1000:03d}-{n % 10**4:04d}",
            ", ".join(rnd.sample(_TAG_WORDS, rnd.randint(1, 4))),
            owners[k % len(owners)],
            rnd.choice(["да", "да", "да", "нет", "2025-03-01"]),
        ]


def _company(k: int) -> str:
    """The k-th company, keeping the `Name (Alias)` convention."""
    name, _, alias = _COMPANIES[k % len(_COMPANIES)].partition(" (")
    return f"{name} {k} ({alias.rstrip(')')} {k})" if alias else f"{name} {k}"


def write_contacts_csv(path: Path, count: int, owners: list[str], seed: int = 1) -> Path:
    """A CSV export like a Russian CRM's: UTF-8 with BOM, `;`."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(EXPORT_HEADERS)
        writer.writerows(fake_contacts(count, owners, seed))
    return path


def load_demo(session: Session, workdir: Path, count: int = 400) -> ImportReport:
    """Demo managers and `count` contacts; loading twice updates, it never duplicates.

    Nothing is committed here: the caller's unit of work holds the managers and contacts.
    """
    known = {m.email for m in list_managers(session)}
    for name, email, is_house in DEMO_MANAGERS:
        if email not in known and not (is_house and find_house_sender(session)):
            add_manager(
                session,
                name=name,
                email=email,
                is_house=is_house,
                signature=f"{name}\nДом Подарков, отдел корпоративных подарков",
            )
    owners = [email for _, email, is_house in DEMO_MANAGERS if not is_house]
    path = write_contacts_csv(workdir / "demo_contacts.csv", count, owners)
    return import_contacts(session, path, rejects_path=workdir / "demo_contacts.rejects.csv")


def bring_forward(session: Session, count: int, now: datetime) -> int:
    """Demo only: make the next `count` planned letters due now, so letters arrive at once."""
    ids = list(
        session.scalars(
            select(Letter.id)
            .where(Letter.status == LetterStatus.PLANNED, Letter.due_at > now)
            .order_by(Letter.due_at)
            .limit(count)
        )
    )
    if ids:
        session.execute(
            update(Letter)
            .where(Letter.id.in_(ids))
            .values(due_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


DEMO_ACCOUNTS = [
    ("marketing@gifts.example", Role.MARKETING, None),
    ("petr.petrov@gifts.example", Role.MANAGER, "petr.petrov@gifts.example"),
]


def demo_accounts(session: Session) -> list[tuple[str, Role, str]]:
    """One marketing and one manager account with fresh passwords, set again on every run.

    A password is made anew each time (never a fixed one a deployed demo would share) and
    returned, so `make demo` can print it.
    """
    made = []
    for email, role, manager in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        if session.scalar(select(User.id).where(User.email == email)) is None:
            add_user(session, email=email, role=role, password=password, manager_ref=manager)
        else:
            set_password(session, email, password)
        made.append((email, role, password))
    return made
