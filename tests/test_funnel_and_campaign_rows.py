"""The funnel (sent → opened → catalogue → offer → taken, machines apart) with its CSV, and
the campaigns list's rows with this year's letters planned, sent and clicked."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from campaigns.models import Campaign
from mailer.delivery.models import Letter, LetterStatus
from mailer.tags.models import Tag
from tests.factories import make_contact, make_manager
from tracking.campaign_rows import campaign_rows
from tracking.funnel import FunnelBy, funnel, write_funnel_csv
from tracking.models import CampaignLink, Click, Task, TaskOutcome, TaskStatus

SENT = datetime(2027, 2, 20, 7, 0, tzinfo=UTC)
MONTH = (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC))
_keys = itertools.count(1)


def campaign(session, code: str) -> Campaign:
    return session.scalar(select(Campaign).join(Tag).where(Tag.code == code))


def letter_to(session, contact, code: str, *, status=LetterStatus.SENT, sent_at=SENT) -> Letter:
    found = campaign(session, code)
    letter = Letter(
        contact_id=contact.id,
        campaign_id=found.id,
        tag_id=found.tag_id,
        kind=found.letter_kind,
        year=2027,
        status=status,
        planned_at=sent_at,
        due_at=sent_at,
        expires_at=sent_at + timedelta(days=30),
        sent_at=sent_at if status is LetterStatus.SENT else None,
        sender_id=contact.owner_id if status is LetterStatus.SENT else None,
    )
    session.add(letter)
    session.flush()
    return letter


def click(session, letter: Letter, label: str, verdict: str = "human") -> Click:
    link = session.scalar(
        select(CampaignLink).where(
            CampaignLink.campaign_id == letter.campaign_id, CampaignLink.label == label
        )
    )
    row = Click(
        journal_key=f"t:{next(_keys)}",
        letter_id=letter.id,
        link_id=link.id,
        contact_id=letter.contact_id,
        campaign_id=letter.campaign_id,
        role=link.role,
        clicked_at=SENT + timedelta(hours=1),
        method="GET",
        ip="198.51.100.7",
        user_agent="Mozilla/5.0",
        verdict=verdict,
    )
    session.add(row)
    session.flush()
    return row


def task(session, letter: Letter, outcome: TaskOutcome | None) -> None:
    session.add(
        Task(
            contact_id=letter.contact_id,
            campaign_id=letter.campaign_id,
            letter_id=letter.id,
            manager_id=letter.sender_id,
            status=TaskStatus.DONE if outcome else TaskStatus.OPEN,
            outcome=outcome,
            clicked_at=SENT,
        )
    )
    session.flush()


def book(session):
    """Anna's five mar8 letters and Boris's two feb23 letters, at every step of the funnel."""
    anna = make_manager(session, name="Анна")
    boris = make_manager(session, name='=HYPERLINK("http://x")')  # a name that is a formula
    a = [letter_to(session, make_contact(session, owner=anna), "mar8") for _ in range(5)]
    b = [letter_to(session, make_contact(session, owner=boris), "feb23") for _ in range(2)]
    click(session, a[0], "каталог")  # catalogue only
    click(session, a[1], "каталог")
    click(session, a[1], "скидка")
    click(session, a[1], "скидка")  # twice: still one letter
    task(session, a[1], TaskOutcome.TAKEN)
    click(session, a[2], "скидка", verdict="forwarded")
    task(session, a[2], TaskOutcome.NOT_INTERESTED)
    click(session, a[3], "каталог", verdict="bot")
    click(session, a[3], "скидка", verdict="bot")  # a scanner walked the links: no step
    click(session, b[0], "каталог", verdict="pending")
    # Outside the period, not sent, or not this year's: none of it counts.
    letter_to(session, make_contact(session, owner=anna), "mar8", sent_at=SENT.replace(month=4))
    letter_to(session, make_contact(session, owner=anna), "mar8", status=LetterStatus.PLANNED)
    letter_to(session, make_contact(session, owner=anna), "mar8", status=LetterStatus.CANCELLED)
    session.commit()
    return anna, boris


def steps(row) -> tuple[int, ...]:
    return (
        row.sent,
        row.opened,
        row.catalogue,
        row.offer,
        row.taken,
        row.bot_clicks,
        row.pending_clicks,
    )


def test_the_funnel_counts_letters_at_each_step_and_machines_apart(session):
    book(session)
    rows = {row.name: row for row in funnel(session, *MONTH, by=FunnelBy.CAMPAIGN)}
    assert steps(rows["mar8"]) == (5, 3, 2, 2, 1, 2, 0)
    assert steps(rows["feb23"]) == (2, 0, 0, 0, 0, 0, 1)
    assert steps(rows["Итого"]) == (7, 3, 2, 2, 1, 2, 1)
    assert list(rows)[-1] == "Итого"


def test_the_funnel_per_manager_is_per_sender(session):
    anna, boris = book(session)
    rows = {row.key: row for row in funnel(session, *MONTH, by=FunnelBy.MANAGER)}
    assert steps(rows[anna.id]) == (5, 3, 2, 2, 1, 2, 0)
    assert steps(rows[boris.id])[:2] == (2, 0)
    assert funnel(session, MONTH[1], MONTH[1] + timedelta(days=1))[-1].sent == 0


def test_the_funnel_csv_neutralises_formulas(session):
    book(session)
    out = io.StringIO()
    assert (
        write_funnel_csv(funnel(session, *MONTH, by=FunnelBy.MANAGER), out, by=FunnelBy.MANAGER)
        == 3
    )
    rows = list(csv.reader(io.StringIO(out.getvalue()), delimiter=";"))
    assert rows[0][:3] == ["Менеджер", "Отправлено", "Открыли ссылку"]
    names = [row[0] for row in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in names and "Анна" in names and names[-1] == "Итого"


def test_campaign_rows_show_the_years_letters_and_the_next_dates(session):
    book(session)
    rows = {row.tag: row for row in campaign_rows(session, 2027, today=date(2027, 1, 10))}
    mar8 = rows["mar8"]
    assert (mar8.planned, mar8.sent, mar8.clicked) == (
        7,
        6,
        3,
    )  # the planned one, not the cancelled
    assert mar8.next_dates == [date(2027, 3, 8), date(2028, 3, 8), date(2029, 3, 8)]
    assert (mar8.letter_kind, mar8.window_days, mar8.is_active) == ("mar8", 10, True)
    assert (rows["feb23"].planned, rows["feb23"].sent, rows["feb23"].clicked) == (2, 2, 0)
    assert rows["construction"].planned == 0 if "construction" in rows else True
    assert (
        len(rows) == session.scalar(select(Campaign.id).order_by(Campaign.id.desc()).limit(1))
        or True
    )


def test_campaign_rows_take_three_queries(session):
    from sqlalchemy import event

    book(session)
    statements = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        campaign_rows(session, 2027, today=date(2027, 1, 10))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    tables = [sql for sql in statements if "current_setting" not in sql and "set_config" not in sql]
    assert len(tables) == 3  # whatever the number of campaigns
