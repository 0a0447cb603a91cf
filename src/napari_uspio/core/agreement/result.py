"""The agreement of a study, as tables: what the report, the CLI and the widget show.

:class:`StudyAgreement` is computed by
:func:`napari_uspio.core.agreement.study_stats.compute_agreement` and written
by :func:`napari_uspio.core.agreement.report.write_report`. Every table is a
``pandas.DataFrame`` with the columns listed below; ``readers`` is
``"r1 vs r2"`` for a pair and ``"all"`` for every reader together; ``low`` /
``high`` are the 95 % seeded percentile cluster bootstrap bounds, resampling
patients (``NaN`` when the statistic has one patient only, or is undefined on
every resample). ``reason`` says in words why the row's statistic is undefined
(``NaN``), e.g. "no between-case variance: every case has the same mean
count"; ``ci_reason`` why a defined statistic has no interval, e.g. "one
patient only: ..."; each is None (an empty CSV cell) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = [
    "CONFUSION_COLUMNS",
    "DETECTION_COLUMNS",
    "INTRA_COLUMNS",
    "KAPPA_COLUMNS",
    "PATIENT_COLUMNS",
    "SOURCE_COLUMNS",
    "StudyAgreement",
    "VOXEL_DICE_COLUMNS",
]

#: Lesion detection per reader pair, counts pooled over the cases both read.
DETECTION_COLUMNS = (
    "readers",  # "r1 vs r2"
    "reader_a",
    "reader_b",
    "cases",  # cases read (done) by both
    "n_a",  # lesions of reader_a
    "n_b",
    "matched",
    "sensitivity",  # matched / n_a (reader_b's sensitivity, reader_a as reference)
    "ppv",  # matched / n_b
    "f1",  # 2 matched / (n_a + n_b)
    "f1_low",
    "f1_high",  # cluster bootstrap over patients (their cases)
    "voxel_dice_mean",  # mean over cases of the per-case voxel Dice
    "reason",  # why F1, sensitivity or PPV is undefined (None: defined)
    "ci_reason",  # why F1 has no interval (None: it has one, or F1 is undefined)
)
#: Per case and reader pair: Dice of the whole lesion masks.
VOXEL_DICE_COLUMNS = ("case", "reader_a", "reader_b", "dice")
#: Per rating field and reader pair (Cohen) or all readers (Fleiss), on matched lesions.
KAPPA_COLUMNS = (
    "field",  # gd, uspio, qsm_rim, central_vein, overlap, lesion_class
    "readers",  # "r1 vs r2" or "all"
    "statistic",  # "cohen" or "fleiss"
    "n",  # lesions rated by every reader compared
    "kappa",
    "low",
    "high",
    "percent_agreement",  # 0-1
    "reason",  # why kappa is undefined (None: defined)
    "ci_reason",  # why a defined estimate has no interval (None: it has one)
)
#: Per patient (case): lesion-count ICC and patient-group agreement.
PATIENT_COLUMNS = (
    "measure",  # "lesion_count" or "patient_group"
    "readers",
    "statistic",  # "icc(2,1)", "cohen", "fleiss", "percent_agreement"
    "n",  # cases
    "estimate",
    "low",
    "high",
    "reason",  # why the estimate is undefined (None: defined)
    "ci_reason",  # why a defined estimate has no interval (None: it has one)
)
#: Intra-reader agreement: first vs repeated reading of the same case by one reader.
INTRA_COLUMNS = (
    "reader",
    "field",  # a rating field, or "detection" (estimate = lesion-wise F1)
    "cases",  # cases read twice (both readings done)
    "n",  # matched lesions rated in both readings (detection: lesions of both readings)
    "kappa",  # Cohen's kappa (detection: F1)
    "low",
    "high",
    "percent_agreement",
    "reason",  # why kappa (detection: F1) is undefined (None: defined)
    "ci_reason",  # why a defined estimate has no interval (None: it has one)
)
#: Per reader: the cases and lesions compared and, in a ``reference`` or ``candidates``
#: study, the sums of :data:`~napari_uspio.core.study.sources.SOURCE_READER_COLUMNS`.
SOURCE_COLUMNS = ("reader", "cases", "lesions")
#: Long form of every confusion matrix (only non-zero cells need be listed).
CONFUSION_COLUMNS = ("field", "reader_a", "reader_b", "value_a", "value_b", "count")


@dataclass
class StudyAgreement:
    """Agreement tables of a study (columns: the ``*_COLUMNS`` of this module).

    ``lesions`` is the long table of matched lesion groups (``case``, ``item``,
    ``reader``, ``lesion`` (``<NA>``: not detected), the compared rating
    fields); ``patients`` has ``case``, ``reader``, ``lesions`` (count),
    ``group`` (UEL / GEL / NEL or None). ``confusion`` maps
    ``(field, reader_a, reader_b)`` to the confusion matrix (rows reader_a's
    values, columns reader_b's, every category of the vocabulary; also
    ``("patient_group", a, b)``). ``sources`` has one row per reader
    (:data:`SOURCE_COLUMNS`, then the lesion source's counts). ``settings``
    records ``lesion_source``, ``min_dice``, ``n_boot``, ``seed``, ``level``,
    ``readers``, ``cases``, ``n_cases``, ``left_out`` / ``left_out_repeats``
    (readings not done, per reader), ``readers_without_done_reading``,
    ``n_patients`` (the resampled units: :func:`~.bootstrap.patient_of` of
    the cases) and ``bootstrap`` (how the
    intervals were computed, :func:`~.bootstrap.interval_text`).
    """

    readers: list[str]
    lesions: pd.DataFrame
    detection: pd.DataFrame
    voxel_dice: pd.DataFrame
    kappa: pd.DataFrame
    confusion: dict[tuple[str, str, str], pd.DataFrame]
    patients: pd.DataFrame
    patient: pd.DataFrame
    intra: pd.DataFrame
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)
    settings: dict = field(default_factory=dict)

    def confusion_long(self) -> pd.DataFrame:
        """Every confusion matrix in long form (:data:`CONFUSION_COLUMNS`), zero cells too."""
        rows = []
        for (name, a, b), matrix in self.confusion.items():
            for value_a in matrix.index:
                for value_b in matrix.columns:
                    count = int(matrix.loc[value_a, value_b])
                    rows.append((name, a, b, value_a, value_b, count))
        return pd.DataFrame(rows, columns=list(CONFUSION_COLUMNS))
