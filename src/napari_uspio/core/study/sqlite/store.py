"""The study store in SQL: one file ``study.sqlite`` in the study folder, or a server.

:class:`SQLStore` implements :class:`~napari_uspio.core.study.store.StudyStore`
(every caller types against that interface) over a database of either dialect;
:class:`SQLiteStore` is it on one SQLite file (stdlib ``sqlite3``, WAL mode,
busy timeout 10 s), :class:`~napari_uspio.core.study.postgres.PostgresStore` on
a PostgreSQL server. The SQL lives in this package only, written for both
(:mod:`.schema`: file, migrations, transactions; :mod:`.journal`: masks;
:mod:`.decisions`: the adjudication log).

Masks: a journal of strokes plus snapshots (:mod:`.journal`).
:meth:`~SQLiteStore.append_stroke` writes one row of O(stroke) bytes;
:meth:`~SQLiteStore.labels` is the latest snapshot with the later strokes
replayed; :meth:`~SQLiteStore.compact` writes a snapshot and deletes the
strokes it covers, in one transaction. Compacting needs the current label
map, which only the caller holds cheaply, so the caller decides when:
``append_stroke(..., labels_now=callable)`` compacts right after the stroke is
committed once the case's journal holds ``compact_strokes`` (200) strokes or
``compact_bytes`` (8 MiB); without ``labels_now`` the journal grows (replay
stays exact) until :meth:`~SQLiteStore.compact` is called, e.g. when the
reader marks the case done or leaves it. A snapshot costs O(volume) (0.35 s
for 512 x 512 x 300 voxels, mostly zlib), a stroke about 0.5 ms whatever the
journal length; strokes set absolute values, so replaying a stroke over a
snapshot that already holds it changes nothing.

Ratings: one column per rating field (:data:`.schema.RATING_COLUMNS_V1`); a
rating field added to :data:`napari_uspio.core.fields.RATINGS` needs a schema
migration before the store can keep it (it is refused, not dropped).

Durability and concurrency: see :mod:`napari_uspio.core.study`.

Audit log: study creation, readers added, every open, done and reopen (with
its reason), exports and whatever :meth:`~SQLiteStore.record` is given;
strokes and ratings carry their own timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ...ratings import Rating, RatingError
from ..order import OrderEntry
from ..records import (
    READER_ROLES,
    AuditEntry,
    CaseLockedError,
    CaseState,
    ReaderProgress,
    StudyError,
    utc_now,
)
from .decisions import AdjudicationLog
from .journal import _KEY, StrokeJournal
from .leases import Leases
from .schema import RATING_COLUMNS_V1, SCHEMA_VERSION, STORE_NAME, Database, upsert

__all__ = ["SQLStore", "SQLiteStore"]

_COLUMNS = RATING_COLUMNS_V1
_STATE_JOIN = (
    "FROM orders o LEFT JOIN case_state s ON s.reader = o.reader AND s.case_code = o.code"
)
_UPSERT_RATING = upsert(
    "ratings", ("reader", "case_code", "lesion", *_COLUMNS, "updated_at"),
    ("reader", "case_code", "lesion"),
)  # fmt: skip


class SQLStore(StrokeJournal, AdjudicationLog, Leases):
    """The study store over a :class:`~.schema.Database` of either dialect (see the module).

    Parameters
    ----------
    db : Database
        The open, migrated database (SQLite, or :mod:`napari_uspio.core.study.postgres`).
    compact_strokes, compact_bytes : int
        Journal size that triggers compaction when ``labels_now`` is given.
    """

    def __init__(self, db: Database, compact_strokes: int = 200, compact_bytes: int = 8 << 20):
        if compact_strokes < 1 or compact_bytes < 1:
            db.close()
            raise ValueError("compact_strokes and compact_bytes must be >= 1")
        self.compact_strokes, self.compact_bytes = int(compact_strokes), int(compact_bytes)
        self._db = db

    def close(self) -> None:
        """Close the connection (everything acknowledged is kept)."""
        self._db.close()

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """The store's schema version."""
        return self._db.schema_version()

    # ------------------------------------------------------------ internals
    def _audit(self, reader, action: str, code=None, detail: str = "") -> None:
        self._db.execute(
            "INSERT INTO audit (ts, reader, action, case_code, detail) VALUES (?, ?, ?, ?, ?)",
            (utc_now(), reader, action, code, detail),
        )

    def _writable(self, reader: str, code: str, opening: bool = False) -> str:
        """In a write transaction: refuse a code not in the reader's order or done.

        A done case is accepted when ``opening``. A new case is opened (audited
        unless ``opening``; that caller audits). Returns the status before:
        ``new``, ``open`` or ``done``.
        """
        row = self._db.one(
            f"SELECT o.case_id, s.status {_STATE_JOIN} WHERE o.reader = ? AND o.code = ?",
            (reader, code),
        )
        if row is None:
            raise StudyError(f"reader {reader!r} has no case {code!r} in their order")
        if row[1] == "done" and not opening:
            raise CaseLockedError(
                f"case {code} is marked done by {reader}; reopen it (an audited action) to edit"
            )
        if row[1] is None:
            self._db.execute(
                "INSERT INTO case_state (reader, case_code, status, opened_at) "
                "VALUES (?, ?, 'open', ?)",
                (reader, code, utc_now()),
            )
            if not opening:
                self._audit(reader, "open", code, "on first write")
        return str(row[1] or "new")

    # ------------------------------------------------------------ readers and orders
    def add_reader(self, reader: str, role: str, order: Sequence[OrderEntry]) -> None:
        """Register a reader with their order (fixed from then on), audited."""
        if role not in READER_ROLES:
            raise StudyError(f"role {role!r} is not one of {', '.join(READER_ROLES)}")
        with self._db.write() as db:
            if db.one("SELECT 1 FROM readers WHERE reader = ?", (reader,)):
                raise StudyError(f"reader {reader!r} is already in the study")
            db.execute("INSERT INTO readers VALUES (?, ?, ?)", (reader, role, utc_now()))
            db.executemany(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                [(reader, i, e.case_id, e.code, int(e.repeat)) for i, e in enumerate(order)],
            )
            self._audit(None, "add reader", None, f"{reader} ({role}), {len(order)} readings")

    def readers(self) -> dict[str, str]:
        """Reader id -> role, in the order they were added."""
        return dict(
            self._db.all(f"SELECT reader, role FROM readers ORDER BY {self._db.READER_ORDER}")
        )

    def order(self, reader: str) -> list[OrderEntry]:
        """The readings of ``reader`` in the order shown."""
        rows = self._db.all(
            "SELECT case_id, code, repeat FROM orders WHERE reader = ? ORDER BY position",
            (reader,),
        )
        if not rows and reader not in self.readers():
            raise StudyError(f"no reader {reader!r} in this study ({', '.join(self.readers())})")
        return [OrderEntry(c, k, bool(r)) for c, k, r in rows]

    def pin_hash(self, reader: str) -> str | None:
        """The stored hash of the reader's PIN (None: no PIN chosen yet)."""
        self.order(reader)  # refuses an unknown reader, naming the known ones
        return self._db.scalar("SELECT hash FROM pins WHERE reader = ?", (reader,))

    def set_pin_hash(self, reader: str, encoded: str | None, by: str) -> None:
        """Store the hash of the reader's new PIN, or clear it (None), audited with ``by``."""
        self.order(reader)
        with self._db.write() as db:
            db.execute("DELETE FROM pins WHERE reader = ?", (reader,))
            if encoded is not None:
                db.execute("INSERT INTO pins VALUES (?, ?, ?)", (reader, encoded, utc_now()))
            action = "set pin" if encoded is not None else "reset pin"
            self._audit(reader, action, None, f"by {by}")

    # ------------------------------------------------------------ ratings and time
    def set_rating(
        self, reader: str, case_code: str, lesion: int, fields: Mapping[str, str | None]
    ) -> dict[str, str | None]:
        """Apply ``fields`` (None clears) to a lesion's rating; return it once committed.

        Validated as :meth:`Rating.with_` (vocabulary and consistency rules);
        a rating with nothing left is deleted.
        """
        lesion_id = int(lesion)
        if lesion_id != lesion or lesion_id < 1:
            raise RatingError(f"lesion ids are whole numbers >= 1, got {lesion!r}")
        key = (reader, case_code, lesion_id)
        with self._db.write() as db:
            self._writable(reader, case_code)
            row = db.one(
                f"SELECT {', '.join(_COLUMNS)} FROM ratings WHERE {_KEY} AND lesion = ?3", key
            )
            old = Rating(**dict(zip(_COLUMNS, row, strict=True))) if row else Rating()
            new = old.with_(**dict(fields))
            values = _stored(new)
            if new.empty:
                db.execute(f"DELETE FROM ratings WHERE {_KEY} AND lesion = ?3", key)
            else:
                db.execute(_UPSERT_RATING, (*key, *values, utc_now()))
        return new.as_dict()

    def ratings(self, reader: str, case_code: str) -> dict[int, dict[str, str | None]]:
        """Lesion id -> field -> value (None: unrated), for every lesion with a rating."""
        rows = self._db.all(
            f"SELECT lesion, {', '.join(_COLUMNS)} FROM ratings WHERE {_KEY} ORDER BY lesion",
            (reader, case_code),
        )
        return {int(r[0]): dict(zip(_COLUMNS, r[1:], strict=True)) for r in rows}

    def add_time(
        self, reader: str, case_code: str, seconds: float, lesion: int | None = None
    ) -> None:
        """Add reading time to an open case; with ``lesion``, also to that lesion (a part)."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        with self._db.write() as db:
            self._writable(reader, case_code)
            db.execute(
                f"UPDATE case_state SET seconds_spent = seconds_spent + ?3 WHERE {_KEY}",
                (reader, case_code, float(seconds)),
            )
            if lesion is not None:
                db.execute(
                    "INSERT INTO lesion_time VALUES (?, ?, ?, ?) ON CONFLICT "
                    "(reader, case_code, lesion) DO UPDATE "
                    "SET seconds = lesion_time.seconds + excluded.seconds",
                    (reader, case_code, int(lesion), float(seconds)),
                )

    def lesion_times(self, reader: str, case_code: str) -> dict[int, float]:
        """Lesion id -> seconds spent on it."""
        rows = self._db.all(
            f"SELECT lesion, seconds FROM lesion_time WHERE {_KEY}", (reader, case_code)
        )
        return {int(k): float(v) for k, v in rows}

    # ------------------------------------------------------------ case state
    def open_case(self, reader: str, case_code: str) -> CaseState:
        """Record that the reader opened a case (audited); a done case stays done."""
        with self._db.write():
            self._writable(reader, case_code, opening=True)
            self._audit(reader, "open", case_code)
        return self.case_state(reader, case_code)

    def case_state(self, reader: str, case_code: str) -> CaseState:
        """Status, time and timestamps of a reader's case (``new`` if never opened)."""
        row = self._db.one(
            f"SELECT status, seconds_spent, opened_at, done_at FROM case_state WHERE {_KEY}",
            (reader, case_code),
        )
        return CaseState("new") if row is None else CaseState(*row)

    def mark_done(self, reader: str, case_code: str) -> None:
        """Lock a case as read (audited); its strokes and ratings are refused until reopened."""
        with self._db.write() as db:
            self._writable(reader, case_code)
            db.execute(
                f"UPDATE case_state SET status = 'done', done_at = ?3 WHERE {_KEY}",
                (reader, case_code, utc_now()),
            )
            self._audit(reader, "done", case_code)

    def reopen(self, reader: str, case_code: str, reason: str) -> None:
        """Unlock a done case: an explicit action, written with its reason to the audit log."""
        if not str(reason).strip():
            raise StudyError("reopening a done case needs a reason (it goes to the audit log)")
        with self._db.write() as db:
            if self._writable(reader, case_code, opening=True) != "done":
                raise StudyError(f"case {case_code} of {reader} is not done; nothing to reopen")
            db.execute(
                f"UPDATE case_state SET status = 'open', done_at = NULL WHERE {_KEY}",
                (reader, case_code),
            )
            self._audit(reader, "reopen", case_code, str(reason).strip())

    def next_case(self, reader: str) -> OrderEntry | None:
        """The first reading in the reader's order not marked done (None: all done)."""
        row = self._db.one(
            f"SELECT o.case_id, o.code, o.repeat {_STATE_JOIN} WHERE o.reader = ? AND "
            "(s.status IS NULL OR s.status != 'done') ORDER BY o.position LIMIT 1",
            (reader,),
        )
        return None if row is None else OrderEntry(row[0], row[1], bool(row[2]))

    def status(self) -> list[ReaderProgress]:
        """Per reader: readings done of total, reading time, next case code."""
        out = []
        with self._db.read() as db:
            readers = db.all(f"SELECT reader, role FROM readers ORDER BY {db.READER_ORDER}")
            for reader, role in readers:
                total, done, secs = db.one(
                    "SELECT COUNT(*), "
                    "COALESCE(SUM(CASE WHEN s.status = 'done' THEN 1 ELSE 0 END), 0), "
                    f"COALESCE(SUM(s.seconds_spent), 0) {_STATE_JOIN} WHERE o.reader = ?",
                    (reader,),
                ) or (0, 0, 0.0)
                nxt = self.next_case(reader)
                code = nxt.code if nxt else None
                out.append(ReaderProgress(reader, role, int(done), int(total), float(secs), code))
        return out

    # ------------------------------------------------------------ audit
    def record(
        self, action: str, reader: str | None = None, case_code: str | None = None, detail=""
    ) -> None:
        """Write an entry to the audit log (sign-in, export, ...)."""
        with self._db.write():
            self._audit(reader, action, case_code, str(detail))

    def audit_log(self, reader: str | None = None) -> list[AuditEntry]:
        """The audit log, oldest first (only ``reader``'s entries if given)."""
        sql, args = "SELECT ts, reader, action, case_code, detail FROM audit", ()
        if reader is not None:
            sql, args = sql + " WHERE reader = ?", (reader,)
        return [AuditEntry(*r) for r in self._db.all(sql + " ORDER BY id", args)]


