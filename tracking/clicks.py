"""Clicks: recorded cheaply when they happen, judged once they have settled.

A click's redirect waits only for a lookup in this process's memory (is this link the
letter's? `directory.py`) and an append to its journal (`journal.py`): a database query,
let alone a commit, per click would cost more than the rest of the request.
`settle_clicks` moves journal entries into `clicks`, judges each letter's clicks together
once the burst window has passed (`verdicts.py`), and hands a person's click on an offer
to the contact's owner as a task (`handback.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, cast

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import Session

from mailer.config import TrackingSettings
from mailer.db import utcnow
from mailer.delivery.models import Letter
from mailer.letters.composing import HONEYPOT_LINK_ID
from mailer.storage.inserts import bulk_insert
from mailer.storage.listparams import in_list_param
from tracking.directory import ClickDirectory, prune_gone_letters
from tracking.handback import hand_back, record_history
from tracking.journal import ClickJournal, discard, read_sealed, seal_all
from tracking.models import PENDING, CampaignLink, Click
from tracking.verdicts import (
    ClickFacts,
    LinkRole,
    Reason,
    ScannerList,
    Verdict,
    VerdictSettings,
    judge_letter_clicks,
)


@dataclass(frozen=True)
class Visit:
    """What the click endpoint knows of one request."""

    letter_id: int
    link_id: int
    method: str
    ip: str
    user_agent: str
    purpose: str = ""  # Sec-Purpose / Purpose: prefetch


class ClickRecorder:
    """The click path of one process: where a link leads, and the journal it writes to."""

    def __init__(self, engine: Engine, journal: ClickJournal, *, directory_seconds: float) -> None:
        self.journal = journal
        self._directory = ClickDirectory(engine, max_age=directory_seconds)

    def destination(self, letter_id: int, link_id: int) -> str | None:
        """The stored destination, only if the link is the letter's campaign's; None for a
        deleted letter or link."""
        return self._directory.destination(letter_id, link_id)

    def is_letter(self, letter_id: int) -> bool:
        return self._directory.campaign_of(letter_id) is not None

    def record(self, visit: Visit, at: datetime | None = None) -> str:
        """Append the click to the journal: once this returns, a crash loses nothing."""
        at = at or utcnow()
        return self.journal.record(
            (
                visit.letter_id,
                visit.link_id,
                at.isoformat(),
                visit.method,
                visit.ip,
                visit.user_agent[:1000],
                visit.purpose[:32],
            )
        )


@dataclass
class SettleReport:
    loaded: int = 0
    judged: Counter[str] = field(default_factory=Counter)
    tasks_opened: int = 0
    pending: int = 0

    def __str__(self) -> str:
        order = (Verdict.HUMAN, Verdict.BOT, Verdict.FORWARDED)
        judged = ", ".join(f"{v} {self.judged[v]}" for v in order if self.judged[v]) or "none"
        return (
            f"loaded {self.loaded} clicks; judged: {judged}; "
            f"tasks opened {self.tasks_opened}; pending {self.pending}"
        )


def settle_clicks(
    session: Session,
    tracking: TrackingSettings,
    *,
    now: datetime,
    commit: Callable[[], None],
    scanners: ScannerList | None = None,
) -> SettleReport:
    """Load the journals, judge what has settled, hand people's offer clicks back.

    The caller's `commit` runs before a journal file is discarded, so a crash between
    the two loads the file again, which adds nothing (clicks are keyed by journal entry).
    """
    report = SettleReport()
    for path in seal_all(tracking.journal_dir):
        report.loaded += load_journal_entries(session, read_sealed(path))
        commit()
        discard(path)
    judge = _Judge(session, tracking, scanners or ScannerList.load(), now)
    report.judged, report.tasks_opened = judge.settle()
    prune_gone_letters(session, now=now)
    commit()
    report.pending = session.scalar(select(func.count()).where(Click.verdict == PENDING)) or 0
    return report


def load_journal_entries(session: Session, entries: Iterable[list[Any]]) -> int:
    """Insert journal entries as clicks, each once, with whom and which campaign."""
    rows = [row for row in map(_click_row, entries) if row is not None]
    if not rows:
        return 0
    letters = sorted({r["letter_id"] for r in rows})  # a busy minute: tens of thousands
    stmt = select(Letter.id, Letter.contact_id, Letter.campaign_id).where(
        in_list_param(Letter.id, "ids")
    )
    known: dict[int | None, tuple[int | None, int | None]] = {
        letter_id: (contact_id, campaign_id)
        for letter_id, contact_id, campaign_id in session.execute(stmt, {"ids": letters})
    }
    roles = {i: role for i, role in session.execute(select(CampaignLink.id, CampaignLink.role))}
    for row in rows:
        contact_id, campaign_id = known.get(row["letter_id"], (None, None))
        link_id = row["link_id"]
        row.update(
            letter_id=row["letter_id"] if contact_id is not None else None,
            contact_id=contact_id,
            campaign_id=campaign_id,
            is_honeypot=link_id == HONEYPOT_LINK_ID,
            role=LinkRole.HONEYPOT if link_id == HONEYPOT_LINK_ID else roles.get(link_id, ""),
            link_id=link_id if link_id in roles else None,
        )
    bulk_insert(session, cast(Table, Click.__table__), rows, skip_conflicts=True)  # each entry once
    return len(rows)


def _click_row(entry: Sequence[Any]) -> dict[str, Any] | None:
    try:
        key, letter_id, link_id, at, method, ip, user_agent, purpose = entry
        clicked_at = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None  # a line the loader cannot read is skipped, the rest kept
    return {
        "journal_key": str(key)[:80],
        "letter_id": int(letter_id),
        "link_id": int(link_id),
        "clicked_at": clicked_at,
        "method": str(method)[:8],
        "ip": str(ip)[:64],
        "user_agent": str(user_agent),
        "purpose": str(purpose)[:32],
        "verdict": PENDING,
        "reasons": "",
    }


class _Judge:
    """Judges the settled clicks of every letter with a pending one."""

    def __init__(
        self, session: Session, tracking: TrackingSettings, scanners: ScannerList, now: datetime
    ) -> None:
        self.session = session
        self.now = now
        self.settled_before = now - timedelta(seconds=tracking.settle_seconds)
        self.house_assignee = tracking.house_assignee
        self.scanners = scanners
        self.settings = VerdictSettings(
            min_read_seconds=tracking.min_read_seconds, burst_seconds=tracking.burst_seconds
        )

    @cached_property
    def link_counts(self) -> dict[int, int]:
        stmt = select(CampaignLink.campaign_id, func.count()).group_by(CampaignLink.campaign_id)
        return {campaign: n for campaign, n in self.session.execute(stmt)}

    def settle(self) -> tuple[Counter[str], int]:
        judged: Counter[str] = Counter()
        tasks = 0
        stmt = select(Click.letter_id).where(
            Click.verdict == PENDING, Click.clicked_at <= self.settled_before
        )
        letters = sorted({i for i in self.session.scalars(stmt.distinct()) if i is not None})
        for letter_id in letters:
            tasks += self._settle_letter(letter_id, judged)
        orphans = self.session.scalars(
            select(Click).where(
                Click.verdict == PENDING,
                Click.letter_id.is_(None),
                Click.clicked_at <= self.settled_before,
            )
        )
        for click in orphans:  # its letter is gone: kept as evidence, judged a machine's
            click.verdict, click.reasons, click.settled_at = Verdict.BOT, Reason.NO_LETTER, self.now
            judged[Verdict.BOT] += 1
        self.session.flush()
        return judged, tasks

    def _settle_letter(self, letter_id: int, judged: Counter[str]) -> int:
        letter = self.session.get(Letter, letter_id)
        clicks = self.session.scalars(
            select(Click).where(Click.letter_id == letter_id).order_by(Click.clicked_at, Click.id)
        ).all()
        if letter is None or not clicks:
            return 0
        facts = [_facts(click, letter.sent_at) for click in clicks]
        judgements = judge_letter_clicks(
            facts,
            settings=self.settings,
            scanners=self.scanners,
            letter_link_count=self.link_counts.get(letter.campaign_id),
        )
        tasks = 0
        for click in clicks:
            if click.verdict != PENDING or click.clicked_at > self.settled_before:
                continue  # a verdict once given is evidence; a fresh click waits
            judgement = judgements[click.id]
            click.verdict = judgement.verdict
            click.reasons = ",".join(judgement.reasons)
            click.settled_at = self.now
            judged[judgement.verdict] += 1
            record_history(self.session, click, self.now)
            if judgement.verdict is Verdict.HUMAN and click.role == LinkRole.OFFER:
                tasks += hand_back(self.session, click, self.house_assignee, self.now)
        self.session.flush()
        return tasks


def _facts(click: Click, sent_at: datetime | None) -> ClickFacts:
    return ClickFacts(
        id=click.id,
        letter_id=click.letter_id or 0,
        link_id=click.link_id or 0,
        link_role=click.role or LinkRole.OTHER,
        method=click.method,
        ip=click.ip,
        user_agent=click.user_agent,
        clicked_at=click.clicked_at,
        sent_at=sent_at,
        purpose=click.purpose,
    )
