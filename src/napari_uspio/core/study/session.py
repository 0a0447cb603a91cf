"""A reader's session in a study, without a viewer: their order, one reading at a time.

A :class:`StudySession` signs a reader in (the study loaded, the reader checked,
the store opened, the reader's lease taken: one session per reader), opens
their readings in their own order (the case, the label map and ratings as last
saved, a live :class:`~napari_uspio.core.lesions.LesionModel` of it, journaled by
an :class:`~.autosave.Autosave`), counts reading time, marks readings done or
reopens them, and closes. A viewer shows an open
:class:`Reading` and edits its model (see ``napari_uspio._napari.reading_session``);
a script or notebook edits the model directly.

Example::

    session = StudySession("study/", "r1")
    reading = session.open(session.next_entry())
    reading.model.apply_indices(voxels, 1)      # journaled at once
    reading.ratings.set(1, gd="shell")
    session.mark_done()
    session.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..case import Case, Progress, load_case
from ..lesions import LesionModel, lesion_model
from ..ratings import Ratings
from ..roles import DERIVED, MEASURED_MAPS
from .autosave import Autosave
from .lease import SessionLease
from .manifest import load_study
from .order import OrderEntry
from .pins import hash_pin, pin_matches
from .prefetch import CasePrefetch
from .records import StudyError
from .sources import start_reading

__all__ = ["LABEL_DTYPE", "UNREADABLE", "Reading", "StudySession"]

#: The dtype of a reading's label map (65535 lesions; half the memory of int32).
LABEL_DTYPE = np.uint16
#: The audit-log action of a case a reader could not open (detail: the error).
UNREADABLE = "unreadable case"


@dataclass(frozen=True)
class Reading:
    """One open reading: its order entry, case, saved label map, live model and ratings.

    ``labels`` is the label map as last saved (a viewer shows it); ``model`` keeps
    its own copy, and every edit of it is journaled.
    """

    entry: OrderEntry
    case: Case
    labels: np.ndarray
    model: LesionModel
    ratings: Ratings


class StudySession:
    """One reader signed in to a study, reading their cases in their own order.

    Parameters
    ----------
    study_dir : str or Path
        The study folder.
    reader : str
        The reader id (refused, naming the known ones, when not in the study).
    pin : str, optional
        The reader's PIN (see :mod:`.pins`): refused unless it matches; at the
        reader's first sign-in it becomes theirs. ``None`` signs in without one
        only while the reader has not chosen one (scripts, notebooks).
    prefetch : bool
        Load the reader's following case on a background thread while they read
        (:mod:`.prefetch`), so that *Mark case done* shows it without waiting.
    """

    def __init__(
        self,
        study_dir: str | Path,
        reader: str,
        pin: str | None = None,
        prefetch: bool = True,
        take_over: bool = False,
    ):
        self.study = load_study(study_dir)
        self.study.reader(reader)  # refuses an unknown reader, naming the known ones
        self.reader = reader
        self.store = self.study.open_reader_store(reader)
        try:
            self._check_pin(pin)
            #: One session per reader (refused while held elsewhere; ``take_over``: expired).
            self.lease = SessionLease(self.store, reader, take_over)
        except BaseException:
            self.store.close()
            raise
        self.reading: Reading | None = None
        self.autosave: Autosave | None = None
        #: Loads the following case ahead (None: prefetch off).
        self.prefetcher = CasePrefetch() if prefetch else None

    def _check_pin(self, pin: str | None) -> None:
        stored = self.store.pin_hash(self.reader)
        if stored is None:
            if pin is not None:  # first sign-in: the PIN typed becomes the reader's
                self.store.set_pin_hash(self.reader, hash_pin(pin), by=self.reader)
            return
        if pin is None or not pin_matches(pin, stored):
            self.store.record("refused sign-in", self.reader, None, "wrong PIN")
            raise StudyError(
                f"wrong PIN for reader {self.reader}. Fix: type your PIN again; the study "
                "coordinator resets a forgotten one (napari-uspio study reset-pin)."
            )

    @property
    def entry(self) -> OrderEntry | None:
        """The order entry of the open reading (None: none open)."""
        return None if self.reading is None else self.reading.entry

    @property
    def sending(self) -> str | None:
        """On a server study, what waits to be sent to the server (None: a SQLite study)."""
        state = getattr(self.store, "sending_state", None)
        return None if state is None else state()

    @property
    def progress(self) -> tuple[int, int]:
        """``(k, n)``: the reader is on reading k of n (k = done + 1 while reading)."""
        mine = next(p for p in self.store.status() if p.reader == self.reader)
        return min(mine.done + (self.reading is not None), mine.total), mine.total

    def next_entry(self) -> OrderEntry | None:
        """The reader's first reading not marked done (None: all done)."""
        return self.store.next_case(self.reader)

    def entry_of(self, code: str) -> OrderEntry:
        """The entry of the reader's order with this case code."""
        return next(e for e in self.store.order(self.reader) if e.code == code)

    def done_codes(self) -> list[str]:
        """Codes of the reader's readings marked done (for an explicit reopen)."""
        return [
            e.code
            for e in self.store.order(self.reader)
            if self.store.case_state(self.reader, e.code).status == "done"
        ]

    def shows(self, name: str) -> bool:
        """Whether the study shows a map: its role, or the roles a derived map needs."""
        if name == "candidates":  # proposals only where the study proposes them
            return self.study.lesion_source == "candidates"
        shown = self.study.shown_roles
        if not shown or name in ("lesions", "wm_mask") or name in shown:
            return True
        return name in DERIVED and all(role in shown for role in DERIVED[name][0])

    def load(self, entry: OrderEntry, progress: Progress | None = None) -> Case:
        """The case of an entry: taken from the prefetch, else loaded (any thread).

        ``progress(k, n, message)`` is called as each file is read (not when prefetched).
        The derived maps the lesion model measures are computed here too, so that
        :meth:`open` (on the GUI thread) does not compute them.
        """
        folder = self.study.reading_folder(entry)
        case = self.prefetcher.take(folder) if self.prefetcher else None
        if case is None:
            case = load_case(folder, progress)
            case.compute(MEASURED_MAPS)
        return case

    def refusal(self, entry: OrderEntry, exc: Exception) -> StudyError:
        """A case that cannot be opened, told blind: the reader sees its code only.

        The full error (which names the file, hence maybe the subject) goes to the
        audit log, where ``napari-uspio study status`` shows it to the coordinator.
        """
        self.store.record(UNREADABLE, self.reader, entry.code, str(exc))
        return StudyError(
            f"case {entry.code} cannot be opened: one of its files cannot be read. Fix: "
            "tell the study coordinator (napari-uspio study status names the file), "
            "then Open my next case."
        )

    def open(self, entry: OrderEntry, case: Case | None = None) -> Reading:
        """Open a reading (closing the one open): case, saved labels and ratings, autosave.

        The case (``case``, or :meth:`load`) is at hand first: a case that cannot
        be read leaves the open reading as it was. A reference study's reading
        starts from the case's ``lesions`` map (:mod:`.sources`). Then the
        reader's following case is prefetched on a background thread.
        """
        case = case if case is not None else self.load(entry)
        self.close_reading()
        self.store.open_case(self.reader, entry.code)
        start_reading(self.store, self.reader, entry.code, case, self.study.lesion_source)
        labels = self.store.labels(self.reader, entry.code, case.grid.shape, LABEL_DTYPE)
        ratings = Ratings(self.store.ratings(self.reader, entry.code))
        model = lesion_model(case, labels, self.study.shell_width_mm)
        self.reading = Reading(entry, case, labels, model, ratings)
        self.autosave = Autosave(self.store, self.reader, entry.code, model, ratings)
        following = self.following_entry()
        if self.prefetcher is not None and following is not None:
            self.prefetcher.start(self.study.reading_folder(following), MEASURED_MAPS)
        return self.reading

    def following_entry(self) -> OrderEntry | None:
        """The reading after the open one that *Mark case done* will open (None: none)."""
        if self.reading is None:
            return self.next_entry()
        after = False
        for e in self.store.order(self.reader):
            if e.code == self.reading.entry.code:
                after = True
            elif after and self.store.case_state(self.reader, e.code).status != "done":
                return e
        return None

    def add_time(self, seconds: float, lesion: int | None = None) -> None:
        """Count reading time on the open reading, and on ``lesion`` when it is painted."""
        if self.reading is None:
            return
        self.store.add_time(self.reader, self.reading.entry.code, seconds)
        if lesion is not None and lesion in self.reading.model.ids:
            self.store.add_time(self.reader, self.reading.entry.code, seconds, lesion=lesion)

    def done_warning(self) -> str:
        """What *Mark case done* should say first: unrated lesions, no lesion, or nothing."""
        if self.reading is None:
            return ""
        ids = [int(i) for i in self.reading.model.ids]
        if not ids:
            return "The case has no lesion delineated."
        unrated = [i for i in ids if not self.reading.ratings.get(i).complete]
        if not unrated:
            return ""
        if len(unrated) == 1:
            return f"Lesion {unrated[0]} is not fully rated (1 of {len(ids)} lesions)."
        shown = ", ".join(map(str, unrated[:10])) + (" …" if len(unrated) > 10 else "")
        return f"{len(unrated)} of {len(ids)} lesions are not fully rated (ids {shown})."

    def mark_done(self) -> None:
        """Lock the open reading as read (its journal compacted first) and close it."""
        if self.reading is None:
            return
        self.autosave.compact()  # a done case is locked, compaction too
        self.store.mark_done(self.reader, self.reading.entry.code)
        self.close_reading()

    def reopen(self, code: str, reason: str) -> OrderEntry:
        """Unlock a done reading (audited with its reason); return its entry, to open it."""
        self.store.reopen(self.reader, code, reason)
        return self.entry_of(code)

    def close_reading(self) -> None:
        """Stop autosaving the open reading (everything is saved already)."""
        if self.reading is None:
            return
        if self.store.case_state(self.reader, self.reading.entry.code).status != "done":
            self.autosave.compact()
        self.autosave.disconnect()
        self.reading, self.autosave = None, None

    def close(self) -> None:
        """Close the open reading, drop the prefetched case, close the store."""
        self.close_reading()
        if self.prefetcher is not None:
            self.prefetcher.shutdown()
        try:
            self.lease.release()
        finally:
            self.store.close()
