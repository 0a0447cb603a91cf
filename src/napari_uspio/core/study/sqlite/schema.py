"""The SQLite file of a study: schema, migrations, connection and transactions.

Only the modules of this package speak SQL. The schema version is
``PRAGMA user_version``; :data:`MIGRATIONS` ``[i]`` takes a file from version
``i`` to ``i + 1`` and every pending migration runs in one transaction with
the version bump, so a failed migration leaves the file as it was. A file
with a newer version than :data:`SCHEMA_VERSION` is refused untouched.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..records import StudyError

__all__ = [
    "MIGRATIONS",
    "RATING_COLUMNS_V1",
    "SCHEMA_VERSION",
    "STORE_NAME",
    "Connection",
    "Database",
    "refuse_newer",
    "upsert",
]

STORE_NAME = "study.sqlite"
#: Rating columns of the ``ratings`` table in schema v1; a new rating field needs a migration.
RATING_COLUMNS_V1 = (
    "gd",
    "uspio",
    "qsm_rim",
    "central_vein",
    "overlap",
    "black_hole",
    "confidence",
    "comment",
)

_CASE_FK = "FOREIGN KEY (reader, case_code) REFERENCES orders (reader, code)"
_V1: tuple[str, ...] = (
    """CREATE TABLE readers (
        reader TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('reader', 'adjudicator')),
        added_at TEXT NOT NULL)""",
    """CREATE TABLE orders (
        reader TEXT NOT NULL REFERENCES readers (reader),
        position INTEGER NOT NULL,
        case_id TEXT NOT NULL,
        code TEXT NOT NULL,
        repeat INTEGER NOT NULL,
        PRIMARY KEY (reader, position),
        UNIQUE (reader, code))""",
    f"""CREATE TABLE snapshots (
        reader TEXT NOT NULL, case_code TEXT NOT NULL,
        seq_upto INTEGER NOT NULL, shape TEXT NOT NULL, dtype TEXT NOT NULL,
        data BLOB NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (reader, case_code), {_CASE_FK})""",
    f"""CREATE TABLE strokes (
        reader TEXT NOT NULL, case_code TEXT NOT NULL, seq INTEGER NOT NULL,
        n_voxels INTEGER NOT NULL, data BLOB NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (reader, case_code, seq), {_CASE_FK})""",
    f"""CREATE TABLE ratings (
        reader TEXT NOT NULL, case_code TEXT NOT NULL, lesion INTEGER NOT NULL,
        {", ".join(f"{c} TEXT" for c in RATING_COLUMNS_V1[:-1])},
        comment TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (reader, case_code, lesion), {_CASE_FK})""",
    f"""CREATE TABLE case_state (
        reader TEXT NOT NULL, case_code TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'done')),
        seconds_spent REAL NOT NULL DEFAULT 0,
        opened_at TEXT, done_at TEXT,
        PRIMARY KEY (reader, case_code), {_CASE_FK})""",
    f"""CREATE TABLE lesion_time (
        reader TEXT NOT NULL, case_code TEXT NOT NULL, lesion INTEGER NOT NULL,
        seconds REAL NOT NULL,
        PRIMARY KEY (reader, case_code, lesion), {_CASE_FK})""",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL, reader TEXT, action TEXT NOT NULL,
        case_code TEXT, detail TEXT NOT NULL DEFAULT '')""",
)
#: Version 2: the adjudicator's decision on each disputed item (see :mod:`.decisions`).
_V2: tuple[str, ...] = (
    f"""CREATE TABLE adjudications (
        reader TEXT NOT NULL, case_code TEXT NOT NULL, item INTEGER NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('lesion', 'no lesion')),
        rationale TEXT NOT NULL, rating TEXT NOT NULL, letters TEXT NOT NULL,
        disputed TEXT NOT NULL, decided_at TEXT NOT NULL,
        PRIMARY KEY (reader, case_code, item), {_CASE_FK})""",
)
#: Version 3: each reader's PIN, as its salted scrypt hash (see :mod:`..pins`).
_V3: tuple[str, ...] = (
    """CREATE TABLE pins (
        reader TEXT PRIMARY KEY REFERENCES readers (reader),
        hash TEXT NOT NULL, set_at TEXT NOT NULL)""",
)
#: Version 4: one session per reader (leases, see :mod:`.leases`); what a server store needs
#: of workstation spools (:mod:`..spool`): the operations applied from each spool (a resend
#: changes nothing) and each spool's backlog.
_V4: tuple[str, ...] = (
    """CREATE TABLE leases (
        reader TEXT PRIMARY KEY REFERENCES readers (reader),
        holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
        since TEXT NOT NULL, heartbeat TEXT NOT NULL)""",
    """CREATE TABLE applied (
        spool TEXT NOT NULL, op INTEGER NOT NULL, applied_at TEXT NOT NULL,
        PRIMARY KEY (spool, op))""",
    """CREATE TABLE spools (
        spool TEXT PRIMARY KEY, reader TEXT NOT NULL REFERENCES readers (reader),
        host TEXT NOT NULL, pending INTEGER NOT NULL, seen_at TEXT NOT NULL)""",
)
Migration = Sequence[str] | Callable[[sqlite3.Connection], None]
#: ``MIGRATIONS[i]``: SQL statements (or a callable given the connection) from version i to i+1.
MIGRATIONS: list[Migration] = [_V1, _V2, _V3, _V4]
SCHEMA_VERSION = len(MIGRATIONS)


