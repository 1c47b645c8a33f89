"""The click journal: every recorded entry reaches the loader whole and once, whatever writers do.

Real files and real processes (fork, SIGKILL); nothing is mocked.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import signal
import stat
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest

from tracking.journal import ClickJournal, discard, pending_count, read_sealed, seal_all

FORK = multiprocessing.get_context("fork")
WRITERS = 4
PER_WRITER = 2_000


def load(folder: Path) -> list[list[Any]]:
    """What a loader inserts: the entries of every sealed file, after sealing every file."""
    return [entry for path in seal_all(folder) for entry in read_sealed(path)]


def stem(key: str) -> str:
    return key.rsplit(":", 1)[0]


def test_it_gives_back_each_entry_with_the_key_record_returned(tmp_path: Path):
    journal = ClickJournal(tmp_path)
    keys = [journal.record([i, "клик ✓", 1.5, True, None]) for i in range(5)]

    [live] = tmp_path.glob("*.jsonl")
    assert stat.S_IMODE(live.stat().st_mode) == 0o600
    first_line = live.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == f'["{keys[0]}",0,"клик ✓",1.5,true,null]'
    assert load(tmp_path) == [[key, i, "клик ✓", 1.5, True, None] for i, key in enumerate(keys)]
    assert keys == [f"{stem(keys[0])}:{i}" for i in range(5)]
    assert f"-{os.getpid()}-" in stem(keys[0])


def test_a_writer_whose_live_file_was_sealed_carries_on_in_a_new_file(tmp_path: Path):
    journal = ClickJournal(tmp_path)
    first = journal.record(["a"])
    [sealed] = seal_all(tmp_path)
    second = journal.record(["b"])

    assert stem(second) != stem(first)
    assert list(read_sealed(sealed)) == [[first, "a"]]  # a sealed file never grows
    discard(sealed)
    assert load(tmp_path) == [[second, "b"]]


def test_sealed_files_are_handed_out_again_until_discarded(tmp_path: Path):
    ClickJournal(tmp_path).record(["a"])
    sealed = seal_all(tmp_path)

    assert seal_all(tmp_path) == sealed  # as after a loader that crashed before discarding
    for path in sealed:
        discard(path)
    assert seal_all(tmp_path) == []
    assert seal_all(tmp_path / "never-written") == []


def test_it_counts_pending_entries_in_live_and_sealed_files(tmp_path: Path):
    journal = ClickJournal(tmp_path)
    assert pending_count(tmp_path / "never-written") == 0
    for i in range(3):
        journal.record([i])
    seal_all(tmp_path)
    for i in range(2):
        journal.record([i])

    assert pending_count(tmp_path) == 5
    for path in seal_all(tmp_path):
        discard(path)
    assert pending_count(tmp_path) == 0


def _write(folder: Path, writer: int, start: Event) -> None:
    start.wait()
    journal = ClickJournal(folder)
    for i in range(PER_WRITER):
        journal.record([writer, i, "переход ✓"])
        if i % 100 == 99:
            time.sleep(0.001)  # spread the writing so the loader seals files mid-stream


def _load_until(folder: Path, stop: Event, conn: Connection) -> None:
    """A loader at work: seal, read, "commit" (keep in memory), discard, every few ms."""
    broken = logging.handlers.BufferingHandler(capacity=10**6)
    logging.getLogger("tracking.journal").addHandler(broken)
    loaded: list[list[Any]] = []
    files = 0
    while not stop.is_set():
        for path in seal_all(folder):
            loaded.extend(read_sealed(path))
            discard(path)
            files += 1
        time.sleep(0.002)
    conn.send((loaded, files, len(broken.buffer)))


def test_a_loader_sealing_live_files_loses_splits_and_doubles_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    start, stop = FORK.Event(), FORK.Event()
    reader, writer = FORK.Pipe(duplex=False)
    loader = FORK.Process(target=_load_until, args=(tmp_path, stop, writer))
    writers = [FORK.Process(target=_write, args=(tmp_path, w, start)) for w in range(WRITERS)]
    for process in [loader, *writers]:
        process.start()
    start.set()
    for process in writers:
        process.join(30)
    stop.set()
    assert reader.poll(30), "the loader did not finish"
    loaded, files, broken = reader.recv()
    loader.join(30)
    assert [p.exitcode for p in [loader, *writers]] == [0] * (WRITERS + 1)

    with caplog.at_level(logging.WARNING, logger="tracking.journal"):
        files += len(seal_all(tmp_path))
        entries = loaded + load(tmp_path)
    assert broken == 0
    assert caplog.records == []
    assert sorted((e[1], e[2]) for e in entries) == [
        (w, i) for w in range(WRITERS) for i in range(PER_WRITER)
    ]
    assert len({e[0] for e in entries}) == WRITERS * PER_WRITER
    assert {e[3] for e in entries} == {"переход ✓"}
    assert files > WRITERS, "the loader never sealed a live file"


def _record_three(journal: ClickJournal, conn: Connection) -> None:
    conn.send([journal.record(["child", i]) for i in range(3)])


def test_a_forked_child_writes_to_a_file_of_its_own(tmp_path: Path):
    journal = ClickJournal(tmp_path)
    before = journal.record(["parent", 0])  # the parent's file is open when it forks
    reader, writer = FORK.Pipe(duplex=False)
    child = FORK.Process(target=_record_three, args=(journal, writer))
    child.start()
    child_keys = reader.recv()
    child.join(10)
    after = journal.record(["parent", 1])

    assert child.exitcode == 0
    assert stem(after) == stem(before)
    assert len({stem(key) for key in child_keys}) == 1
    assert stem(child_keys[0]) != stem(before)
    assert sorted(e[0] for e in load(tmp_path)) == sorted([before, after, *child_keys])
    assert len(seal_all(tmp_path)) == 2


def test_a_child_forked_while_another_thread_records_is_not_stuck(tmp_path: Path):
    journal = ClickJournal(tmp_path)
    reader, writer = FORK.Pipe(duplex=False)
    with journal._lock:  # as if another thread were inside record() at the fork
        child = FORK.Process(target=_record_three, args=(journal, writer))
        child.start()
    try:
        assert reader.poll(10), "the child waits forever on a lock held by no thread of its"
        assert len(reader.recv()) == 3
    finally:
        child.kill()
        child.join()


def _record_until_killed(folder: Path, conn: Connection) -> None:
    journal = ClickJournal(folder)
    for i in range(10**9):
        conn.send(journal.record([i]))  # reported only once record() has returned


def test_every_entry_recorded_before_a_sigkill_is_loaded(tmp_path: Path):
    reader, writer = FORK.Pipe(duplex=False)
    child = FORK.Process(target=_record_until_killed, args=(tmp_path, writer))
    child.start()
    writer.close()  # so the reader sees the end once the child is gone
    reported = []
    while len(reported) < 3_000:
        reported.append(reader.recv())
        if len(reported) % 500 == 0:
            seal_all(tmp_path)  # a loader at work while the victim writes
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    while True:
        try:
            reported.append(reader.recv())
        except EOFError:
            break

    assert child.exitcode == -signal.SIGKILL
    loaded = {entry[0] for entry in load(tmp_path)}
    assert set(reported) <= loaded
    assert len(loaded) - len(reported) <= 1  # at most the entry whose report the kill stopped


def test_a_broken_line_is_skipped_and_the_valid_ones_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "host-1-20250101T000000000000-1.sealed"
    path.write_bytes(
        b'["k:0",1]\n'
        b"not json\n"
        b'["k:1",2]\n'
        b"\xff\xfe\n"
        b'{"k":3}\n'
        b"[]\n"
        b"[4,5]\n"
        b'["k:2",6]\n'
        b'["k:3",7]'  # a truncated file: the last line lost its newline
    )
    with caplog.at_level(logging.WARNING, logger="tracking.journal"):
        entries = list(read_sealed(path))

    assert entries == [["k:0", 1], ["k:1", 2], ["k:2", 6]]
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 6


def test_it_records_with_fsync_too(tmp_path: Path):
    journal = ClickJournal(tmp_path, fsync=True)
    keys = [journal.record(["durable", i]) for i in range(3)]
    journal.close()

    assert load(tmp_path) == [[key, "durable", i] for i, key in enumerate(keys)]


def test_it_measures_what_a_record_costs(tmp_path: Path):
    journal = ClickJournal(tmp_path)
    entry = [123_456_789, 98_765, "2025-01-15T10:00:00.123456+00:00", "203.0.113.7", "Mozilla/5.0"]
    journal.record(entry)  # opens the file
    calls = 20_000
    started = time.perf_counter()
    for _ in range(calls):
        journal.record(entry)
    elapsed = time.perf_counter() - started
    per_call = elapsed / calls * 1e6
    print(f"\nClickJournal.record: {per_call:.2f} µs per call ({calls:,} calls, fsync=False)")

    assert pending_count(tmp_path) == calls + 1  # measured, not asserted: machines differ
