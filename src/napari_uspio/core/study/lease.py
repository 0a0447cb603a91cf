"""A session's hold on its reader's lease: taken at sign-in, renewed on a thread, given back.

See :mod:`.sqlite.leases` for the rules (one session per reader, refusals, take-over).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from .records import LeaseError
from .sqlite.leases import RENEW_S
from .store import StudyStore

__all__ = ["SessionLease"]

log = logging.getLogger(__name__)


class SessionLease:
    """The lease of ``reader`` for one session of this process (LeaseError if held elsewhere).

    ``take_over`` takes an expired lease of another workstation (audited).
    :attr:`lost` says why the lease was lost (taken over elsewhere), else None.
    """

    def __init__(self, store: StudyStore, reader: str, take_over: bool = False) -> None:
        self.store, self.reader = store, reader
        self.holder = uuid.uuid4().hex
        self.lease = store.acquire_lease(
            reader, self.holder, socket.gethostname(), os.getpid(), take_over
        )
        self.lost: str | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True,
                                        name=f"napari-uspio lease ({reader})")  # fmt: skip
        self._thread.start()

    def _renew(self) -> None:
        while not self._stopping.wait(RENEW_S):
            try:
                self.store.renew_lease(self.reader, self.holder)
            except LeaseError as exc:
                self.lost = str(exc)
                log.error("reading session lost: %s", exc)
                return
            except Exception as exc:  # a store out of reach: the next heartbeat tries again
                log.warning("lease not renewed: %s", exc)

    def release(self) -> None:
        """Stop renewing and give the lease back."""
        self._stopping.set()
        self._thread.join(timeout=5)
        if self.lost is None:
            self.store.release_lease(self.reader, self.holder)