def refuse_newer(where: object, version: int, target: int, kept: str) -> None:
    """Refuse a store whose schema is newer than this code's (``kept``: what is left as is)."""
    if version > target:
        raise StudyError(
            f"{where}: schema version {version} is newer than this napari-uspio "
            f"understands ({target}). Fix: update napari-uspio; {kept}."
        )


def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """``INSERT ... ON CONFLICT (key) DO UPDATE``: one row written or replaced (both dialects)."""
    changed = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {changed}"
    )


class Connection:
    """What both dialects' databases share: queries through :meth:`execute`, and closing.

    A subclass sets ``_conn`` and ``_lock`` and defines ``execute(sql, args)`` (``?``
    parameters) returning a cursor.
    """

    _conn: object
    _lock: threading.RLock

    def execute(self, sql: str, args: Sequence = ()):  # pragma: no cover - overridden
        """Run one statement."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def one(self, sql: str, args: Sequence = ()) -> tuple | None:
        """The first row of a query, or None."""
        with self._lock:
            return self.execute(sql, args).fetchone()

    def all(self, sql: str, args: Sequence = ()) -> list[tuple]:
        """Every row of a query."""
        with self._lock:
            return self.execute(sql, args).fetchall()

    def scalar(self, sql: str, args: Sequence = ()):
        """The first column of the first row of a query."""
        row = self.one(sql, args)
        return None if row is None else row[0]


class Database(Connection):
    """One SQLite connection in WAL mode, migrated, with transaction helpers; thread-safe.

    ``synchronous`` is ``FULL`` (fsync the WAL at every commit) or ``NORMAL``;
    see *Durability* in :mod:`.store`. The store's SQL is written for both this
    and the PostgreSQL database (:mod:`napari_uspio.core.study.postgres`): ``?``
    and ``?N`` parameters, ``ON CONFLICT`` upserts, standard functions only;
    :attr:`READER_ORDER` is the column that orders readers as they were added.
    """

    READER_ORDER = "rowid"

    def __init__(
        self, path: Path, synchronous: str = "FULL", busy_timeout_s: float = 10.0
    ) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        self.path, self.synchronous = path, synchronous.upper()
        self._lock = threading.RLock()
        self._depth = 0  # write transactions open (nested ones join the outer)
        self._conn = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            mode = self.scalar("PRAGMA journal_mode = WAL")
            if str(mode).lower() != "wal":
                raise StudyError(f"{path}: could not switch the store to WAL mode (got {mode})")
            self._conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StudyError(f"{path}: not a readable study store ({exc})") from exc
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def write(self, fsync: bool = True) -> Iterator[Database]:
        """One write transaction (``BEGIN IMMEDIATE``), committed on exit, else rolled back.

        A write inside a write is part of the outer transaction (committed with it).
        ``fsync=False`` commits without syncing the WAL (``synchronous=NORMAL``):
        the transaction may be lost in a crash, never half-applied, and the next
        synced commit makes it durable; for writes a crash may undo.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            if not fsync:
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
                if not fsync:
                    self._conn.execute(f"PRAGMA synchronous = {self.synchronous}")

    @contextmanager
    def read(self) -> Iterator[Database]:
        """One consistent view (a WAL read transaction) across several queries."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self
            finally:
                self._conn.execute("COMMIT")

    def execute(self, sql: str, args: Sequence = ()) -> sqlite3.Cursor:
        """Run one statement (inside :meth:`write` for writes)."""
        with self._lock:
            return self._conn.execute(sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        """Run one statement per row."""
        with self._lock:
            self._conn.executemany(sql, rows)

    def schema_version(self) -> int:
        """The file's schema version (``PRAGMA user_version``)."""
        return int(self.scalar("PRAGMA user_version"))

    def _migrate(self) -> None:
        target = len(MIGRATIONS)
        version = self.schema_version()
        refuse_newer(self.path, version, target, "the file is left untouched")
        if version == target:
            return
        with self.write():
            version = self.schema_version()  # another process may have migrated meanwhile
            for migration in MIGRATIONS[version:target]:
                if callable(migration):
                    migration(self._conn)
                else:
                    for statement in migration:
                        self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {target}")
