"""The readings an analysis is run on: the consensus, or one reader's, as lesion and patient rows.

:func:`collect_readings` reads every case of a study once, with the loaders of
the consensus export and of the agreement (no hand-written store query):

- ``source="consensus"``: the adjudicator's consensus of every case ready for
  adjudication (:func:`~napari_uspio.core.adjudication.queue.adjudication_queue`,
  :func:`~napari_uspio.core.adjudication.queue.consensus_labels`: the proposal
  until the adjudicator opens the case); refused while an item is pending, as
  the consensus export is;
- ``source=<reader id>``: that reader's first reading of every case marked
  **done** (:func:`~napari_uspio.core.agreement.readings.done_readings`);
  repeated readings and readings not done are left out.

Each reading is measured by the lesion model of the case
(:func:`~napari_uspio.core.lesions.lesion_model`) and tabled as the reading
exports table it (:func:`~napari_uspio.core.export.reading_table`,
:func:`~napari_uspio.core.export.summary_table`), with the patient of the case
(:func:`~napari_uspio.core.agreement.bootstrap.patient_of`) and its GM MTR
(:func:`gm_mtr`) added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..adjudication.consensus import READER as CONSENSUS
from ..adjudication.queue import adjudication_queue, adjudicator_of, consensus_labels
from ..agreement.bootstrap import patient_of
from ..agreement.readings import case_readings, done_readings
from ..case import Case, Progress, load_case
from ..export import LESION_ID_COLUMNS, SUMMARY_COLUMNS, reading_table, summary_table
from ..lesions import lesion_model
from ..ratings import Ratings, rating_columns
from ..study.export import concat_rows
from ..study.manifest import Study
from ..study.records import StudyError
from ..study.store import StudyStore

__all__ = ["CONSENSUS", "Collected", "collect_readings", "gm_mtr"]


@dataclass(frozen=True)
class Collected:
    """The analysed readings: one row per lesion, one per case, and what was left out."""

    source: str  # "consensus" or the reader id
    lesions: pd.DataFrame  # patient + reading_table columns
    patients: pd.DataFrame  # patient + SUMMARY_COLUMNS + gm_mtr
    left_out: list[str]  # cases not analysed, with why
    adjudicator: str | None  # the consensus's adjudicator (None for a reader)


def gm_mtr(case: Case, labels: np.ndarray) -> float:
    """Mean MTR of the grey matter outside every lesion, NaN-aware.

    Grey matter: the case's ``gm_mask`` voxels with ``labels == 0``. NaN when
    the case has no MTR, no ``gm_mask``, or no valid voxel.
    """
    gm = case.gm_mask
    if gm is None or "mtr" not in case:
        return float("nan")
    values = case["mtr"][gm & (np.asarray(labels) == 0)]
    values = values[~np.isnan(values)]
    return float(values.mean(dtype=np.float64)) if values.size else float("nan")


def _rows(
    study: Study, case: Case, labels: np.ndarray, ratings: Ratings, case_id: str, reader: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lesion rows and the one patient row of one reading."""
    table = lesion_model(case, labels, study.shell_width_mm).table()
    lesions = reading_table(table, ratings, case_id, reader)
    summary = summary_table(lesions, case, labels, study.shell_width_mm, case_id, reader)
    summary["gm_mtr"] = gm_mtr(case, labels)
    patient = patient_of(case_id)
    return lesions.assign(patient=patient), summary.assign(patient=patient)


Read = Callable[[str], tuple[np.ndarray, Ratings]]  # case id -> label map, ratings


def _consensus(
    study: Study, store: StudyStore, adjudicator: str | None, progress: Progress | None
) -> tuple[str, list[str], Read, list[str]]:
    adjudicator = adjudicator_of(study, adjudicator)
    ready, waiting = adjudication_queue(study, store, adjudicator, progress)
    pending = {ca.code: len(ca.pending) for ca in ready if ca.pending}
    if pending:
        listed = ", ".join(f"{code} ({n})" for code, n in pending.items())
        raise StudyError(
            f"{sum(pending.values())} disputed item(s) are not adjudicated yet, in cases "
            f"{listed}. Fix: adjudicate them, or analyse one reader's readings (--source READER)."
        )
    done = done_readings(store)
    by_case = {ca.case_id: ca for ca in ready}

    def read(case_id: str) -> tuple[np.ndarray, Ratings]:
        ca = by_case[case_id]
        cr = case_readings(study, store, case_id, done, load_images=False)
        return consensus_labels(store, adjudicator, ca, cr)

    left = [f"{code}: not every reader is done" for code in waiting]
    return adjudicator, list(by_case), read, left


def _reader(study: Study, store: StudyStore, reader: str) -> tuple[list[str], Read, list[str]]:
    if study.reader(reader).role != "reader":
        raise StudyError(
            f"{reader!r} is an adjudicator: analyse the consensus (--source consensus), "
            "or name a reader"
        )
    done = done_readings(store, [reader])
    read_cases = {c for _, c, repeat in done if not repeat}

    def read(case_id: str) -> tuple[np.ndarray, Ratings]:
        reading = case_readings(study, store, case_id, done, load_images=False).readings[reader]
        return reading.labels, reading.ratings

    cases = [c for c in study.cases if c in read_cases]
    left = [f"{c}: no done reading by {reader}" for c in study.cases if c not in read_cases]
    return cases, read, left


def collect_readings(
    study: Study,
    source: str = CONSENSUS,
    adjudicator: str | None = None,
    progress: Progress | None = None,
) -> Collected:
    """The lesion and patient rows of ``source`` (see the module docstring).

    ``adjudicator`` names the consensus's adjudicator (default: the study's
    only one). ``progress(k, n, message)`` is called before each case is
    measured (and, for the consensus, while the queue is built). Raises
    :class:`StudyError` when nothing can be analysed.
    """
    lesions, patients = [], []
    with study.open_store() as store:
        if source == CONSENSUS:
            adjudicator, cases, read, left = _consensus(study, store, adjudicator, progress)
        else:
            adjudicator = None
            cases, read, left = _reader(study, store, source)
        for k, case_id in enumerate(cases, start=1):
            if progress is not None:
                progress(k, len(cases), f"measuring case {k} of {len(cases)}")
            labels, ratings = read(case_id)
            case = load_case(study.case_folder(case_id))
            rows, summary = _rows(study, case, labels, ratings, case_id, source)
            lesions.append(rows)
            patients.append(summary)
    if not patients:
        why = "; ".join(left) or "the study has no case"
        raise StudyError(f"no case to analyse from {source!r} ({why})")
    lesion_columns = ("patient", *LESION_ID_COLUMNS, *rating_columns())
    patient_columns = ("patient", *SUMMARY_COLUMNS, "gm_mtr")
    return Collected(
        source,
        _first(concat_rows(lesions, lesion_columns), "patient"),
        _first(concat_rows(patients, patient_columns), "patient"),
        left,
        adjudicator,
    )


def _first(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """``table`` with column ``name`` moved first."""
    return table[[name, *(c for c in table.columns if c != name)]]
