"""Patient level: the group (UEL / GEL / NEL), counts per class and pattern, lesion load."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import fields as spec
from .ratings import cell_value, complete, lesion_class


def patient_group(ratings_table: pd.DataFrame) -> str | None:
    """``UEL``, ``GEL``, ``NEL``, or None while unrated lesions could change it.

    ``ratings_table`` has columns ``gd`` and ``uspio`` (one row per lesion);
    NaN counts as unrated. UEL: at least one USPIO+ lesion (decided as soon as
    one is rated USPIO+). GEL: every lesion rated USPIO none and at least one
    Gd+. NEL: every lesion rated none for both agents, or no lesion at all.
    """
    gd = [cell_value(v) for v in ratings_table["gd"]]
    uspio = [cell_value(v) for v in ratings_table["uspio"]]
    if any(u in spec.RATINGS["uspio"].positive for u in uspio):
        return "UEL"
    if any(u is None for u in uspio):
        return None
    if any(g in spec.RATINGS["gd"].positive for g in gd):
        return "GEL"
    if any(g is None for g in gd):
        return None
    return "NEL"


#: Per-class counts of :func:`patient_summary`: key -> class.
CLASS_COUNTS: dict[str, str] = {
    "n_uspio_pos_gd_pos": "USPIO+/Gd+", "n_uspio_neg_gd_pos": "USPIO-/Gd+",
    "n_uspio_neg_gd_neg": "USPIO-/Gd-", "n_uspio_pos_gd_neg": "USPIO+/Gd-",
}  # fmt: skip
#: Per-pattern counts of :func:`patient_summary`: key -> (column, value counted).
PATTERN_COUNTS: dict[str, tuple[str, str]] = {
    "n_gd_nodular": ("gd", "nodular"), "n_gd_shell": ("gd", "shell"),
    "n_uspio_ring": ("uspio", "ring"), "n_uspio_focal": ("uspio", "focal"),
    "n_uspio_iso": ("uspio", "iso"),
    "n_qsm_rim": ("qsm_rim", "present"), "n_central_vein": ("central_vein", "present"),
    "n_overlap_lt20": ("overlap", "<20%"), "n_overlap_20_80": ("overlap", "20-80%"),
    "n_overlap_gt80": ("overlap", ">80%"), "n_black_hole": ("black_hole", "yes"),
}  # fmt: skip
#: Keys of :func:`patient_summary`, in order.
SUMMARY_KEYS: tuple[str, ...] = (
    "group", "n_lesions", "n_rated", *CLASS_COUNTS, *PATTERN_COUNTS, "lesion_load_cm3", "nawm_mtr"
)  # fmt: skip


def patient_summary(table: pd.DataFrame, nawm_mtr: float) -> dict[str, object]:
    """The patient-level summary of a per-lesion table with metrics and ratings.

    ``table`` has one row per lesion, the rating columns (``gd``, ``uspio``,
    ``qsm_rim``, ``central_vein``, ``overlap``, ``black_hole``, ``confidence``;
    None or NaN: unrated) and ``volume_mm3``. Class and completeness are derived
    from the ratings (a ``lesion_class`` or ``rated`` column is not read).
    Returns :data:`SUMMARY_KEYS`: group (:func:`patient_group`), n_lesions,
    n_rated (complete ratings), counts per class and per pattern (unrated
    lesions count in none), lesion_load_cm3 (sum of volume_mm3 / 1000; 0 with
    no lesion) and nawm_mtr (as given).
    """
    cells = {name: [cell_value(v) for v in table[name]] for name in spec.RATINGS.names}
    n = len(table)
    classes = [lesion_class(g, u) for g, u in zip(cells["gd"], cells["uspio"], strict=True)]
    rated = [complete({k: cells[k][i] for k in cells}) for i in range(n)]
    out: dict[str, object] = {"group": patient_group(table), "n_lesions": n}
    out["n_rated"] = int(sum(rated))
    out |= {key: classes.count(cls) for key, cls in CLASS_COUNTS.items()}
    out |= {key: cells[col].count(value) for key, (col, value) in PATTERN_COUNTS.items()}
    volume = np.asarray(table["volume_mm3"], dtype=float)
    out["lesion_load_cm3"] = float(volume.sum() / 1000.0)
    out["nawm_mtr"] = float(nawm_mtr)
    return out
