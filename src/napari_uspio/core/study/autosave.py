"""Autosave: every label change and rating of one reader's case, journaled as it happens.

Connects a :class:`~napari_uspio.core.lesions.LesionModel` (whose
``voxels_changed`` reports each change in O(change): strokes, fills, undo,
redo, delete, merge) and a :class:`~napari_uspio.core.ratings.Ratings` to a
study store. A write is acknowledged when the store's transaction commits, so a
reader whose napari is killed loses at most the stroke in flight. When the
whole volume is replaced (``layer.data = ...``) a snapshot is written instead.
Compaction of the journal into a snapshot (0.35 s at 512 x 512 x 300) is kept
off the paint path: call :meth:`Autosave.compact` when leaving the case.
"""

from __future__ import annotations

from ..lesions import LesionModel
from ..ratings import Ratings
from .store import StudyStore


class Autosave:
    """Journal ``model`` and ``ratings`` of ``reader`` on case ``case_code`` into ``store``."""

    def __init__(
        self, store: StudyStore, reader: str, case_code: str, model: LesionModel, ratings: Ratings
    ):
        self.store, self.reader, self.case_code = store, reader, case_code
        self.model, self.ratings = model, ratings
        self.last_seq = 0
        model.voxels_changed.connect(self._on_voxels)
        ratings.changed.connect(self._on_ratings)

    def disconnect(self) -> None:
        """Stop journaling (the store keeps everything acknowledged)."""
        self.model.voxels_changed.disconnect(self._on_voxels)
        self.ratings.changed.disconnect(self._on_ratings)

    def compact(self) -> None:
        """Fold the journal into one snapshot of the current labels (if it holds strokes)."""
        if self.store.journal_size(self.reader, self.case_code)[0]:
            self.store.compact(self.reader, self.case_code, self.model.labels)

    def _on_voxels(self, flat, values) -> None:
        if flat is None:
            self.last_seq = self.store.compact(self.reader, self.case_code, values)
            return
        self.last_seq = self.store.append_stroke(self.reader, self.case_code, flat, values)

    def _on_ratings(self, ids) -> None:
        for lesion_id in sorted(ids):
            self.store.set_rating(
                self.reader, self.case_code, lesion_id, self.ratings.get(lesion_id).as_dict()
            )
