"""The adjudication log in the SQLite store: one decision per disputed item.

The adjudicator reads each case under their own code like any reader: their
label map and ratings in the store *are* the consensus of the case (lesion id
= item number, see :mod:`napari_uspio.core.adjudication`). This
mixin of :class:`~.store.StudyStore` adds the proposal marker and the log of
decisions: which item, ``lesion`` or ``no lesion``, the written rationale, the
final rating, the letters the readers were shown under, what was disputed and
when. Every write is one transaction and audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from ..records import Adjudication, StudyError, utc_now
from .journal import _KEY
from .schema import Database, upsert

__all__ = ["AdjudicationLog"]

_PROPOSAL = "consensus proposal"
_NAMES = ("reader", "case_code", "item", "decision", "rationale", "rating", "letters",
          "disputed", "decided_at")  # fmt: skip
_COLUMNS = ", ".join(_NAMES)
_UPSERT = upsert("adjudications", _NAMES, ("reader", "case_code", "item"))


class AdjudicationLog:
    """Adjudication methods of :class:`~.store.StudyStore` (a mixin: needs its database)."""

    _db: Database
    _writable: Callable[..., str]
    _audit: Callable[..., None]

    def has_proposal(self, adjudicator: str, case_code: str) -> bool:
        """Whether the consensus proposal of the case was written in full."""
        row = self._db.one(
            "SELECT 1 FROM audit WHERE reader = ? AND case_code = ? AND action = ?",
            (adjudicator, case_code, _PROPOSAL),
        )
        return row is not None

    def mark_proposal(self, adjudicator: str, case_code: str, detail: str = "") -> None:
        """Record that the proposal's strokes and ratings are all written (audited)."""
        with self._db.write():
            self._writable(adjudicator, case_code)
            self._audit(adjudicator, _PROPOSAL, case_code, detail)

    def resolve_item(
        self,
        adjudicator: str,
        case_code: str,
        item: int,
        *,
        decision: str,
        rationale: str,
        rating: Mapping[str, str | None],
        letters: Mapping[str, str],
        disputed: str,
    ) -> Adjudication:
        """Record (or replace) the decision on an item; refused without a rationale."""
        if decision not in ("lesion", "no lesion"):
            raise StudyError(f"decision must be 'lesion' or 'no lesion', got {decision!r}")
        if not str(rationale).strip():
            raise StudyError("an adjudication needs a written rationale")
        record = Adjudication(
            adjudicator,
            case_code,
            int(item),
            decision,
            str(rationale).strip(),
            {k: v for k, v in rating.items() if v not in (None, "")},
            dict(letters),
            disputed,
            utc_now(),
        )
        with self._db.write() as db:
            self._writable(adjudicator, case_code)
            db.execute(
                _UPSERT,
                (
                    adjudicator,
                    case_code,
                    record.item,
                    decision,
                    record.rationale,
                    json.dumps(record.rating),
                    json.dumps(record.letters),
                    disputed,
                    record.decided_at,
                ),
            )
            self._audit(adjudicator, "adjudicate", case_code, f"item {record.item}: {decision}")
        return record

    def withdraw_decision(self, adjudicator: str, case_code: str, item: int, why: str) -> None:
        """Delete the decision on an item (it is pending again), audited with why."""
        with self._db.write() as db:
            self._writable(adjudicator, case_code)
            db.execute(
                f"DELETE FROM adjudications WHERE {_KEY} AND item = ?3",
                (adjudicator, case_code, int(item)),
            )
            self._audit(adjudicator, "withdraw decision", case_code, f"item {int(item)}: {why}")

    def adjudications(
        self, adjudicator: str | None = None, case_code: str | None = None
    ) -> list[Adjudication]:
        """The decisions, by adjudicator, case code and item."""
        sql, args = f"SELECT {_COLUMNS} FROM adjudications", ()
        if adjudicator is not None and case_code is not None:
            sql, args = f"{sql} WHERE {_KEY}", (adjudicator, case_code)
        elif adjudicator is not None:
            sql, args = f"{sql} WHERE reader = ?", (adjudicator,)
        rows = self._db.all(f"{sql} ORDER BY reader, case_code, item", args)
        return [
            Adjudication(
                r[0], r[1], int(r[2]), r[3], r[4], json.loads(r[5]), json.loads(r[6]), *r[7:]
            )
            for r in rows
        ]
