"""The PostgreSQL backend of the study store: one study per database on a server.

:class:`PostgresStore` is the store of :mod:`..sqlite` (the same methods and SQL,
:class:`~..sqlite.SQLStore`) on a :class:`~.database.PgDatabase`: a study names
it in ``study.toml`` (``store = "postgresql://host:5432/dbname"``), and every
caller, coordinator commands included, works unchanged on either backend.
"""

from __future__ import annotations

from ..sqlite.store import SQLStore
from .access import role_name, set_up_access
from .database import PgDatabase, check_url, shown_url

__all__ = ["PgDatabase", "PostgresStore", "check_url", "role_name", "shown_url"]


class PostgresStore(SQLStore):
    """The study store in a PostgreSQL database.

    Parameters
    ----------
    url : str
        ``postgresql://[user@]host[:port]/dbname`` (no password: libpq finds it).
    create : bool
        Create the schema in an empty database (``init_study`` does); otherwise refused.
    connect_timeout_s : float
        How long a connection attempt may take.
    compact_strokes, compact_bytes : int
        Journal size that triggers compaction when ``labels_now`` is given.
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = False,
        connect_timeout_s: float = 10.0,
        compact_strokes: int = 200,
        compact_bytes: int = 8 << 20,
    ) -> None:
        self.url = url
        db = PgDatabase(url, create=create, connect_timeout_s=connect_timeout_s)
        super().__init__(db, compact_strokes, compact_bytes)

    def __enter__(self) -> PostgresStore:
        return self

    def set_up_access(self, readers) -> dict[str, str]:
        """One database role per reader and the server's row-level policies (:mod:`.access`)."""
        return set_up_access(self._db, readers)

    def connected_reader(self) -> str | None:
        """The reader the connection's database role stands for (None: the coordinator)."""
        if self._db.scalar("SELECT to_regprocedure('uspio_reader()')") is None:
            return None
        return self._db.scalar("SELECT uspio_reader()")
