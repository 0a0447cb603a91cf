"""Export a study: every reader's readings as tables, masks and provenance.

:func:`export_study` writes, for every reading a reader has opened (status
``open`` or ``done``; readings never opened are listed in the orders only)::

    OUT/lesions.csv                 every lesion of every reading (reader column)
    OUT/summary.csv                 one patient summary per reading
    OUT/orders.csv                  every reader's order: position, case, code, repeat,
                                    status, seconds, opened / done times
    OUT/audit.csv                   the audit log
    OUT/provenance.json             seed, settings, readers, the order each reader saw
                                    (and whether it is reproduced from the seed), software,
                                    and the SHA-256 of every file written
    OUT/readers/<reader>/lesions.csv, summary.csv          the same, one reader
    OUT/readers/<reader>/cases/<reading>_<reader>_*       per reading, by
        :func:`napari_uspio.core.export.export_reading`: lesion and summary
        CSV, label map (NIfTI on the case grid) and provenance JSON

``<reading>`` is the case id, and ``<case id>_repeat`` for the repeated
reading. Tables are those of :func:`~napari_uspio.core.export.reading_table`
and :func:`~napari_uspio.core.export.summary_table` (``case`` is the case
id), with the study columns ``code`` (shown to the reader), ``repeat``,
``status`` and ``reading_s`` (seconds spent on the lesion, or on the case in
the summary) at the end, after the columns of the study's lesion source
(:data:`~.sources.SOURCE_LESION_COLUMNS`, :data:`~.sources.SOURCE_SUMMARY_COLUMNS`). The CSV
conventions are those of the single reading export (read them with
:func:`~napari_uspio.core.export.read_lesions_csv`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..case import Case, load_case
from ..csvfiles import write_table
from ..export import LESION_ID_COLUMNS, SUMMARY_COLUMNS, export_reading
from ..lesions import lesion_model
from ..provenance import file_hashes, now_iso, sha256_file, software, to_json
from ..ratings import Ratings, rating_columns
from .manifest import Study, load_study
from .sources import source_columns
from .store import StudyStore

__all__ = ["concat_rows", "export_study"]

_STUDY_COLUMNS = ("code", "repeat", "status", "reading_s")
_ORDER_COLUMNS = (
    "reader",
    "role",
    "position",
    "case",
    "code",
    "repeat",
    "status",
    "seconds_spent",
    "opened_at",
    "done_at",
)


def export_study(
    study_dir: str | Path, out_dir: str | Path, readers: Iterable[str] | None = None
) -> dict[str, Path]:
    """Write the study export into ``out_dir`` (see the module docstring).

    ``readers`` limits the export to some readers (default: all). Each case
    is loaded once, for all its readings. Returns the combined files by name.
    """
    study = load_study(study_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with study.open_store() as store:
        ids = list(store.readers()) if readers is None else [study.reader(r).id for r in readers]
        orders = {r: store.order(r) for r in ids}
        states = {r: {e.code: store.case_state(r, e.code) for e in orders[r]} for r in ids}
        files: list[Path] = []
        lesions: dict[str, list[pd.DataFrame]] = {r: [] for r in ids}
        summaries: dict[str, list[pd.DataFrame]] = {r: [] for r in ids}
        for case_id in study.cases:
            readings = [
                (r, entry)
                for r in ids
                for entry in orders[r]
                if entry.case_id == case_id and states[r][entry.code].status != "new"
            ]
            if not readings:
                continue
            case = load_case(study.case_folder(case_id))
            for reader, entry in readings:
                table, summary, paths = _export_reading(
                    out / "readers" / reader / "cases",
                    study,
                    store,
                    case,
                    reader,
                    entry,
                    states[reader][entry.code],
                )
                files += paths
                lesions[reader].append(table)
                summaries[reader].append(summary)
        audit = pd.DataFrame([a.__dict__ for a in store.audit_log()])
        store.record("export", detail=str(out.resolve()))
    written: dict[str, Path] = {}
    for reader in ids:
        folder = out / "readers" / reader
        folder.mkdir(parents=True, exist_ok=True)
        files.append(
            write_table(_concat(lesions[reader], _lesion_columns()), folder / "lesions.csv")
        )
        files.append(
            write_table(_concat(summaries[reader], SUMMARY_COLUMNS), folder / "summary.csv")
        )
    all_lesions = [t for r in ids for t in lesions[r]]
    written["lesions"] = write_table(_concat(all_lesions, _lesion_columns()), out / "lesions.csv")
    all_summaries = [t for r in ids for t in summaries[r]]
    written["summary"] = write_table(_concat(all_summaries, SUMMARY_COLUMNS), out / "summary.csv")
    written["orders"] = write_table(_orders_table(study, orders, states), out / "orders.csv")
    written["audit"] = write_table(audit, out / "audit.csv")
    provenance = _provenance(study, orders, states, out, [*files, *written.values()])
    written["provenance"] = out / "provenance.json"
    to_json(provenance, written["provenance"])
    return written


def _lesion_columns() -> tuple[str, ...]:
    return (*LESION_ID_COLUMNS, *rating_columns())


def _export_reading(folder, study: Study, store: StudyStore, case: Case, reader, entry, state):
    """Export one reading with ``export_reading``; return its lesion and summary rows."""
    labels = store.labels(reader, entry.code, case.grid.shape, np.int32)
    model = lesion_model(case, labels, study.shell_width_mm)
    table = model.table()
    ratings = Ratings(store.ratings(reader, entry.code))
    name = f"{entry.case_id}_repeat" if entry.repeat else entry.case_id
    written = export_reading(
        folder,
        case,
        labels,
        table,
        ratings,
        reader,
        name,
        study.shell_width_mm,
        started_at=state.opened_at,
    )
    # the study tables name the case by its id (the files by the reading's name)
    lesions = written.lesions.assign(case=entry.case_id)
    summary = written.summary.assign(case=entry.case_id)
    times = store.lesion_times(reader, entry.code)
    seconds = [times.get(int(i), 0.0) for i in lesions["lesion"]]
    extra = source_columns(
        study.lesion_source, store, reader, entry.code, case, labels, lesions["lesion"]
    )
    for frame, columns in zip((lesions, summary), extra, strict=True):
        for column, values in columns.items():
            frame[column] = values
    for frame, secs in ((lesions, seconds), (summary, [state.seconds_spent])):
        frame["code"] = entry.code
        frame["repeat"] = bool(entry.repeat)
        frame["status"] = state.status
        frame["reading_s"] = np.asarray(secs, dtype=float)
    return lesions, summary, list(written.paths.values())


def _concat(frames: list[pd.DataFrame], first: tuple[str, ...]) -> pd.DataFrame:
    """Rows of every frame (see :func:`concat_rows`); with no row, ``first`` + study columns."""
    return concat_rows(frames, (*first, *_STUDY_COLUMNS))


def concat_rows(frames: list[pd.DataFrame], empty_columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows of every frame; columns in first-seen order (cases may measure other maps).

    Values are kept as they are (None stays None). With no row, the columns are
    ``empty_columns`` (a header-only CSV).
    """
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(empty_columns))
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    rows = [row for f in frames for row in f.to_dict("records")]
    return pd.DataFrame.from_records(rows, columns=columns)


