"""A phantom study read by simulated readers whose disagreements are controlled.

:func:`simulate_study` writes phantom cases, creates a study on them and lets
each :class:`SimulatedReader` read every case of their order through the
study store, exactly as a reader in the GUI would (strokes, ratings, done):
each paints the phantom's truth lesions and types the truth ratings (with
confidence ``high``), except for the lesions it *misses* and the rating
*changes* it is given. The result is a study with known answers for the
agreement statistics, the adjudication queue and the consensus (the tests use
it; the README's "try it" too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.adjudication.desk import AdjudicationDesk
from ..core.case import load_case
from ..core.ratings import Ratings
from ..core.study.manifest import Study, init_study
from ..core.study.sources import start_reading
from ..phantom import TRUTH_CSV, TRUTH_DIR, TRUTH_LABELS, make_phantom, phantom_truth

__all__ = [
    "SimulatedReader",
    "adjudicate_by_truth",
    "cohort_readers",
    "demo_readers",
    "ratings_from_truth",
    "read_study",
    "simulate_study",
    "truth_rating",
]

Key = tuple[str, int]  # (case id, truth lesion id)
_RATED = ("gd", "uspio", "qsm_rim", "central_vein", "overlap")


@dataclass(frozen=True)
class SimulatedReader:
    """A reader who reads the truth, but for ``misses`` and rating ``changes``.

    ``misses``: (case id, truth lesion) pairs the reader does not paint.
    ``changes``: (case id, truth lesion) -> field -> value, applied on top of
    the truth rating (must be a consistent rating, see
    :mod:`napari_uspio.core.ratings`). ``repeat_changes`` are used instead of
    ``changes`` for the repeated reading of a case. ``done`` False leaves the
    readings open (not final).
    """

    id: str
    misses: frozenset[Key] = frozenset()
    changes: Mapping[Key, Mapping[str, str | None]] = field(default_factory=dict)
    repeat_changes: Mapping[Key, Mapping[str, str | None]] | None = None
    done: bool = True


def truth_rating(row) -> dict[str, str]:
    """The rating fields of a phantom truth row, confidence ``high``."""
    return {**{f: str(row[f]) for f in _RATED}, "confidence": "high"}


def ratings_from_truth(truth) -> Ratings:
    """A scripted reader: a phantom's truth table (index ``lesion``) typed as ratings."""
    ratings = Ratings()
    for lesion_id, row in truth.iterrows():
        ratings.set(int(lesion_id), **truth_rating(row))
    return ratings


def demo_readers(case_ids: list[str]) -> list[SimulatedReader]:
    """The default readers r1, r2, r3 and their disagreements.

    r1 reads the truth; r2 calls lesion 1 (ring-like) focal in every case; r3 misses
    lesion 5 of the first case and reads the QSM rim of lesion 1 absent in every case.
    """
    return [
        SimulatedReader("r1"),
        SimulatedReader("r2", changes={(c, 1): {"uspio": "focal"} for c in case_ids}),
        SimulatedReader(
            "r3",
            misses=frozenset({(case_ids[0], 5)}),
            changes={(c, 1): {"qsm_rim": "absent"} for c in case_ids},
        ),
    ]


def cohort_readers(lesions) -> list[SimulatedReader]:
    """Readers r1, r2, r3 of a phantom cohort (its ``lesions`` table) and their disagreements.

    r1 reads the truth; r2 calls every ring-like USPIO lesion focal; r3 reads every QSM
    rim absent and leaves the first lesion of the first patient unrated (a reference
    study) or unpainted.
    """
    key = list(zip(lesions["patient"], lesions["lesion"].astype(int), strict=True))
    ring = [k for k, u in zip(key, lesions["uspio"], strict=True) if u == "ring"]
    rim = [k for k, q in zip(key, lesions["qsm_rim"], strict=True) if q == "present"]
    return [
        SimulatedReader("r1"),
        SimulatedReader("r2", changes={k: {"uspio": "focal"} for k in ring}),
        SimulatedReader(
            "r3", misses=frozenset(key[:1]), changes={k: {"qsm_rim": "absent"} for k in rim}
        ),
    ]


