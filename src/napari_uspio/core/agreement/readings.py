"""The readings of a study, case by case, with their lesions grouped across readers.

:func:`study_readings` yields one :class:`CaseReadings` per case of a study:
the label map and ratings of every reader (role ``reader``; adjudicators are
left out) who marked their first reading of the case **done**, the groups of
matched lesions (:func:`~.matching.group_lesions`, readers in sorted id
order, so a group's *item* number is reproducible; in a ``reference`` study,
where every reader rates the same lesion ids, one group per id:
:func:`groups_by_id`), the counts of the study's lesion source per reading
(lesions edited in a reference study, candidates accepted in a candidates
one), and each reader's repeated
reading of the case if it is done (for intra-reader agreement). Readings not
marked done are not final and are left out; a reader without a done reading
of a case is *missing* for it (never counted as "no lesion").

:func:`group_table` is the long table of one case's groups: one row per
(item, reader), the reader's lesion id (``<NA>``: not detected) and rating
values (:func:`compared_fields`; ``None``: unrated or not detected).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import fields as spec
from ..case import Case, Progress, case_grid, load_case
from ..grid import Grid
from ..ratings import Rating, Ratings
from ..study.manifest import Study
from ..study.sources import reading_source_counts
from ..study.store import StudyStore
from .matching import MIN_DICE, group_lesions

__all__ = [
    "CaseReadings",
    "Reading",
    "case_readings",
    "compared_fields",
    "done_readings",
    "group_table",
    "rating_value",
    "study_readings",
]


def compared_fields() -> tuple[str, ...]:
    """Fields the agreement statistics compare: the compared ratings and the lesion class."""
    return (*spec.RATINGS.compared, spec.LESION_CLASS.name)


@dataclass
class Reading:
    """One done reading: the reader's label map (z, y, x) and ratings."""

    code: str
    labels: np.ndarray
    ratings: Ratings

    def lesion_ids(self) -> list[int]:
        """Lesion ids present in the label map, increasing."""
        return [int(i) for i in np.unique(self.labels) if i > 0]


@dataclass
class CaseReadings:
    """The done readings of one case and their lesion groups."""

    case_id: str
    case: Case | None  # None when loaded without images (:func:`case_readings`)
    readings: dict[str, Reading]  # reader -> first reading, sorted reader ids
    groups: list[dict[str, int | None]]  # item - 1 -> reader -> lesion id or None
    repeats: dict[str, Reading] = field(default_factory=dict)  # reader -> repeated reading
    grid: Grid | None = None  # the case's grid (also when ``case`` was not loaded)
    source: str = "reader"  # the study's lesion source (``reference``: ids are shared)
    # reader -> its first reading's counts of the lesion source (reading_source_counts)
    source_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def readers(self) -> list[str]:
        """Readers with a done first reading of the case."""
        return list(self.readings)


def rating_value(rating: Rating, name: str) -> str | None:
    """A rating field's value, or the derived ``lesion_class``; None when unrated."""
    if name == "lesion_class":
        return rating.lesion_class
    return getattr(rating, name)


def done_readings(store: StudyStore, readers: Iterable[str] | None = None) -> dict:
    """``(reader, case id, repeat) -> code`` of every done reading of role ``reader``.

    ``readers`` limits the readers (default: every reader with role ``reader``).
    """
    roles = store.readers()
    chosen = sorted(r for r in (roles if readers is None else readers) if roles.get(r) == "reader")
    done: dict[tuple[str, str, bool], str] = {}
    for reader in chosen:
        for entry in store.order(reader):
            if store.case_state(reader, entry.code).status == "done":
                done[reader, entry.case_id, entry.repeat] = entry.code
    return done


def case_readings(
    study: Study,
    store: StudyStore,
    case_id: str,
    done: dict,
    *,
    min_dice: float = MIN_DICE,
    load_images: bool = True,
) -> CaseReadings | None:
    """The done readings of one case (``done``: :func:`done_readings`); None without any.

    ``load_images`` False reads only the grid from a header (``case`` is None):
    enough for matching and the adjudication queue.
    """
    firsts = sorted({r for r, c, repeat in done if c == case_id and not repeat})
    if not firsts:
        return None
    folder = study.case_folder(case_id)
    case = load_case(folder) if load_images else None
    grid = case.grid if case is not None else case_grid(folder)

    def reading(reader: str, repeat: bool) -> Reading:
        code = done[reader, case_id, repeat]
        labels = store.labels(reader, code, grid.shape, np.int32)
        return Reading(code, labels, Ratings(store.ratings(reader, code)))

    readings = {r: reading(r, False) for r in firsts}
    source = study.lesion_source
    if source == "reference":  # shared ids: the same id is the same lesion
        groups = groups_by_id({r: x.lesion_ids() for r, x in readings.items()})
    else:
        groups = group_lesions({r: x.labels for r, x in readings.items()}, min_dice)
    repeats = {r: reading(r, True) for r in firsts if (r, case_id, True) in done}
    counts = {}
    if case is not None and source != "reader":
        counts = {
            r: reading_source_counts(source, store, r, x.code, case, x.labels)
            for r, x in readings.items()
        }
    return CaseReadings(case_id, case, readings, groups, repeats, grid, source, counts)


def groups_by_id(ids: dict[str, list[int]]) -> list[dict[str, int | None]]:
    """Lesion groups of readers sharing lesion ids (a reference study): one group per id."""
    every = sorted({i for found in ids.values() for i in found})
    present = {r: set(found) for r, found in ids.items()}
    return [{r: (i if i in present[r] else None) for r in ids} for i in every]


def study_readings(
    study: Study,
    store: StudyStore,
    readers: Iterable[str] | None = None,
    *,
    min_dice: float = MIN_DICE,
    progress: Progress | None = None,
) -> Iterator[CaseReadings]:
    """One :class:`CaseReadings` per case of the study that has a done reading.

    ``readers`` limits the readers (default: every reader with role
    ``reader``). ``progress(k, n, message)`` is called before each case.
    Cases are loaded one at a time (only one case's maps in memory).
    """
    done = done_readings(store, readers)
    cases = list(study.cases)
    for k, case_id in enumerate(cases, start=1):
        if progress is not None:
            progress(k, len(cases), f"case {k} of {len(cases)}")
        found = case_readings(study, store, case_id, done, min_dice=min_dice)
        if found is not None:
            yield found


def group_table(cr: CaseReadings, fields: Iterable[str] | None = None) -> pd.DataFrame:
    """Long table of a case's groups: ``case, item, reader, lesion`` and rating columns.

    ``item`` numbers the groups from 1 in :attr:`CaseReadings.groups` order;
    ``lesion`` is ``<NA>`` where the reader did not detect the item.
    """
    fields = compared_fields() if fields is None else tuple(fields)
    rows = []
    for item, group in enumerate(cr.groups, start=1):
        for reader, reading in cr.readings.items():
            lesion = group.get(reader)
            rating = reading.ratings.get(lesion) if lesion is not None else None
            values = [None if rating is None else rating_value(rating, f) for f in fields]
            rows.append((cr.case_id, item, reader, lesion, *values))
    columns = list(zip(*rows, strict=True)) if rows else [()] * (4 + len(fields))
    names = ["case", "item", "reader", "lesion", *fields]
    table = pd.DataFrame(
        {n: pd.Series(v, dtype=object) for n, v in zip(names, columns, strict=True)}
    )
    table["item"] = table["item"].astype(np.int64)
    table["lesion"] = table["lesion"].astype("Int64")
    return table  # rating columns stay object: None for unrated, never NaN
