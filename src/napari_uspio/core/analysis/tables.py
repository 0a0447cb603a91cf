"""The descriptive tables: lesions per class, patients per group, measures as mean ± SD.

Lesions are grouped by their class (:data:`napari_uspio.core.fields.CLASSES`,
``unrated`` while Gd or USPIO is unrated), patients (one row per case) by their
group (``UEL``, ``GEL``, ``NEL``; ``undetermined`` while unrated lesions could
change it, see :func:`napari_uspio.core.patient.patient_group`). Means and
sample SDs (ddof 1) are over the finite values (a lesion without MTR, a case
without a ``gm_mask``, has none): ``n`` says how many.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import fields as spec
from ..patient import CLASS_COUNTS, PATTERN_COUNTS

__all__ = [
    "ALL",
    "GROUPS",
    "LESION_MEASURES",
    "PATIENT_MEASURES",
    "TITLES",
    "UNDETERMINED",
    "UNRATED",
    "class_counts",
    "group_counts",
    "group_labels",
    "measure_summary",
    "class_labels",
    "values_by",
]

#: Lesion measures compared between classes: MTR, NAWM-referenced susceptibility, volume.
LESION_MEASURES: tuple[str, ...] = ("mtr_mean", "qsm_rel_ppb", "volume_mm3")
#: Patient measures compared between groups: lesion load, NAWM MTR, GM MTR.
PATIENT_MEASURES: tuple[str, ...] = ("lesion_load_cm3", "nawm_mtr", "gm_mtr")
#: How each measure is titled on the page and the figures.
TITLES: dict[str, str] = {
    "mtr_mean": "MTR",
    "qsm_rel_ppb": "susceptibility vs NAWM (ppb)",
    "volume_mm3": "volume (mm³)",
    "lesion_load_cm3": "lesion load (cm³)",
    "nawm_mtr": "NAWM MTR",
    "gm_mtr": "GM MTR",
}
#: Patient groups, in the order of seed 000.
GROUPS: tuple[str, ...] = tuple(c.value for c in spec.PATIENT_GROUP.choices)
#: The label of a lesion whose class is not known yet, of a patient whose group is not.
UNRATED, UNDETERMINED = "unrated", "undetermined"
#: The label of the row over every lesion or patient.
ALL = "all"


def class_labels(lesions: pd.DataFrame) -> pd.Series:
    """The class of every lesion row, ``unrated`` where it has none."""
    return lesions["lesion_class"].map(lambda c: c if isinstance(c, str) else UNRATED)


def group_labels(patients: pd.DataFrame) -> pd.Series:
    """The group of every patient row, ``undetermined`` where it has none."""
    return patients["group"].map(lambda g: g if isinstance(g, str) else UNDETERMINED)


def _order(declared: tuple[str, ...], other: str, present: pd.Series) -> list[str]:
    """The declared labels, then ``other`` if present (the table rows)."""
    return [*declared, *([other] if (present == other).any() else [])]


def values_by(table: pd.DataFrame, labels: pd.Series, measure: str) -> dict[str, np.ndarray]:
    """Label -> the finite values of ``measure`` (float), for every label present."""
    column = table[measure] if measure in table else pd.Series(np.nan, index=table.index)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(values)
    label = labels.to_numpy()
    return {str(g): values[keep & (label == g)] for g in pd.unique(label)}


def _describe(values: np.ndarray) -> dict[str, float | int]:
    return {
        "n": int(values.size),
        "mean": float(values.mean()) if values.size else np.nan,
        "sd": float(values.std(ddof=1)) if values.size > 1 else np.nan,
        "median": float(np.median(values)) if values.size else np.nan,
    }


def measure_summary(lesions: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Long table: per lesion class and per patient group, each measure's n, mean, SD, median.

    Columns ``unit`` (lesion / patient), ``group``, ``measure``, ``unit_of_measure``,
    ``n``, ``mean``, ``sd``, ``median``; a row ``all`` per measure.
    """
    rows = []
    parts = (
        ("lesion", lesions, class_labels(lesions), spec.CLASSES, UNRATED, LESION_MEASURES),
        ("patient", patients, group_labels(patients), GROUPS, UNDETERMINED, PATIENT_MEASURES),
    )
    for unit, table, labels, declared, other, measures in parts:
        for measure in measures:
            found = values_by(table, labels, measure)
            every = np.concatenate([np.empty(0), *found.values()])
            for group in [*_order(declared, other, labels), ALL]:
                values = every if group == ALL else found.get(group, np.empty(0))
                rows.append(
                    {
                        "unit": unit,
                        "group": group,
                        "measure": measure,
                        "unit_of_measure": spec.column(measure).unit,
                        **_describe(values),
                    }
                )
    return pd.DataFrame(rows)


def class_counts(lesions: pd.DataFrame) -> pd.DataFrame:
    """Per lesion class: lesions, patients with such a lesion, and the pattern counts.

    Pattern counts are those of the patient summary
    (:data:`napari_uspio.core.patient.PATTERN_COUNTS`: Gd nodular / shell, USPIO
    ring / focal / iso, QSM rim, central vein, overlap grades, black hole); a row
    ``all`` sums every lesion.
    """
    labels = class_labels(lesions)
    rows = []
    for group in [*_order(spec.CLASSES, UNRATED, labels), ALL]:
        part = lesions if group == ALL else lesions[labels == group]
        row: dict[str, object] = {
            "lesion_class": group,
            "n_lesions": len(part),
            "n_patients": int(part["patient"].nunique()),
        }
        row |= {key: int((part[c] == v).sum()) for key, (c, v) in PATTERN_COUNTS.items()}
        rows.append(row)
    return pd.DataFrame(rows)


def group_counts(patients: pd.DataFrame) -> pd.DataFrame:
    """Per patient group: cases, distinct patients, lesions and lesions per class."""
    labels = group_labels(patients)
    rows = []
    for group in [*_order(GROUPS, UNDETERMINED, labels), ALL]:
        part = patients if group == ALL else patients[labels == group]
        row: dict[str, object] = {
            "group": group,
            "n_cases": len(part),
            "n_patients": int(part["patient"].nunique()),
            "n_lesions": int(part["n_lesions"].sum()),
        }
        row |= {key: int(part[key].sum()) for key in CLASS_COUNTS}
        rows.append(row)
    return pd.DataFrame(rows)
