"""The consensus export: the adjudicated consensus of every ready case.

Items and proposal: :mod:`.items`; the queue and the consensus reading of each
case: :mod:`.queue`. :func:`export_consensus` writes, in the formats of the reader exports::

    OUT/lesions.csv             every consensus lesion of every case, with the columns
                                ``consensus`` (agreed | adjudicated | pending),
                                ``item`` and ``readers_detected`` ("2 of 3")
    OUT/summary.csv             one patient summary per case
    OUT/adjudication_log.csv    every item: status, what was disputed, each reader's
                                lesion id and letter, decision, rationale, final rating
    OUT/provenance.json         software, study, adjudicator, SHA-256 of every file
    OUT/cases/<case>_consensus_*  per case: lesion and summary CSV, label map, provenance

A case with a pending item is refused unless ``partial=True`` (then its
pending items are exported with their proposal and ``consensus`` =
``pending``). An item whose mask or rating was changed after its decision is
pending again. Cases not ready are listed in the provenance and left out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..agreement.readings import CaseReadings, case_readings, done_readings
from ..case import load_case
from ..csvfiles import write_table
from ..export import LESION_ID_COLUMNS, SUMMARY_COLUMNS, export_reading
from ..lesions import lesion_model
from ..provenance import file_hashes, software, to_json
from ..ratings import rating_columns
from ..study.export import concat_rows
from ..study.manifest import load_study
from ..study.records import StudyError
from .queue import CaseAdjudication, adjudication_queue, adjudicator_of, consensus_labels

__all__ = ["export_consensus"]

READER = "consensus"  # the "reader" name of the consensus files
_EXTRA = ("consensus", "item", "readers_detected")
#: Columns of adjudication_log.csv (``lesion_<reader>`` follow ``disputed``, one per reader).
_LOG_COLUMNS = (
    "case", "code", "item", "status", "disputed", "letters", "adjudicator", "decision",
    "rationale", "final_rating", "decided_at",
)  # fmt: skip


def _extra_columns(ca: CaseAdjudication, ids: np.ndarray, n_readers: int) -> pd.DataFrame:
    by_number = {i.item: i for i in ca.items}
    rows = []
    for lesion in ids:
        item = by_number.get(int(lesion))
        if item is None:  # painted by the adjudicator outside any item
            rows.append(("adjudicated", None, f"0 of {n_readers}"))
        else:
            rows.append((ca.status(item), item.item, f"{len(item.detected_by)} of {n_readers}"))
    frame = pd.DataFrame(rows, columns=list(_EXTRA), index=ids)
    frame["item"] = frame["item"].astype("Int64")
    return frame


def _log_rows(ca: CaseAdjudication, cr: CaseReadings, adjudicator: str) -> list[dict]:
    rows = []
    letters = "; ".join(f"{ca.letters[r]}={r}" for r in sorted(ca.letters, key=ca.letters.get))
    for item in ca.items:
        decision = ca.decisions.get(item.item)
        row = {
            "case": ca.case_id,
            "code": ca.code,
            "item": item.item,
            "status": ca.status(item),
            "disputed": item.describe(),
            **{f"lesion_{r}": item.lesions[r] for r in cr.readers},
            "letters": letters,
            "adjudicator": adjudicator if decision else None,
            "decision": decision.decision if decision else None,
            "rationale": decision.rationale if decision else None,
            "final_rating": "; ".join(f"{k}={v}" for k, v in decision.rating.items())
            if decision
            else None,
            "decided_at": decision.decided_at if decision else None,
        }
        rows.append(row)
    return rows


def _log_table(rows: list[dict]) -> pd.DataFrame:
    if not rows:  # a header-only CSV
        return pd.DataFrame(columns=list(_LOG_COLUMNS))
    log = pd.DataFrame(rows)
    for name in [c for c in log.columns if c.startswith("lesion_")]:
        log[name] = log[name].astype("Int64")  # None: not detected by that reader
    return log


def export_consensus(
    study_dir: str | Path,
    out_dir: str | Path,
    adjudicator: str | None = None,
    *,
    partial: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Path]:
    """Write the consensus export (see the module docstring); return the combined files."""
    study = load_study(study_dir)
    out = Path(out_dir)
    with study.open_store() as store:
        adjudicator = adjudicator_of(study, adjudicator)
        ready, waiting = adjudication_queue(study, store, adjudicator, progress)
        pending = {ca.code: len(ca.pending) for ca in ready if ca.pending}
        if pending and not partial:
            listed = ", ".join(f"{code} ({n})" for code, n in pending.items())
            raise StudyError(
                f"{sum(pending.values())} disputed item(s) are not adjudicated yet, in cases "
                f"{listed}. Fix: adjudicate them, or export a partial consensus (--partial)."
            )
        done = done_readings(store)
        lesions, summaries, logs, files = [], [], [], []
        for ca in ready:
            # the queue kept items and decisions, not the readers' maps (memory): read again
            cr = case_readings(study, store, ca.case_id, done, load_images=False)
            labels, ratings = consensus_labels(store, adjudicator, ca, cr)
            case = load_case(study.case_folder(ca.case_id))
            table = lesion_model(case, labels, study.shell_width_mm).table()
            extra = _extra_columns(ca, np.asarray(table.index), len(cr.readers))
            written = export_reading(
                out / "cases", case, labels, table, ratings, READER, ca.case_id,
                study.shell_width_mm, extra_columns=extra,
            )  # fmt: skip
            files += written.paths.values()
            lesions.append(written.lesions)
            summaries.append(written.summary)
            logs += _log_rows(ca, cr, adjudicator)
        store.record("consensus export", adjudicator, None, str(out.resolve()))
    empty = (*LESION_ID_COLUMNS, *rating_columns(), *_EXTRA)
    written = {
        "lesions": write_table(concat_rows(lesions, empty), out / "lesions.csv"),
        "summary": write_table(concat_rows(summaries, SUMMARY_COLUMNS), out / "summary.csv"),
        "adjudication_log": write_table(_log_table(logs), out / "adjudication_log.csv"),
    }
    provenance = {
        "format": "napari-uspio consensus export",
        "format_version": 1,
        "software": software(),
        "study": {"folder": str(study.folder), "seed": study.seed},
        "adjudicator": adjudicator,
        "cases": [ca.case_id for ca in ready],
        "cases_not_ready": len(waiting),
        "partial": bool(partial),
        "pending_items": sum(pending.values()),
        "files": file_hashes(out, [*files, *written.values()]),
    }
    written["provenance"] = out / "provenance.json"
    to_json(provenance, written["provenance"])
    return written
