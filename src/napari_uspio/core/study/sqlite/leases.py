"""One session per reader: a lease row per reader (holder, host, process, since, heartbeat).

A session takes its reader's lease at sign-in (:meth:`Leases.acquire_lease`), renews it
every :data:`RENEW_S` seconds and gives it back when it closes. Another sign-in is
refused, naming the workstation and since when, while the lease is fresh (a
heartbeat within :data:`TTL_S`); once it has expired it may be taken over, explicitly
(audited). A lease of a process that is gone on the same host, or of the same process
signing in again, is taken over at once (audited). Both backends (the SQL is shared).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from ..records import Lease, LeaseError, utc_now
from .schema import Database

__all__ = ["RENEW_S", "TTL_S", "Leases"]

#: A lease without a heartbeat for this long has expired.
TTL_S = 60.0
#: How often a session renews its lease.
RENEW_S = 15.0
_COLUMNS = "reader, holder, host, pid, since, heartbeat"


def _age_s(timestamp: str) -> float:
    return (datetime.fromisoformat(utc_now()) - datetime.fromisoformat(timestamp)).total_seconds()


def _when(timestamp: str) -> str:
    """A stored time as a reader reads it: local date and minute."""
    return datetime.fromisoformat(timestamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _ago(seconds: float) -> str:
    """``12 s``, ``7 min`` or ``3 h 52 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60} min"


def _gone(lease: Lease, host: str) -> bool:
    """Whether the lease's process is known to be gone (same host only)."""
    if lease.host != host:
        return False
    try:
        os.kill(lease.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Leases:
    """Lease methods of the study store (a mixin: needs its database)."""

    _db: Database
    _audit: Callable[..., None]

    def lease(self, reader: str) -> Lease | None:
        """The reader's lease (None: nobody holds it)."""
        row = self._db.one(f"SELECT {_COLUMNS} FROM leases WHERE reader = ?", (reader,))
        return None if row is None else Lease(*row[:3], int(row[3]), *row[4:])

    def acquire_lease(
        self, reader: str, holder: str, host: str, pid: int, take_over: bool = False
    ) -> Lease:
        """Take the reader's lease for session ``holder`` (LeaseError if held elsewhere)."""
        self.order(reader)  # refuses an unknown reader
        with self._db.write() as db:
            old = self.lease(reader)
            if old is not None and old.holder != holder:
                age = _age_s(old.heartbeat)
                mine = old.host == host and old.pid == pid
                if not (mine or _gone(old, host)):
                    where = (
                        f"{reader} is signed in on workstation {old.host} since {_when(old.since)}"
                    )
                    if age < TTL_S:
                        raise LeaseError(
                            f"{where} (last seen {_ago(age)} ago). Fix: sign out there; if "
                            f"that workstation is gone, take over after {TTL_S:.0f} s without "
                            "a sign of it."
                        )
                    if not take_over:
                        raise LeaseError(
                            f"{where}, last seen {_ago(age)} ago: that session has expired. "
                            "Fix: take it over (audited), or sign in there.",
                            expired=True,
                        )
                why = "same process" if mine else "process gone" if age < TTL_S else "expired"
                self._audit(reader, "take over session", None,
                            f"from {old.host} pid {old.pid} ({why})")  # fmt: skip
            now = utc_now()
            since = old.since if old is not None and old.holder == holder else now
            db.execute("DELETE FROM leases WHERE reader = ?", (reader,))
            db.execute(f"INSERT INTO leases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                       (reader, holder, host, int(pid), since, now))  # fmt: skip
        return Lease(reader, holder, host, int(pid), since, now)

    def renew_lease(self, reader: str, holder: str) -> None:
        """Heartbeat of the session holding the lease (LeaseError if it was taken over)."""
        with self._db.write() as db:
            held = self.lease(reader)
            if held is None or held.holder != holder:
                taken = f" by {held.host}" if held is not None else ""
                raise LeaseError(f"{reader}'s session was taken over{taken}; sign in again")
            db.execute("UPDATE leases SET heartbeat = ? WHERE reader = ?", (utc_now(), reader))

    def release_lease(self, reader: str, holder: str) -> None:
        """Give the lease back (nothing if ``holder`` no longer holds it)."""
        with self._db.write() as db:
            db.execute("DELETE FROM leases WHERE reader = ? AND holder = ?", (reader, holder))
