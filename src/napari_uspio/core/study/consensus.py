"""The adjudicator's queue, the consensus of each case, and the consensus export.

Method: :mod:`napari_uspio.core.agreement.adjudication`. A case is *ready*
for adjudication once every reader has marked it done. The adjudicator's
reading of a case (their code, their label map and ratings in the store)
starts as the proposal (:func:`open_consensus` writes it once, journaled like
strokes) and is edited like any reading; disputed items are settled with
:meth:`~.store.StudyStore.resolve_item` (rationale required).

:func:`export_consensus` writes, in the formats of the reader exports::

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

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..agreement.adjudication import Item, case_items, proposal, reader_letters
from ..agreement.readings import CaseReadings, case_readings, done_readings
from ..case import load_case
from ..export import (
    LESION_ID_COLUMNS,
    SUMMARY_COLUMNS,
    _software,
    export_reading,
    reading_table,
    sha256_file,
    summary_table,
    write_reading_csv,
)
from ..measure import lesion_model
from ..ratings import RATING_COLUMNS, Ratings
from ..writers import atomic_path, write_csv
from .adjudications import Adjudication
from .export import concat_rows
from .manifest import Study, load_study
from .schema import StudyError
from .store import StudyStore

__all__ = ["CaseAdjudication", "adjudication_queue", "export_consensus", "open_consensus"]

READER = "consensus"  # the "reader" name of the consensus files
_EXTRA = ("consensus", "item", "readers_detected")
#: Columns of adjudication_log.csv (``lesion_<reader>`` follow ``disputed``, one per reader).
_LOG_COLUMNS = (
    "case", "code", "item", "status", "disputed", "letters", "adjudicator", "decision",
    "rationale", "final_rating", "decided_at",
)  # fmt: skip


@dataclass
class CaseAdjudication:
    """One ready case as the adjudicator sees it: code, items, letters, decisions."""

    case_id: str
    code: str  # the adjudicator's code of the case
    items: list[Item]
    letters: dict[str, str]  # reader -> letter
    decisions: dict[int, Adjudication] = field(default_factory=dict)

    def status(self, item: Item) -> str:
        """``agreed``, ``adjudicated`` or ``pending``."""
        if item.agreed:
            return "agreed"
        return "adjudicated" if item.item in self.decisions else "pending"

    @property
    def disputed(self) -> list[Item]:
        """Items needing the adjudicator, agreed ones left out."""
        return [i for i in self.items if not i.agreed]

    @property
    def pending(self) -> list[Item]:
        """Disputed items not decided yet."""
        return [i for i in self.disputed if i.item not in self.decisions]


def adjudicator_of(study: Study, adjudicator: str | None) -> str:
    """The given adjudicator (checked) or the study's only one."""
    if adjudicator is not None:
        if study.reader(adjudicator).role != "adjudicator":
            raise StudyError(f"{adjudicator!r} is a reader, not an adjudicator of this study")
        return adjudicator
    found = [r.id for r in study.readers if r.role == "adjudicator"]
    if len(found) != 1:
        raise StudyError(
            f"the study has {len(found)} adjudicators ({', '.join(found) or 'none'}); "
            "name one (--adjudicator)"
        )
    return found[0]


def case_adjudication(
    study: Study, store: StudyStore, adjudicator: str, case_id: str, done: dict
) -> tuple[CaseAdjudication, CaseReadings] | None:
    """A case's adjudication and readings, or None while some reader is not done.

    A decision the consensus no longer matches (the item painted back after
    "no lesion", erased after "lesion", or re-rated after its decision) is left
    out: the item is pending again (:func:`stale_decisions`).
    """
    readers = [r for r, role in store.readers().items() if role == "reader"]
    if not all((r, case_id, False) in done for r in readers) or len(readers) < 2:
        return None
    cr = case_readings(study, store, case_id, done, load_images=False)
    code = next(e.code for e in store.order(adjudicator) if e.case_id == case_id)
    decisions = {a.item: a for a in store.adjudications(adjudicator, code)}
    letters = reader_letters(study.seed, case_id, cr.readers)
    ca = CaseAdjudication(case_id, code, case_items(cr), letters, decisions)
    if decisions:
        labels, ratings = _consensus_labels(store, adjudicator, ca, cr)
        for item in stale_decisions(ca, np.unique(labels), ratings):
            del ca.decisions[item]
    return ca, cr