def _stored(rating: Rating) -> tuple[str | None, ...]:
    """The values of the store's rating columns; a set field without a column is refused."""
    values = rating.as_dict()
    extra = [k for k, v in values.items() if k not in _COLUMNS and v is not None]
    if extra:
        raise RatingError(
            f"rating field(s) {', '.join(extra)} have no column in the study store (schema "
            f"version {SCHEMA_VERSION}); a new rating field needs a schema migration"
        )
    return tuple(values.get(name) for name in _COLUMNS)


class SQLiteStore(SQLStore):
    """The SQLite study store, one file in the study folder; thread-safe.

    Parameters
    ----------
    path : str or Path
        The study folder, or its ``study.sqlite`` file.
    create : bool
        Create the file if missing (``init_study`` does); otherwise refused.
    synchronous : {"FULL", "NORMAL"}
        See *Durability* in :mod:`napari_uspio.core.study`.
    busy_timeout_s : float
        How long a write waits for another process's write.
    compact_strokes, compact_bytes : int
        Journal size that triggers compaction when ``labels_now`` is given.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = False,
        synchronous: str = "FULL",
        busy_timeout_s: float = 10.0,
        compact_strokes: int = 200,
        compact_bytes: int = 8 << 20,
    ) -> None:
        path = Path(path)
        self.path = path / STORE_NAME if path.is_dir() else path
        if not create and not self.path.is_file():
            raise StudyError(
                f"{self.path}: no study store here. Fix: pick the study folder, or create "
                "the study with `napari-uspio study init`."
            )
        if compact_strokes < 1 or compact_bytes < 1:
            raise ValueError("compact_strokes and compact_bytes must be >= 1")
        super().__init__(Database(self.path, synchronous, busy_timeout_s), compact_strokes,
                         compact_bytes)  # fmt: skip

    def __enter__(self) -> SQLiteStore:
        return self

    def integrity_check(self) -> str:
        """SQLite's ``integrity_check``: ``"ok"`` or the problems found."""
        return "\n".join(str(r[0]) for r in self._db.all("PRAGMA integrity_check"))
