"""Click endpoint benchmark: GET /c/<token> under gunicorn, against a bare 302, with wrk.

For SQLite and PostgreSQL in turn, one run:

1. a fresh database (a SQLite file; a private PostgreSQL schema) with the taxonomy, the
   default campaigns and their links, N/400 managers, N contacts and N letters already
   sent, one per contact;
2. a wrk Lua script whose threads cycle over N distinct valid tokens, one per letter for
   its campaign's catalogue link (`click_token(settings(app).secret_keys, letter, link)`),
   and count the 302s they get;
3. the bare app (bench/bare_redirect.py: a Flask view returning a fixed 302) and then the
   product (`mailer web`), each a subprocess on loopback with the same gunicorn settings
   (sync workers ×2, preloaded), warmed up, then `wrk -t2 -c32 -d10s --latency`;
4. req/s, p99 and product/bare (targets: >= 0.8, p99 < 50 ms), and, once the product has
   stopped, the clicks it recorded (click journal entries + rows in `clicks`) against
   the 302s wrk counted: OK, or how many are missing.

It installs nothing; wrk comes from the Debian package `wrk`.

    .venv/bin/python bench/clicks.py [--letters 20000] [--duration 10] [--threads 2]
        [--connections 32] [--workers 2] [--warmup 2] [--pg-url URL] [--no-pg] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from pg_schemas import PG_URL, drop_schema, pg_schema_url  # bench/ is on sys.path
from plan_year import CONTACT_COLUMNS, _contacts, _managers
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from campaigns.defaults import seed_campaigns
from campaigns.models import Campaign
from mailer import create_app
from mailer.config import settings
from mailer.contacts.models import Contact
from mailer.db import get_engine
from mailer.delivery.models import Letter
from mailer.letters.signing import click_token
from mailer.managers.models import Manager
from mailer.storage import schema
from mailer.storage.copy import copy_insert
from mailer.storage.inserts import bulk_insert
from mailer.tags.taxonomy import seed_tags
from tracking.journal import pending_count
from tracking.links import CATALOGUE_LABEL, seed_links
from tracking.models import CampaignLink, Click

BENCH = Path(__file__).resolve().parent
MAILER = Path(sys.executable).with_name("mailer")
SECRET_KEY = "bench-clicks-secret-key-0123456789"
STARTUP_SECONDS = 60

# Each wrk thread has a Lua state of its own: `setup` numbers them (in the main state),
# `init` loads the paths and starts each thread at its own share, `done` adds the counts.
LUA = """\
-- Written by bench/clicks.py.
local threads = {}

