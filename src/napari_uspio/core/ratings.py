"""A reader's ratings per lesion, the derived lesion class and the patient group.

Vocabulary
----------
One :class:`Rating` per lesion: a value for each field of
:data:`napari_uspio.core.fields.RATINGS` (gd, uspio, qsm_rim, central_vein,
overlap, black_hole, confidence: their values, labels and keys are declared
there) and a free-text comment. Every field is ``None`` until rated
(*unrated*, a state of its own, distinct from the rating ``"none"``).

In memory (``Rating``, :meth:`Ratings.table`, ``labels_layer.features``) the
not-applicable value is ``"n/a"``. The CSV files write it as
``"not applicable"`` (see :mod:`napari_uspio.core.csvfiles`), because
``pandas.read_csv`` reads ``n/a`` as a missing value by default.

Consistency (refused with :class:`RatingError`, the message says why): an
overlap grade (``<20%``, ``20-80%``, ``>80%``) while Gd or USPIO is rated
``none``; overlap ``n/a`` while both enhance; rating Gd or USPIO ``none``
while an overlap grade is set, or both enhancing while overlap is ``n/a``
(clear the overlap first, or change it in the same :meth:`Ratings.set` call).
An overlap given while Gd or USPIO is still unrated is accepted.

Derived, never typed
--------------------
- ``lesion_class``: ``USPIO+/Gd+``, ``USPIO-/Gd+``, ``USPIO-/Gd-`` or
  ``USPIO+/Gd-``; USPIO+ is any pattern (``ring``, ``focal``, ``iso``), Gd+
  is ``nodular`` or ``shell``. ``None`` until both Gd and USPIO are rated.
- a lesion is *rated* (``complete``) when gd, uspio, qsm_rim, central_vein
  and confidence are set, and also overlap when both agents enhance
  (black_hole and comment are optional).
- patient group (:func:`napari_uspio.core.patient.patient_group`): ``UEL`` as soon as one lesion is
  USPIO+; ``GEL`` when every lesion has USPIO rated ``none`` and at least one
  is Gd+; ``NEL`` when every lesion is rated ``none`` for both agents, and
  for a case with **no lesion** (no enhancing lesion). ``None`` while the
  unrated lesions could still change the group. So the group is given as soon
  as it is certain, never guessed.

Ratings follow their lesion
---------------------------
Ratings are keyed by **lesion id** and are never dropped when a lesion
disappears from the label map:

- **delete / erase** of lesion A: A's rating becomes *dormant*: it is kept,
  but not listed by ``table(ids)``, ``progress(ids)`` or the exports, since
  A is not in the model's ``ids``. **Undo** (A's voxels come back with id A)
  shows it again, unchanged. Redo hides it again.
- **merge A into B** (A's voxels relabelled B): B keeps its own rating
  (unrated if it had none; nothing is copied from A); A's rating is dormant
  and comes back if the merge is undone.
- **paint / split**: voxels keep their id, so a lesion that grows, shrinks or
  is cut in two keeps its rating under the id it has; a part given a new id
  starts unrated.
- A dormant rating comes back for **any** lesion that gets its id, so new
  lesions must be painted with an id never rated in the session:
  :meth:`Ratings.next_free_id` (above every id in the model *and* every id
  with a rating).
- Dormant ratings live for the session: the exports hold the lesions present
  at export only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import FrozenInstanceError

import numpy as np
import pandas as pd
from psygnal import Signal

from . import fields as spec
from .fields import NA

__all__ = ["NA", "Rating", "RatingError", "Ratings", "lesion_class", "rating_columns"]


class RatingError(ValueError):
    """A refused rating; the message says why and how to fix it."""


def rating_columns() -> tuple[str, ...]:
    """Columns of :meth:`Ratings.table`: rating fields, comment, ``lesion_class``, ``rated``."""
    return (*spec.RATINGS.columns, "lesion_class", "rated")


def _positive(name: str, value: str | None) -> bool:
    return value in spec.RATINGS[name].positive


def lesion_class(gd: str | None, uspio: str | None) -> str | None:
    """The class ``USPIO±/Gd±`` of a lesion, or None unless both are rated."""
    if gd is None or uspio is None:
        return None
    u = "+" if _positive("uspio", uspio) else "-"
    g = "+" if _positive("gd", gd) else "-"
    return f"USPIO{u}/Gd{g}"


def _check(values: Mapping[str, object], who: str, changed: Iterable[str] = ()) -> None:
    """Raise :class:`RatingError` if ``values`` (field -> value) is not a valid record."""
    vocabulary = spec.RATINGS.vocabulary
    for name, value in values.items():
        if name == spec.COMMENT:
            if not isinstance(value, str):
                raise RatingError(f"{who}: comment must be text, got {type(value).__name__}")
        elif name not in vocabulary:
            raise RatingError(
                f"{who}: unknown rating field {name!r}; fields: {', '.join(spec.RATINGS.columns)}"
            )
        elif value is not None and (not isinstance(value, str) or value not in vocabulary[name]):
            allowed = ", ".join(vocabulary[name])
            raise RatingError(
                f"{who}: {name} {value!r} is not a rating value; allowed: {allowed} "
                "(or None: unrated)"
            )
    _check_overlap(values, who, set(changed))


def _check_overlap(values: Mapping[str, object], who: str, changed: set[str]) -> None:
    """The overlap rules: graded only when both agents enhance, n/a only when one does not."""
    gd, uspio, overlap = values.get("gd"), values.get("uspio"), values.get("overlap")
    agents_first = bool(changed & {"gd", "uspio"}) and "overlap" not in changed
    short = {k: spec.RATINGS[k].short for k in ("gd", "uspio")}
    if overlap is not None and overlap != NA:
        negative = [f"{short[k]} none" for k in ("gd", "uspio") if values.get(k) == "none"]
        if negative:
            if agents_first:
                agent = " and ".join(negative).replace(" none", "")
                raise RatingError(
                    f"{who} has overlap {overlap}: overlap is rated only when both USPIO and Gd "
                    f"enhance, so {agent} cannot be none; clear the overlap first"
                )
            raise RatingError(
                f"overlap is rated only when both USPIO and Gd enhance; {who} has "
                f"{' and '.join(negative)} (rate overlap n/a or leave it unrated)"
            )
    elif overlap == NA and _positive("gd", gd) and _positive("uspio", uspio):
        both = f"Gd {gd} and USPIO {uspio}"
        grades = ", ".join(v for v in spec.RATINGS["overlap"].values if v != NA)
        if agents_first:
            raise RatingError(
                f"{who} has overlap n/a (USPIO or Gd does not enhance), but with {both} both "
                f"enhance; clear the overlap first or rate it {grades}"
            )
        raise RatingError(
            f"overlap n/a means USPIO or Gd does not enhance; {who} has {both}: rate it "
            f"{grades}, or leave it unrated"
        )


class Rating:
    """One reader's verdict on one lesion: a value per rating field (None: unrated).

    Immutable. Fields are those of :data:`napari_uspio.core.fields.RATINGS`, read
    as attributes (``rating.gd``); ``comment`` is free text (``""``).
    """

    __slots__ = ("_values",)

    def __init__(self, comment: str = "", **values: str | None) -> None:
        record = {**values, spec.COMMENT: comment}
        _check(record, "this lesion")
        object.__setattr__(self, "_values", {k: v for k, v in record.items() if v is not None})

    def __getattr__(self, name: str):
        if name in spec.RATINGS or name == spec.COMMENT:
            return self._values.get(name, "" if name == spec.COMMENT else None)
        raise AttributeError(f"Rating has no field {name!r}")

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError("a Rating is immutable; use with_(...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rating) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().items()))

    def __repr__(self) -> str:
        set_ = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items() if v not in (None, ""))
        return f"Rating({set_})"

    def as_dict(self) -> dict[str, str | None]:
        """Field -> value, in field order, comment last."""
        return {name: getattr(self, name) for name in spec.RATINGS.columns}

    def with_(self, **changes: str | None) -> Rating:
        """A copy with ``changes`` applied (None clears a field), validated."""
        return _merge(self, changes, "this lesion")

    @property
    def uspio_positive(self) -> bool | None:
        """True for a USPIO pattern (ring, focal, iso), False for none, None if unrated."""
        return None if self.uspio is None else _positive("uspio", self.uspio)

    @property
    def gd_positive(self) -> bool | None:
        """True for nodular or shell, False for none, None if unrated."""
        return None if self.gd is None else _positive("gd", self.gd)

    @property
    def lesion_class(self) -> str | None:
        """``USPIO±/Gd±``, or None unless gd and uspio are rated."""
        return lesion_class(self.gd, self.uspio)

    @property
    def complete(self) -> bool:
        """True when every required field is set (overlap too when both enhance)."""
        return complete(self.as_dict())

    @property
    def empty(self) -> bool:
        """True when nothing is rated and there is no comment."""
        return not any(v not in (None, "") for v in self._values.values())


_UNRATED = Rating()


class Ratings:
    """Ratings of one reader on one case: lesion id -> :class:`Rating`, evented.

    Ratings follow their lesion id (see the module docstring): nothing here
    drops a rating when a lesion disappears; callers pass the ids of the
    lesions that exist now (``model.ids``) to :meth:`table`, :meth:`progress`
    and the navigation helpers.
    """

    #: Emits the frozenset of lesion ids whose rating changed.
    changed = Signal(object)

    def __init__(self, records: Mapping[int, Rating | Mapping] | None = None) -> None:
        self._records: dict[int, Rating] = {}
        for lesion_id, rating in (records or {}).items():
            if not isinstance(rating, Rating):
                rating = _merge(_UNRATED, dict(rating), f"lesion {lesion_id}")
            if not rating.empty:
                self._records[_lesion_id(lesion_id)] = rating

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._records))

    def __contains__(self, lesion_id: object) -> bool:
        return lesion_id in self._records

    def __repr__(self) -> str:
        return f"Ratings({len(self._records)} lesions with a rating)"

    def items(self) -> list[tuple[int, Rating]]:
        """(lesion id, rating) of every id with a rating, dormant ones included, sorted."""
        return sorted(self._records.items())

    def get(self, lesion_id: int) -> Rating:
        """The rating of a lesion (an unrated ``Rating()`` when it has none)."""
        return self._records.get(int(lesion_id), _UNRATED)

    def set(self, lesion_id: int, **changes: str | None) -> Rating:
        """Apply ``changes`` (None clears a field) to a lesion's rating and return it.

        The combined record is validated first; a refused change leaves the
        rating as it was.
        """
        lesion_id = _lesion_id(lesion_id)
        old = self.get(lesion_id)
        new = _merge(old, changes, f"lesion {lesion_id}")
        if new != old:
            if new.empty:
                self._records.pop(lesion_id, None)
            else:
                self._records[lesion_id] = new
            self.changed.emit(frozenset({lesion_id}))
        return new

    def clear(self, lesion_id: int, field: str) -> Rating:
        """Make one field of a lesion unrated again (comment: empty)."""
        return self.set(lesion_id, **{field: None})

    def load(self, records: Mapping[int, Rating]) -> None:
        """Replace every rating (e.g. after reopening a reading)."""
        new = Ratings(records)._records
        touched = set(self._records) | set(new)
        self._records = new
        if touched:
            self.changed.emit(frozenset(touched))

    def dormant(self, ids: Iterable[int]) -> list[int]:
        """Ids with a rating whose lesion is not in ``ids``, sorted."""
        present = {int(i) for i in ids}
        return sorted(i for i in self._records if i not in present)

    def next_free_id(self, ids: Iterable[int]) -> int:
        """An id above every lesion in ``ids`` and every id with a rating."""
        return max([0, *(int(i) for i in ids), *self._records]) + 1

    def table(self, ids: Iterable[int]) -> pd.DataFrame:
        """One row per id of ``ids`` (in that order), index ``lesion``.

        Columns :func:`rating_columns`; rating columns and ``lesion_class`` are
        object dtype holding str or None (unrated), ``rated`` is bool.
        """
        ids = np.asarray([int(i) for i in ids], dtype=np.int64)
        index = pd.Index(ids, name="lesion")
        # explicit object dtype: pandas >= 3 would infer "str" and turn None into NaN
        return pd.DataFrame(
            {
                name: pd.Series(values, index=index, dtype=values.dtype)
                for name, values in self.columns(ids).items()
            },
            index=index,
        )

    def columns(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """The :func:`rating_columns` as arrays in the order of ``ids``.

        Costs O(len(ids) + rated lesions): unrated rows are filled in bulk, so
        publishing after a brush stroke stays cheap.
        """
        ids = np.asarray(ids, dtype=np.int64)
        out = {name: np.full(len(ids), None, dtype=object) for name in rating_columns()}
        out["comment"][:] = ""
        out["rated"] = np.zeros(len(ids), dtype=bool)
        order = np.argsort(ids, kind="stable")
        for lesion_id, rating in self._records.items():
            pos = np.searchsorted(ids, lesion_id, sorter=order)
            if pos < len(ids) and ids[order[pos]] == lesion_id:
                row = order[pos]
                for name, value in rating._values.items():
                    out[name][row] = value
                out["lesion_class"][row] = rating.lesion_class
                out["rated"][row] = rating.complete
        return out

    def progress(self, ids: Iterable[int]) -> tuple[int, int]:
        """``(k, n)``: k of the n lesions in ``ids`` are rated (complete)."""
        ids = list(ids)
        return sum(self.get(i).complete for i in ids), len(ids)

    def next_unrated(self, ids: Iterable[int], after_id: int | None = None) -> int | None:
        """The first not-complete lesion after ``after_id`` in id order, wrapping around.

        ``after_id`` need not be in ``ids``; it is returned last, when it is the
        only unrated lesion. None when every lesion is rated.
        """
        return self._step(ids, after_id, forward=True)

    def previous_unrated(self, ids: Iterable[int], before_id: int | None = None) -> int | None:
        """The last not-complete lesion before ``before_id`` in id order, wrapping around."""
        return self._step(ids, before_id, forward=False)

    def _step(self, ids: Iterable[int], start: int | None, forward: bool) -> int | None:
        order = sorted({int(i) for i in ids}, reverse=not forward)
        if start is not None:
            start = int(start)
            cut = next(
                (k for k, i in enumerate(order) if (i > start if forward else i < start)),
                len(order),
            )
            order = order[cut:] + order[:cut]
        return next((i for i in order if not self.get(i).complete), None)


def _lesion_id(value: object) -> int:
    lesion_id = int(value)  # type: ignore[call-overload]
    if lesion_id != value or lesion_id < 1:
        raise RatingError(f"lesion ids are whole numbers >= 1, got {value!r}")
    return lesion_id


def _merge(old: Rating, changes: dict[str, str | None], who: str) -> Rating:
    """``old`` with ``changes`` (None clears; comment None is ""), validated for ``who``."""
    if spec.COMMENT in changes and changes[spec.COMMENT] is None:
        changes[spec.COMMENT] = ""
    merged = old.as_dict() | changes
    _check(merged, who, changes)
    return Rating(**merged)


def complete(values: Mapping[str, str | None]) -> bool:
    """The rule of :attr:`Rating.complete` on a field -> value mapping."""
    if any(values.get(name) is None for name in spec.RATINGS.required):
        return False
    both = _positive("gd", values.get("gd")) and _positive("uspio", values.get("uspio"))
    return not (both and values.get("overlap") is None)


def cell_value(x: object) -> str | None:
    """A rating cell as str or None (NaN / pd.NA / None are unrated)."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return None
    return str(x)
