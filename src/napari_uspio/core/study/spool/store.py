"""A reader's store on a server study: the workstation's spool first, the server after.

:class:`SpooledStore` implements :class:`~..store.StudyStore` for one reader
(or adjudicator) of a study whose store is a PostgreSQL server. Each write is
committed to a local SQLite file, the *spool* (fsynced, O(stroke), as a SQLite
study), together with its row in the spool's outbox, in one transaction; the
method returns then: acknowledged, whatever the network does. A
:class:`~.sender.Sender` thread sends the outbox to the server in order.

Reads of the reader's own readings come from the spool; what belongs to others
(other readers' readings, the study's status: an adjudicator's queue) comes
from the server. At sign-in the spool is filled from the server (the reader's
rows of every table: resuming on another workstation) unless it still holds
unsent changes (this workstation is ahead: reading goes on offline). Signing
in is refused while another workstation's spool still holds unsent changes of
the reader (the server records each spool's backlog).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from hashlib import sha256
from pathlib import Path

from ..records import LeaseError, StudyError, acted_at, utc_now
from ..sqlite import SQLiteStore
from ..sqlite.journal import encode_stroke, normalise_stroke
from .ops import WRITES, encode
from .sender import LOST, Sender, connect

__all__ = ["SPOOL_ENV", "SpooledStore", "spool_folder"]

#: Environment variable naming the folder of the workstation's spools.
SPOOL_ENV = "NAPARI_USPIO_SPOOL"
_OUTBOX = (
    # AUTOINCREMENT: an id is never reused once sent (the server skips ids it applied)
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "op TEXT NOT NULL, data BLOB, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
#: Tables whose rows of the reader are copied from the server at sign-in.
_SEEDED = ("readers", "orders", "pins", "snapshots", "strokes", "ratings", "case_state",
           "lesion_time", "adjudications", "audit")  # fmt: skip
#: Reads answered by the spool when they name the spool's reader (else by the server).
_OWN_READS = ("order", "pin_hash", "journal_size", "strokes", "last_seq", "labels", "ratings",
              "lesion_times", "case_state", "next_case", "audit_log", "has_proposal")  # fmt: skip


def spool_folder() -> Path:
    """Where this workstation keeps its spools: ``$NAPARI_USPIO_SPOOL`` or the user's data."""
    if os.environ.get(SPOOL_ENV):
        return Path(os.environ[SPOOL_ENV])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "napari-uspio" / "spool"


