"""What the agreement statistics keep of each case read: tables, counts, matches, its patient.

:class:`Collected` is filled case by case by
:func:`~.study_stats.agreement_of` (label maps are not kept) and records,
beside each match list and each intra-reader rating pair, the case it comes
from, so that every interval can resample patients
(:func:`~.bootstrap.patient_of` of the case).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial
from itertools import combinations

import numpy as np

from ..patient import patient_group
from .bootstrap import patient_of
from .matching import (
    Match,
    detection_agreement,
    match_by_id,
    match_lesions,
    matched_pairs,
    voxel_dice,
)
from .readings import CaseReadings, compared_fields, group_table, rating_value

__all__ = ["Collected", "PerCase", "counts"]

#: Per case: its id and the matches of two readings of it.
PerCase = list[tuple[str, list[Match]]]


class Collected:
    """What the statistics need of each case; label maps are not kept."""

    def __init__(self) -> None:
        self.cases: list[str] = []
        self.tables: list = []
        self.patients: list[tuple] = []
        self.dice: list[tuple] = []
        self.matches: dict[tuple[str, str], PerCase] = defaultdict(list)
        self.intra_matches: dict[str, PerCase] = defaultdict(list)
        # reader -> field -> (case, first value, repeated value) per matched lesion
        self.intra_values: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        # reader -> cases read, lesions, and the sums of the lesion source's counts
        self.sources: dict[str, Counter] = defaultdict(Counter)
        self.source = "reader"  # the study's lesion source (of the cases added)

    def add(self, cr: CaseReadings, min_dice: float) -> None:
        """Keep what the statistics need of one case's readings."""
        case = cr.case_id
        self.cases.append(case)
        self.source = cr.source
        self.tables.append(group_table(cr))
        readings = {r: cr.readings[r] for r in sorted(cr.readings)}

        # a reference study's readings share their ids
        match = (
            match_by_id if cr.source == "reference" else partial(match_lesions, min_dice=min_dice)
        )
        for reader, reading in readings.items():
            ids = reading.lesion_ids()
            group = patient_group(reading.ratings.table(ids))
            self.patients.append((case, reader, len(ids), group))
            self.sources[reader].update(cases=1, lesions=len(ids))
            self.sources[reader].update(cr.source_counts.get(reader, {}))
        for a, b in combinations(readings, 2):
            la, lb = readings[a].labels, readings[b].labels
            self.matches[a, b].append((case, match(la, lb)))
            self.dice.append((case, a, b, voxel_dice(la, lb)))
        for reader in sorted(cr.repeats):
            first, repeat = readings[reader], cr.repeats[reader]
            matches = match(first.labels, repeat.labels)
            self.intra_matches[reader].append((case, matches))
            values = self.intra_values[reader]
            for id_a, id_b in matched_pairs(matches):
                ra, rb = first.ratings.get(id_a), repeat.ratings.get(id_b)
                for name in compared_fields():
                    values[name].append((case, rating_value(ra, name), rating_value(rb, name)))

    def intra_columns(self, reader: str, name: str) -> tuple[np.ndarray, ...]:
        """Patients, first and repeated values of ``name`` over a reader's matched lesions."""
        triples = self.intra_values[reader][name]
        if not triples:
            return (np.full(0, None, dtype=object),) * 3
        cases, first, repeat = (np.array(v, dtype=object) for v in zip(*triples, strict=True))
        return np.array([patient_of(c) for c in cases], dtype=object), first, repeat


def counts(per_case: PerCase) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-case ``[n_a, n_b, matched]`` arrays and the cases' patients (the F1 bootstrap)."""
    rows = [detection_agreement(m) for _, m in per_case]
    values = [np.array([r[key] for r in rows], dtype=float) for key in ("n_a", "n_b", "matched")]
    return values, np.array([patient_of(c) for c, _ in per_case], dtype=object)
