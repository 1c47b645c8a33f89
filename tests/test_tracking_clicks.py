"""Tracked links end to end: the click endpoint, the journal, settling, tasks, unsubscribe."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from campaigns.planning import plan_year
from mailer.config import settings
from mailer.contacts.models import Contact, HistoryEntry, HistoryKind
from mailer.contacts.transfers import transfer_contacts
from mailer.db import get_engine
from mailer.delivery.models import Letter, LetterStatus
from mailer.letters.links import campaign_link_ids
from mailer.letters.signing import click_token, unsubscribe_token
from tests.factories import make_contact, make_manager
from tracking.clicks import settle_clicks
from tracking.journal import pending_count
from tracking.models import Click, Task

JAN_1 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Version/17.5 Mobile Safari/604.1"
SAFE_LINKS_IP = "40.94.31.7"


@pytest.fixture
def sent(app, session):
    """One 8 March letter sent to Иван, owned by Пётр; returns (letter, links by label)."""
    owner = make_manager(session, name="Пётр Петров", email="petr@gifts.example")
    contact = make_contact(session, owner=owner, tags="8", first_name="Иван")
    plan_year(session, 2027, now=JAN_1)
    letter = session.scalar(select(Letter).where(Letter.contact_id == contact.id))
    letter.status, letter.sent_at = LetterStatus.SENT, datetime.now(UTC) - timedelta(hours=2)
    session.commit()
    return letter, campaign_link_ids(session, [letter.campaign_id])[letter.campaign_id]


def path(app, letter_id: int, link_id: int) -> str:
    return "/c/" + click_token(settings(app).secret_keys, letter_id, link_id)


def visit(client, app, letter, link_id, *, at_ua=BROWSER, ip="85.140.1.20", method="get"):
    call = getattr(client, method)
    return call(path(app, letter.id, link_id), headers={"User-Agent": at_ua},
                environ_base={"REMOTE_ADDR": ip})  # fmt: skip


def an_hour_passes(session):
    """What was clicked so far happened an hour ago (a person comes back later)."""
    for click in session.scalars(select(Click)):
        click.clicked_at -= timedelta(hours=1)
    session.commit()


def settle(app, session, now):
    return settle_clicks(session, settings(app).tracking, now=now, commit=session.commit)


def test_a_click_redirects_only_to_the_stored_destination_and_is_journaled(app, client, sent):
    letter, links = sent
    response = client.get(path(app, letter.id, links["скидка"]) + "?next=https://evil.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://gifts.example/offers/mar8"
    assert pending_count(settings(app).tracking.journal_dir) == 1


def test_head_gets_the_same_answer_and_records_nothing(app, client, sent):
    letter, links = sent
    response = client.head(path(app, letter.id, links["каталог"]))
    assert response.status_code == 302
    assert response.headers["Location"] == "https://gifts.example/catalogue/mar8"
    assert pending_count(settings(app).tracking.journal_dir) == 0


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],  # truncated
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # tampered
        lambda t: t + "/extra",  # a path tail
        lambda t: "garbage",
        lambda t: "%00%ff",
    ],
)
def test_a_bad_token_gets_a_friendly_russian_404_never_a_redirect(app, client, sent, mangle):
    letter, links = sent
    token = path(app, letter.id, links["скидка"]).removeprefix("/c/")
    response = client.get("/c/" + mangle(token))
    assert response.status_code == 404
    assert "Эта ссылка больше не работает" in response.get_data(as_text=True)
    assert pending_count(settings(app).tracking.journal_dir) == 0


def test_a_foreign_purpose_a_foreign_link_or_a_deleted_letter_is_404(app, client, session, sent):
    letter, links = sent
    keys = settings(app).secret_keys
    assert client.get("/c/" + unsubscribe_token(keys, letter.id)).status_code == 404
    other = campaign_link_ids(session, [letter.campaign_id + 1])[letter.campaign_id + 1]
    assert client.get(path(app, letter.id, next(iter(other.values())))).status_code == 404
    assert client.get(path(app, letter.id + 1000, links["скидка"])).status_code == 404


def test_a_rotated_out_key_ends_old_links_while_a_listed_one_keeps_them(app, client, sent):
    letter, links = sent
    old = path(app, letter.id, links["скидка"])
    keys = settings(app).secret_keys
    app.extensions["mailer.settings"] = replace(settings(app), secret_keys=("n" * 32, *keys))
    assert client.get(old).status_code == 302
    app.extensions["mailer.settings"] = replace(settings(app), secret_keys=("n" * 32,))
    assert client.get(old).status_code == 404


def test_a_scanner_burst_makes_no_task_and_a_person_later_makes_exactly_one(
    app, client, session, sent
):
    letter, links = sent
    for label in ("каталог", "скидка", "каталог"):
        visit(client, app, letter, links[label], ip=SAFE_LINKS_IP)
    visit(client, app, letter, 0, ip=SAFE_LINKS_IP)  # the honeypot
    report = settle(app, session, datetime.now(UTC) + timedelta(minutes=5))
    assert report.loaded == 4 and report.tasks_opened == 0
    assert {c.verdict for c in session.scalars(select(Click))} == {"bot"}
    an_hour_passes(session)

    visit(client, app, letter, links["скидка"])
    visit(client, app, letter, links["скидка"])  # a replay, or a second look
    report = settle(app, session, datetime.now(UTC) + timedelta(minutes=5))
    assert report.tasks_opened == 1, [
        (c.verdict, c.reasons) for c in session.scalars(select(Click))
    ]
    task = session.scalars(select(Task)).one()
    assert task.manager_id == letter.contact.owner_id and task.letter_id == letter.id
    kinds = [h.kind for h in session.scalars(select(HistoryEntry).order_by(HistoryEntry.id))]
    assert kinds.count(HistoryKind.TASK) == 1 and HistoryKind.CLICK in kinds


def test_the_task_goes_to_the_owner_at_click_time_after_a_transfer(app, client, session, sent):
    letter, links = sent
    anna = make_manager(session, name="Анна Смирнова", email="anna@gifts.example")
    transfer_contacts(session, [letter.contact], anna, reason="отпуск")
    session.commit()
    visit(client, app, letter, links["скидка"])
    settle(app, session, datetime.now(UTC) + timedelta(minutes=5))
    assert session.scalar(select(Task.manager_id)) == anna.id


def test_a_second_browser_and_network_after_a_person_is_forwarded_not_a_second_lead(
    app, client, session, sent
):
    letter, links = sent
    visit(client, app, letter, links["скидка"])
    settle(app, session, datetime.now(UTC) + timedelta(minutes=5))
    an_hour_passes(session)
    visit(client, app, letter, links["скидка"], at_ua=PHONE, ip="178.66.9.9")
    settle(app, session, datetime.now(UTC) + timedelta(minutes=10))
    verdicts = [c.verdict for c in session.scalars(select(Click).order_by(Click.id))]
    assert verdicts == ["human", "forwarded"]
    assert len(session.scalars(select(Task)).all()) == 1


def test_a_fresh_click_waits_for_the_burst_window_before_it_is_judged(app, client, session, sent):
    letter, links = sent
    visit(client, app, letter, links["скидка"])
    report = settle(app, session, datetime.now(UTC))
    assert report.loaded == 1 and report.pending == 1 and report.tasks_opened == 0


def test_loading_a_journal_twice_adds_each_click_once(app, client, session, sent):
    letter, links = sent
    visit(client, app, letter, links["каталог"])
    folder = settings(app).tracking.journal_dir
    sealed = list(folder.glob("*.jsonl"))
    copy = sealed[0].read_bytes()
    settle(app, session, datetime.now(UTC))
    (folder / "again.sealed").write_bytes(copy)  # a loader that crashed before discarding
    settle(app, session, datetime.now(UTC))
    assert len(session.scalars(select(Click)).all()) == 1


def test_get_unsubscribe_only_asks_and_post_without_cookies_unsubscribes_at_once(
    app, client, session, sent
):
    letter, _ = sent
    url = "/u/" + unsubscribe_token(settings(app).secret_keys, letter.contact_id)
    page = client.get(url)
    assert page.status_code == 200 and "Отписаться от писем?" in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Contact, letter.contact_id).unsubscribed_at is None

    fresh = app.test_client(use_cookies=False)
    done = fresh.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Вы отписаны" in done.get_data(as_text=True)
    assert fresh.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    session.expire_all()
    contact = session.get(Contact, letter.contact_id)
    assert contact.unsubscribed_at is not None
    kinds = session.scalars(select(HistoryEntry.kind).where(HistoryEntry.contact_id == contact.id))
    assert list(kinds).count(HistoryKind.UNSUBSCRIBE) == 1


def test_unsubscribing_cancels_planned_letters_and_nothing_more_is_planned(app, client, session):
    owner = make_manager(session, email="petr@gifts.example")
    contact = make_contact(session, owner=owner, tags="8, 23, строители")
    plan_year(session, 2027, now=JAN_1)
    session.commit()
    url = "/u/" + unsubscribe_token(settings(app).secret_keys, contact.id)
    assert client.post(url).status_code == 200
    session.expire_all()
    statuses = set(session.scalars(select(Letter.status).where(Letter.contact_id == contact.id)))
    assert statuses == {LetterStatus.CANCELLED}
    assert plan_year(session, 2028, now=JAN_1).added == 0


def test_a_bad_unsubscribe_token_is_a_404_and_changes_nothing(app, client, sent):
    assert client.post("/u/nonsense").status_code == 404
    assert client.get("/u/" + click_token(settings(app).secret_keys, 1, 1)).status_code == 404


def test_x_forwarded_for_is_believed_only_from_trusted_proxies(app, client, session, sent):
    letter, links = sent
    forwarded = {"X-Forwarded-For": "203.0.113.9", "User-Agent": BROWSER}
    client.get(path(app, letter.id, links["скидка"]), headers=forwarded)
    behind_proxy = create_app_with(app, TRUSTED_PROXIES=1)
    behind_proxy.test_client().get(
        path(app, letter.id, links["скидка"]), headers=forwarded,
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )  # fmt: skip
    get_engine(behind_proxy).dispose()
    settle(app, session, datetime.now(UTC))
    assert [c.ip for c in session.scalars(select(Click).order_by(Click.id))] == [
        "127.0.0.1",
        "203.0.113.9",
    ]


def create_app_with(app, **overrides):
    """A second app on the same database and journal, with other settings."""
    from mailer import create_app

    config = {key: app.config[key] for key in ("DATABASE_URL", "SECRET_KEY", "CLICK_JOURNAL_DIR")}
    return create_app({"TESTING": True, **config, **overrides})


def test_the_public_paths_skip_the_desks_layers_and_answer_in_russian(app, client, sent):
    letter, links = sent
    response = client.get(path(app, letter.id, links["каталог"]))
    assert response.status_code == 302
    # No session, sign-in or remember-me layer touched the request.
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers
    for address in ("/c/", "/u/", path(app, letter.id, links["каталог"]) + "/x"):
        missing = client.get(address)
        assert missing.status_code == 404
        assert "Эта ссылка больше не работает" in missing.get_data(as_text=True)
    assert client.put(path(app, letter.id, links["каталог"])).status_code == 404
