"""Where a reading's lesions come from: the reader, a reference delineation, candidates.

The study's lesion source (``lesions`` in ``study.toml``, see :mod:`.manifest`):

- ``reader``: the reading starts from an empty map.
- ``reference``: the reading starts from the case's ``lesions`` map, written once as
  the reading's first stroke (absolute values, so writing it again after a crash
  changes nothing) and marked written in the audit log. Its ids are shared by every
  reader; edits, when the study allows them, are journaled like any stroke and
  reported against the reference (:func:`reference_edits`).
- ``candidates``: the case's ``candidates`` map is proposed beside an empty map. A
  reader accepts a candidate (its voxels, where the map is empty, become a lesion
  with a new id) or rejects it; both are recorded in the audit log
  (:data:`ACCEPTED`, :data:`REJECTED`), from which :func:`candidate_origins` tells
  each lesion's origin and each candidate's fate.

The reader sees only "reference" or "candidate", never where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..case import Case
from .store import StudyStore

__all__ = [
    "ACCEPTED",
    "SOURCE_LESION_COLUMNS",
    "ORIGINS",
    "SOURCE_READER_COLUMNS",
    "SOURCE_SUMMARY_COLUMNS",
    "REJECTED",
    "CandidateOrigins",
    "accept_candidate",
    "candidate_boxes",
    "candidate_origins",
    "pending_candidates",
    "record_acceptance",
    "record_rejection",
    "reading_source_counts",
    "reference_edits",
    "source_columns",
    "start_reading",
]

#: Audit actions of a candidate accepted (detail ``"<candidate> -> <lesion>"``) or rejected.
ACCEPTED = "accept candidate"
REJECTED = "reject candidate"
#: A lesion's origin in a candidates study.
ORIGINS = ("accepted", "accepted-and-edited", "own")
#: Columns a lesion source adds to the study export's lesion table and summary table.
SOURCE_LESION_COLUMNS = {
    "reference": ("reference_added_voxels", "reference_removed_voxels"),
    "candidates": ("origin",),
}
SOURCE_SUMMARY_COLUMNS = {
    "candidates": ("candidates_accepted", "candidates_rejected", "candidates_untouched"),
}
#: Counts of a reading that the agreement report sums per reader, per lesion source.
SOURCE_READER_COLUMNS = {
    "reference": (
        "lesions_edited",
        "lesions_added",
        "lesions_removed",
        *SOURCE_LESION_COLUMNS["reference"],
    ),
    "candidates": (
        "lesions_accepted",
        "lesions_accepted_and_edited",
        "lesions_own",
        *SOURCE_SUMMARY_COLUMNS["candidates"],
    ),
}


def start_reading(store: StudyStore, reader: str, code: str, case: Case, source: str) -> None:
    """Write a reference reading's starting map once (idempotent; other sources: nothing)."""
    if source != "reference" or store.has_proposal(reader, code):
        return
    reference = np.asarray(case["lesions"]).reshape(-1)
    flat = np.flatnonzero(reference)
    if flat.size:
        store.append_stroke(reader, code, flat, reference[flat])
    store.mark_proposal(reader, code, "reference")


def reference_edits(labels: np.ndarray, reference: np.ndarray) -> dict[int, tuple[int, int]]:
    """Lesion id -> ``(voxels added, voxels removed)`` against the reference, edited ones only."""
    changed = labels != reference
    size = int(max(labels.max(initial=0), reference.max(initial=0))) + 1
    added = np.bincount(labels[changed & (labels > 0)].ravel(), minlength=size)
    removed = np.bincount(reference[changed & (reference > 0)].ravel(), minlength=size)
    return {int(i): (int(added[i]), int(removed[i])) for i in np.flatnonzero(added + removed)}


def candidate_boxes(candidates: np.ndarray) -> list[tuple[slice, ...] | None]:
    """The box of every candidate (index ``id - 1``; None: no voxel), in one pass over the map.

    Found once per case, so that accepting or rejecting a candidate works in its box.
    """
    return ndimage.find_objects(np.asarray(candidates))


def accept_candidate(
    labels: np.ndarray,
    candidates: np.ndarray,
    candidate: int,
    box: tuple[slice, ...] | None = None,
) -> tuple[np.ndarray, ...]:
    """The voxels accepting ``candidate`` sets: its voxels where ``labels`` is 0.

    With its ``box`` (:func:`candidate_boxes`) the work is bounded by the box, not
    the volume.
    """
    if box is None:
        box = candidate_boxes((candidates == candidate).astype(np.int8))[0]
    local = (candidates[box] == candidate) & (labels[box] == 0)
    return tuple(i + s.start for i, s in zip(np.nonzero(local), box, strict=True))


def record_acceptance(
    store: StudyStore, reader: str, code: str, candidate: int, lesion: int
) -> None:
    """Audit a candidate accepted as a lesion (after its stroke is journaled)."""
    store.record(ACCEPTED, reader, code, f"{int(candidate)} -> {int(lesion)}")


