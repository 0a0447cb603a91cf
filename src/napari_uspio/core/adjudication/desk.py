"""The adjudicator's desk: the queue, one case's consensus, one item decided, without a viewer.

An :class:`AdjudicationDesk` is the adjudicator's :class:`~..study.session.StudySession`:
the queue of disputed items (:mod:`.queue`), the consensus of a ready case opened
as the adjudicator's reading (its model and ratings are what is edited, journaled
like any reading), and the work on the open item: the readers' ratings by letter,
the final rating, a reader's mask or no lesion, the decision with its rationale.

The final answer is the adjudicator's: *use a reader's mask* takes the mask
only (never that reader's ratings or confidence), and :meth:`AdjudicationDesk.resolve`
refuses a kept lesion until every disputed field has a final value the
adjudicator chose (the proposal never fills a disputed field).
A viewer (``napari_uspio._napari.adjudication_session``) shows the open case and
makes the mask edits undoable on its layer; without one, the model is edited directly.

Example::

    desk = AdjudicationDesk("study/", "adj")
    desk.refresh_queue()
    case, item = desk.pending()[0]
    desk.open_case(case)
    desk.select(item)
    desk.use_reader_mask("A")
    desk.set_final(confidence="high")
    desk.resolve("A's mask follows the FLAIR edge")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import fields as spec
from ..agreement.readings import CaseReadings, done_readings
from ..ratings import Rating, RatingError
from ..study.order import OrderEntry
from ..study.records import StudyError
from ..study.session import Reading, StudySession
from .consensus import export_consensus
from .items import Item, evidence_roles, item_values
from .queue import CaseAdjudication, adjudication_queue, case_adjudication, open_consensus

__all__ = ["AdjudicationDesk", "Voxels"]

#: Voxel indices ``(z, y, x)`` of a lesion, as ``np.nonzero`` gives them.
Voxels = tuple[np.ndarray, ...]


class AdjudicationDesk(StudySession):
    """An adjudicator signed in to a study, settling disputed items one by one.

    Parameters
    ----------
    study_dir : str or Path
        The study folder.
    adjudicator : str
        An id of the study's ``[[readers]]`` with ``role = 'adjudicator'``.
    pin : str, optional
        The adjudicator's PIN, as for :class:`StudySession`.

    The queue is empty until :meth:`refresh_queue` (the long step: every ready case's
    readings are matched).
    """

    def __init__(self, study_dir: str | Path, adjudicator: str, pin: str | None = None):
        super().__init__(study_dir, adjudicator, pin)
        if self.study.reader(adjudicator).role != "adjudicator":
            self.lease.release()
            self.store.close()
            raise StudyError(
                f"{adjudicator!r} is a reader of this study; adjudication needs an adjudicator "
                "id (the study's [[readers]] with role = 'adjudicator')"
            )
        self.cases: list[CaseAdjudication] = []
        self.waiting: list[str] = []
        self.current: CaseAdjudication | None = None
        self.readings: CaseReadings | None = None
        self.item: Item | None = None

    # ------------------------------------------------------------ queue
    def refresh_queue(self, progress: Callable[[int, int, str], None] | None = None) -> None:
        """Recompute the queue from the readers' done readings and the decisions.

        ``progress(k, n, message)`` is called before each case of the adjudicator's order.
        """
        self.cases, self.waiting = adjudication_queue(
            self.study, self.store, self.reader, progress
        )

    def queue(self) -> list[tuple[CaseAdjudication, Item]]:
        """Every disputed item of the ready cases, in the adjudicator's case order."""
        return [(ca, item) for ca in self.cases for item in ca.disputed]

    def pending(self) -> list[tuple[CaseAdjudication, Item]]:
        """Disputed items without a decision."""
        return [(ca, item) for ca, item in self.queue() if item in ca.pending]

    # ------------------------------------------------------------ opening
    def following_entry(self) -> OrderEntry | None:
        """The next other case with pending items, in queue order: the one prefetched."""
        code = self.reading.entry.code if self.reading is not None else None
        return next((self.entry_of(ca.code) for ca, _ in self.pending() if ca.code != code), None)

    def open_case(self, ca: CaseAdjudication) -> Reading:
        """Open a ready case's consensus as the adjudicator's reading (closing the one open).

        The proposal is written once, the first time. A case a reader has reopened
        since the queue was built is refused (:class:`StudyError`, the queue
        refreshed) and nothing is closed.
        """
        found = case_adjudication(
            self.study, self.store, self.reader, ca.case_id, done_readings(self.store)
        )
        if found is None:
            self.refresh_queue()
            raise StudyError(
                f"case {ca.code} is no longer ready: a reader reopened it. The queue is "
                "updated; adjudicate it once every reader has marked it done again."
            )
        ca, cr = found
        open_consensus(self.store, self.reader, ca, cr)
        reading = self.open(self.entry_of(ca.code))
        self.current, self.readings = ca, cr
        self.cases = [ca if c.code == ca.code else c for c in self.cases]
        return reading

    def select(self, item: Item) -> Item:
        """Make an item of the open case the one being decided; return the case's copy."""
        self.item = next(i for i in self.current.items if i.item == item.item)
        return self.item

    def close_reading(self) -> None:
        """Close the open case too (everything is saved already)."""
        super().close_reading()
        self.current, self.readings, self.item = None, None, None

    # ------------------------------------------------------------ the item
    def reader_ratings(self) -> dict[str, Rating | None]:
        """Letter -> that reader's rating of the open item (None: not detected)."""
        values = item_values(self.readings, self.item)
        return dict(sorted((self.current.letters[r], v) for r, v in values.items()))

    def reader_voxels(self, letter: str) -> Voxels:
        """The voxels of the open item in Reader ``letter``'s mask (refused if not marked)."""
        reader = next(r for r, x in self.current.letters.items() if x == letter)
        lesion = self.item.lesions[reader]
        if lesion is None:
            raise StudyError(f"Reader {letter} did not mark this lesion; choose another")
        return np.nonzero(self.readings.readings[reader].labels == lesion)

    def final_rating(self) -> Rating:
        """The consensus rating of the open item (as set so far)."""
        return self.reading.ratings.get(self.item.item)

    def set_final(self, **fields: str | None) -> Rating:
        """Set fields of the item's consensus rating (validated; autosaved)."""
        rating = self.reading.ratings.set(self.item.item, **fields)
        self._withdraw("rating changed")
        return rating

    def use_reader_mask(
        self, letter: str, replace: Callable[[int, Voxels], None] | None = None
    ) -> None:
        """Make the item's consensus mask exactly Reader ``letter``'s lesion.

        ``replace(item, voxels)`` makes the edit (a viewer passes its undoable layer
        edit); by default the model is edited. The mask only: the final rating is
        left as it is (the reader's ratings and confidence are never copied).
        """
        voxels = self.reader_voxels(letter)
        (replace or self._replace)(self.item.item, voxels)
        self._withdraw(f"mask of Reader {letter} taken")

    def evidence_roles(self) -> tuple[str, ...]:
        """The evidence image of every disputed field of the open item (see ``items``)."""
        return evidence_roles(self.item)

    def unchosen(self) -> tuple[str, ...]:
        """Disputed fields of the open item without a final value yet."""
        final = self.final_rating().as_dict()
        return tuple(f for f in self.item.disputed_fields if final.get(f) in (None, ""))

    def final_measures(self) -> list[tuple[spec.Column, float]]:
        """The consensus lesion's summary measures (columns with a label), with their columns.

        Empty when the item is not in the consensus mask (no lesion).
        """
        if self.item.item not in self.reading.model.ids:
            return []
        row = self.reading.model.table().loc[self.item.item]
        shown = [c for c in spec.COLUMNS.values() if c.label and c.name in row.index]
        return [(c, float(row[c.name])) for c in shown]

    def no_lesion(self, erase: Callable[[int], None] | None = None) -> None:
        """Remove the item from the consensus mask; ``erase(item)`` edits (default: the model)."""
        if self.item.item in self.reading.model.ids:
            (erase or self._erase)(self.item.item)
            self._withdraw("no lesion")

    def resolve(self, rationale: str) -> str:
        """Record the decision on the open item; return it (``lesion`` / ``no lesion``).

        A lesion kept in the consensus needs a final value chosen for every
        disputed field (refused, naming them), then a complete rating.
        """
        kept = self.item.item in self.reading.model.ids
        rating = self.final_rating()
        unchosen = self.unchosen() if kept else ()
        if unchosen:
            titles = ", ".join(spec.RATINGS[f].title for f in unchosen)
            raise RatingError(
                f"choose the final {titles} first: the readers disagree on "
                f"{'it' if len(unchosen) == 1 else 'them'}, and only you can decide "
                "(or choose No lesion)"
            )
        if kept and not rating.complete:
            raise RatingError(
                "rate the consensus lesion completely first (Gd, USPIO, QSM rim, central vein, "
                "confidence, and overlap when both enhance), or choose No lesion"
            )
        record = self.store.resolve_item(
            self.reader,
            self.current.code,
            self.item.item,
            decision="lesion" if kept else "no lesion",
            rationale=rationale,
            rating=rating.as_dict() if kept else {},
            letters=self.current.letters,
            disputed=self.item.describe(),
        )
        self.current.decisions[self.item.item] = record
        return record.decision

    def export(self, out_dir: str | Path, partial: bool = False) -> dict[str, Path]:
        """Write the consensus export (see :func:`.consensus.export_consensus`)."""
        if self.autosave is not None:
            self.autosave.compact()
        return export_consensus(self.study.folder, out_dir, self.reader, partial=partial)

    # ------------------------------------------------------------ helpers
    def _withdraw(self, why: str) -> None:
        """A decided item that is edited is pending again (audited)."""
        if self.item.item in self.current.decisions:
            self.store.withdraw_decision(self.reader, self.current.code, self.item.item, why)
            del self.current.decisions[self.item.item]

    def _erase(self, number: int) -> None:
        model = self.reading.model
        if number in model.ids:
            box = model.lesion_bbox(number)
            local = np.nonzero(model.labels[box] == number)
            model.apply_indices(tuple(i + s.start for i, s in zip(local, box, strict=True)), 0)

    def _replace(self, number: int, voxels: Voxels) -> None:
        with self.reading.model.batch():
            self._erase(number)
            self.reading.model.apply_indices(voxels, number)