def _orders_table(study: Study, orders, states) -> pd.DataFrame:
    roles = {r.id: r.role for r in study.readers}
    rows = []
    for reader, order in orders.items():
        for position, entry in enumerate(order, start=1):
            state = states[reader][entry.code]
            rows.append(
                (
                    reader,
                    roles.get(reader, ""),
                    position,
                    entry.case_id,
                    entry.code,
                    entry.repeat,
                    state.status,
                    state.seconds_spent,
                    state.opened_at,
                    state.done_at,
                )
            )
    return pd.DataFrame(rows, columns=list(_ORDER_COLUMNS))


def _provenance(study: Study, orders, states, out: Path, files: list[Path]) -> dict:
    readers = {}
    for reader, order in orders.items():
        role = study.reader(reader).role
        readers[reader] = {
            "role": role,
            "order_reproduced_from_seed": study.order(reader) == order,
            "order": [
                {
                    "position": i,
                    "case": e.case_id,
                    "code": e.code,
                    "repeat": e.repeat,
                    "status": states[reader][e.code].status,
                }
                for i, e in enumerate(order, start=1)
            ],
        }
    return {
        "format": "napari-uspio study export",
        "format_version": 1,
        "exported_at": now_iso(),
        "software": software(),
        "study": {
            "folder": str(study.folder),
            "manifest_sha256": sha256_file(study.manifest_path),
            "seed": study.seed,
            "shell_width_mm": study.shell_width_mm,
            "repeat_fraction": study.repeat_fraction,
            "shown_roles": list(study.shown_roles),
            "lesions": study.lesion_source,
            "reference_editable": study.reference_editable,
            "created_at": study.created_at,
            "cases": {cid: str(study.case_folder(cid)) for cid in study.cases},
        },
        "order_recipe": (
            "napari_uspio.core.study.order.reading_order(case ids, reader, seed, "
            "repeat_fraction); adjudicators: repeat_fraction 0"
        ),
        "readers": readers,
        "files": file_hashes(out, files),
    }
