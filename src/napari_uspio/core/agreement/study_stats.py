"""The agreement of a study's readers: detection, ratings, patients, intra-reader.

:func:`compute_agreement` reads a study case by case
(:func:`~.readings.study_readings`: one case's label maps in memory at a time)
and returns a :class:`~.result.StudyAgreement`. Method:

Readings
    Only readings marked **done** by readers of role ``reader`` are compared
    (adjudicators never are). A reading not done is left out and counted per
    reader in ``settings["left_out"]`` (first readings) and
    ``settings["left_out_repeats"]``; its reader is *missing* for that case,
    never "no lesion". A reader with no done first reading is not compared
    (``settings["readers_without_done_reading"]``).
Detection, per reader pair
    :func:`~.matching.match_lesions` (Dice >= ``min_dice``, default 0.1) on
    every case both readers read; counts pooled over those cases
    (:func:`~.matching.detection_agreement`); the Dice of the whole lesion
    masks per case, and its mean over the cases where it is defined.
Ratings, per field of :func:`~.readings.compared_fields`
    On the lesion groups of :func:`~.matching.group_lesions` (all compared
    readers of the case, sorted ids): Cohen's kappa per pair on the groups
    both readers detected and rated (unrated: left out); with three readers
    or more, Fleiss' kappa (``"all"``) on the groups every reader detected
    and rated. Confusion matrices list every category of the vocabulary
    (``lesion_class``: :data:`~napari_uspio.core.fields.CLASSES`); the
    patient groups get one too, under the field name ``"patient_group"``.
Patients
    Lesion count per case and reader: ICC(2,1) on the cases read by every
    reader (``readers`` ``"all"``, or the pair's name with two readers).
    Patient group (UEL / GEL / NEL; undecided, None, is left out): Cohen per
    pair, Fleiss for all (3+), and a ``percent_agreement`` row for each.
Intra-reader
    A reader's first and repeated reading of a case, matched by
    :func:`~.matching.match_lesions`: Cohen's kappa per field on the matched
    lesions; the ``"detection"`` row holds the pooled F1 in ``kappa``, the
    lesions of both readings (first + repeat) in ``n`` and, as percent
    agreement, the matched lesions over the lesions found in either reading.
Confidence intervals
    95 % percentile bootstrap, ``n_boot`` replicates, ``seed`` (default: the
    study's), with the same draws as :func:`~.stats.bootstrap_ci` given that
    seed (the kappa replicates are computed vectorised here, equal to
    ``bootstrap_ci`` on the same rows). Resampled units: **lesions** for the
    kappas of ratings (lesions of one patient are not independent, so these
    intervals are optimistic), **cases** for detection F1, the ICC and the
    patient-group statistics (percent agreement rows included).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, combinations
from pathlib import Path

import numpy as np
import pandas as pd

from .. import fields as spec
from ..patient import patient_group
from ..study.manifest import Study, load_study
from ..study.records import StudyError
from ..study.store import StudyStore
from .bootstrap import LEVEL, Bootstrap
from .matching import (
    MIN_DICE,
    Match,
    detection_agreement,
    match_lesions,
    matched_pairs,
    voxel_dice,
)
from .readings import (
    CaseReadings,
    Progress,
    compared_fields,
    group_table,
    rating_value,
    study_readings,
)
from .result import (
    DETECTION_COLUMNS,
    INTRA_COLUMNS,
    KAPPA_COLUMNS,
    PATIENT_COLUMNS,
    VOXEL_DICE_COLUMNS,
    StudyAgreement,
)
from .stats import confusion_matrix, detection_reason, icc, icc_reason, kappa_reason

__all__ = ["PATIENTS_COLUMNS", "agreement_of", "compute_agreement", "lesion_columns"]

#: Columns of :attr:`StudyAgreement.patients`.
PATIENTS_COLUMNS = ("case", "reader", "lesions", "group")
NAN = math.nan


def lesion_columns() -> tuple[str, ...]:
    """Columns of :attr:`StudyAgreement.lesions`."""
    return ("case", "item", "reader", "lesion", *compared_fields())


def compute_agreement(
    study: Study | str | Path,
    *,
    readers: Iterable[str] | None = None,
    n_boot: int = 2000,
    seed: int | None = None,
    min_dice: float = MIN_DICE,
    progress: Progress | None = None,
) -> StudyAgreement:
    """Inter- and intra-reader agreement of a study (method: module docstring).

    Parameters
    ----------
    study : Study, str or Path
        A study, or its folder.
    readers : iterable of str, optional
        Reader ids to compare (default: every reader of role ``reader``).
    n_boot : int
        Bootstrap replicates per interval (0: no interval, bounds NaN).
    seed : int, optional
        Bootstrap seed (default: the study's seed).
    min_dice : float
        Minimum Dice for two lesions to be the same lesion.
    progress : callable, optional
        ``progress(k, n, message)``: before each case, then once for the statistics.

    Returns
    -------
    StudyAgreement
    """
    study = study if isinstance(study, Study) else load_study(study)
    seed = study.seed if seed is None else int(seed)
    if int(n_boot) != n_boot or n_boot < 0:
        raise ValueError(f"n_boot must be a whole number >= 0, got {n_boot}")
    if not 0 < min_dice <= 1:
        raise ValueError(f"min_dice must be in (0, 1], got {min_dice}")
    n_steps = len(study.cases) + 1

    def step(k: int, _n: int, message: str) -> None:
        if progress is not None:
            progress(k, n_steps, message)

    with study.open_store() as store:
        chosen = _chosen_readers(store, readers)
        left_out, left_repeats = _not_done(store, chosen)
        compared = [r for r in chosen if left_out[r] < _n_first(store, r)]
        cases = study_readings(study, store, compared, min_dice=min_dice, progress=step)
        agreement = agreement_of(
            cases,
            compared,
            n_boot=n_boot,
            seed=seed,
            min_dice=min_dice,
            before_statistics=lambda: step(n_steps, n_steps, "computing the statistics"),
        )
    agreement.settings |= {
        "left_out": left_out,
        "left_out_repeats": left_repeats,
        "readers_without_done_reading": [r for r in chosen if r not in compared],
    }
    return agreement


def agreement_of(
    cases: Iterable[CaseReadings],
    readers: Sequence[str],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    min_dice: float = MIN_DICE,
    before_statistics: Callable[[], None] | None = None,
) -> StudyAgreement:
    """The agreement of ``readers`` over the readings of some cases (method: module docstring).

    ``cases`` may be a generator (one case's label maps in memory at a time);
    ``before_statistics`` is called once every case is read.
    """
    data = _Collected()
    for cr in cases:
        data.add(cr, min_dice)
    if before_statistics is not None:
        before_statistics()
    compared = list(readers)
    boot = Bootstrap(int(n_boot), seed)
    lesions = (
        pd.concat(data.tables, ignore_index=True) if data.tables else _empty(lesion_columns())
    )
    kappa, confusion = _kappa_table(lesions, compared, boot)
    patients = pd.DataFrame(data.patients, columns=list(PATIENTS_COLUMNS))
    patient, group_confusion = _patient_table(patients, compared, boot)
    settings = {
        "min_dice": float(min_dice),
        "n_boot": int(n_boot),
        "seed": seed,
        "level": LEVEL,
        "readers": list(compared),
        "cases": list(data.cases),
        "n_cases": len(data.cases),
        "bootstrap": (
            f"{LEVEL:.0%} percentile bootstrap, {int(n_boot)} replicates, seed {seed}; "
            "resampled units: lesions for the kappas of ratings (intra-reader too), "
            "cases for detection F1, lesion-count ICC and patient-group statistics"
        ),
    }
    return StudyAgreement(
        readers=list(compared),
        lesions=lesions,
        detection=_detection_table(data, compared, boot),
        voxel_dice=pd.DataFrame(data.dice, columns=list(VOXEL_DICE_COLUMNS)),
        kappa=kappa,
        confusion=confusion | group_confusion,
        patients=patients,
        patient=patient,
        intra=_intra_table(data, compared, boot),
        settings=settings,
    )


# ------------------------------------------------------------------ readers
def _chosen_readers(store: StudyStore, readers: Iterable[str] | None) -> list[str]:
    roles = store.readers()
    known = sorted(r for r, role in roles.items() if role == "reader")
    if readers is None:
        return known
    asked = [readers] if isinstance(readers, str) else list(readers)
    unknown = [r for r in asked if r not in known]
    if unknown:
        raise StudyError(
            f"not a reader of this study: {', '.join(map(str, unknown))} "
            f"(readers: {', '.join(known) or 'none'}; adjudicators are not compared)"
        )
    return sorted(set(asked))


def _n_first(store: StudyStore, reader: str) -> int:
    return sum(not e.repeat for e in store.order(reader))


def _not_done(store: StudyStore, readers: Sequence[str]) -> tuple[dict, dict]:
    """Per reader: first readings and repeats not marked done."""
    firsts, repeats = {}, {}
    for reader in readers:
        states = [
            (e.repeat, store.case_state(reader, e.code).status != "done")
            for e in store.order(reader)
        ]
        firsts[reader] = sum(open_ for rep, open_ in states if not rep)
        repeats[reader] = sum(open_ for rep, open_ in states if rep)
    return firsts, repeats


# ------------------------------------------------------------------ collecting
class _Collected:
    """What the statistics need of each case; label maps are not kept."""

    def __init__(self) -> None:
        self.cases: list[str] = []
        self.tables: list[pd.DataFrame] = []
        self.patients: list[tuple] = []
        self.dice: list[tuple] = []
        self.matches: dict[tuple[str, str], list[list[Match]]] = defaultdict(list)
        self.intra_matches: dict[str, list[list[Match]]] = defaultdict(list)
        self.intra_values: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))

    def add(self, cr: CaseReadings, min_dice: float) -> None:
        self.cases.append(cr.case_id)
        self.tables.append(group_table(cr))
        readings = {r: cr.readings[r] for r in sorted(cr.readings)}
        for reader, reading in readings.items():
            ids = reading.lesion_ids()
            group = patient_group(reading.ratings.table(ids))
            self.patients.append((cr.case_id, reader, len(ids), group))
        for a, b in combinations(readings, 2):
            la, lb = readings[a].labels, readings[b].labels
            self.matches[a, b].append(match_lesions(la, lb, min_dice))
            self.dice.append((cr.case_id, a, b, voxel_dice(la, lb)))
        for reader in sorted(cr.repeats):
            first, repeat = readings[reader], cr.repeats[reader]
            matches = match_lesions(first.labels, repeat.labels, min_dice)
            self.intra_matches[reader].append(matches)
            values = self.intra_values[reader]
            for id_a, id_b in matched_pairs(matches):
                ra, rb = first.ratings.get(id_a), repeat.ratings.get(id_b)
                for name in compared_fields():
                    values[name].append((rating_value(ra, name), rating_value(rb, name)))


# ------------------------------------------------------------------ tables
def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([], columns=list(columns))


def _pair(a: str, b: str) -> str:
    return f"{a} vs {b}"


def _categories(name: str) -> tuple[str, ...]:
    return spec.derived_or_rating(name).values


def _pooled_f1(n_a: np.ndarray, n_b: np.ndarray, matched: np.ndarray) -> float:
    total = n_a.sum() + n_b.sum()
    return float(2 * matched.sum() / total) if total else NAN


def _counts(per_case: list[list[Match]]) -> list[np.ndarray]:
    """Per-case ``n_a, n_b, matched`` arrays (the units of the F1 bootstrap)."""
    rows = [detection_agreement(m) for m in per_case]
    return [np.array([r[key] for r in rows], dtype=float) for key in ("n_a", "n_b", "matched")]


def _detection_table(data: _Collected, readers: list[str], boot: Bootstrap) -> pd.DataFrame:
    dice = pd.DataFrame(data.dice, columns=list(VOXEL_DICE_COLUMNS))
    rows = []
    for a, b in combinations(readers, 2):
        per_case = data.matches.get((a, b), [])
        pooled = detection_agreement(chain.from_iterable(per_case))
        f1 = boot.ci(_pooled_f1, *_counts(per_case))
        values = dice.loc[(dice["reader_a"] == a) & (dice["reader_b"] == b), "dice"]
        finite = values.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        mean = float(finite.mean()) if finite.size else NAN
        counts = [pooled[k] for k in ("n_a", "n_b", "matched", "sensitivity", "ppv", "f1")]
        why = detection_reason(len(per_case), pooled["n_a"], pooled["n_b"], a, b)
        rows.append((_pair(a, b), a, b, len(per_case), *counts, f1.low, f1.high, mean, why))
    return pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))


def _wide(table: pd.DataFrame, index: list[str], name: str, readers: list[str]) -> dict:
    """Reader -> values of ``name`` per ``index`` row (NaN: missing)."""
    if table.empty:
        return {r: np.full(0, None, dtype=object) for r in readers}
    wide = table.pivot(index=index, columns="reader", values=name).reindex(columns=readers)
    return {r: wide[r].to_numpy(dtype=object) for r in readers}


def _reason(name: str, columns: list, what: str) -> str | None:
    """Why the kappa of ``name`` over ``columns`` is undefined, values shown by their labels."""
    return kappa_reason(columns, what, lambda v: repr(spec.derived_or_rating(name).label(v)))


def _agreement_rows(name, columns, readers, categories, boot, confusion, what) -> list[tuple]:
    """Cohen per pair then Fleiss for all (3+).

    Rows ``(readers, statistic, n, CI, agreement CI, reason)``; ``what`` names the items.
    """
    rows = []
    for a, b in combinations(readers, 2):
        pair = [columns[a], columns[b]]
        n, kappa, agree = boot.kappa(pair, categories)
        rows.append((_pair(a, b), "cohen", n, kappa, agree, _reason(name, pair, what)))
        confusion[name, a, b] = confusion_matrix(columns[a], columns[b], categories)
    if len(readers) >= 3:
        every = [columns[r] for r in readers]
        n, kappa, agree = boot.kappa(every, categories)
        rows.append(("all", "fleiss", n, kappa, agree, _reason(name, every, what)))
    return rows


def _kappa_table(lesions: pd.DataFrame, readers: list[str], boot: Bootstrap):
    rows, confusion = [], {}
    for name in compared_fields():
        columns = _wide(lesions, ["case", "item"], name, readers)
        for who, stat, n, k, agree, why in _agreement_rows(
            name, columns, readers, _categories(name), boot, confusion, "lesions"
        ):
            rows.append((name, who, stat, n, k.estimate, k.low, k.high, agree.estimate, why))
    return pd.DataFrame(rows, columns=list(KAPPA_COLUMNS)), confusion


def _patient_table(patients: pd.DataFrame, readers: list[str], boot: Bootstrap):
    rows, confusion = [], {}
    if len(readers) >= 2:
        counts = _wide(patients, ["case"], "lesions", readers)
        matrix = np.stack([counts[r] for r in readers], axis=1).astype(float)
        matrix = matrix[~np.isnan(matrix).any(axis=1)]
        who = "all" if len(readers) >= 3 else _pair(*readers)
        ci = boot.ci(icc, matrix)
        rows.append(("lesion_count", who, "icc(2,1)", len(matrix), *ci, icc_reason(matrix)))
    groups = _wide(patients, ["case"], "group", readers)
    for who, stat, n, k, agree, why in _agreement_rows(
        "patient_group", groups, readers, spec.PATIENT_GROUP.values, boot, confusion, "cases"
    ):
        rows.append(("patient_group", who, stat, n, *k, why))
        unrated = None if n else "no case with a patient group from every reader compared"
        rows.append(("patient_group", who, "percent_agreement", n, *agree, unrated))
    return pd.DataFrame(rows, columns=list(PATIENT_COLUMNS)), confusion


def _intra_table(data: _Collected, readers: list[str], boot: Bootstrap) -> pd.DataFrame:
    rows = []
    for reader in readers:
        per_case = data.intra_matches.get(reader)
        if not per_case:
            continue
        pooled = detection_agreement(chain.from_iterable(per_case))
        f1 = boot.ci(_pooled_f1, *_counts(per_case))
        found = pooled["n_a"] + pooled["n_b"]
        either = found - pooled["matched"]
        agree = pooled["matched"] / either if either else NAN
        why = None if found else "neither reading has a lesion"
        rows.append((reader, "detection", len(per_case), found, *f1, agree, why))
        for name in compared_fields():
            pairs = data.intra_values[reader][name]
            first = np.array([p[0] for p in pairs], dtype=object)
            repeat = np.array([p[1] for p in pairs], dtype=object)
            n, k, agreement = boot.kappa([first, repeat], _categories(name))
            why = _reason(name, [first, repeat], "matched lesions")
            rows.append((reader, name, len(per_case), n, *k, agreement.estimate, why))
    return pd.DataFrame(rows, columns=list(INTRA_COLUMNS))
