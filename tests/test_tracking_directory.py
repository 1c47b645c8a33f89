"""The click path's memory of links and letters: what it answers, and how soon it learns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from campaigns.planning import plan_year
from mailer.db import get_engine, utcnow
from mailer.delivery.models import Letter, LetterStatus
from mailer.letters.links import campaign_link_ids
from tests.factories import make_contact, make_manager
from tracking import directory as directory_module
from tracking.directory import BLOCK, KEEP_GONE, ClickDirectory, prune_gone_letters
from tracking.links import add_link, find_campaign, remove_link, set_link
from tracking.models import CampaignLink, GoneLetter

JAN_1 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def letters(app, session):
    """Two 8 March letters, one sent and one still planned; their campaign's links."""
    owner = make_manager(session)
    make_contact(session, owner=owner, tags="8", email="a@client.example")
    make_contact(session, owner=owner, tags="8", email="b@client.example")
    plan_year(session, 2027, now=JAN_1)
    sent, planned = session.scalars(select(Letter).order_by(Letter.id)).all()
    sent.status = LetterStatus.SENT
    session.commit()
    return sent, planned, campaign_link_ids(session, [sent.campaign_id])[sent.campaign_id]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def directory(app, clock):
    return ClickDirectory(get_engine(app), max_age=1, clock=clock)


def test_a_sent_letter_leads_to_its_links_and_only_its_campaigns(app, session, letters, directory):
    sent, planned, links = letters
    assert (
        directory.destination(sent.id, links["каталог"]) == "https://gifts.example/catalogue/mar8"
    )
    foreign = session.scalar(
        select(CampaignLink.id).where(CampaignLink.campaign_id != sent.campaign_id)
    )
    assert directory.destination(sent.id, foreign) is None
    assert directory.campaign_of(sent.id + 10 * BLOCK) is None  # a block with no letters
    # A planned letter was never rendered with links: nothing leads anywhere from it.
    assert directory.campaign_of(planned.id) is None


def test_a_deleted_letter_stops_redirecting_within_max_age(app, session, letters, directory, clock):
    sent, _, links = letters
    assert directory.campaign_of(sent.id) == sent.campaign_id
    session.execute(delete(Letter).where(Letter.id == sent.id))
    session.commit()
    assert directory.campaign_of(sent.id) == sent.campaign_id  # what "within a second" allows
    clock.now += 1
    assert directory.destination(sent.id, links["каталог"]) is None


def test_deleting_planned_letters_leaves_no_trace_and_a_sent_one_does(app, session, letters):
    sent, planned, _ = letters
    session.execute(delete(Letter).where(Letter.id == planned.id))
    session.commit()
    assert session.scalar(select(func.count()).select_from(GoneLetter)) == 0
    session.execute(delete(Letter).where(Letter.id == sent.id))
    session.commit()
    assert session.scalars(select(GoneLetter.letter_id)).all() == [sent.id]


def test_a_letter_sent_after_its_block_was_read_is_found(app, session, letters, directory):
    sent, planned, links = letters
    assert directory.campaign_of(sent.id) == sent.campaign_id  # the block is read now
    planned.status = LetterStatus.SENDING
    session.commit()
    assert directory.destination(planned.id, links["скидка"]) == "https://gifts.example/offers/mar8"


def test_link_changes_are_seen_within_max_age_and_a_new_link_at_once(
    app, session, letters, directory, clock
):
    sent, _, links = letters
    assert directory.destination(sent.id, links["скидка"]) == "https://gifts.example/offers/mar8"
    mar8 = find_campaign(session, "mar8")
    set_link(session, mar8, label="скидка", url="https://gifts.example/spring")
    session.commit()
    clock.now += 1
    assert directory.destination(sent.id, links["скидка"]) == "https://gifts.example/spring"
    new = add_link(session, mar8, label="тюльпаны", role="other", url="https://gifts.example/t")
    session.commit()
    assert directory.destination(sent.id, new.id) == "https://gifts.example/t"  # no waiting
    remove_link(session, mar8, label="тюльпаны")
    session.commit()
    clock.now += 1
    assert directory.destination(sent.id, new.id) is None


def test_a_deletion_committed_late_with_an_earlier_time_is_still_seen(
    app, session, letters, directory, clock
):
    sent, _, _ = letters
    assert directory.campaign_of(sent.id) == sent.campaign_id
    session.add(GoneLetter(letter_id=999_999, gone_at=utcnow()))  # a later deletion, seen first
    session.commit()
    clock.now += 1
    directory.campaign_of(sent.id)
    # A transaction that deleted earlier commits now, its row older than the one seen.
    session.execute(delete(Letter).where(Letter.id == sent.id))
    late = session.scalar(select(GoneLetter).where(GoneLetter.letter_id == sent.id))
    late.gone_at = utcnow() - timedelta(seconds=30)
    session.commit()
    clock.now += 1
    assert directory.campaign_of(sent.id) is None


def test_a_process_idle_past_the_forget_time_reads_its_letters_again(
    app, session, letters, directory, clock
):
    sent, _, _ = letters
    assert directory.campaign_of(sent.id) == sent.campaign_id
    # The trigger's row is gone (pruned) by the time this process looks again.
    session.execute(delete(Letter).where(Letter.id == sent.id))
    session.execute(delete(GoneLetter))
    session.commit()
    clock.now += directory_module.FORGET_SECONDS + 1
    assert directory.campaign_of(sent.id) is None


def test_zero_max_age_asks_the_database_on_every_click(app, session, letters):
    sent, _, links = letters
    directory = ClickDirectory(get_engine(app), max_age=0)
    assert directory.destination(sent.id, links["каталог"]) is not None
    session.execute(delete(Letter).where(Letter.id == sent.id))
    session.commit()
    assert directory.destination(sent.id, links["каталог"]) is None


def test_settling_prunes_what_every_process_has_read(app, session):
    now = utcnow()
    session.add_all(
        [
            GoneLetter(letter_id=1, gone_at=now - KEEP_GONE - timedelta(seconds=1)),
            GoneLetter(letter_id=2, gone_at=now - KEEP_GONE + timedelta(seconds=5)),
        ]
    )
    session.commit()
    prune_gone_letters(session, now=now)
    session.commit()
    assert session.scalars(select(GoneLetter.letter_id)).all() == [2]
