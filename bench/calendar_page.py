"""Calendar page benchmark: a year's heatmap of letters per day for N contacts on PostgreSQL.

Builds the book as bench/plan_year.py does (N contacts × 4 tags, one manager per 400, in
time zones from Kaliningrad to Vladivostok), plans the year, then times what the calendar
page does: letters per local day grouped in the database plus the SVG render, side by side
with the CLI calendar's per-letter aggregation in Python (`campaigns.reports.year_calendar`,
every letter fetched and converted) plus the same render. Also times the page's other
parts: one manager's heatmap, one campaign's, every manager's weekly load, and the
busiest day's first page of letters. Each figure is the best of `--repeat` runs.

    .venv/bin/python bench/calendar_page.py [--contacts 1000000] [--year 2027]
        [--pg-url URL] [--repeat 3] [--keep] [--reuse SCHEMA_URL]

Setting up 1,000,000 contacts takes a few minutes (filling and planning); `--keep` leaves
the schema and prints its URL, `--reuse URL` times against it again without building.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pg_schemas import PG_URL, drop_schema, pg_schema_url  # bench/ is on sys.path
from plan_year import fill
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.day_counts import (
    LetterFilter,
    letters_per_day,
    scanned_letters_per_day,
    scanned_owner_days,
)
from campaigns.day_letters import day_letters, scanned_day_total
from campaigns.heatmap_svg import render_heatmap
from campaigns.letter_days import counted_from_letters, counted_in_summary
from campaigns.manager_load import manager_load, weeks_from_days
from campaigns.models import Campaign, LetterDay
from campaigns.planning import plan_year
from mailer.contacts.models import Contact
from mailer.db import make_engine
from mailer.delivery.models import Letter
from mailer.storage.table_statistics import refresh_statistics
from mailer.tags.models import Tag


def build(url: str, n: int, year: int) -> None:
    started = time.perf_counter()
    fill(url, n)
    filled = time.perf_counter()
    engine = make_engine(url)
    with Session(engine) as session:
        report = plan_year(session, year, now=datetime(year, 1, 1, 9, 0, tzinfo=UTC))
        session.commit()
        refresh_statistics(session, Letter.__table__, LetterDay.__table__)
        session.commit()
    engine.dispose()
    print(
        f"setup: {n} contacts filled in {filled - started:.1f} s, {report.added} letters "
        f"planned in {time.perf_counter() - filled:.1f} s",
        flush=True,
    )


def best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of `repeat` runs, and the last run's result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def _row(name: str, summary_s: float, scan_s: float, same: bool) -> None:
    ratio = scan_s / summary_s if summary_s else float("inf")
    check = "same" if same else "DIFFERENT"
    print(f"{name:<40}{summary_s:>10.3f}{scan_s:>10.3f}{ratio:>8.1f}x  {check}", flush=True)


def measure(url: str, year: int, repeat: int) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        letters = session.scalar(
            select(func.count()).select_from(Letter).where(Letter.year == year)
        )
        contacts = session.scalar(select(func.count()).select_from(Contact))
        print(f"{contacts} contacts, {letters} letters in {year} (PostgreSQL)", flush=True)
        recount_s, (recounted, kept) = best(
            1, lambda: (counted_from_letters(session), counted_in_summary(session))
        )
        print(
            f"summary rows {len(kept)}, equal to a full recount: {recounted == kept}"
            f" (recount {recount_s:.1f} s)",
            flush=True,
        )
        manager = session.scalar(select(Contact.owner_id).limit(1))
        mar8 = session.scalar(select(Campaign.id).join(Tag).where(Tag.code == "mar8"))
        print(f"{'what (best of runs)':<40}{'summary':>10}{'scan':>10}{'ratio':>9}")
        scan_repeat = max(1, repeat - 1)
        for name, wanted in {
            "heatmap: whole year + SVG": LetterFilter(year),
            "heatmap: one manager + SVG": LetterFilter(year, manager_id=manager),
            "heatmap: one campaign (mar8) + SVG": LetterFilter(year, campaign_id=mar8),
        }.items():
            summary_s, svg = best(
                repeat, lambda w=wanted: render_heatmap(year, letters_per_day(session, w))
            )
            scan_s, scan_svg = best(
                scan_repeat,
                lambda w=wanted: render_heatmap(year, scanned_letters_per_day(session, w)),
            )
            _row(name, summary_s, scan_s, svg == scan_svg)
        every = LetterFilter(year)
        load_s, load = best(repeat, lambda: manager_load(session, every))
        scan_s, scanned = best(
            scan_repeat, lambda: weeks_from_days(scanned_owner_days(session, every))
        )
        weeks = {(w.manager_id, w.monday): (w.letters, w.busiest_day) for w in load}
        _row(f"every manager's weekly load ({len(load)} weeks)", load_s, scan_s, weeks == scanned)
        mine = LetterFilter(year, manager_id=manager)
        load_s, load = best(repeat, lambda: manager_load(session, mine))
        scan_s, scanned = best(
            scan_repeat, lambda: weeks_from_days(scanned_owner_days(session, mine))
        )
        weeks = {(w.manager_id, w.monday): (w.letters, w.busiest_day) for w in load}
        _row("one manager's weekly load", load_s, scan_s, weeks == scanned)
        counts = letters_per_day(session, every)
        busiest = max(counts.items(), key=lambda kv: kv[1])[0]
        day_s, first = best(repeat, lambda: day_letters(session, every, busiest))
        total_s, total = best(scan_repeat, lambda: scanned_day_total(session, every, busiest))
        _row(f"busiest day {busiest} ({first.total}): page 1", day_s, total_s, first.total == total)
        print("  (scan column: its count alone, as before this round)")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--year", type=int, default=2027)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the schema, print its URL")
    parser.add_argument("--reuse", metavar="SCHEMA_URL", help="time an existing schema")
    args = parser.parse_args()
    if args.reuse:
        url, name = args.reuse, None
    else:
        url, name = pg_schema_url(args.pg_url)
    try:
        if name:
            build(url, args.contacts, args.year)
        measure(url, args.year, args.repeat)
    finally:
        if name and not args.keep:
            drop_schema(args.pg_url, name)
        elif name:
            print(f"kept: --reuse '{url}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
