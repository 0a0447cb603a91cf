"""Undo and redo of rating changes, in the order the reader made them.

A :class:`RatingHistory` is the way a desk changes :class:`~.ratings.Ratings`:
every accepted change is one step (the lesion's rating before and after), a
step undone can be redone until the next change, and undo and redo go through
:meth:`Ratings.set`, so whatever journals ratings (a study's autosave) journals
them too. Setting a value never toggles it: clearing a field is its own call.

Example::

    history = RatingHistory(ratings)
    history.set(3, gd="shell")
    history.clear(3, "gd")
    history.undo()          # lesion 3: gd = shell again
"""

from __future__ import annotations

from dataclasses import dataclass

from .ratings import Rating, Ratings

__all__ = ["RatingHistory", "RatingStep"]


@dataclass(frozen=True)
class RatingStep:
    """One rating change: the lesion, its rating before and after."""

    lesion_id: int
    before: Rating
    after: Rating

    def changed_fields(self) -> list[str]:
        """The fields whose value the step changed, in field order."""
        old, new = self.before.as_dict(), self.after.as_dict()
        return [name for name in old if old[name] != new[name]]


class RatingHistory:
    """Rating changes of one reading, undoable and redoable in order."""

    def __init__(self, ratings: Ratings):
        self.ratings = ratings
        self._undo: list[RatingStep] = []
        self._redo: list[RatingStep] = []

    def set(self, lesion_id: int, **changes: str | None) -> RatingStep | None:
        """Apply ``changes`` (validated, see :meth:`Ratings.set`); None when nothing changed."""
        before = self.ratings.get(lesion_id)
        after = self.ratings.set(lesion_id, **changes)
        if after == before:
            return None
        step = RatingStep(int(lesion_id), before, after)
        self._undo.append(step)
        self._redo.clear()
        return step

    def clear(self, lesion_id: int, field: str) -> RatingStep | None:
        """Make ``field`` unrated again for the lesion (an undoable step)."""
        return self.set(lesion_id, **{field: None})

    @property
    def can_undo(self) -> bool:
        """Whether a step can be undone."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether an undone step can be redone."""
        return bool(self._redo)

    def undo(self) -> RatingStep | None:
        """Put the last step's lesion back to its rating before it (None: nothing to undo)."""
        if not self._undo:
            return None
        step = self._undo.pop()
        self.ratings.set(step.lesion_id, **step.before.as_dict())
        self._redo.append(step)
        return step

    def redo(self) -> RatingStep | None:
        """Apply the last undone step again (None: nothing to redo)."""
        if not self._redo:
            return None
        step = self._redo.pop()
        self.ratings.set(step.lesion_id, **step.after.as_dict())
        self._undo.append(step)
        return step
