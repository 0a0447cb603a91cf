"""The SQLite backend of the study store: the embedded default, one file per study."""

from .schema import SCHEMA_VERSION, STORE_NAME
from .store import SQLiteStore

__all__ = ["SCHEMA_VERSION", "STORE_NAME", "SQLiteStore"]
