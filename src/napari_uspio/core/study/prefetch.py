"""Load a reader's next case on a background thread while they read this one.

At most one case is loaded ahead, on one thread, starting :data:`START_DELAY_S`
after it is asked for (the case just shown draws first, on the other cores).
Asking for another case (the reader reopened a done one, or jumped) drops the one
loading; a case that fails to load raises its usual
:class:`~napari_uspio.core.volume.CaseError` only when the reader reaches it.

Example::

    prefetch = CasePrefetch()
    prefetch.start(folder_of_next, derived=("mtr", "gd_diff"))
    case = prefetch.take(folder_of_next)   # None if it was not the one prefetched
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from threading import Event

from ..case import Case, load_case

__all__ = ["CasePrefetch"]


#: Seconds between asking for a case ahead and reading it: a reader reads for minutes.
START_DELAY_S = 1.0


def _load(folder: Path, derived: Sequence[str], wake: Event, dropped: Event) -> Case | None:
    wake.wait(START_DELAY_S)  # woken early by take() or drop()
    if dropped.is_set():
        return None
    case = load_case(folder, threads=1)  # the other cores draw the case being read
    case.compute(derived)  # computed here, not on the GUI thread when the case is shown
    return case


class CasePrefetch:
    """One background thread, at most one case ahead."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="napari-uspio-prefetch")
        self._folder: Path | None = None
        self._future: Future | None = None
        self._wake, self._dropped = Event(), Event()

    @property
    def folder(self) -> Path | None:
        """The folder of the case loading or loaded ahead (None: none)."""
        return self._folder

    def start(self, folder: Path, derived: Sequence[str] = ()) -> None:
        """Load ``folder`` and its ``derived`` maps ahead (dropping another case ahead)."""
        folder = Path(folder)
        if folder == self._folder:
            return
        self.drop()
        self._folder, self._wake, self._dropped = folder, Event(), Event()
        self._future = self._pool.submit(_load, folder, tuple(derived), self._wake, self._dropped)

    def wait(self) -> None:
        """Block until the case ahead is loaded or failed (benchmarks; a reader never waits)."""
        if self._future is not None:
            self._future.exception()

    def take(self, folder: Path) -> Case | None:
        """The prefetched case of ``folder`` (waits for it; raises its load error), else None.

        A prefetch of another folder is dropped.
        """
        if self._future is None or Path(folder) != self._folder:
            self.drop()
            return None
        future, self._folder, self._future = self._future, None, None
        self._wake.set()  # the reader is there: no more waiting
        return future.result()

    def drop(self) -> None:
        """Forget the case ahead (a load already running finishes and is freed)."""
        if self._future is not None:
            self._future.cancel()
        self._dropped.set()
        self._wake.set()
        self._folder = self._future = None

    def shutdown(self) -> None:
        """Drop the case ahead and stop the thread (a running load ends first)."""
        self.drop()
        self._pool.shutdown(wait=False, cancel_futures=True)