def simulate_study(
    study_dir: str | Path,
    cases_dir: str | Path,
    n_cases: int = 3,
    readers: Iterable[SimulatedReader] | None = None,
    adjudicators: Iterable[str] = ("adj",),
    *,
    seed: int = 7,
    repeat_fraction: float = 0.0,
    shape_xyz: tuple[int, int, int] = (96, 96, 16),
    n_lesions: int = 8,
) -> Study:
    """Write ``n_cases`` phantoms into ``cases_dir``, a study into ``study_dir``, and read it.

    ``readers`` default: r1, r2, r3 with the disagreements of :func:`demo_readers`. Phantom
    ``k`` (1-based) has seed ``k`` and folder ``sub-{k:02d}``. Returns the study.
    """
    cases_dir = Path(cases_dir)
    case_ids = [f"sub-{k:02d}" for k in range(1, n_cases + 1)]
    for k, case_id in enumerate(case_ids, start=1):
        if not (cases_dir / case_id / TRUTH_DIR / TRUTH_CSV).is_file():
            make_phantom(cases_dir / case_id, seed=k, shape_xyz=shape_xyz, n_lesions=n_lesions)
    readers = list(demo_readers(case_ids) if readers is None else readers)
    study = init_study(
        study_dir,
        cases_dir,
        [r.id for r in readers],
        seed=seed,
        repeat_fraction=repeat_fraction,
        adjudicators=adjudicators,
    )
    return read_study(study, readers, case_ids)


def read_study(
    study: Study, readers: Iterable[SimulatedReader], case_ids: Iterable[str] | None = None
) -> Study:
    """Let each simulated reader read the cases (default: all) of their order, via the store.

    Each case needs the phantom's truth (``truth/``). In a ``reference`` study the
    reading starts from the case's reference map, as in the GUI, and the reader only
    rates (a *miss* is a lesion left unrated); otherwise the reader paints the truth.
    """
    readers = list(readers)
    reference = study.lesion_source == "reference"
    with study.open_store() as store:
        for case_id in study.cases if case_ids is None else case_ids:
            folder = study.case_folder(case_id)
            case = load_case(folder)
            truth = case.read_labels(folder / TRUTH_DIR / TRUTH_LABELS).data
            table = phantom_truth(folder).set_index("lesion")
            for reader in readers:
                for entry in store.order(reader.id):
                    if entry.case_id != case_id:
                        continue
                    changes = reader.changes
                    if entry.repeat and reader.repeat_changes is not None:
                        changes = reader.repeat_changes
                    store.open_case(reader.id, entry.code)
                    start_reading(store, reader.id, entry.code, case, study.lesion_source)
                    for lesion, row in table.iterrows():
                        key = (case_id, int(lesion))
                        if key in reader.misses:
                            continue
                        flat = np.flatnonzero(truth == lesion)
                        if not flat.size:
                            continue
                        if not reference:
                            store.append_stroke(reader.id, entry.code, flat, int(lesion))
                        rating = {**truth_rating(row), **changes.get(key, {})}
                        store.set_rating(reader.id, entry.code, int(lesion), rating)
                    if reader.done:
                        store.mark_done(reader.id, entry.code)
    return study


def adjudicate_by_truth(study: Study, adjudicator: str = "adj") -> int:
    """Decide every item of the adjudicator's queue as the truth says; return the count.

    A disputed lesion is kept, its final rating the truth's (confidence ``high``),
    when it is a truth lesion of the case, else removed (no lesion). Each
    decision goes through the :class:`AdjudicationDesk`, as in the GUI.
    """
    desk = AdjudicationDesk(study.folder, adjudicator)
    decided = 0
    try:
        desk.refresh_queue()
        while pending := desk.pending():
            ca, item = pending[0]
            if desk.current is None or desk.current.code != ca.code:
                desk.open_case(ca)
                truth = phantom_truth(study.case_folder(ca.case_id)).set_index("lesion")
            desk.select(item)
            lesion = next((i for i in item.lesions.values() if i is not None), None)
            if lesion in truth.index:  # in a reference study the reader's id is the truth's
                desk.set_final(**truth_rating(truth.loc[lesion]))
            else:
                desk.no_lesion()
            desk.resolve("as the phantom's truth")
            decided += 1
    finally:
        desk.close()
    return decided
