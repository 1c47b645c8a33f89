"""Marketing's import page through the test client: the dry run, the confirmation, the
rejects file, the background thread with its state on disk, and uploads that are not tables."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
from sqlalchemy import func, select

from mailer.contacts.models import Contact
from tests.desk import post, sign_in
from tests.marketing_data import MARKETING, marketing_year


@pytest.fixture
def year(session):
    return marketing_year(session)


@pytest.fixture
def as_marketing(app, year):
    client = app.test_client()
    sign_in(client, MARKETING)
    return client


def _contacts(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Contact))


IMPORT_CSV = (
    "email;first_name;last_name;company;owner;consent\n"
    "new1@new.example;Олег;Новиков;Новая (New);petr@gifts.example;да\n"
    "not-an-email;Иван;Плохов;Плохая;petr@gifts.example;да\n"
    "new2@other.example;Анна;Вторая;Другая;petr@gifts.example;да\n"
)


def _upload(client, data: bytes, name: str):
    return post(
        client,
        "/import",
        {"file": (io.BytesIO(data), name)},
        token_from="/import",
        content_type="multipart/form-data",
    )


def test_an_import_is_checked_then_confirmed_and_its_rejects_downloaded(
    as_marketing, year, session
):
    before = _contacts(session)
    response = _upload(as_marketing, IMPORT_CSV.encode(), "crm.csv")
    assert response.status_code == 302
    job_url = response.headers["Location"]
    page = as_marketing.get(job_url).get_data(as_text=True)
    assert "ничего не сохранено" in page and 'class="rejected">1<' in page
    assert "<li>неверный e-mail — 1</li>" in page
    assert _contacts(session) == before  # the dry run stored nothing
    with as_marketing.get(f"{job_url}/rejects") as rejects:
        assert rejects.headers["Content-Disposition"].startswith("attachment")
        assert "not-an-email" in rejects.get_data(as_text=True)
    assert post(as_marketing, f"{job_url}/confirm", token_from=job_url).status_code == 302
    assert "Импорт выполнен" in as_marketing.get(job_url).get_data(as_text=True)
    assert _contacts(session) == before + 2
    post(as_marketing, f"{job_url}/confirm", token_from=job_url)  # a second click: nothing
    assert _contacts(session) == before + 2


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "photo.png", "Загрузите таблицу: файл CSV или XLSX."),
        (b"PK\x03\x04 not really a workbook", "book.xlsx", "Файл не читается как таблица"),
        (b"", "empty.csv", "Файл пустой"),
        (b"just some words\nand more words\n", "notes.csv", "Файл не читается как таблица"),
    ],
)
def test_an_upload_that_is_not_a_table_is_refused_in_russian_and_nothing_kept(
    app, as_marketing, year, session, data, name, message
):
    before = _contacts(session)
    response = _upload(as_marketing, data, name)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _contacts(session) == before
    folder = app.instance_path + "/imports"
    assert not os.path.isdir(folder) or os.listdir(folder) == []


def test_a_large_import_runs_in_the_background_and_its_state_survives_a_reload(
    app, as_marketing, year, session
):
    app.config["MAILER_IMPORT_BACKGROUND_BYTES"] = 10
    response = _upload(as_marketing, IMPORT_CSV.encode(), "crm.csv")
    job_url = response.headers["Location"]
    state = _wait(as_marketing, job_url, "checked")
    assert state["check"]["rejected"] == 1 and state["check"]["accepted"] == 2
    assert state["check"]["reasons"] == [["неверный e-mail", 1]]
    post(as_marketing, f"{job_url}/confirm", token_from=job_url)
    assert _wait(as_marketing, job_url, "done")["import"]["inserted"] == 2


def _wait(client, job_url: str, stage: str) -> dict:
    for _ in range(200):
        state = json.loads(client.get(f"{job_url}/state").get_data(as_text=True))
        if state["stage"] in (stage, "failed"):
            assert state["stage"] == stage, state
            return state
        time.sleep(0.05)
    raise AssertionError(f"the import never reached {stage}")


def test_an_unknown_import_is_404(as_marketing, year):
    assert as_marketing.get("/import/" + "a" * 22).status_code == 404
    assert as_marketing.get("/import/../../etc").status_code == 404
