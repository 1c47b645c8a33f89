"""An SMTP server for demos that accepts every letter and keeps it as an .eml file.

Point SMTP_HOST/SMTP_PORT at it and open the files in any mail client: what lands here is
byte for byte what a real relay would have received.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FreePortController(Controller):
    """A Controller that may listen on port 0 and learns the port the system chose.

    Controller.start() connects to `self.port` to wake the server up, which fails for 0,
    so the real port is read off the listening socket first. Picking a free port up front
    instead would race with other processes.
    """

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def safe_message_id(raw: bytes) -> str:
    """The Message-ID reduced to file-name-safe characters, or "no-id"."""
    value = BytesHeaderParser(policy=compat32).parsebytes(raw).get("Message-ID")
    cleaned = _UNSAFE.sub("_", str(value or "").strip().strip("<>")).strip("._")
    return cleaned[:64] or "no-id"


class EmlFolder:
    """The aiosmtpd handler: every DATA becomes one file, renamed into place when complete."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        # File I/O (with fsync) off the event loop, so slow disks do not stall other sessions.
        path = await asyncio.get_running_loop().run_in_executor(None, self.store, raw)
        return f"250 2.0.0 Ok: stored as {path.name}"

    def store(self, raw: bytes) -> Path:
        """Write the exact bytes to a temp name and rename: readers never see half a letter."""
        with self._lock:
            number = next(self._counter)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"{stamp}-{number:06d}-{safe_message_id(raw)}.eml"
        fd, temp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(raw)
                file.flush()
                os.fsync(file.fileno())  # we answer 250 only for a letter that is on disk
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return path


class SmtpSink:
    """A local catch-all SMTP server writing .eml files into `folder`; port 0 picks a free one."""

    def __init__(self, folder: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = Path(folder)
        self.host = host
        self._requested_port = port
        self._controller: FreePortController | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the chosen one when started with 0)."""
        if self._controller is None:
            return self._requested_port
        return int(self._controller.port)

    def start(self) -> None:
        """Create the folder and listen; returns once the server answers."""
        if self._controller is not None:
            raise RuntimeError("the sink is already running")
        self.folder.mkdir(parents=True, exist_ok=True)
        controller = FreePortController(
            EmlFolder(self.folder),
            hostname=self.host,
            port=self._requested_port,
            server_hostname="mailer-sink",
            # Keep bytes as received: 8-bit bodies and SMTPUTF8 addresses stay intact.
            decode_data=False,
            enable_SMTPUTF8=True,
        )
        controller.start()
        self._controller = controller
        log.info("SMTP sink on %s:%s writing to %s", self.host, self.port, self.folder)

    def stop(self) -> None:
        """Stop listening; letters already answered with 250 are on disk."""
        if self._controller is not None:
            self._controller.stop()
            self._requested_port = int(self._controller.port)
            self._controller = None

    def count(self) -> int:
        """How many letters are stored (finished files only)."""
        return sum(1 for _ in self.folder.glob("*.eml"))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_sink(
    folder: Path | str,
    host: str = "127.0.0.1",
    port: int = 8025,
    on_ready: Callable[[SmtpSink], Any] | None = None,
) -> None:
    """Run a sink in the foreground until Ctrl-C; `on_ready` lets a CLI say where it listens."""
    sink = SmtpSink(folder, host, port)
    sink.start()
    try:
        if on_ready is not None:
            on_ready(sink)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
