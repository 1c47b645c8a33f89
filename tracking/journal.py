"""A local append-only journal of clicks, loaded into the database later. Pure file I/O.

Why: the click endpoint must not answer before the click is safe, yet a database commit
per click costs a third of the endpoint's throughput or more (MEASURED.md, "The click
path"). Appending one line to a local file costs a few microseconds.

Durability: once `os.write` returns, the line is in the kernel's page cache and survives
any crash of the process (SIGKILL, OOM, a gunicorn worker timeout). It does not survive a
power loss or a kernel crash; `fsync=True` adds an `fdatasync` per entry (and a directory
fsync per new file) so it does, at the price of a disk flush per click: tens of
microseconds on an SSD with power-loss protection, milliseconds on a plain disk.

Files: each process appends to its own `<host>-<pid>-<utc stamp>-<n>.jsonl`, one entry a
line, a compact JSON array whose first element is the entry's key `<stem>:<seq>`, so the
loader can insert with ON CONFLICT DO NOTHING and loading a file twice is harmless.

Sealing: a loader takes any `.jsonl` file, a dead writer's or a live one, by locking it
exclusively (`flock`), renaming it to `.sealed` and unlocking. A writer holds a shared lock
around each append and, under it, checks that its path still names its file; if a loader
sealed it, the writer starts a new file. So a sealed file never grows again, and no line
is lost or split between files. The loader reads sealed files, commits their entries, then
discards them: a crash in between loads a file again, which the keys make harmless.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import json
import logging
import os
import re
import socket
import threading
import weakref
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LIVE = ".jsonl"
SEALED = ".sealed"

Scalar = str | int | float | bool | None

logger = logging.getLogger(__name__)

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ClickJournal:
    """One process's writer: `record` appends an entry and returns its key.

    Thread-safe. Survives fork (gunicorn preloads the app, then forks its workers): a
    child notices its new pid and opens a file of its own instead of sharing the parent's.
    """

    def __init__(self, folder: Path, *, fsync: bool = False) -> None:
        self.folder = Path(folder)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path = ""  # a str: os.stat on it is a little faster than on a Path
        self._stem = ""
        self._seq = 0
        self._identity = (0, 0)  # (st_dev, st_ino) of the open file
        self._pid = os.getpid()
        self._files_opened = 0
        # A fork while another thread holds the lock would leave it held in the child forever.
        os.register_at_fork(after_in_child=functools.partial(_renew_lock, weakref.ref(self)))

    def record(self, entry: Sequence[Scalar]) -> str:
        """Append `entry` as one line, prefixed with its new key, and return the key."""
        with self._lock:
            if self._pid != os.getpid():
                self._drop_file()  # the parent's file; the parent keeps writing to it
                self._pid = os.getpid()
            fd = self._fd if self._fd is not None else self._open()
            while True:
                key = f"{self._stem}:{self._seq}"
                line = (_encode([key, *entry]) + "\n").encode()
                fcntl.flock(fd, fcntl.LOCK_SH)  # a loader's seal waits for this append
                try:
                    # One write of a whole line on an O_APPEND fd: nobody sees half of it.
                    ours = _names(self._path, self._identity)
                    written = os.write(fd, line) if ours else -1
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                if ours:
                    self._settle(fd, len(line), written)
                    return key
                self._drop_file()  # a loader sealed it: the entry goes to a new file
                fd = self._open()

    def close(self) -> None:
        """Close the current file; the next `record` starts a new one."""
        with self._lock:
            self._drop_file()

    def _settle(self, fd: int, length: int, written: int) -> None:
        if written != length:
            # Disk full: the reader skips a partial last line, and later lines must not be
            # glued to it, so they go to a new file.
            self._drop_file()
            raise OSError(errno.ENOSPC, f"short write to click journal {self._path}")
        if self.fsync:
            os.fdatasync(fd)
        self._seq += 1

    def _open(self) -> int:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._files_opened += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        stem = f"{_HOST}-{os.getpid()}-{stamp}-{self._files_opened}"
        path = self.folder / f"{stem}{LIVE}"
        # O_EXCL: a file is never shared, even if a name somehow came round twice.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL
        fd = os.open(path, flags, 0o600)
        if self.fsync:
            _sync_directory(self.folder)  # the new name must survive a power loss too
        status = os.fstat(fd)
        self._fd, self._path, self._stem, self._seq = fd, str(path), stem, 0
        self._identity = (status.st_dev, status.st_ino)
        return fd

    def _drop_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None


def _renew_lock(ref: weakref.ref[ClickJournal]) -> None:
    journal = ref()
    if journal is not None:
        journal._lock = threading.Lock()


def _names(path: str | Path, identity: tuple[int, int]) -> bool:
    """Whether `path` still names the file whose (st_dev, st_ino) is `identity`."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return False
    return (status.st_dev, status.st_ino) == identity


def _sync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(path: Path) -> Path | None:
    """Seal one journal file, live or not; return the sealed path, or None if already taken."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None  # another loader sealed it first
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for the writer's append in flight, if any
        status = os.fstat(fd)
        if not _names(path, (status.st_dev, status.st_ino)):
            return None
        sealed = path.with_suffix(SEALED)
        os.rename(path, sealed)
        return sealed
    finally:
        os.close(fd)  # releases the lock; the writer then finds its path gone


def seal_all(folder: Path) -> list[Path]:
    """Seal every journal file in `folder` and return all sealed files, older ones too.

    Sealed files left by a loader that crashed before discarding them are returned again.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    for path in folder.glob(f"*{LIVE}"):
        seal(path)
    return sorted(folder.glob(f"*{SEALED}"))


def read_sealed(path: Path) -> Iterator[list[Any]]:
    """Yield the entries of a sealed file; a broken line is logged and skipped, never raised.

    A broken line is one that is not a JSON array starting with a key, or a last line
    without its newline (a truncated file): the valid lines around it are all kept.
    """
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            entry = _parse(line)
            if entry is None:
                logger.warning("click journal %s line %d skipped: %r", path, number, line[:80])
                continue
            yield entry


def _parse(line: bytes) -> list[Any] | None:
    if not line.endswith(b"\n"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:  # bad JSON or bad UTF-8
        return None
    if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
        return None
    return entry


def discard(path: Path) -> None:
    """Delete a sealed file; call it only after its entries are committed to the database."""
    Path(path).unlink(missing_ok=True)


def pending_count(folder: Path) -> int:
    """Entries not yet discarded, in live and sealed files: a snapshot for a status line."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    stems = {path.stem for path in folder.iterdir() if path.suffix in (LIVE, SEALED)}
    total = 0
    for stem in stems:
        # A file only moves from live to sealed to gone, so looking in that order finds it
        # once even if a loader seals it meanwhile.
        for suffix in (LIVE, SEALED):
            try:
                total += _count_lines(folder / f"{stem}{suffix}")
                break
            except FileNotFoundError:
                continue
    return total


def _count_lines(path: Path) -> int:
    with open(path, "rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b""))
