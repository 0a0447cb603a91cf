"""Exports of a reading (tables, label map, provenance) and reopening it.

:func:`export_reading` writes four files into one folder, atomically: each
is written to a temporary file beside its target (:func:`.files.atomic_path`)
and the four are renamed (``os.replace``) only once all are written, so an
interrupted or failed save leaves the previous export whole and no temporary
file behind::

    {case}_{reader}_lesions.csv      one row per lesion (LESION_ID_COLUMNS,
                                     metrics of the live table, rating columns)
    {case}_{reader}_summary.csv      one row: SUMMARY_COLUMNS
    {case}_{reader}_labels.nii.gz    the label map, case's affine and orientation
    {case}_{reader}_provenance.json  software, input SHA-256, shell width,
                                     reader, timestamps, column units

The CSV files follow :mod:`.csvfiles` (empty cell: unrated or undefined;
``not applicable`` for ``n/a``); read a lesion CSV back with
:func:`.csvfiles.read_lesions_csv`. Column units and definitions are those of
:data:`.fields.COLUMNS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from . import fields as spec
from .case import Case
from .csvfiles import CONVENTION, read_lesions_csv, write_table
from .files import atomic_path
from .patient import SUMMARY_KEYS, patient_summary
from .provenance import file_record, now_iso, sha256_file, software, to_json, utc_iso
from .ratings import Rating, RatingError, Ratings, rating_columns
from .volume import LabelMap

__all__ = [
    "LESION_ID_COLUMNS",
    "SUMMARY_COLUMNS",
    "ReadingExport",
    "export_paths",
    "export_reading",
    "load_reading",
    "nawm_mtr",
    "read_ratings",
    "reading_table",
    "summary_table",
]

#: First columns of the lesion CSV.
LESION_ID_COLUMNS: tuple[str, ...] = ("case", "reader", "lesion")
#: Columns of the summary CSV, in order.
SUMMARY_COLUMNS: tuple[str, ...] = ("case", "reader", *SUMMARY_KEYS, "shell_width_mm")
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


@dataclass(frozen=True)
class ReadingExport:
    """What :func:`export_reading` wrote: the paths by key and the two tables."""

    paths: dict[str, Path]  # keys lesions, summary, labels, provenance
    lesions: pd.DataFrame  # the lesion table (in-memory values: ``n/a``, None)
    summary: pd.DataFrame  # the one-row patient summary


def nawm_mtr(case: Case, labels: np.ndarray) -> float:
    """Mean MTR of the normal-appearing white matter, NaN-aware.

    NAWM: voxels inside the case's white-matter mask (role ``wm_mask``) and
    outside every lesion (``labels == 0``). NaN when the case has no MTR (no
    ``mtr`` nor ``m0`` + ``mmt``), no white-matter mask, or no valid voxel.
    """
    wm = case.wm_mask
    if wm is None or "mtr" not in case:
        return float("nan")
    labels = np.asarray(labels)
    if labels.shape != wm.shape:
        raise ValueError(f"labels have shape {labels.shape}, the case grid {wm.shape}")
    values = case["mtr"][wm & (labels == 0)]
    values = values[~np.isnan(values)]
    return float(values.mean(dtype=np.float64)) if values.size else float("nan")


def reading_table(
    model_table: pd.DataFrame, ratings: Ratings, case_code: str, reader: str
) -> pd.DataFrame:
    """The lesion table of a reading: case, reader, lesion, metrics, ratings, class.

    ``model_table`` is the live table (index ``lesion``; e.g.
    ``model.table()``); rating columns it may already hold are replaced by
    those of ``ratings``. In-memory values (``n/a``, None for unrated).
    """
    ratings_columns = rating_columns()
    metrics = [c for c in model_table.columns if c not in (*ratings_columns, *LESION_ID_COLUMNS)]
    ids = np.asarray(model_table.index, dtype=np.int64)
    rated = ratings.table(ids).reset_index(drop=True)
    columns: dict[str, pd.Series] = {
        "case": pd.Series([str(case_code)] * len(ids), dtype=object),
        "reader": pd.Series([str(reader)] * len(ids), dtype=object),
        "lesion": pd.Series(ids, dtype=np.int64),
    }
    columns |= {name: pd.Series(model_table[name].to_numpy()) for name in metrics}
    columns |= {name: rated[name] for name in ratings_columns}  # object dtype, None kept
    return pd.DataFrame(columns)


def summary_table(
    lesions: pd.DataFrame,
    case: Case,
    labels: np.ndarray,
    shell_width_mm: float,
    case_code: str | None = None,
    reader: str | None = None,
) -> pd.DataFrame:
    """The one-row patient summary of a reading table (see :func:`reading_table`).

    ``case`` and ``reader`` columns: ``case_code`` and ``reader`` if given, else
    those of the first lesion (``""`` for a reading without lesions).
    """
    summary = patient_summary(lesions, nawm_mtr(case, labels))
    first = lesions.iloc[0] if len(lesions) else {"case": "", "reader": ""}
    row = {
        "case": str(first["case"] if case_code is None else case_code),
        "reader": str(first["reader"] if reader is None else reader),
    } | summary
    row["shell_width_mm"] = float(shell_width_mm)
    return pd.DataFrame([row], columns=list(SUMMARY_COLUMNS))


def export_paths(out_dir: str | Path, case_code: str, reader: str) -> dict[str, Path]:
    """The four export paths (keys lesions, summary, labels, provenance)."""
    for what, value in (("case code", str(case_code)), ("reader", str(reader))):
        if not value.strip() or _UNSAFE.search(value) or value[0] == ".":
            raise ValueError(
                f"{what} {value!r} cannot be part of a file name; use letters, digits, "
                "'-', '_' or '.' (not first), without / \\ : * ? \" < > |"
            )
    stem = Path(out_dir) / f"{case_code}_{reader}"
    return {
        "lesions": Path(f"{stem}_lesions.csv"),
        "summary": Path(f"{stem}_summary.csv"),
        "labels": Path(f"{stem}_labels.nii.gz"),
        "provenance": Path(f"{stem}_provenance.json"),
    }


def export_reading(
    out_dir: str | Path,
    case: Case,
    labels: np.ndarray,
    model_table: pd.DataFrame,
    ratings: Ratings,
    reader: str,
    case_code: str,
    shell_width_mm: float,
    started_at: datetime | str | None = None,
    extra_columns: pd.DataFrame | None = None,
) -> ReadingExport:
    """Write the reading's lesion CSV, summary CSV, label map and provenance JSON.

    ``model_table`` must describe ``labels`` (same lesion ids). Every file is
    written to a temporary file beside its target first, and the four are
    renamed over the previous export only when all are written: a failure
    leaves the previous export whole and no temporary file. ``started_at``
    (when the reading began; a naive datetime is local time) and the export
    time are stored in UTC ISO 8601. ``extra_columns`` (index: lesion id) are
    appended to the lesion table (e.g. the consensus status). Returns the
    paths (see :func:`export_paths`) and the two tables as written.
    """
    paths = export_paths(out_dir, case_code, reader)
    labels = np.asarray(labels)
    if labels.shape != case.grid.shape:
        raise ValueError(f"labels have shape {labels.shape}, the case grid {case.grid.shape}")
    present = np.sort(pd.unique(labels.ravel()))
    present = present[present != 0].astype(np.int64)
    table_ids = np.sort(np.asarray(model_table.index, dtype=np.int64))
    if not np.array_equal(present, table_ids):
        missing = sorted(set(present.tolist()) ^ set(table_ids.tolist()))[:10]
        raise ValueError(
            f"the lesion table does not describe this label map (ids differ: {missing}); "
            "pass the live table of these labels"
        )
    started = utc_iso(started_at)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    lesions = reading_table(model_table, ratings, case_code, reader)
    for name in () if extra_columns is None else extra_columns.columns:
        lesions[name] = extra_columns[name].reindex(lesions["lesion"]).to_numpy()
    summary = summary_table(lesions, case, labels, shell_width_mm, case_code, reader)
    with ExitStack() as stack:  # every file to a temporary first; renamed only if all succeed
        # entered in reverse so that the renames run lesions, summary, labels, provenance
        tmp = {key: stack.enter_context(atomic_path(paths[key])) for key in reversed(paths)}
        write_table(lesions, tmp["lesions"])
        write_table(summary, tmp["summary"])
        LabelMap("lesions", labels, case.grid).to_file(tmp["labels"])
        provenance = _provenance(case, case_code, reader, shell_width_mm, started)
        provenance["outputs"] = {
            key: {"file": paths[key].name, "sha256": sha256_file(tmp[key])}
            for key in ("lesions", "summary", "labels")
        }
        provenance["columns"] = {
            "lesions": {c: spec.column(c).unit_text for c in lesions.columns},
            "summary": {c: spec.column(c).unit_text for c in SUMMARY_COLUMNS},
        }
        to_json(provenance, tmp["provenance"])
    return ReadingExport(paths, lesions, summary)


def _provenance(
    case: Case, case_code: str, reader: str, shell_width_mm: float, started: str | None
) -> dict[str, object]:
    out: dict[str, object] = {
        "format": "napari-uspio reading",
        "format_version": 1,
        "case": str(case_code),
        "reader": str(reader),
        "software": software(),
        "case_folder": str(case.folder) if case.folder else None,
        "inputs": {role: file_record(vol.path) for role, vol in sorted(case.volumes.items())},
        "shell_width_mm": float(shell_width_mm),
        "started_at": started,
        "exported_at": now_iso(),
        "csv": CONVENTION,
    }
    if case.folder and (case.folder / "case.toml").is_file():
        out["manifest"] = file_record(case.folder / "case.toml")
    return out


def load_reading(
    out_dir: str | Path, case: Case, reader: str, case_code: str
) -> tuple[np.ndarray, Ratings]:
    """Reopen an export: the label map ``(z, y, x)`` and the ratings, as saved.

    The label map must lie on the case grid (:meth:`Case.read_labels`); the
    ratings are validated as when typed (a hand-edited inconsistent row
    raises :class:`RatingError` naming the file and lesion).
    """
    paths = export_paths(out_dir, case_code, reader)
    for key in ("labels", "lesions"):
        if not paths[key].is_file():
            raise FileNotFoundError(
                f"{paths[key]}: not found; no {key} exported for case {case_code!r} and "
                f"reader {reader!r} in {out_dir}"
            )
    return case.read_labels(paths["labels"]).data, read_ratings(paths["lesions"])


def read_ratings(path: str | Path) -> Ratings:
    """The ratings held by a lesion CSV, validated as when typed (errors name the file)."""
    table = read_lesions_csv(path)
    names = spec.RATINGS.columns
    missing = [c for c in ("lesion", *names) if c not in table]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    records: dict[int, Rating | Mapping[str, str | None]] = {}
    for row in table[["lesion", *names]].itertuples(index=False):
        values = dict(zip(("lesion", *names), row, strict=True))
        records[int(values.pop("lesion"))] = values
    try:
        return Ratings(records)
    except RatingError as exc:
        raise RatingError(f"{path}: {exc}") from exc
