"""The analysis of a study's readings: every table, computed from the collected rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .collect import Collected
from .hypothesis import fisher_tests, group_tests
from .tables import class_counts, group_counts, measure_summary

__all__ = ["StudyAnalysis", "analyse"]


@dataclass(frozen=True)
class StudyAnalysis:
    """Every table of an analysis (see :mod:`napari_uspio.core.analysis` for the files)."""

    source: str  # "consensus" or a reader id
    lesions: pd.DataFrame  # the analysed lesions: patient, reading table columns
    patients: pd.DataFrame  # one row per case: patient, summary columns, gm_mtr
    classes: pd.DataFrame  # per lesion class: counts (tables.class_counts)
    groups: pd.DataFrame  # per patient group: counts (tables.group_counts)
    measures: pd.DataFrame  # long: mean, SD, median per class / group and measure
    tests: pd.DataFrame  # Kruskal-Wallis and Fisher's exact rows (hypothesis.TEST_COLUMNS)
    pairwise: pd.DataFrame  # DSCF post hoc rows (hypothesis.PAIRWISE_COLUMNS)
    settings: dict  # study, source, left out, written at
    paths: dict[str, Path] = field(default_factory=dict)  # the files written, by key

    @property
    def repeated_patients(self) -> list[str]:
        """Patients with more than one case (their visits are not independent)."""
        counts = self.patients["patient"].value_counts()
        return sorted(str(p) for p in counts[counts > 1].index)


def analyse(collected: Collected, settings: dict) -> StudyAnalysis:
    """The tables of ``collected`` (``settings``, JSON-ready, recorded as given)."""
    lesions, patients = collected.lesions, collected.patients
    kruskal, pairwise = group_tests(lesions, patients)
    tests = pd.concat([kruskal, fisher_tests(lesions)], ignore_index=True)
    return StudyAnalysis(
        source=collected.source,
        lesions=lesions,
        patients=patients,
        classes=class_counts(lesions),
        groups=group_counts(patients),
        measures=measure_summary(lesions, patients),
        tests=tests,
        pairwise=pairwise,
        settings=dict(settings),
    )
