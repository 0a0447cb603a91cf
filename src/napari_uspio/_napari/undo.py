"""One undo history of a reading desk: strokes, rating changes and accepted candidates.

``Ctrl+Z`` / ``Ctrl+Shift+Z`` undo and redo whichever came last. A stroke is
napari's own undo step of the lesions layer; a rating change is a step of the
:class:`~napari_uspio.core.rating_history.RatingHistory`; a candidate
accepted as a lesion is its stroke, and undoing it puts the candidate back on
the proposal layer (redoing takes it off again).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DeskHistory", "Proposal"]


@dataclass(frozen=True)
class Proposal:
    """A candidate's place on the proposal layer, to take it off or put it back."""

    proposals: object  # the napari Labels layer of the candidates
    candidate: int
    box: tuple[slice, ...]
    mask: np.ndarray  # the candidate's voxels in its box

    def show(self, shown: bool) -> None:
        """Put the candidate on the proposal layer (``shown``) or take it off."""
        local = self.proposals.data[self.box]  # a view: the work is the candidate's box
        local[self.mask] = self.candidate if shown else 0
        self.proposals.refresh()


class DeskHistory:
    """The desk's steps, oldest first: ``"stroke"``, ``"rating"`` or an accepted :class:`Proposal`.

    Parameters
    ----------
    layer : napari.layers.Labels
        The lesions layer read (its own history holds the strokes).
    ratings : RatingHistory
        The reading's rating changes.
    """

    def __init__(self, layer, ratings) -> None:
        self.layer, self.ratings = layer, ratings
        self._undo: list = []
        self._redo: list = []

    def did(self, step) -> None:
        """A new step (the redo steps are gone)."""
        self._undo.append(step)
        self._redo.clear()

    def accepted(self, step: Proposal) -> None:
        """The last stroke accepted a candidate (it was recorded as a stroke)."""
        if self._undo and self._undo[-1] == "stroke":
            self._undo[-1] = step

    def undo(self) -> str:
        """Undo the last step; what the reader is told."""
        return self._replay(self._undo, self._redo, undo=True)

    def redo(self) -> str:
        """Redo the last undone step; what the reader is told."""
        return self._replay(self._redo, self._undo, undo=False)

    def _replay(self, source: list, target: list, undo: bool) -> str:
        verb = "Undo" if undo else "Redo"
        if not source:
            return f"Nothing to {verb.lower()}."
        step = source.pop()
        target.append(step)
        if step == "rating":
            change = self.ratings.undo() if undo else self.ratings.redo()
            return f"{verb}: lesion {change.lesion_id} {', '.join(change.changed_fields())}"
        self.layer.undo() if undo else self.layer.redo()
        if isinstance(step, Proposal):
            step.show(undo)
            where = "back among the candidates" if undo else "accepted"
            return f"{verb}: candidate {step.candidate} {where}"
        return f"{verb}: stroke"
