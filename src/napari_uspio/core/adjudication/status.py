"""Where a study stands: each reader's readings done, each adjudicator's items decided.

One table for ``napari-uspio study status`` and the Study setup dock alike.

Example::

    lines = status_lines(load_study("study/"))  # header, one per reader, per adjudicator
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..study.manifest import Study
from ..study.records import ReaderProgress
from ..study.session import UNREADABLE
from ..study.store import StudyStore
from .queue import adjudication_queue

__all__ = ["AdjudicationProgress", "adjudication_progress", "status_lines"]


@dataclass(frozen=True)
class AdjudicationProgress:
    """Where an adjudicator stands: cases ready or waiting, disputed items decided."""

    adjudicator: str
    ready: int  # cases every reader has marked done
    waiting: int  # cases some reader has not
    disputed: int  # items of the ready cases needing the adjudicator
    decided: int

    @property
    def pending(self) -> int:
        """Disputed items not decided yet."""
        return self.disputed - self.decided

    def __str__(self) -> str:
        return (
            f"adjudication {self.adjudicator}: {self.decided} of {self.disputed} disputed "
            f"items decided, {self.pending} pending; cases ready {self.ready}, "
            f"waiting for readers {self.waiting}"
        )


def adjudication_progress(
    study: Study,
    store: StudyStore,
    adjudicator: str,
    progress: Callable[[int, int, str], None] | None = None,
) -> AdjudicationProgress:
    """The adjudicator's progress (matches every ready case's readings, as the queue does)."""
    ready, waiting = adjudication_queue(study, store, adjudicator, progress)
    disputed = sum(len(ca.disputed) for ca in ready)
    pending = sum(len(ca.pending) for ca in ready)
    return AdjudicationProgress(
        adjudicator, len(ready), len(waiting), disputed, disputed - pending
    )


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _reader_lines(progress: list[ReaderProgress]) -> list[str]:
    width = max([6, *(len(p.reader) for p in progress)])
    lines = [f"{'reader':<{width}}  {'role':<11}  {'done':>10}  {'time':>8}  next"]
    for p in progress:
        done = f"{p.done} of {p.total}"
        lines.append(
            f"{p.reader:<{width}}  {p.role:<11}  {done:>10}  {_duration(p.seconds_spent):>8}  "
            f"{p.next_code or '-'}"
        )
    return lines


def status_lines(
    study: Study, progress: Callable[[int, int, str], None] | None = None
) -> list[str]:
    """The study's status as text lines: a header, one row per reader, one per adjudicator.

    Then the cases a reader could not open (the latest error of each, naming the file).

    ``progress(k, n, message)`` follows the adjudication queues (the slow part).
    """
    with study.open_store() as store:
        readers = store.status()
        adjudication = [
            adjudication_progress(study, store, p.reader, progress)
            for p in readers
            if p.role == "adjudicator"
        ]
        unreadable = {
            (e.reader, e.case_code): e.detail for e in store.audit_log() if e.action == UNREADABLE
        }
    head = f"study {study.folder}: {len(study.cases)} cases, seed {study.seed}"
    problems = [
        f"{reader} could not open case {code}: {detail}"
        for (reader, code), detail in unreadable.items()
    ]
    return [head, *_reader_lines(readers), *map(str, adjudication), *problems]
