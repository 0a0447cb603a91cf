"""Inter-reader agreement, GUI-free: lesion matching and agreement statistics.

- :mod:`.matching`: one-to-one lesion matching of two readers by Dice
  (:func:`match_lesions`), consistent groups across three or more readers
  (:func:`group_lesions`), by id in a reference study (:func:`match_by_id`),
  detection agreement and per-case voxel Dice;
- :mod:`.stats`: Cohen's and Fleiss' kappa, percent agreement, confusion
  matrices, ICC (Shrout & Fleiss) and seeded percentile bootstrap intervals, plain
  and clustered (:func:`cluster_bootstrap_ci`: patients resampled, as the study
  statistics do, :mod:`.bootstrap`);
- :mod:`.readings`: a study's done readings per case, lesions grouped across readers;
- :mod:`.study_stats`: :func:`compute_agreement`, every statistic of a study as the
  tables of :class:`~.result.StudyAgreement`; :mod:`.report` writes them (CSV, HTML);
"""

from __future__ import annotations

from .matching import (
    MIN_DICE,
    detection_agreement,
    dice_matrix,
    group_lesions,
    match_by_id,
    match_lesions,
    matched_pairs,
    voxel_dice,
)
from .result import StudyAgreement
from .stats import (
    CI,
    bootstrap_ci,
    cluster_bootstrap_ci,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    icc,
    percent_agreement,
    ratings_table,
)

__all__ = [
    "CI",
    "MIN_DICE",
    "bootstrap_ci",
    "cluster_bootstrap_ci",
    "cohen_kappa",
    "confusion_matrix",
    "detection_agreement",
    "dice_matrix",
    "fleiss_kappa",
    "group_lesions",
    "icc",
    "match_by_id",
    "match_lesions",
    "matched_pairs",
    "percent_agreement",
    "ratings_table",
    "voxel_dice",
    "StudyAgreement",
    "compute_agreement",
]


def __getattr__(name: str):
    if name == "compute_agreement":  # lazy: it loads cases and the study store
        from .study_stats import compute_agreement

        return compute_agreement
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