function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines([==[%(paths)s]==]) do paths[#paths + 1] = line end
  index = math.floor(#paths * number / %(threads)d)
  redirects = 0
end

function request()
  index = index %% #paths + 1
  return wrk.format("GET", paths[index])
end

function response(status, headers, body)
  if status == 302 then redirects = redirects + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("redirects") end
  io.write(string.format("redirects: %%d\\n", total))
end
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=20_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk before each run")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    if not args.no_pg and (reason := _pg_unreachable(args.pg_url)):
        print(f"{reason} (--pg-url URL, or --no-pg)", file=sys.stderr)
        return 2
    print(
        f"{args.letters} letters; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s --latency; gunicorn sync workers ×{args.workers}, loopback",
        flush=True,
    )
    print(f"{'database':<11}{'server':<9}{'req/s':>8}{'p99 ms':>9}{'vs bare':>9}{'302s':>9}"
          f"{'other':>7}{'errors':>8}")  # fmt: skip
    databases = ["sqlite"] * (not args.no_sqlite) + ["postgresql"] * (not args.no_pg)
    failed = False
    for database in databases:
        with tempfile.TemporaryDirectory(prefix="bench-clicks-") as tmp:
            failed |= not bench_database(database, Path(tmp), args)
    return 1 if failed else 0


def bench_database(database: str, tmp: Path, args: argparse.Namespace) -> bool:
    """Measure one database in a fresh file or schema; False when clicks went missing."""
    if database == "sqlite":
        return _bench(database, f"sqlite:///{tmp / 'clicks.sqlite3'}", tmp, args)
    url, schema_name = pg_schema_url(args.pg_url)
    try:
        return _bench(database, url, tmp, args)
    finally:
        drop_schema(args.pg_url, schema_name)


def _bench(database: str, url: str, tmp: Path, args: argparse.Namespace) -> bool:
    env = _server_env(tmp, url)
    app = _app(env)
    try:
        paths = fill(app, args.letters)
        script = write_lua(tmp, paths, args.threads)
        bare_command = [sys.executable, str(BENCH / "bare_redirect.py")]
        bare = measure(bare_command, env, tmp / "bare.log", script, paths[0], args)
        product = measure([str(MAILER), "web"], env, tmp / "product.log", script, paths[0], args)
        _print_row(database, "bare", bare, bare)
        _print_row(database, "product", product, bare)
        ratio = product.wrk.rate / bare.wrk.rate
        print(
            f"{database}: product/bare {ratio:.2f} (target >= 0.8), p99 "
            f"{product.wrk.p99_ms:.1f} ms (target < 50 ms)",
            flush=True,
        )
        return check_recorded(database, app, product, args.connections)
    finally:
        get_engine(app).dispose()


def _server_env(tmp: Path, url: str) -> dict[str, str]:
    """What both the bench and the product's `mailer web` read their settings from."""
    return {
        **os.environ,
        "MAILER_INSTANCE_PATH": str(tmp / "instance"),
        "MAILER_DATABASE_URL": url,
        "MAILER_SECRET_KEY": SECRET_KEY,
        "MAILER_CLICK_JOURNAL_DIR": str(tmp / "clicks"),
    }


def _app(env: dict[str, str]) -> Any:
    """The product's app made from the server's environment: the same keys and folders."""
    with mock.patch.dict(os.environ, env):
        return create_app()


def fill(app: Any, n: int) -> list[str]:
    """N letters sent two hours ago, one per contact; their catalogue links' click paths."""
    engine = get_engine(app)
    schema.upgrade(engine)
    created = datetime.now(UTC) - timedelta(hours=2)
    with Session(engine) as session:
        seed_tags(session)
        seed_campaigns(session)
        seed_links(session)
        bulk_insert(session, Manager.__table__, _managers(-(-n // 400) + 1, created))
        owners = list(session.scalars(select(Manager.id).where(Manager.is_house.is_(False))))
        copy_insert(session, Contact.__table__, CONTACT_COLUMNS, _contacts(n, owners, created))
        campaigns = session.execute(select(Campaign.id, Campaign.tag_id, Campaign.letter_kind))
        kinds = [tuple(row) for row in campaigns]
        letters = [_sent_letter(i, kinds[i % len(kinds)], owners, created) for i in range(1, n + 1)]
        copy_insert(session, Letter.__table__, LETTER_COLUMNS, letters)
        if engine.dialect.name == "postgresql":  # ids were given: move the sequences past them
            for table in ("contacts", "letters"):
                session.execute(text(f"SELECT setval('{table}_id_seq', :n)"), {"n": n})
        links = select(CampaignLink.campaign_id, CampaignLink.id)
        links = links.where(CampaignLink.label == CATALOGUE_LABEL)
        catalogue = {campaign_id: link_id for campaign_id, link_id in session.execute(links)}
        session.commit()
    keys = settings(app).secret_keys
    return [f"/c/{click_token(keys, row[0], catalogue[row[2]])}" for row in letters]


LETTER_COLUMNS = (
    "id contact_id campaign_id tag_id kind year occasion_name status planned_at due_at "
    "expires_at attempts first_attempt_at message_id sent_at sender_id last_code last_error "
    "is_possible_duplicate created_at updated_at"
).split()


def _sent_letter(
    i: int, campaign: tuple[Any, ...], owners: list[int], at: datetime
) -> tuple[Any, ...]:
    campaign_id, tag_id, kind = campaign
    sender = owners[i % len(owners)]
    return (i, i, campaign_id, tag_id, kind, at.year, "", "sent", at, at, at + timedelta(30),
            1, at, f"<bench.{i}@gifts.example>", at, sender, 250, "", False, at, at)  # fmt: skip


def write_lua(folder: Path, paths: list[str], threads: int) -> Path:
    """The wrk script and the file of paths it cycles over, one a line."""
    listing = folder / "paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    script = folder / "clicks.lua"
    script.write_text(LUA % {"paths": listing, "threads": threads})
    return script


@dataclass
class Wrk:
    """What one wrk run reported."""

    requests: int
    rate: float
    p99_ms: float
    other: int  # non-2xx/3xx responses
    errors: int  # connect, read, write errors and timeouts
    redirects: int  # 302s, counted by the script


@dataclass
class Measured:
    wrk: Wrk
    redirects: int  # 302s of the warm-up, the probe and the run: what should be recorded
    first_status: int


def measure(
    command: list[str], env: dict[str, str], log: Path, script: Path, probe: str, args: Any
) -> Measured:
    """Serve with `command`, probe one path, warm up, then the measured wrk run."""
    with serving(command, env, log, args.workers) as port:
        first = _status_of(port, probe)
        redirects = int(first == 302)
        if args.warmup:
            warm = run_wrk(script, port, args.threads, args.connections, args.warmup)
            redirects += warm.redirects
        result = run_wrk(script, port, args.threads, args.connections, args.duration)
        redirects += result.redirects
    return Measured(result, redirects, first)


@contextmanager
def serving(command: list[str], env: dict[str, str], log: Path, workers: int) -> Iterator[int]:
    """A server on a free loopback port; stopped with SIGTERM (in-flight requests finish)."""
    port = _free_port()
    argv = [*command, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_listening(process, port, log)
            yield port
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited with {process.returncode}:\n"
                             f"{log.read_text()[-3000:]}")  # fmt: skip
        with suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.1)
    raise SystemExit(f"{process.args} not listening after {STARTUP_SECONDS} s")


def _status_of(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def run_wrk(script: Path, port: int, threads: int, connections: int, seconds: int) -> Wrk:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(script), f"http://127.0.0.1:{port}/"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> Wrk:
    """The numbers of wrk's summary (with --latency) and of the script's `done`."""

    def number(pattern: str, default: str | None = None) -> str:
        found = re.search(pattern, output)
        if found is None and default is None:
            raise SystemExit(f"wrk's output has no {pattern!r}:\n{output}")
        return found.group(1) if found else str(default)

    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if p99 is None:
        raise SystemExit(f"wrk printed no 99% latency (--latency):\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)  # fmt: skip
    return Wrk(
        requests=int(number(r"(\d+) requests in")),
        rate=float(number(r"Requests/sec:\s+([\d.]+)")),
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)],
        other=int(number(r"Non-2xx or 3xx responses: (\d+)", "0")),
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
        redirects=int(number(r"redirects: (\d+)")),
    )


def _print_row(database: str, server: str, run: Measured, bare: Measured) -> None:
    wrk = run.wrk
    print(
        f"{database:<11}{server:<9}{wrk.rate:>8.0f}{wrk.p99_ms:>9.1f}"
        f"{wrk.rate / bare.wrk.rate:>9.2f}{wrk.redirects:>9}{wrk.other:>7}{wrk.errors:>8}",
        flush=True,
    )


def check_recorded(database: str, app: Any, product: Measured, connections: int) -> bool:
    """Every 302 the product gave is a recorded click: journal entries plus table rows."""
    journal = pending_count(settings(app).tracking.journal_dir)
    with Session(get_engine(app)) as session:
        rows = session.scalar(select(func.count()).select_from(Click)) or 0
    recorded, answered = journal + rows, product.redirects
    wrk = product.wrk
    line = (
        f"{database}: recorded clicks {recorded} ({journal} in the journal, {rows} in the "
        f"table); 302s {answered} (measured run: {wrk.requests} requests - {wrk.other} "
        f"non-2xx/3xx = {wrk.requests - wrk.other})"
    )
    if answered == 0:
        print(f"{line}: no 302 at all — the product answered {product.first_status} to a "
              "valid token: is GET /c/<token> there yet?", flush=True)  # fmt: skip
        return True
    if recorded < answered:
        print(f"{line}: {answered - recorded} MISSING", flush=True)
        return False
    extra = recorded - answered
    # wrk stops mid-request: the product may have recorded clicks whose 302 nobody read.
    note = f" ({extra} recorded whose 302 wrk stopped before reading)" if extra else ""
    if extra > connections * 2:  # two runs, each stopping with at most one per connection
        note = f" but {extra} more recorded than answered: more than were in flight"
    print(f"{line}: OK{note}", flush=True)
    return True


def _pg_unreachable(url: str) -> str | None:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "unreachable"
        return f"PostgreSQL at {url} unreachable: {type(exc).__name__}".splitlines()[0]
    return None


if __name__ == "__main__":
    sys.exit(main())
