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
Reference studies
    Readers rate the lesions of a shared reference delineation: lesions are
    matched by id (:func:`~.matching.match_by_id`), and detection statistics
    (sensitivity, PPV, F1; intra-reader detection F1) are not applicable:
    NaN, with :data:`NOT_APPLICABLE` as their reason. The counts stay.
Lesion sources
    Per reader (``sources``): cases and lesions compared and the sums of the
    source's counts (:data:`~..study.sources.SOURCE_READER_COLUMNS`): edits
    of the reference, or lesions by origin and candidates accepted / rejected /
    untouched, so assisted and unassisted readings can be compared.
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
    95 % percentile cluster bootstrap over **patients** for every statistic
    (kappas of ratings, intra-reader too; detection F1; lesion-count ICC;
    patient-group statistics, percent agreement rows included): ``n_boot``
    replicates, ``seed`` (default: the study's). A replicate draws the
    statistic's patients with replacement and takes all their rows (lesions
    or cases; a patient drawn twice counts twice), as
    :func:`~.stats.cluster_bootstrap_ci` does given that seed (the kappa and
    F1 replicates are computed vectorised, :class:`~.bootstrap.Bootstrap`).
    A patient is :func:`~.bootstrap.patient_of` a case: the BIDS subject of
    the case id (``sub-01_ses-02``: ``sub-01``), else the case. With one
    patient only the bounds are NaN and ``ci_reason`` says why. Point
    estimates do not depend on the resampling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, combinations
from pathlib import Path

import numpy as np
import pandas as pd

from .. import fields as spec
from ..study.manifest import Study, load_study
from ..study.records import StudyError
from ..study.sources import SOURCE_READER_COLUMNS
from ..study.store import StudyStore
from .bootstrap import LEVEL, Bootstrap, Kappa, interval_text, patient_of
from .collect import Collected, counts
from .matching import MIN_DICE, detection_agreement
from .readings import CaseReadings, Progress, compared_fields, study_readings
from .result import (
    DETECTION_COLUMNS,
    INTRA_COLUMNS,
    KAPPA_COLUMNS,
    PATIENT_COLUMNS,
    SOURCE_COLUMNS,
    VOXEL_DICE_COLUMNS,
    StudyAgreement,
)
from .stats import CI, confusion_matrix, detection_reason, icc, icc_reason, kappa_reason

__all__ = [
    "NOT_APPLICABLE",
    "PATIENTS_COLUMNS",
    "agreement_of",
    "compute_agreement",
    "lesion_columns",
]

#: Columns of :attr:`StudyAgreement.patients`.
PATIENTS_COLUMNS = ("case", "reader", "lesions", "group")
#: The reason given for detection statistics in a ``reference`` study.
NOT_APPLICABLE = (
    "not applicable: the readers rate a shared reference delineation, lesions matched by id"
)
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
    data = Collected()
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
    n_patients = len({patient_of(c) for c in data.cases})
    settings = {
        "lesion_source": data.source,
        "min_dice": float(min_dice),
        "n_boot": int(n_boot),
        "seed": seed,
        "level": LEVEL,
        "readers": list(compared),
        "cases": list(data.cases),
        "n_cases": len(data.cases),
        "n_patients": n_patients,
        "bootstrap": interval_text(n_patients, int(n_boot), seed),
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
        sources=_sources_table(data, compared),
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


# ------------------------------------------------------------------ tables
def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([], columns=list(columns))


def _pair(a: str, b: str) -> str:
    return f"{a} vs {b}"


def _categories(name: str) -> tuple[str, ...]:
    return spec.derived_or_rating(name).values


def _f1(per_case, boot: Bootstrap, source: str):
    """Pooled counts, F1 interval and its ``ci_reason`` of some cases' matches.

    In a ``reference`` study the ratios and the interval are NaN (not applicable).
    """
    pooled = detection_agreement(chain.from_iterable(m for _, m in per_case))
    if source == "reference":
        pooled |= dict.fromkeys(("sensitivity", "ppv", "f1"), NAN)
        return pooled, CI(NAN, NAN, NAN), None
    values, patients = counts(per_case)
    f1 = boot.f1(*values, clusters=patients)
    return pooled, f1, boot.reason(f1, len(set(patients)))


def _detection_reason(source: str, *args) -> str | None:
    return NOT_APPLICABLE if source == "reference" else detection_reason(*args)


def _sources_table(data: Collected, readers: list[str]) -> pd.DataFrame:
    """Per reader: cases, lesions and the lesion source's counts, summed."""
    columns = [*SOURCE_COLUMNS, *SOURCE_READER_COLUMNS.get(data.source, ())]
    rows = [
        [reader, *(data.sources[reader].get(c, 0) for c in columns[1:])]
        for reader in readers
        if reader in data.sources
    ]
    return pd.DataFrame(rows, columns=columns)


def _detection_table(data: Collected, readers: list[str], boot: Bootstrap) -> pd.DataFrame:
    dice = pd.DataFrame(data.dice, columns=list(VOXEL_DICE_COLUMNS))
    rows = []
    for a, b in combinations(readers, 2):
        per_case = data.matches.get((a, b), [])
        pooled, f1, no_ci = _f1(per_case, boot, data.source)
        values = dice.loc[(dice["reader_a"] == a) & (dice["reader_b"] == b), "dice"]
        finite = values.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        mean = float(finite.mean()) if finite.size else NAN
        pooled = [pooled[k] for k in ("n_a", "n_b", "matched", "sensitivity", "ppv", "f1")]
        why = _detection_reason(data.source, len(per_case), *pooled[:2], a, b)
        rows.append((_pair(a, b), a, b, len(per_case), *pooled, f1.low, f1.high, mean, why, no_ci))
    return pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))


