"""The sender: a thread that sends a spool's outbox to the server, in order, exactly once.

Each round takes the oldest unsent changes (at most :data:`BATCH`) and, in one
server transaction, replays every change the server has not applied yet
(:func:`~.ops.replay`, at the time the reader made it:
:func:`~..records.acted_at`), records it as applied (``applied``: spool id, change
id) and the spool's backlog (``spools``); then the spool forgets them. A reply
lost, or the workstation killed between the server's commit and the spool's
delete, only makes the next round resend changes the server skips: a resend
changes nothing. Painting goes first: a round starts once no change has been
spooled for :data:`QUIET_S` (a pause between strokes), or after
:data:`MAX_DELAY_S` of continuous painting. When the server cannot be reached
the sender waits (0.5 s, doubling to :data:`MAX_WAIT_S`) and tries again;
reading goes on meanwhile. A change the server refuses (a study changed under
the reader) stops the sender, and :attr:`Sender.error` says why. While
connected it also renews the session's lease on the server
(:mod:`..sqlite.leases`).
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from ..records import LeaseError, StudyError, acted_at, utc_now
from ..sqlite.leases import RENEW_S
from .ops import replay

__all__ = ["BATCH", "LOST", "MAX_DELAY_S", "MAX_WAIT_S", "QUIET_S", "Sender", "connect"]

log = logging.getLogger(__name__)

BATCH = 200
#: A pause in painting this long lets a round start.
QUIET_S = 0.05
#: The longest a round waits for a pause while the reader paints without one.
MAX_DELAY_S = 1.0
MAX_WAIT_S = 5.0
LOST = (psycopg.OperationalError, psycopg.InterfaceError)


def connect(url: str, timeout_s: float):
    """A :class:`~..postgres.PostgresStore` on ``url`` (StudyError when unreachable)."""
    from ..postgres import PostgresStore

    return PostgresStore(url, connect_timeout_s=timeout_s)


class Sender(threading.Thread):
    """Sends ``spool``'s outbox to its server (see the module docstring)."""

    def __init__(self, spool) -> None:
        super().__init__(name=f"napari-uspio sender ({spool.reader})", daemon=True)
        self.spool = spool
        self.error: str | None = None  # why sending stopped (a change refused)
        self.offline_since: float | None = None  # time.time() the server was lost
        self.lease_holder: str | None = None  # the session whose lease this thread renews
        self.lease_lost: str | None = None  # why the lease is no longer this session's
        self._renewed = 0.0
        self._server = None
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def wake(self) -> None:
        """A change was spooled: send it soon."""
        self._wake.set()

    def stop(self, flush_timeout_s: float = 5.0) -> None:
        """Send what is left for up to ``flush_timeout_s`` seconds, then stop."""
        end = time.monotonic() + flush_timeout_s
        while self.is_alive() and self.spool.pending() and time.monotonic() < end:
            if self.error or self.offline_since is not None:
                break
            self.wake()
            time.sleep(0.05)
        self._stopping.set()
        self._wake.set()
        self.join(timeout=max(flush_timeout_s, 1.0))
        self._drop()

    def run(self) -> None:
        """Send rounds until stopped, waiting for the server while it is unreachable."""
        wait = 0.5
        while not self._stopping.is_set():
            self._wait_for_pause()
            try:
                sent = self._round()
            except LOST + (StudyError,) as exc:
                if isinstance(exc, StudyError) and self._server is not None:
                    self._fail(exc)  # connected, and the server refused a change
                    return
                self._drop()
                if self.offline_since is None:
                    self.offline_since = time.time()
                    log.warning("study server unreachable, changes kept in the spool: %s", exc)
                self._stopping.wait(wait)
                wait = min(2 * wait, MAX_WAIT_S)
                continue
            except Exception as exc:  # a change the server could not take: keep it, say why
                self._fail(exc)
                return
            self.offline_since, wait = None, 0.5
            if not sent:
                self._wake.wait(1.0)
                self._wake.clear()

    def _wait_for_pause(self) -> None:
        """Let painting go first: wait for a pause of :data:`QUIET_S`, or :data:`MAX_DELAY_S`."""
        start = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            idle = now - self.spool.last_write
            if idle >= QUIET_S or now - start >= MAX_DELAY_S:
                return
            self._stopping.wait(min(QUIET_S - idle, MAX_DELAY_S - (now - start)))

    def _round(self) -> int:
        """Send one batch; return how many changes it held (0: nothing to send)."""
        spool = self.spool
        batch = spool.outbox(BATCH)
        if self._server is None:
            self._server = connect(spool.url, spool.timeout)
        server, db = self._server, self._server._db
        left = spool.pending() - len(batch)
        with db.write():
            db.execute(  # first: the server lets a role record changes of its own spools only
                "INSERT INTO spools VALUES (?, ?, ?, ?, ?) ON CONFLICT (spool) DO UPDATE SET "
                "host = excluded.host, pending = excluded.pending, seen_at = excluded.seen_at",
                (spool.spool_id, spool.reader, spool.host, max(left, 0), utc_now()),
            )
            applied = set()
            if batch:
                applied = {op for (op,) in db.all(
                    "SELECT op FROM applied WHERE spool = ? AND op BETWEEN ? AND ?",
                    (spool.spool_id, int(batch[0][0]), int(batch[-1][0])),
                )}  # fmt: skip
            for op_id, op, blob, made_at in batch:
                if int(op_id) not in applied:
                    applied_at = utc_now()
                    with acted_at(made_at):  # the server keeps the time the reader acted
                        replay(server, op, blob)
                    db.execute("INSERT INTO applied VALUES (?, ?, ?)",
                               (spool.spool_id, int(op_id), applied_at))  # fmt: skip
        if batch:
            spool.sent(int(batch[-1][0]))
        holder = self.lease_holder
        if holder is not None and time.monotonic() - self._renewed > RENEW_S:
            try:
                server.renew_lease(spool.reader, holder)
            except LeaseError as exc:
                self.lease_lost, self.lease_holder = str(exc), None
            self._renewed = time.monotonic()
        return len(batch)

    def _fail(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        log.error("sending to the study server stopped: %s", self.error)
        self._drop()

    def _drop(self) -> None:
        if self._server is not None:
            try:
                self._server.close()
            except LOST:
                pass
            self._server = None