class SpooledStore:
    """One reader's store on a server study (see the module docstring).

    Parameters
    ----------
    url : str
        The study's PostgreSQL URL.
    reader : str
        The reader (or adjudicator) whose session this is.
    folder : Path, optional
        The workstation's spool folder (default :func:`spool_folder`).
    connect_timeout_s : float
        How long a connection attempt to the server may take.
    """

    def __init__(self, url: str, reader: str, folder: Path | None = None,
                 connect_timeout_s: float = 5.0) -> None:  # fmt: skip
        self.url, self.reader, self.timeout = url, reader, connect_timeout_s
        folder = Path(folder or spool_folder())
        folder.mkdir(parents=True, exist_ok=True)
        key = sha256(url.encode()).hexdigest()[:12]
        self.path = folder / f"{key}-{reader}.sqlite"
        self.local = SQLiteStore(self.path, create=True)
        for statement in _OUTBOX:
            self.local._db.execute(statement)
        self.spool_id = self._meta("spool", uuid.uuid4().hex)
        self.host = socket.gethostname()
        self._server = None
        self.last_write = 0.0  # time.monotonic() of the last change spooled
        try:
            self._sign_in()
        except BaseException:
            self.close_server()
            self.local.close()
            raise
        self.sender = Sender(self)
        self.sender.start()

    # ------------------------------------------------------------ the spool
    def _meta(self, key: str, default: str) -> str:
        db = self.local._db
        with db.write():
            found = db.scalar("SELECT value FROM spool_meta WHERE key = ?", (key,))
            if found is None:
                db.execute("INSERT INTO spool_meta VALUES (?, ?)", (key, default))
        return found or default

    def pending(self) -> int:
        """Changes acknowledged here and not yet on the server."""
        return int(self.local._db.scalar("SELECT COUNT(*) FROM outbox"))

    def sending_state(self) -> str:
        """What the reader is told: everything on the server, or what waits and why."""
        sender, n = self.sender, self.pending()
        if sender.error:
            return f"{n} changes kept on this workstation; sending stopped: {sender.error}"
        if not n:
            return "all changes are on the server"
        text = f"{n} change{'s' * (n != 1)} waiting to be sent"
        if sender.offline_since is not None:
            since = time.strftime("%H:%M:%S", time.localtime(sender.offline_since))
            text += f" (server unreachable since {since}; they are safe on this workstation)"
        return text

    def outbox(self, limit: int) -> list[tuple[int, str, bytes | None, str]]:
        """The oldest unsent changes, ``(id, op, blob, made at)`` in order."""
        return self.local._db.all(
            "SELECT id, op, data, created_at FROM outbox ORDER BY id LIMIT ?", (limit,)
        )

    def sent(self, upto_id: int) -> None:
        """Forget the changes the server has applied (ids up to ``upto_id``).

        Not fsynced: a forgetting lost in a crash only makes the sender resend
        changes the server skips; the next change's commit makes it durable.
        """
        with self.local._db.write(fsync=False) as db:
            db.execute("DELETE FROM outbox WHERE id <= ?", (upto_id,))

    # ------------------------------------------------------------ the server
    def server(self):
        """The server store, connected on demand (StudyError when unreachable)."""
        if self._server is None:
            self._server = connect(self.url, self.timeout)
        return self._server

    def close_server(self) -> None:
        """Drop the server connection (the next :meth:`server` reconnects)."""
        if self._server is not None:
            try:
                self._server.close()
            finally:
                self._server = None

    def _sign_in(self) -> None:
        if self.pending():  # this workstation is ahead of the server: go on, offline or not
            return
        try:
            server = self.server()
        except StudyError:
            if self.local.readers():
                return  # offline, nothing unsent: the spool is as the server last was
            raise
        connected = server.connected_reader()
        if connected is not None and connected != self.reader:
            raise StudyError(
                f"this workstation connects to the study server as the database role of "
                f"{connected}, not {self.reader}. Fix: sign in as {connected}, or connect as "
                f"{self.reader}'s role (PGUSER or the service file)."
            )
        others = server._db.all(
            "SELECT host, seen_at, pending FROM spools WHERE reader = ? AND spool != ? "
            "AND pending > 0",
            (self.reader, self.spool_id),
        )
        if others:
            host, since, n = others[0]
            raise StudyError(
                f"{self.reader}'s work on workstation {host} is not on the server yet "
                f"({n} changes, last seen {since}). Fix: sign in there until it is sent, "
                "then sign in here."
            )
        self._seed(server)

    def _seed(self, server) -> None:
        """Replace the spool's rows by the reader's rows on the server."""
        with self.local._db.write() as db:
            for table in reversed(_SEEDED):
                db.execute(f"DELETE FROM {table} WHERE reader = ?", (self.reader,))
            for table in _SEEDED:
                names = [r[1] for r in db.all(f"PRAGMA table_info({table})") if r[1] != "id"]
                rows = server._db.all(
                    f"SELECT {', '.join(names)} FROM {table} WHERE reader = ?", (self.reader,)
                )
                marks = ", ".join("?" * len(names))
                db.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)
        if not self.local.readers():
            raise StudyError(f"{self.url}: no reader {self.reader!r} in this study")

    # ------------------------------------------------------------ the store interface
    def _write(self, method: str, *args, **kwargs):
        if method == "append_stroke":  # encoded once: journaled here, sent as the same bytes
            idx, vals = normalise_stroke(args[2], args[3])
            method, args = "append_encoded", (*args[:2], int(idx.size), encode_stroke(idx, vals))
        now = utc_now()
        with self.local._db.write() as db, acted_at(now):  # the server gets the same times
            result = getattr(self.local, method)(*args, **kwargs)
            send = {k: v for k, v in kwargs.items() if k != "labels_now"}
            db.execute("INSERT INTO outbox (op, data, created_at) VALUES (?, ?, ?)",
                       (*encode(method, args, send), now))  # fmt: skip
        self.last_write = time.monotonic()
        self.sender.wake()
        return result

    def __getattr__(self, name: str):
        if name in WRITES:
            return lambda *args, **kwargs: self._write(name, *args, **kwargs)
        if name in _OWN_READS:
            return lambda reader, *args, **kwargs: getattr(
                self.local if reader == self.reader else self.server(), name
            )(reader, *args, **kwargs)
        raise AttributeError(name)

    def add_reader(self, *args, **kwargs) -> None:
        """Refused: readers are added by the coordinator, on the server."""
        raise StudyError("readers are added by the coordinator (study add-reader), not a session")

    def readers(self) -> dict[str, str]:
        """Reader id -> role: the server's (the spool's own reader when offline)."""
        try:
            return self.server().readers()
        except StudyError:
            return self.local.readers()

    def status(self):
        """Per reader progress: the server's, with this reader's from the spool."""
        mine = [p for p in self.local.status() if p.reader == self.reader]
        try:
            theirs = [p for p in self.server().status() if p.reader != self.reader]
        except StudyError:
            theirs = []
        return mine + theirs

    def adjudications(self, adjudicator=None, case_code=None):
        """Decisions: the spool's reader's from the spool, others' from the server."""
        if adjudicator == self.reader:
            return self.local.adjudications(adjudicator, case_code)
        return self.server().adjudications(adjudicator, case_code)

    # ------------------------------------------------------------ one session per reader
    def lease(self, reader: str):
        """Who holds the reader's session, on the server."""
        return self.server().lease(reader)

    def acquire_lease(self, reader, holder, host, pid, take_over=False):
        """Take the lease on the server; offline, on this workstation's spool only."""
        try:
            server = self.server()
        except StudyError:
            return self.local.acquire_lease(reader, holder, host, pid, take_over)
        lease = server.acquire_lease(reader, holder, host, pid, take_over)
        self.sender.lease_holder = holder
        return lease

    def renew_lease(self, reader: str, holder: str) -> None:
        """The sender renews the lease on the server (LeaseError once it was taken over)."""
        if self.sender.lease_lost:
            raise LeaseError(self.sender.lease_lost)

    def release_lease(self, reader: str, holder: str) -> None:
        """Give the lease back on the server (when reachable; else it expires)."""
        self.sender.lease_holder = None
        try:
            self.server().release_lease(reader, holder)
        except (StudyError, *LOST):
            self.close_server()

    def schema_version(self) -> int:
        """The spool's schema version (the server's is checked when connecting)."""
        return self.local.schema_version()

    def close(self, flush_timeout_s: float = 5.0) -> None:
        """Stop the sender (after trying to send what is left for a while); close both."""
        try:
            self.sender.stop(flush_timeout_s)
        finally:
            self.close_server()
            self.local.close()

    def __enter__(self) -> SpooledStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
