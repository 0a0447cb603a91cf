"""Which store a study uses: ``study.sqlite`` in its folder, or a PostgreSQL database.

A study's manifest may name a server (``store = "postgresql://host:5432/dbname"``);
:func:`open_store` opens that study's store whichever it is (the coordinator's
view), :func:`open_reader_store` the store a reader's session writes to (on a
server study, the workstation's spool in front of it), :func:`check_store`
refuses a store entry that is not a PostgreSQL URL, or that holds a password.
psycopg is imported only when a server is named.
"""

from __future__ import annotations

from pathlib import Path

from .records import StudyError
from .sqlite import STORE_NAME, SQLiteStore
from .store import StudyStore

__all__ = ["SQLITE_ONLY", "SERVER_ONLY", "check_store", "open_reader_store", "open_store"]

#: Options only one backend takes (the other ignores them).
SQLITE_ONLY = ("synchronous", "busy_timeout_s")
SERVER_ONLY = ("connect_timeout_s",)


def open_store(folder: Path, url: str | None, *, create: bool = False, **options) -> StudyStore:
    """The store of the study in ``folder``: its ``study.sqlite``, or the database ``url``."""
    if url is None:
        kept = {k: v for k, v in options.items() if k not in SERVER_ONLY}
        return SQLiteStore(Path(folder) / STORE_NAME, create=create, **kept)
    from .postgres import PostgresStore

    kept = {k: v for k, v in options.items() if k not in SQLITE_ONLY}
    return PostgresStore(url, create=create, **kept)


def open_reader_store(folder: Path, url: str | None, reader: str) -> StudyStore:
    """The store a reader's session writes to.

    The study's SQLite file, or on a server study the workstation's spool in front
    of the server (:class:`~.spool.SpooledStore`).
    """
    if url is None:
        return open_store(folder, None)
    from .spool import SpooledStore

    return SpooledStore(url, reader)


def check_store(url: str, where: str = "") -> None:
    """Refuse a store entry that is not a PostgreSQL URL without a password."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise StudyError(
            f"{where}store = {url!r}: give a PostgreSQL URL, postgresql://HOST:PORT/DBNAME "
            "(or leave it out: study.sqlite in the study folder)"
        )
    from .postgres import check_url

    try:
        check_url(url)
    except StudyError as exc:
        raise StudyError(f"{where}{exc}") from exc
