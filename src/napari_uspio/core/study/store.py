"""The study store interface: what widgets, sessions, exports and agreement may ask of a store.

Callers type against :class:`StudyStore` and never speak SQL; the SQLite store
(:class:`~napari_uspio.core.study.sqlite.SQLiteStore`) implements it, and a
server backend can be added by implementing the same methods, without touching
a caller. Every write returns only once it is durable (*acknowledged*); every
write names its reader and case code and is refused unless the code is in that
reader's order; a case marked done refuses writes until it is reopened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .order import OrderEntry
from .records import Adjudication, AuditEntry, CaseState, Lease, ReaderProgress

__all__ = ["StudyStore"]


@runtime_checkable
class StudyStore(Protocol):
    """A study's persistent state: readers and orders, masks, ratings, time, audit, decisions."""

    # ---------------------------------------------------------------- the store
    def close(self) -> None:
        """Release the connection (everything acknowledged is kept)."""

    def __enter__(self) -> StudyStore: ...

    def __exit__(self, *exc: object) -> None: ...

    def schema_version(self) -> int:
        """The version of the store's schema."""

    # ---------------------------------------------------------------- readers
    def add_reader(self, reader: str, role: str, order: Sequence[OrderEntry]) -> None:
        """Register a reader with their order (fixed from then on), audited."""

    def readers(self) -> dict[str, str]:
        """Reader id -> role, in the order they were added."""

    def order(self, reader: str) -> list[OrderEntry]:
        """The readings of ``reader`` in the order shown."""

    def pin_hash(self, reader: str) -> str | None:
        """The stored hash of the reader's PIN (None: no PIN chosen yet)."""

    def set_pin_hash(self, reader: str, encoded: str | None, by: str) -> None:
        """Store the hash of the reader's new PIN, or clear it (None), audited."""

    # ---------------------------------------------------------------- one session per reader
    def lease(self, reader: str) -> Lease | None:
        """Who holds the reader's session (None: nobody)."""

    def acquire_lease(
        self, reader: str, holder: str, host: str, pid: int, take_over: bool = False
    ) -> Lease:
        """Take the reader's lease for a session (LeaseError when it is held elsewhere)."""

    def renew_lease(self, reader: str, holder: str) -> None:
        """Heartbeat of the session holding the lease (LeaseError if it was taken over)."""

    def release_lease(self, reader: str, holder: str) -> None:
        """Give the lease back."""

    # ---------------------------------------------------------------- masks
    def append_stroke(
        self,
        reader: str,
        case_code: str,
        flat_indices,
        new_values,
        labels_now: Callable[[], np.ndarray] | None = None,
    ) -> int:
        """Journal one label change (flat C-order indices, new values); return its seq."""

    def journal_size(self, reader: str, case_code: str) -> tuple[int, int]:
        """``(strokes, bytes)`` journaled since the last snapshot."""

    def labels(self, reader: str, case_code: str, shape: Sequence[int], dtype) -> np.ndarray:
        """The reader's label map of a case as last acknowledged."""

    def compact(
        self, reader: str, case_code: str, labels: np.ndarray, upto_seq: int | None = None
    ) -> int:
        """Snapshot ``labels`` and drop the strokes it covers."""

    # ---------------------------------------------------------------- ratings and time
    def set_rating(
        self, reader: str, case_code: str, lesion: int, fields: Mapping[str, str | None]
    ) -> dict[str, str | None]:
        """Apply ``fields`` (None clears) to a lesion's rating; return it once durable."""

    def ratings(self, reader: str, case_code: str) -> dict[int, dict[str, str | None]]:
        """Lesion id -> field -> value, for every lesion with a rating."""

    def add_time(
        self, reader: str, case_code: str, seconds: float, lesion: int | None = None
    ) -> None:
        """Add reading time to an open case (and to one of its lesions)."""

    def lesion_times(self, reader: str, case_code: str) -> dict[int, float]:
        """Lesion id -> seconds spent on it."""

    # ---------------------------------------------------------------- case state
    def open_case(self, reader: str, case_code: str) -> CaseState:
        """Record that the reader opened a case (audited)."""

    def case_state(self, reader: str, case_code: str) -> CaseState:
        """Status, time and timestamps of a reader's case."""

    def mark_done(self, reader: str, case_code: str) -> None:
        """Lock a case as read (audited)."""

    def reopen(self, reader: str, case_code: str, reason: str) -> None:
        """Unlock a done case, with its reason in the audit log."""

    def next_case(self, reader: str) -> OrderEntry | None:
        """The first reading of the reader's order not marked done."""

    def status(self) -> list[ReaderProgress]:
        """Per reader: readings done of total, time, next case code."""

    # ---------------------------------------------------------------- audit
    def record(
        self, action: str, reader: str | None = None, case_code: str | None = None, detail=""
    ) -> None:
        """Write an entry to the audit log."""

    def audit_log(self, reader: str | None = None) -> list[AuditEntry]:
        """The audit log, oldest first."""

    # ---------------------------------------------------------------- adjudication
    def has_proposal(self, adjudicator: str, case_code: str) -> bool:
        """Whether the consensus proposal of a case was written in full."""

    def mark_proposal(self, adjudicator: str, case_code: str, detail: str = "") -> None:
        """Record that the proposal's strokes and ratings are all written."""

    def resolve_item(
        self,
        adjudicator: str,
        case_code: str,
        item: int,
        *,
        decision: str,
        rationale: str,
        rating: Mapping[str, str | None],
        letters: Mapping[str, str],
        disputed: str,
    ) -> Adjudication:
        """Record (or replace) the decision on an item."""

    def withdraw_decision(self, adjudicator: str, case_code: str, item: int, why: str) -> None:
        """Delete the decision on an item (pending again), audited."""

    def adjudications(
        self, adjudicator: str | None = None, case_code: str | None = None
    ) -> list[Adjudication]:
        """The decisions, by adjudicator, case code and item."""
