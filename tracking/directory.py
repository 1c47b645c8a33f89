"""Where a click leads, answered from memory: the click path's copy of links and letters.

A round trip to the database on every click was most of a click's cost on PostgreSQL, and
under load it is worse: the worker waits for a server process to be scheduled. What a
click needs changes rarely, so each web process keeps it:

- every campaign link (id → campaign, destination), read again at most every `max_age`
  seconds, and at once when a token names a link newer than the copy;
- the campaigns of letters claimed for sending, loaded a block of ids at a time: one
  range query serves the thousands of letters of one mailing; a letter missing from a
  loaded block (sent after it was read) is read on its own;
- the ids of deleted letters, which a trigger writes to `gone_letters` (migration 0010),
  read at most every `max_age` seconds. Each read goes back OVERLAP_SECONDS before the
  newest row seen, because a deleting transaction may commit after a later one; and every
  FORGET_SECONDS the process drops its letters and reads them again.

So a removed link or a deleted letter stops redirecting within `max_age` seconds
(`CLICK_DIRECTORY_SECONDS`, 1 by default; 0 asks the database on every click).
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Engine, bindparam, delete, select, text
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.storage.point_reads import PointReader
from tracking.models import GoneLetter

BLOCK = 4096  # letter ids per range query: 32 KB of memory each
OVERLAP_SECONDS = 60
FORGET_SECONDS = 600
# Rows of gone_letters older than this are pruned: every process has forgotten them.
KEEP_GONE = timedelta(seconds=FORGET_SECONDS + OVERLAP_SECONDS) * 3

_LINKS = text("SELECT id, campaign_id, url FROM campaign_links")
_GONE = select(GoneLetter.letter_id, GoneLetter.gone_at).where(
    GoneLetter.gone_at >= bindparam("since")
)
# Only letters claimed for sending ever carried links (a preview's lead nowhere).
_SENT = "status <> 'planned'"
_BLOCK = text(f"SELECT id, campaign_id FROM letters WHERE id >= :low AND id < :high AND {_SENT}")
_LETTER = f"SELECT campaign_id FROM letters WHERE id = :letter AND {_SENT}"


class Link(NamedTuple):
    campaign_id: int
    url: str


class ClickDirectory:
    """`destination(letter, link)` and `campaign_of(letter)` without a query per click."""

    def __init__(
        self, engine: Engine, *, max_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.max_age = max_age
        self._clock = clock
        self._letter = PointReader(engine, _LETTER)
        self._lock = threading.Lock()
        self._links: dict[int, Link] = {}
        self._blocks: dict[int, array[int]] = {}  # block number → campaign id per letter, 0: none
        self._gone_since = utcnow()
        self._checked_at: float | None = None
        self._forgot_at = 0.0

    def destination(self, letter_id: int, link_id: int) -> str | None:
        """The link's destination if it is the letter's campaign's; None for a deleted
        letter or link."""
        self._keep_fresh()
        link = self._links.get(link_id)
        if link is None and link_id > max(self._links, default=0):
            with self._lock:  # a link added since the copy was made
                self._read_links()
            link = self._links.get(link_id)
        if link is None or self._campaign_of(letter_id) != link.campaign_id:
            return None
        return link.url

    def campaign_of(self, letter_id: int) -> int | None:
        """The letter's campaign, or None when there is no such letter."""
        self._keep_fresh()
        return self._campaign_of(letter_id)

    def _campaign_of(self, letter_id: int) -> int | None:
        number, offset = divmod(letter_id, BLOCK)
        block = self._blocks.get(number)
        if block is None:
            block = self._load_block(number)
        campaign_id = block[offset]
        if not campaign_id:  # written after its block was read, or never
            row = self._letter.first(letter=letter_id)
            if row is None:
                return None
            campaign_id = block[offset] = row[0]
        return campaign_id

    def _keep_fresh(self) -> None:
        checked_at, now = self._checked_at, self._clock()
        if checked_at is not None and now - checked_at < self.max_age:
            return
        with self._lock:
            if self._checked_at is not checked_at:
                return  # another thread has just done it
            if now - self._forgot_at > FORGET_SECONDS:
                # Start over: blocks read from now on lack what was deleted so far.
                self._blocks, self._forgot_at = {}, now
                self._gone_since = utcnow() - timedelta(seconds=OVERLAP_SECONDS)
            self._read_gone()
            self._read_links()
            self._checked_at = now

    def _read_gone(self) -> None:
        with self.engine.connect() as connection:
            rows = connection.execute(_GONE, {"since": self._gone_since}).all()
        newest: datetime | None = None
        for letter_id, gone_at in rows:
            number, offset = divmod(letter_id, BLOCK)
            if (block := self._blocks.get(number)) is not None:
                block[offset] = 0
            newest = gone_at if newest is None else max(newest, gone_at)
        if newest is not None:
            self._gone_since = max(self._gone_since, newest - timedelta(seconds=OVERLAP_SECONDS))

    def _read_links(self) -> None:
        with self.engine.connect() as connection:
            rows = connection.execute(_LINKS).all()
        self._links = {link_id: Link(campaign_id, url) for link_id, campaign_id, url in rows}

    def _load_block(self, number: int) -> array[int]:
        # Under the lock: a deletion read while the block is in flight would be lost.
        with self._lock:
            if (block := self._blocks.get(number)) is not None:
                return block
            block = array("q", bytes(8 * BLOCK))
            low = number * BLOCK
            with self.engine.connect() as connection:
                rows = connection.execute(_BLOCK, {"low": low, "high": low + BLOCK}).all()
            for letter_id, campaign_id in rows:
                block[letter_id - low] = campaign_id
            self._blocks[number] = block
            return block


def prune_gone_letters(session: Session, *, now: datetime) -> None:
    """Drop deletions every process has long since read (the settling job calls this)."""
    session.execute(delete(GoneLetter).where(GoneLetter.gone_at < now - KEEP_GONE))