def adjudication_queue(
    study: Study,
    store: StudyStore,
    adjudicator: str,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[list[CaseAdjudication], list[str]]:
    """The ready cases in the adjudicator's order, and the codes of cases not ready."""
    done = done_readings(store)
    ready, waiting = [], []
    order = store.order(adjudicator)
    for k, entry in enumerate(order, start=1):
        if progress is not None:
            progress(k, len(order), f"case {k} of {len(order)}")
        found = case_adjudication(study, store, adjudicator, entry.case_id, done)
        if found is None:
            waiting.append(entry.code)
        else:
            ready.append(found[0])
    return ready, waiting


def open_consensus(store: StudyStore, adjudicator: str, ca: CaseAdjudication, cr) -> None:
    """Write the case's proposal as the adjudicator's reading, once (idempotent)."""
    if store.has_proposal(adjudicator, ca.code):
        return
    labels, ratings = proposal(cr, ca.items)
    store.open_case(adjudicator, ca.code)
    flat = np.flatnonzero(labels)
    if flat.size:  # absolute values: writing it again after a crash changes nothing
        store.append_stroke(adjudicator, ca.code, flat, labels.reshape(-1)[flat])
    for item, fields in ratings.items():
        store.set_rating(adjudicator, ca.code, item, fields)
    store.mark_proposal(adjudicator, ca.code, f"{len(ca.items)} items")


def _consensus_labels(store, adjudicator, ca, cr) -> tuple[np.ndarray, Ratings]:
    """The case's consensus map and ratings (the proposal until the adjudicator opens it)."""
    if store.has_proposal(adjudicator, ca.code):
        labels = store.labels(adjudicator, ca.code, cr.grid.shape, np.int32)
        return labels, Ratings(store.ratings(adjudicator, ca.code))
    labels, proposed = proposal(cr, ca.items)
    return labels, Ratings(proposed)


def stale_decisions(ca: CaseAdjudication, ids, ratings: Ratings) -> list[int]:
    """Items whose recorded decision no longer matches the consensus map or rating."""
    present = {int(i) for i in ids}
    stale = []
    for number, decision in ca.decisions.items():
        kept = number in present
        current = {k: v for k, v in ratings.get(number).as_dict().items() if v not in (None, "")}
        if kept != (decision.decision == "lesion") or (kept and current != decision.rating):
            stale.append(number)
    return stale


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
            labels, ratings = _consensus_labels(store, adjudicator, ca, cr)
            case = load_case(study.case_folder(ca.case_id))
            table = lesion_model(case, labels, study.shell_width_mm).table()
            extra = _extra_columns(ca, np.asarray(table.index), len(cr.readers))
            paths = export_reading(
                out / "cases", case, labels, table, ratings, READER, ca.case_id,
                study.shell_width_mm, extra_columns=extra,
            )  # fmt: skip
            files += paths.values()
            frame = reading_table(table, ratings, ca.case_id, READER)
            for name in extra.columns:
                frame[name] = extra[name].reindex(frame["lesion"]).to_numpy()
            lesions.append(frame)
            summaries.append(
                summary_table(frame, case, labels, study.shell_width_mm, ca.case_id, READER)
            )
            logs += _log_rows(ca, cr, adjudicator)
        store.record("consensus export", adjudicator, None, str(out.resolve()))
    written = {
        "lesions": write_reading_csv(
            concat_rows(lesions, (*LESION_ID_COLUMNS, *RATING_COLUMNS, *_EXTRA)),
            out / "lesions.csv",
        ),
        "summary": write_csv(concat_rows(summaries, SUMMARY_COLUMNS), out / "summary.csv", False),
        "adjudication_log": write_csv(_log_table(logs), out / "adjudication_log.csv", False),
    }
    provenance = {
        "format": "napari-uspio consensus export",
        "format_version": 1,
        "software": _software(),
        "study": {"folder": str(study.folder), "seed": study.seed},
        "adjudicator": adjudicator,
        "cases": [ca.case_id for ca in ready],
        "cases_not_ready": len(waiting),
        "partial": bool(partial),
        "pending_items": sum(pending.values()),
        "files": {
            p.relative_to(out).as_posix(): sha256_file(p)
            for p in sorted({*files, *written.values()})
        },
    }
    written["provenance"] = out / "provenance.json"
    with atomic_path(written["provenance"]) as tmp:
        tmp.write_text(json.dumps(provenance, indent=2, allow_nan=False) + "\n", "utf-8")
    return written
