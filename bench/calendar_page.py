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

from campaigns.day_counts import LetterFilter, letters_per_day
from campaigns.day_letters import day_letters
from campaigns.heatmap_svg import render_heatmap
from campaigns.manager_load import manager_load
from campaigns.models import Campaign
from campaigns.planning import plan_year
from campaigns.reports import year_calendar
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
        refresh_statistics(session, Letter.__table__)
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


def measure(url: str, year: int, repeat: int) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        letters = session.scalar(
            select(func.count()).select_from(Letter).where(Letter.year == year)
        )
        contacts = session.scalar(select(func.count()).select_from(Contact))
        print(f"{contacts} contacts, {letters} letters in {year} (PostgreSQL)", flush=True)

        def page() -> str:
            return render_heatmap(year, letters_per_day(session, LetterFilter(year)))

        def naive() -> str:
            return render_heatmap(year, year_calendar(session, year).by_day)

        page_s, svg = best(repeat, page)
        naive_s, naive_svg = best(max(1, repeat - 1), naive)
        same = "same SVG" if svg == naive_svg else "DIFFERENT SVG"
        counts = letters_per_day(session, LetterFilter(year))
        render_s, _ = best(repeat, lambda: render_heatmap(year, counts))
        print(f"{'what':<52}{'seconds':>9}")
        print(f"{'heatmap: GROUP BY local day in the database + SVG':<52}{page_s:>9.3f}")
        print(f"{'  of which the SVG render alone':<52}{render_s:>9.3f}")
        print(f"{'heatmap: per-letter Python aggregation + SVG':<52}{naive_s:>9.3f}")
        print(f"ratio naive / database = {naive_s / page_s:.1f}x ({same}, {len(svg)} bytes)")
        manager = session.scalar(select(Contact.owner_id).limit(1))
        mar8 = session.scalar(select(Campaign.id).join(Tag).where(Tag.code == "mar8"))
        extra = {
            "one manager's heatmap": lambda: render_heatmap(
                year, letters_per_day(session, LetterFilter(year, manager_id=manager))
            ),
            "one campaign's heatmap (mar8)": lambda: render_heatmap(
                year, letters_per_day(session, LetterFilter(year, campaign_id=mar8))
            ),
            "every manager's weekly load": lambda: manager_load(session, LetterFilter(year)),
        }
        for name, run in extra.items():
            print(f"{name:<52}{best(repeat, run)[0]:>9.3f}")
        busiest = max(counts.items(), key=lambda kv: kv[1])[0]
        day_s, first = best(repeat, lambda: day_letters(session, LetterFilter(year), busiest))
        print(f"{f'the busiest day ({busiest}, {first.total} letters), page 1':<52}{day_s:>9.3f}")
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
