"""Writing an analysis: the CSV tables, the figures, the page and the provenance, all or none."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..case import Progress
from ..csvfiles import CONVENTION, write_table
from ..files import atomic_path
from ..provenance import sha256_file, software, to_json
from .hypothesis import MIN_GROUP_SIZE, TESTED_CLASSES
from .page import analysis_html
from .plots import ALPHA, box_points_png
from .result import StudyAnalysis
from .tables import GROUPS, TITLES, class_labels, group_labels, values_by

__all__ = ["ANALYSIS_FILES", "analysis_tables", "write_analysis"]

#: The files of an analysis, by key (the keys of :func:`write_analysis`'s result).
ANALYSIS_FILES: dict[str, str] = {
    "lesions": "lesions.csv",
    "patients": "patients.csv",
    "classes": "classes.csv",
    "groups": "groups.csv",
    "measures": "measures.csv",
    "tests": "tests.csv",
    "pairwise": "pairwise.csv",
    "mtr_plot": "mtr_by_class.png",
    "load_plot": "load_by_group.png",
    "page": "analysis.html",
    "provenance": "provenance.json",
}
#: How each test was run, as recorded in the provenance.
_METHODS = {
    "kruskal_wallis": "scipy.stats.kruskal (H corrected for ties)",
    "pairwise": "scikit_posthocs.posthoc_dscf (Dwass-Steel-Critchlow-Fligner, Steel-Dwass)",
    "fisher": "scipy.stats.fisher_exact (two-sided; statistic: sample odds ratio)",
    "min_group_size": MIN_GROUP_SIZE,
    "tested_classes": list(TESTED_CLASSES),
    "tested_groups": list(GROUPS),
    "sd": "sample SD (ddof 1) of the finite values",
    "figure_alpha": ALPHA,
}


def analysis_tables(analysis: StudyAnalysis) -> dict:
    """The tables written as CSV, by key of :data:`ANALYSIS_FILES`."""
    return {
        "lesions": analysis.lesions,
        "patients": analysis.patients,
        "classes": analysis.classes,
        "groups": analysis.groups,
        "measures": analysis.measures,
        "tests": analysis.tests,
        "pairwise": analysis.pairwise,
    }


def _pairs(analysis: StudyAnalysis, measure: str) -> list[tuple[str, str, float]]:
    part = analysis.pairwise[analysis.pairwise["measure"] == measure]
    return [(r.group_a, r.group_b, float(r.p_value)) for r in part.itertuples(index=False)]


def _figures(analysis: StudyAnalysis) -> dict[str, bytes]:
    """The MTR-by-class and lesion-load-by-group figures."""
    lesions, patients = analysis.lesions, analysis.patients
    mtr = values_by(lesions, class_labels(lesions), "mtr_mean")
    classes = [*TESTED_CLASSES, *(c for c in ("USPIO+/Gd-",) if c in mtr)]
    load = values_by(patients, group_labels(patients), "lesion_load_cm3")
    empty = np.empty(0)
    return {
        "mtr": box_points_png(
            {c: mtr.get(c, empty) for c in classes},
            TITLES["mtr_mean"],
            "Lesion MTR by lesion class",
            _pairs(analysis, "mtr_mean"),
            {c: "not tested" for c in classes if c not in TESTED_CLASSES},
        ),
        "load": box_points_png(
            {g: load.get(g, empty) for g in GROUPS},
            TITLES["lesion_load_cm3"],
            "Lesion load by patient group",
            _pairs(analysis, "lesion_load_cm3"),
        ),
    }


def _provenance(analysis: StudyAnalysis, hashes: dict[str, str]) -> dict:
    return {
        "format": "napari-uspio study analysis",
        "format_version": 1,
        "software": software("matplotlib", "scipy", "scikit_posthocs"),
        "settings": analysis.settings,
        "source": analysis.source,
        "cases": analysis.patients["case"].astype(str).tolist(),
        "methods": _METHODS,
        "csv": CONVENTION,
        "files": hashes,
    }


def write_analysis(
    analysis: StudyAnalysis,
    out_dir: str | Path,
    *,
    title: str = "Study analysis",
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write every file of :data:`ANALYSIS_FILES` into ``out_dir``; return the paths by key.

    Each file goes to a temporary file beside its target first; all are
    renamed only once all are written, so a failed run leaves the previous
    analysis whole. ``progress(k, n, message)`` is called before each step.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in ANALYSIS_FILES.items()}
    tables = analysis_tables(analysis)
    total = len(tables) + 3

    def tell(k: int, message: str) -> None:
        if progress is not None:
            progress(k, total, message)

    with ExitStack() as stack:
        tmp = {key: stack.enter_context(atomic_path(paths[key])) for key in reversed(paths)}
        for k, (key, table) in enumerate(tables.items(), start=1):
            tell(k, f"writing {paths[key].name}")
            write_table(table, tmp[key])
        tell(len(tables) + 1, "drawing the figures")
        images = _figures(analysis)
        tmp["mtr_plot"].write_bytes(images["mtr"])
        tmp["load_plot"].write_bytes(images["load"])
        tell(len(tables) + 2, f"writing {paths['page'].name}")
        tmp["page"].write_text(analysis_html(analysis, images, title), encoding="utf-8")
        tell(total, f"writing {paths['provenance'].name}")
        hashes = {paths[k].name: sha256_file(tmp[k]) for k in paths if k != "provenance"}
        tmp["provenance"].write_text(to_json(_provenance(analysis, hashes)), encoding="utf-8")
    return paths
