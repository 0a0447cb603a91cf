"""A study's PostgreSQL database: connection, the shared schema in its dialect, transactions.

:class:`PgDatabase` offers what :class:`~..sqlite.schema.Database` offers (``write``,
``read``, ``execute``, ``one``, ``all``, ``scalar``, ``schema_version``), so the
store's SQL (:mod:`..sqlite`) runs unchanged: its ``?`` / ``?N`` parameters become
psycopg's ``%s`` (:func:`translate`), and the schema is the SQLite migrations
with their types translated (:func:`pg_ddl`: ``BLOB`` -> ``BYTEA``, ``REAL`` ->
``DOUBLE PRECISION``, the audit id an identity column, readers numbered in the
order they were added). The schema version is the one row of ``schema_version``.

Writes are serialised as SQLite's ``BEGIN IMMEDIATE`` serialises them: every
write transaction first takes one transaction-level advisory lock, so the
store's read-then-write steps (the next stroke's seq, a case's state) see no
concurrent writer. Reads see one snapshot (``REPEATABLE READ``).

Credentials never come from the study: the URL names host, port and database
(and may name the user); the password comes from libpq (``PGPASSWORD``,
``~/.pgpass``, a service file), and a URL that carries one is refused.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..records import StudyError
from ..sqlite.schema import MIGRATIONS, Connection, refuse_newer

__all__ = ["PG_MIGRATIONS", "PgDatabase", "check_url", "pg_ddl", "shown_url", "translate"]

#: A connection never hangs on a dead network or a stuck lock: TCP keepalives, unacknowledged
#: data given up after 15 s, a lock waited for 30 s at most (each an error: retried).
_ALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 15000,
    "options": "-c lock_timeout=30s",
}
#: The advisory lock every write transaction takes (one study per database).
WRITE_LOCK = 0x5EED000
_PARAM = re.compile(r"\?(\d*)")
_IDENTITY = "BIGINT GENERATED ALWAYS AS IDENTITY"
_TYPES = (
    (re.compile(r"\bid INTEGER PRIMARY KEY\b"), f"id {_IDENTITY} PRIMARY KEY"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"(CREATE TABLE readers \(.*?added_at TEXT NOT NULL)\)", re.S),
     rf"\1, n {_IDENTITY})"),
)  # fmt: skip


def pg_ddl(statement: str) -> str:
    """A statement of the SQLite schema in PostgreSQL's dialect."""
    for pattern, replacement in _TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


#: ``PG_MIGRATIONS[i]``: the statements from schema version i to i + 1 (as in SQLite).
PG_MIGRATIONS = [[pg_ddl(s) for s in migration] for migration in MIGRATIONS]


@functools.lru_cache(maxsize=256)
def _plan(sql: str) -> tuple[str, tuple[int, ...]]:
    """The psycopg text of ``sql`` and, per ``%s``, the index of the argument it takes."""
    taken: list[int] = []

    def one(match: re.Match) -> str:
        # SQLite: ?N is argument N; a bare ? takes the one after the largest so far
        taken.append(int(match.group(1)) - 1 if match.group(1) else max(taken, default=-1) + 1)
        return "%s"

    return _PARAM.sub(one, sql.replace("%", "%%")), tuple(taken)


def translate(sql: str, args: Sequence = ()) -> tuple[str, list]:
    """``sql`` with SQLite parameters (``?``, ``?N``) as psycopg's, and its arguments."""
    text, taken = _plan(sql)
    return text, [args[i] for i in taken]


def check_url(url: str) -> dict[str, str]:
    """The connection parameters of a ``postgresql://`` URL; refused if it holds a password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StudyError(f"store = {url!r} is not a PostgreSQL URL ({exc})") from exc
    if "password" in params:
        raise StudyError(
            "the store URL holds a password; a study file must not. Fix: remove it from the "
            "URL and give it to libpq: PGPASSWORD, ~/.pgpass or a service file (PGSERVICE)."
        )
    if not params.get("dbname"):
        raise StudyError(f"store = {url!r} names no database. Fix: postgresql://HOST:PORT/DBNAME")
    return params


def shown_url(params: dict[str, str]) -> str:
    """Host, port and database of a connection, for messages."""
    host = params.get("host") or "localhost"
    return f"postgresql://{host}:{params.get('port') or 5432}/{params['dbname']}"


class PgDatabase(Connection):
    """One PostgreSQL connection, migrated, with the transaction helpers of SQLite's Database.

    ``create`` makes the schema in an empty database (else a database without
    one is refused); ``connect_timeout_s`` bounds a connection attempt.
    """

    READER_ORDER = "n"

    def __init__(self, url: str, *, create: bool = False, connect_timeout_s: float = 10.0):
        self.params = check_url(url)
        self.where = shown_url(self.params)
        self._lock = threading.RLock()
        try:
            self._conn = psycopg.connect(
                url, autocommit=True, connect_timeout=max(1, round(connect_timeout_s)), **_ALIVE
            )
        except psycopg.OperationalError as exc:
            raise StudyError(
                f"{self.where}: cannot reach the study server ({_first_line(exc)}). Fix: check "
                "that the server runs and the network; the password comes from PGPASSWORD, "
                "~/.pgpass or a service file."
            ) from exc
        try:
            self._migrate(create)
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def write(self) -> Iterator[PgDatabase]:
        """One write transaction, serialised with every other writer; committed on exit."""
        with self._lock, self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield self

    @contextmanager
    def read(self) -> Iterator[PgDatabase]:
        """One consistent view across several queries."""
        with self._lock, self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield self

    def execute(self, sql: str, args: Sequence = ()) -> psycopg.Cursor:
        """Run one statement (inside :meth:`write` for writes)."""
        with self._lock:
            return self._conn.execute(*translate(sql, args))

    def raw(self, query) -> None:
        """Run a composed statement (:mod:`psycopg.sql`: identifiers quoted), untranslated."""
        with self._lock:
            self._conn.execute(query)

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        """Run one statement per row."""
        text, _ = _plan(sql)
        with self._lock, self._conn.cursor() as cursor:
            cursor.executemany(text, [translate(sql, row)[1] for row in rows])

    def schema_version(self) -> int:
        """The database's schema version (0: no study schema)."""
        if self.scalar("SELECT to_regclass('schema_version')") is None:
            return 0
        return int(self.scalar("SELECT version FROM schema_version"))

    def _migrate(self, create: bool) -> None:
        target = len(PG_MIGRATIONS)
        version = self.schema_version()
        if version == 0 and not create:
            raise StudyError(
                f"{self.where}: this database holds no study. Fix: check the store URL in "
                "study.toml, or create the study with `napari-uspio study init --store URL`."
            )
        refuse_newer(self.where, version, target, "the database is untouched")
        if version == target:
            return
        with self.write():
            version = self.schema_version()  # another process may have migrated meanwhile
            if version == 0:
                self.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                self.execute("INSERT INTO schema_version VALUES (0)")
            for migration in PG_MIGRATIONS[version:target]:
                for statement in migration:
                    self.execute(statement)
            self.execute("UPDATE schema_version SET version = ?", (target,))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
