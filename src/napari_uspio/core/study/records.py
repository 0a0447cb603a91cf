"""What a study store holds and returns, whatever its backend: records and errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "READER_ROLES",
    "Adjudication",
    "AuditEntry",
    "CaseLockedError",
    "CaseState",
    "Lease",
    "LeaseError",
    "ReaderProgress",
    "StudyError",
    "parse_ids",
    "utc_now",
]

#: Roles a person has in a study.
READER_ROLES = ("reader", "adjudicator")


class StudyError(Exception):
    """A refused study operation; the message says why and how to fix it."""


class CaseLockedError(StudyError):
    """A write to a case the reader marked done (reopen it first)."""


class LeaseError(StudyError):
    """A sign-in refused: the reader's session is held elsewhere.

    ``expired``: the other session has expired and may be taken over explicitly.
    """

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Lease:
    """Who holds a reader's session: a session id, its host and process, since, last seen."""

    reader: str
    holder: str
    host: str
    pid: int
    since: str
    heartbeat: str


@dataclass(frozen=True)
class CaseState:
    """Where a reader is with one case: ``new`` (never opened), ``open`` or ``done``."""

    status: str
    seconds_spent: float = 0.0
    opened_at: str | None = None
    done_at: str | None = None


@dataclass(frozen=True)
class ReaderProgress:
    """One line of a store's ``status()``: ``done`` of ``total`` readings, time in s."""

    reader: str
    role: str
    done: int
    total: int
    seconds_spent: float
    next_code: str | None


@dataclass(frozen=True)
class AuditEntry:
    """Who did what when (``ts``: UTC, ISO 8601)."""

    ts: str
    reader: str | None
    action: str
    case_code: str | None
    detail: str


@dataclass(frozen=True)
class Adjudication:
    """One decision of the adjudicator on one item of a case."""

    adjudicator: str
    case_code: str
    item: int
    decision: str  # "lesion" or "no lesion"
    rationale: str
    rating: dict  # the final rating (field -> value); empty for "no lesion"
    letters: dict  # reader id -> letter shown (coordinator's eyes only)
    disputed: str  # what was disputed, in words
    decided_at: str


_ACTED_AT: ContextVar[str | None] = ContextVar("napari_uspio_acted_at", default=None)


def utc_now() -> str:
    """Now, UTC, ISO 8601 with microseconds (the store's timestamps); see :func:`acted_at`."""
    return _ACTED_AT.get() or datetime.now(UTC).isoformat(timespec="microseconds")


@contextmanager
def acted_at(timestamp: str) -> Iterator[None]:
    """Within this block (this thread), :func:`utc_now` is ``timestamp``.

    A change sent later (from a workstation's spool) keeps the time the reader made it.
    """
    token = _ACTED_AT.set(timestamp)
    try:
        yield
    finally:
        _ACTED_AT.reset(token)


def parse_ids(text: str) -> list[str]:
    """Reader (or role) ids typed comma-separated, e.g. ``"r1, r2,r3"``, blanks dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]
