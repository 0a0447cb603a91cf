"""Writing a report: the CSV tables, the page, and the provenance record, all or none."""

from __future__ import annotations

import math
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from ...case import Progress
from ...csvfiles import CONVENTION, write_table
from ...files import atomic_path
from ...provenance import now_iso, sha256_file, software, to_json
from ..result import StudyAgreement
from .format import PATIENT_GROUP, report_fields
from .page import report_html
from .plots import PUBLISHED_RIM_KAPPA, confusion_grid_png, forest_plot_png

#: The files of a report, by key (the keys of :func:`write_report`'s result).
REPORT_FILES: dict[str, str] = {
    "detection": "detection.csv",
    "voxel_dice": "voxel_dice.csv",
    "kappa": "kappa.csv",
    "confusion": "confusion.csv",
    "patient": "patient.csv",
    "patients": "patients.csv",
    "intra": "intra.csv",
    "sources": "sources.csv",
    "lesions": "lesions.csv",
    "report": "report.html",
    "provenance": "provenance.json",
}
#: Text columns whose ``n/a`` rating is written ``not applicable``, per table.
_NA_COLUMNS = {"lesions": ("overlap",), "confusion": ("value_a", "value_b")}


def report_tables(agreement: StudyAgreement) -> dict[str, pd.DataFrame]:
    """The tables the report writes as CSV, by file stem."""
    return {
        "detection": agreement.detection,
        "voxel_dice": agreement.voxel_dice,
        "kappa": agreement.kappa,
        "confusion": agreement.confusion_long(),
        "patient": agreement.patient,
        "patients": agreement.patients,
        "intra": agreement.intra,
        "sources": agreement.sources,
        "lesions": agreement.lesions,
    }


def _json_safe(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _provenance(agreement: StudyAgreement, hashes: dict[str, str]) -> dict:
    """The provenance record: settings, software, CSV convention, ``hashes`` of the files."""
    return {
        "format": "napari-uspio agreement report",
        "format_version": 1,
        "written_at": now_iso(),
        "software": software("matplotlib"),
        "settings": _json_safe(agreement.settings),
        "readers": list(agreement.readers),
        "published_rim_kappa": PUBLISHED_RIM_KAPPA,
        "csv": CONVENTION,
        "files": hashes,
    }


def write_report(
    agreement: StudyAgreement,
    out_dir: str | Path,
    *,
    progress: Progress | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """Write the agreement tables (CSV), ``report.html`` and ``provenance.json`` into ``out_dir``.

    See the package docstring for the files and their conventions.
    ``progress(k, n, message)`` is called before each step; ``title`` heads
    the page (default: "Inter-reader agreement"). Returns the paths by key
    (:data:`REPORT_FILES`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in REPORT_FILES.items()}
    fields = report_fields(agreement)
    by_field: dict[str, dict[tuple[str, str], pd.DataFrame]] = {}
    for (name, a, b), matrix in agreement.confusion.items():
        by_field.setdefault(name, {})[a, b] = matrix
    tables = report_tables(agreement)
    grids = [f for f in [*fields, PATIENT_GROUP] if f in by_field]
    plots = ["forest", *(f"confusion:{f}" for f in grids)]
    total = len(tables) + len(plots) + 2
    step = 0

    def tell(message: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, total, message)

    with ExitStack() as stack:  # every file to a temporary first; renamed only if all succeed
        tmp = {key: stack.enter_context(atomic_path(paths[key])) for key in reversed(paths)}
        for key, table in tables.items():
            tell(f"writing {paths[key].name}")
            write_table(table, tmp[key], _NA_COLUMNS.get(key))
        images: dict[str, bytes] = {}
        for key in plots:
            if key == "forest":
                tell("drawing the kappa forest plot")
                images[key] = forest_plot_png(agreement.kappa, fields)
            else:
                name = key.split(":", 1)[1]
                tell(f"drawing the confusion matrices of {name}")
                images[key] = confusion_grid_png(name, by_field[name])
        tell(f"writing {paths['report'].name}")
        title = title or "Inter-reader agreement"
        tmp["report"].write_text(report_html(agreement, images, title), encoding="utf-8")
        tell(f"writing {paths['provenance'].name}")
        hashes = {paths[k].name: sha256_file(tmp[k]) for k in REPORT_FILES if k != "provenance"}
        tmp["provenance"].write_text(to_json(_provenance(agreement, hashes)), encoding="utf-8")
    return paths
