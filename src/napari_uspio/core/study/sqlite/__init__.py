"""The study store in SQL: the embedded SQLite default (one file per study).

The SQL is shared with the PostgreSQL backend (:mod:`napari_uspio.core.study.postgres`).
"""

from .schema import SCHEMA_VERSION, STORE_NAME
from .store import SQLiteStore, SQLStore

__all__ = ["SCHEMA_VERSION", "STORE_NAME", "SQLStore", "SQLiteStore"]
