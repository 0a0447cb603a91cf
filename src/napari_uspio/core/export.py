"""Exports of a reading (tables, label map, provenance) and reopening it.

:func:`export_reading` writes four files into one folder, atomically: each
is written to a temporary file beside its target (``writers.atomic_path``) and
the four are renamed (``os.replace``) only once all are written, so an
interrupted or failed save leaves the previous export whole and no temporary
file behind::

    {case}_{reader}_lesions.csv      one row per lesion (LESION_ID_COLUMNS,
                                     metrics of the live table, RATING_COLUMNS)
    {case}_{reader}_summary.csv      one row: SUMMARY_COLUMNS
    {case}_{reader}_labels.nii.gz    the label map, case's affine and orientation
    {case}_{reader}_provenance.json  software, input SHA-256, shell width,
                                     reader, timestamps, column units

CSV conventions (UTF-8 without BOM, comma-separated, one header row, no index
column, ``lesion`` is a column):

- unrated fields and undefined metrics (NaN) are **empty cells**;
- the not-applicable rating (``n/a`` in the app) is written
  **``not applicable``**, because ``pandas.read_csv`` turns ``n/a`` into NaN
  by default (R's ``read.csv`` would keep it); the other values (``none``,
  ``<20%``, ``USPIO+/Gd-``, ...) are read as text by both;
- ``rated`` is ``True`` / ``False``.

So ``pd.read_csv(path)`` and R ``read.csv(path)`` read every rating as is.
Only free text can trip the default missing-value lists (a comment reading
``NA``, ``None`` or ``null`` becomes NaN; a numeric case code loses leading
zeros). The exact recipe, used by :func:`read_lesions_csv`::

    pd.read_csv(path, keep_default_na=False, na_values=[""],
                dtype={"case": str, "reader": str, "comment": str, ...})

and in R ``read.csv(path, na.strings = "", colClasses = c(comment = "character"),
encoding = "UTF-8")``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from .case import Case
from .measure import read_labels
from .patient import SUMMARY_KEYS, patient_summary
from .ratings import (
    FIELDS,
    NA,
    RATING_COLUMNS,
    Rating,
    RatingError,
    Ratings,
)
from .writers import atomic_path, save_label_map, write_csv

__all__ = [
    "COLUMN_UNITS",
    "LESION_ID_COLUMNS",
    "SUMMARY_COLUMNS",
    "export_paths",
    "export_reading",
    "load_reading",
    "nawm_mtr",
    "read_lesions_csv",
    "reading_table",
    "sha256_file",
]

#: How ``n/a`` is written in the CSV files (survives plain ``pd.read_csv``).
CSV_NOT_APPLICABLE = "not applicable"
#: First columns of the lesion CSV.
LESION_ID_COLUMNS: tuple[str, ...] = ("case", "reader", "lesion")
#: Columns of the summary CSV, in order.
SUMMARY_COLUMNS: tuple[str, ...] = ("case", "reader", *SUMMARY_KEYS, "shell_width_mm")
_NA_FIELDS = ("overlap", "black_hole")
_TEXT_COLUMNS = ("case", "reader", *FIELDS, "lesion_class")
#: Unit (or kind) of every column the exports may hold.
COLUMN_UNITS: dict[str, str] = {
    "case": "text",
    "reader": "text",
    "lesion": "lesion id",
    "voxels": "count",
    "volume_mm3": "mm3",
    "x_mm": "mm (RAS+ world)",
    "y_mm": "mm (RAS+ world)",
    "z_mm": "mm (RAS+ world)",
    "mtr_mean": "fraction, (M0 - Mmt) / M0",
    "mtr_sd": "fraction",
    "qsm_mean_ppb": "ppb",
    "qsm_nawm_ppb": "ppb",
    "qsm_rel_ppb": "ppb (lesion - NAWM shell)",
    "qsm_rim_ppb": "ppb (edge - core)",
    "uspio_enh_pct": "% (T1 enhancement vs NAWM shell)",
    "gd_enh_pct": "% (T1 enhancement vs NAWM shell)",
    "r2star_mean": "1/s",
    "dr2star_mean": "1/s",
    **{name: "category" for name in FIELDS if name != "comment"},
    "comment": "text",
    "lesion_class": "category",
    "rated": "boolean",
    "group": "category",
    **{key: "count" for key in SUMMARY_KEYS if key.startswith("n_")},
    "lesion_load_cm3": "cm3",
    "nawm_mtr": "fraction",
    "shell_width_mm": "mm",
}
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


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
    metrics = [c for c in model_table.columns if c not in (*RATING_COLUMNS, *LESION_ID_COLUMNS)]
    ids = np.asarray(model_table.index, dtype=np.int64)
    rated = ratings.table(ids).reset_index(drop=True)
    columns: dict[str, pd.Series] = {
        "case": pd.Series([str(case_code)] * len(ids), dtype=object),
        "reader": pd.Series([str(reader)] * len(ids), dtype=object),
        "lesion": pd.Series(ids, dtype=np.int64),
    }
    columns |= {name: pd.Series(model_table[name].to_numpy()) for name in metrics}
    columns |= {name: rated[name] for name in RATING_COLUMNS}  # object dtype, None kept
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


def write_reading_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a reading table as a tidy CSV (``n/a`` written ``not applicable``), atomically."""
    return write_csv(_to_csv_values(table), path, index=False)


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
) -> dict[str, Path]:
    """Write the reading's lesion CSV, summary CSV, label map and provenance JSON.

    ``model_table`` must describe ``labels`` (same lesion ids). Every file is
    written to a temporary file beside its target first, and the four are
    renamed over the previous export only when all are written: a failure
    leaves the previous export whole and no temporary file. ``started_at``
    (when the reading began; a naive datetime is local time) and the export
    time are stored in UTC ISO 8601. ``extra_columns`` (index: lesion id) are
    appended to the lesion table (e.g. the consensus status). Returns the
    paths (see :func:`export_paths`).
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
    started = _utc_iso(started_at)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    lesions = reading_table(model_table, ratings, case_code, reader)
    for name in () if extra_columns is None else extra_columns.columns:
        lesions[name] = extra_columns[name].reindex(lesions["lesion"]).to_numpy()
    summary_frame = summary_table(lesions, case, labels, shell_width_mm, case_code, reader)
    with ExitStack() as stack:  # every file to a temporary first; renamed only if all succeed
        # entered in reverse so that the renames run lesions, summary, labels, provenance
        tmp = {key: stack.enter_context(atomic_path(paths[key])) for key in reversed(paths)}
        write_reading_csv(lesions, tmp["lesions"])
        write_csv(summary_frame, tmp["summary"], index=False)
        save_label_map(tmp["labels"], labels, case.grid)
        provenance = _provenance(case, case_code, reader, shell_width_mm, started)
        provenance["outputs"] = {
            key: {"file": paths[key].name, "sha256": sha256_file(tmp[key])}
            for key in ("lesions", "summary", "labels")
        }
        provenance["columns"] = {
            "lesions": {c: COLUMN_UNITS.get(c, "") for c in lesions.columns},
            "summary": {c: COLUMN_UNITS[c] for c in SUMMARY_COLUMNS},
        }
        text = json.dumps(provenance, indent=2, ensure_ascii=False, allow_nan=False)
        tmp["provenance"].write_text(text + "\n", "utf-8")
    return paths


def _provenance(
    case: Case, case_code: str, reader: str, shell_width_mm: float, started: str | None
) -> dict[str, object]:
    out: dict[str, object] = {
        "format": "napari-uspio reading",
        "format_version": 1,
        "case": str(case_code),
        "reader": str(reader),
        "software": _software(),
        "case_folder": str(case.folder) if case.folder else None,
        "inputs": {role: _file_record(vol.path) for role, vol in sorted(case.volumes.items())},
        "shell_width_mm": float(shell_width_mm),
        "started_at": started,
        "exported_at": _utc_iso(datetime.now(UTC)),
        "csv": {
            "unrated_or_undefined": "empty cell",
            "not_applicable": CSV_NOT_APPLICABLE,
            "pandas": 'pd.read_csv(path, keep_default_na=False, na_values=[""])',
            "R": 'read.csv(path, na.strings = "", encoding = "UTF-8")',
        },
    }
    if case.folder and (case.folder / "case.toml").is_file():
        out["manifest"] = _file_record(case.folder / "case.toml")
    return out


def read_lesions_csv(path: str | Path) -> pd.DataFrame:
    """Read a lesion CSV back with in-memory values (``n/a``, None for unrated).

    Text columns stay text (a comment ``NA`` stays ``NA``, a case code
    ``007`` stays ``007``); empty cells are None in rating columns, ``""`` in
    ``comment`` and NaN in metric columns.
    """
    dtype = dict.fromkeys(_TEXT_COLUMNS, str)
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=dtype)
    for name in _TEXT_COLUMNS:
        if name in table:
            values = [None if isinstance(v, float) else v for v in table[name].tolist()]
            if name in _NA_FIELDS:
                values = [NA if v == CSV_NOT_APPLICABLE else v for v in values]
            if name == "comment":
                values = ["" if v is None else v for v in values]
            table[name] = pd.Series(values, index=table.index, dtype=object)
    return table


def load_reading(
    out_dir: str | Path, case: Case, reader: str, case_code: str
) -> tuple[np.ndarray, Ratings]:
    """Reopen an export: the label map ``(z, y, x)`` and the ratings, as saved.

    The label map must lie on the case grid (:func:`measure.read_labels`);
    the ratings are validated as when typed (a hand-edited inconsistent row
    raises :class:`RatingError` naming the file and lesion).
    """
    paths = export_paths(out_dir, case_code, reader)
    for key in ("labels", "lesions"):
        if not paths[key].is_file():
            raise FileNotFoundError(
                f"{paths[key]}: not found; no {key} exported for case {case_code!r} and "
                f"reader {reader!r} in {out_dir}"
            )
    return read_labels(case, paths["labels"]), read_ratings(paths["lesions"])


def read_ratings(path: str | Path) -> Ratings:
    """The ratings held by a lesion CSV, validated as when typed (errors name the file)."""
    table = read_lesions_csv(path)
    missing = [c for c in ("lesion", *FIELDS) if c not in table]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    records: dict[int, Rating | Mapping[str, str | None]] = {}
    for row in table[["lesion", *FIELDS]].itertuples(index=False):
        values = dict(zip(("lesion", *FIELDS), row, strict=True))
        records[int(values.pop("lesion"))] = values
    try:
        return Ratings(records)
    except RatingError as exc:
        raise RatingError(f"{path}: {exc}") from exc


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks of ``chunk_bytes`` (1 MiB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------ internals
def _to_csv_values(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for name in (n for n in _NA_FIELDS if n in out):
        values = [CSV_NOT_APPLICABLE if v == NA else v for v in out[name].tolist()]
        out[name] = pd.Series(values, index=out.index, dtype=object)
    return out


def _file_record(path: Path | None) -> dict[str, object]:
    if path is None:
        return {"file": None, "sha256": None, "bytes": None}
    path = Path(path)
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _software() -> dict[str, str]:
    from napari_uspio import __version__

    return {
        "napari_uspio": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "nibabel": nib.__version__,
        "pandas": pd.__version__,
    }


def _utc_iso(when: datetime | str | None) -> str | None:
    if when is None:
        return None
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return when.astimezone(UTC).isoformat(timespec="seconds")
