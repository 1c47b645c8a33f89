"""The outbox page's figures: letters by status, the ones in trouble with retry and bounce
details, and one contact's letters with `campaigns explain`'s reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from campaigns.models import Campaign
from campaigns.outbox import contact_outbox, search_contacts, status_counts, trouble_letters
from campaigns.planning import plan_year
from campaigns.reports import explain_contact
from mailer.delivery.models import Letter, LetterStatus
from tests.factories import make_contact, make_manager

JAN_1 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
FEB_20 = datetime(2027, 2, 20, 9, 0, tzinfo=UTC)


def planned(session):
    owner = make_manager(session)
    ivan = make_contact(
        session, owner=owner, tags="8, 23", email="ivan@toyota.example", last_name="Петров",
        company="Тойота (Toyota)",
    )  # fmt: skip
    others = [make_contact(session, owner=owner, tags="8") for _ in range(3)]
    plan_year(session, 2027, now=JAN_1)
    letters = session.scalars(select(Letter).order_by(Letter.contact_id, Letter.id)).all()
    deferred, bounced, failed = letters[1], letters[2], letters[3]
    deferred.status, deferred.attempts, deferred.first_attempt_at = LetterStatus.DEFERRED, 3, FEB_20
    deferred.due_at, deferred.last_code = FEB_20 + timedelta(minutes=35), 451
    deferred.last_error = "451 4.7.1 greylisted"
    bounced.status, bounced.last_code, bounced.last_error = (
        LetterStatus.BOUNCED,
        550,
        "550 5.1.1 no such user",
    )
    failed.status, failed.last_code, failed.last_error = LetterStatus.FAILED, 554, "554 5.7.1 spam"
    letters[0].status, letters[0].sent_at, letters[0].message_id = (
        LetterStatus.SENT,
        FEB_20,
        "<m@x>",
    )
    session.commit()
    return ivan, others


def test_letters_are_counted_by_status(session):
    planned(session)
    counts = status_counts(session)
    assert set(counts) == set(LetterStatus)
    assert counts[LetterStatus.PLANNED] == 1
    assert (counts[LetterStatus.SENT], counts[LetterStatus.DEFERRED]) == (1, 1)
    assert (counts[LetterStatus.BOUNCED], counts[LetterStatus.FAILED]) == (1, 1)
    assert counts[LetterStatus.CANCELLED] == 0
    assert sum(status_counts(session, year=2028).values()) == 0


def test_letters_in_trouble_carry_their_retry_and_bounce_details(session):
    planned(session)
    total, rows = trouble_letters(session)
    assert total == 3
    by_status = {row.status: row for row in rows}
    deferred = by_status[LetterStatus.DEFERRED]
    assert (deferred.attempts, deferred.last_code) == (3, 451)
    assert deferred.next_attempt_at == FEB_20 + timedelta(minutes=35)
    assert deferred.gives_up_at == FEB_20 + timedelta(days=5)
    bounced = by_status[LetterStatus.BOUNCED]
    assert bounced.last_error == "550 5.1.1 no such user" and bounced.next_attempt_at is None
    total, page = trouble_letters(session, statuses=(LetterStatus.BOUNCED,), per_page=1)
    assert (total, [row.status for row in page]) == (1, [LetterStatus.BOUNCED])
    assert len(trouble_letters(session, per_page=2, page=2)[1]) == 1


def test_a_contact_is_found_by_address_surname_or_either_company_spelling(session):
    ivan, _ = planned(session)
    for query in ("ivan@toy", "петров", "Петров", "тойота", "TOYOTA", "«Тойота»"):
        assert [c.id for c in search_contacts(session, query)] == [ivan.id], query
    assert search_contacts(session, "%") == [] and search_contacts(session, "  ") == []


def test_a_contacts_outbox_explains_each_campaign_as_the_command_does(session):
    ivan, _ = planned(session)
    found = contact_outbox(session, ivan, 2027, now=JAN_1)
    assert sorted(code for _, code in found.letters) == ["feb23", "mar8"]
    assert found.explanations == explain_contact(session, ivan, 2027, now=JAN_1)
    verdicts = {e.campaign.split()[0]: e.verdict for e in found.explanations}
    assert verdicts["mar8"] in ("got", "will get", "did not get")
    assert len(found.explanations) == len(
        session.scalars(select(Campaign).where(Campaign.is_active.is_(True))).all()
    )
