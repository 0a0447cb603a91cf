"""The adjudicator's queue: ready cases, their items and decisions, the consensus reading.

A case is *ready* for adjudication once every reader has marked it done
(method: :mod:`.items`). The adjudicator's reading of a case (their code, their
label map and ratings in the store) starts as the proposal (:func:`open_consensus`
writes it once, journaled like strokes) and is edited like any reading; disputed
items are settled with the store's ``resolve_item`` (rationale required). A
decision the consensus no longer matches is dropped: the item is pending again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..agreement.readings import CaseReadings, case_readings, done_readings
from ..ratings import Ratings
from ..study.manifest import Study
from ..study.records import Adjudication, StudyError
from ..study.store import StudyStore
from .items import Item, case_items, proposal, reader_letters

__all__ = [
    "CaseAdjudication",
    "adjudication_queue",
    "adjudicator_of",
    "case_adjudication",
    "consensus_labels",
    "open_consensus",
    "stale_decisions",
]


@dataclass
class CaseAdjudication:
    """One ready case as the adjudicator sees it: code, items, letters, decisions."""

    case_id: str
    code: str  # the adjudicator's code of the case
    items: list[Item]
    letters: dict[str, str]  # reader -> letter
    decisions: dict[int, Adjudication] = field(default_factory=dict)

    def status(self, item: Item) -> str:
        """``agreed``, ``adjudicated`` or ``pending``."""
        if item.agreed:
            return "agreed"
        return "adjudicated" if item.item in self.decisions else "pending"

    @property
    def disputed(self) -> list[Item]:
        """Items needing the adjudicator, agreed ones left out."""
        return [i for i in self.items if not i.agreed]

    @property
    def pending(self) -> list[Item]:
        """Disputed items not decided yet."""
        return [i for i in self.disputed if i.item not in self.decisions]


def adjudicator_of(study: Study, adjudicator: str | None) -> str:
    """The given adjudicator (checked) or the study's only one."""
    if adjudicator is not None:
        if study.reader(adjudicator).role != "adjudicator":
            raise StudyError(f"{adjudicator!r} is a reader, not an adjudicator of this study")
        return adjudicator
    found = [r.id for r in study.readers if r.role == "adjudicator"]
    if len(found) != 1:
        raise StudyError(
            f"the study has {len(found)} adjudicators ({', '.join(found) or 'none'}); "
            "name one (--adjudicator)"
        )
    return found[0]


def case_adjudication(
    study: Study, store: StudyStore, adjudicator: str, case_id: str, done: dict
) -> tuple[CaseAdjudication, CaseReadings] | None:
    """A case's adjudication and readings, or None while some reader is not done.

    A decision the consensus no longer matches (the item painted back after
    "no lesion", erased after "lesion", or re-rated after its decision) is left
    out: the item is pending again (:func:`stale_decisions`).
    """
    readers = [r for r, role in store.readers().items() if role == "reader"]
    if not all((r, case_id, False) in done for r in readers) or len(readers) < 2:
        return None
    cr = case_readings(study, store, case_id, done, load_images=False)
    code = next(e.code for e in store.order(adjudicator) if e.case_id == case_id)
    decisions = {a.item: a for a in store.adjudications(adjudicator, code)}
    letters = reader_letters(study.seed, case_id, cr.readers)
    ca = CaseAdjudication(case_id, code, case_items(cr), letters, decisions)
    if decisions:
        labels, ratings = consensus_labels(store, adjudicator, ca, cr)
        for item in stale_decisions(ca, np.unique(labels), ratings):
            del ca.decisions[item]
    return ca, cr


def adjudication_queue(
    study: Study,
    store: StudyStore,
    adjudicator: str,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[list[CaseAdjudication], list[str]]:
    """The ready cases in the adjudicator's order, and the codes of cases not ready."""
    done = done_readings(store)
    ready, waiting = [], []
    order = store.order(adjudicator)
    for k, entry in enumerate(order, start=1):
        if progress is not None:
            progress(k, len(order), f"case {k} of {len(order)}")
        found = case_adjudication(study, store, adjudicator, entry.case_id, done)
        if found is None:
            waiting.append(entry.code)
        else:
            ready.append(found[0])
    return ready, waiting


def open_consensus(store: StudyStore, adjudicator: str, ca: CaseAdjudication, cr) -> None:
    """Write the case's proposal as the adjudicator's reading, once (idempotent)."""
    if store.has_proposal(adjudicator, ca.code):
        return
    labels, ratings = proposal(cr, ca.items)
    store.open_case(adjudicator, ca.code)
    flat = np.flatnonzero(labels)
    if flat.size:  # absolute values: writing it again after a crash changes nothing
        store.append_stroke(adjudicator, ca.code, flat, labels.reshape(-1)[flat])
    for item, fields in ratings.items():
        store.set_rating(adjudicator, ca.code, item, fields)
    store.mark_proposal(adjudicator, ca.code, f"{len(ca.items)} items")


def consensus_labels(store, adjudicator, ca, cr) -> tuple[np.ndarray, Ratings]:
    """The case's consensus map and ratings (the proposal until the adjudicator opens it)."""
    if store.has_proposal(adjudicator, ca.code):
        labels = store.labels(adjudicator, ca.code, cr.grid.shape, np.int32)
        return labels, Ratings(store.ratings(adjudicator, ca.code))
    labels, proposed = proposal(cr, ca.items)
    return labels, Ratings(proposed)


def stale_decisions(ca: CaseAdjudication, ids, ratings: Ratings) -> list[int]:
    """Items whose recorded decision no longer matches the consensus map or rating."""
    present = {int(i) for i in ids}
    stale = []
    for number, decision in ca.decisions.items():
        kept = number in present
        current = {k: v for k, v in ratings.get(number).as_dict().items() if v not in (None, "")}
        if kept != (decision.decision == "lesion") or (kept and current != decision.rating):
            stale.append(number)
    return stale