def record_rejection(store: StudyStore, reader: str, code: str, candidate: int) -> None:
    """Audit a candidate rejected by the reader."""
    store.record(REJECTED, reader, code, str(int(candidate)))


@dataclass(frozen=True)
class CandidateOrigins:
    """A candidates reading: each lesion's origin and the candidates' fate.

    ``origin`` maps a lesion id to one of :data:`ORIGINS`; ``accepted``,
    ``rejected`` and ``untouched`` count candidates (a candidate accepted whose
    lesion was erased since counts as untouched; the last decision counts).
    """

    origin: dict[int, str]
    accepted: int
    rejected: int
    untouched: int


def candidate_origins(
    store: StudyStore, reader: str, code: str, labels: np.ndarray, candidates: np.ndarray
) -> CandidateOrigins:
    """Origins of a reading's lesions and the fate of the case's candidates (audit log)."""
    decided = _decisions(store, reader, code)
    present = {int(i) for i in np.unique(labels) if i}
    origin = dict.fromkeys(sorted(present), "own")
    accepted = rejected = 0
    for candidate, (decision, lesion) in decided.items():
        if decision == "rejected":
            rejected += 1
        elif lesion in present:
            accepted += 1
            mine, proposed = labels == lesion, candidates == candidate
            edited = (mine & ~proposed).any() or (proposed & (labels == 0)).any()
            origin[lesion] = "accepted-and-edited" if edited else "accepted"
    n_candidates = int(np.count_nonzero(np.unique(candidates)))
    return CandidateOrigins(origin, accepted, rejected, n_candidates - accepted - rejected)


def pending_candidates(
    store: StudyStore, reader: str, code: str, candidates: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """A copy of the candidates map without those decided (rejected, or accepted and kept)."""
    pending = np.array(candidates, copy=True)
    present = {int(i) for i in np.unique(labels) if i}
    done = [
        c
        for c, (d, lesion) in _decisions(store, reader, code).items()
        if lesion in present or d == "rejected"
    ]
    if done:
        pending[np.isin(pending, done)] = 0
    return pending


def _decisions(store: StudyStore, reader: str, code: str) -> dict[int, tuple[str, int | None]]:
    """Candidate -> (its last decision, the lesion it became) from the audit log."""
    decided: dict[int, tuple[str, int | None]] = {}
    for entry in store.audit_log(reader):
        if entry.case_code != code or entry.action not in (ACCEPTED, REJECTED):
            continue
        if entry.action == ACCEPTED:
            candidate, lesion = (int(x) for x in entry.detail.split("->"))
            decided[candidate] = ("accepted", lesion)
        else:
            decided[int(entry.detail)] = ("rejected", None)
    return decided


def source_columns(
    source: str, store: StudyStore, reader: str, code: str, case: Case, labels, lesions
) -> tuple[dict[str, list], dict[str, list]]:
    """The export columns of a reading's source: ``(lesion columns, summary columns)``.

    ``lesions`` are the ids of the lesion table's rows, in order.
    """
    if source == "reference":
        edits = reference_edits(labels, np.asarray(case["lesions"]))
        added, removed = SOURCE_LESION_COLUMNS[source]
        return {
            added: [edits.get(int(i), (0, 0))[0] for i in lesions],
            removed: [edits.get(int(i), (0, 0))[1] for i in lesions],
        }, {}
    if source == "candidates":
        found = candidate_origins(store, reader, code, labels, np.asarray(case["candidates"]))
        counts = (found.accepted, found.rejected, found.untouched)
        summary = {c: [n] for c, n in zip(SOURCE_SUMMARY_COLUMNS[source], counts, strict=True)}
        return {"origin": [found.origin.get(int(i), "own") for i in lesions]}, summary
    return {}, {}


def reading_source_counts(
    source: str, store: StudyStore, reader: str, code: str, case: Case, labels: np.ndarray
) -> dict[str, int]:
    """A reading's counts of :data:`SOURCE_READER_COLUMNS` (a ``reader`` study: none).

    Reference: lesions edited (kept, voxels changed), added (ids not in the
    reference), removed (reference ids erased) and the voxels added / removed.
    Candidates: lesions by origin and the candidates' fate (:func:`candidate_origins`).
    """
    if source == "reference":
        reference = np.asarray(case["lesions"])
        edits = reference_edits(labels, reference)
        present = {int(i) for i in np.unique(labels) if i}
        shared = {int(i) for i in np.unique(reference) if i}
        values = (
            sum(i in present and i in shared for i in edits),
            len(present - shared),
            len(shared - present),
            sum(a for a, _ in edits.values()),
            sum(r for _, r in edits.values()),
        )
    elif source == "candidates":
        found = candidate_origins(store, reader, code, labels, np.asarray(case["candidates"]))
        origins = list(found.origin.values())
        values = (*(origins.count(o) for o in ORIGINS), found.accepted, found.rejected,
                  found.untouched)  # fmt: skip
    else:
        return {}
    return dict(zip(SOURCE_READER_COLUMNS[source], map(int, values), strict=True))