def _wide(table: pd.DataFrame, index: list[str], name: str, readers: list[str]):
    """Reader -> values of ``name`` per ``index`` row (NaN: missing), and each row's patient."""
    if table.empty:
        return {r: np.full(0, None, dtype=object) for r in readers}, np.full(0, "", dtype=object)
    wide = table.pivot(index=index, columns="reader", values=name).reindex(columns=readers)
    patients = np.array([patient_of(c) for c in wide.index.get_level_values("case")], dtype=object)
    return {r: wide[r].to_numpy(dtype=object) for r in readers}, patients


def _reason(name: str, columns: list, what: str) -> str | None:
    """Why the kappa of ``name`` over ``columns`` is undefined, values shown by their labels."""
    return kappa_reason(columns, what, lambda v: repr(spec.derived_or_rating(name).label(v)))


def _agreement_rows(name, wide, readers, categories, boot, confusion, what) -> list[tuple]:
    """Cohen per pair then Fleiss for all (3+), on ``wide`` (:func:`_wide`).

    Rows ``(readers, statistic, Kappa, reason)``; ``what`` names the items.
    """
    columns, patients = wide
    rows = []
    for a, b in combinations(readers, 2):
        pair = [columns[a], columns[b]]
        kappa = boot.kappa(pair, categories, patients)
        rows.append((_pair(a, b), "cohen", kappa, _reason(name, pair, what)))
        confusion[name, a, b] = confusion_matrix(columns[a], columns[b], categories)
    if len(readers) >= 3:
        every = [columns[r] for r in readers]
        kappa = boot.kappa(every, categories, patients)
        rows.append(("all", "fleiss", kappa, _reason(name, every, what)))
    return rows


def _no_ci(boot: Bootstrap, kappa: Kappa) -> tuple[str | None, str | None]:
    """Why the kappa and the percent agreement of ``kappa`` have no interval."""
    return boot.reason(kappa.kappa, kappa.patients), boot.reason(kappa.agreement, kappa.patients)


def _kappa_table(lesions: pd.DataFrame, readers: list[str], boot: Bootstrap):
    rows, confusion = [], {}
    for name in compared_fields():
        wide = _wide(lesions, ["case", "item"], name, readers)
        for who, stat, res, why in _agreement_rows(
            name, wide, readers, _categories(name), boot, confusion, "lesions"
        ):
            no_ci = _no_ci(boot, res)[0]
            rows.append((name, who, stat, res.n, *res.kappa, res.agreement.estimate, why, no_ci))
    return pd.DataFrame(rows, columns=list(KAPPA_COLUMNS)), confusion


def _patient_table(patients: pd.DataFrame, readers: list[str], boot: Bootstrap):
    rows, confusion = [], {}
    if len(readers) >= 2:
        counts_, cases = _wide(patients, ["case"], "lesions", readers)
        matrix = np.stack([counts_[r] for r in readers], axis=1).astype(float)
        complete = ~np.isnan(matrix).any(axis=1)
        matrix, cases = matrix[complete], cases[complete]
        who = "all" if len(readers) >= 3 else _pair(*readers)
        ci = boot.ci(icc, matrix, clusters=cases)
        why, no_ci = icc_reason(matrix), boot.reason(ci, len(set(cases)))
        rows.append(("lesion_count", who, "icc(2,1)", len(matrix), *ci, why, no_ci))
    groups = _wide(patients, ["case"], "group", readers)
    for who, stat, res, why in _agreement_rows(
        "patient_group", groups, readers, spec.PATIENT_GROUP.values, boot, confusion, "cases"
    ):
        no_ci = _no_ci(boot, res)
        rows.append(("patient_group", who, stat, res.n, *res.kappa, why, no_ci[0]))
        unrated = None if res.n else "no case with a patient group from every reader compared"
        share = ("patient_group", who, "percent_agreement", res.n, *res.agreement)
        rows.append((*share, unrated, no_ci[1]))
    return pd.DataFrame(rows, columns=list(PATIENT_COLUMNS)), confusion


def _intra_table(data: Collected, readers: list[str], boot: Bootstrap) -> pd.DataFrame:
    rows = []
    for reader in readers:
        per_case = data.intra_matches.get(reader)
        if not per_case:
            continue
        pooled, f1, no_ci = _f1(per_case, boot, data.source)
        found = pooled["n_a"] + pooled["n_b"]
        either = found - pooled["matched"]
        agree = pooled["matched"] / either if either else NAN
        why = None if found else "neither reading has a lesion"
        if data.source == "reference":
            agree, why = NAN, NOT_APPLICABLE
        rows.append((reader, "detection", len(per_case), found, *f1, agree, why, no_ci))
        for name in compared_fields():
            patients, first, repeat = data.intra_columns(reader, name)
            res = boot.kappa([first, repeat], _categories(name), patients)
            why = _reason(name, [first, repeat], "matched lesions")
            no_ci = _no_ci(boot, res)[0]
            share = res.agreement.estimate
            rows.append((reader, name, len(per_case), res.n, *res.kappa, share, why, no_ci))
    return pd.DataFrame(rows, columns=list(INTRA_COLUMNS))
