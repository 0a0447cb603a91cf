"""Provenance: what software wrote a file, from which inputs, and the JSON sidecar.

Every export (a reading, a study, a consensus, an agreement report) writes a
``provenance.json`` built from these pieces: :func:`software` (versions),
:func:`file_record` (name, SHA-256, size of an input), :func:`file_hashes`
(SHA-256 of every file written) and :func:`to_json` (UTF-8, two-space indent,
NaN refused: an undefined number is written ``null`` by the caller).
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from .files import write_text

__all__ = [
    "file_hashes", "file_record", "now_iso", "sha256_file", "software", "to_json", "utc_iso"
]  # fmt: skip


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks of ``chunk_bytes`` (1 MiB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def file_record(path: str | Path | None) -> dict[str, object]:
    """``{"file": name, "sha256": ..., "bytes": ...}`` of an input (all None without one)."""
    if path is None:
        return {"file": None, "sha256": None, "bytes": None}
    path = Path(path)
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def file_hashes(root: Path, paths: Iterable[Path]) -> dict[str, str]:
    """Path relative to ``root`` (POSIX) -> SHA-256, sorted, each file once."""
    return {Path(p).relative_to(root).as_posix(): sha256_file(p) for p in sorted(set(paths))}


def software(*extra: str) -> dict[str, str]:
    """Versions of napari-uspio, Python and the libraries that shaped the numbers.

    ``extra`` names further imported modules to list (e.g. ``"matplotlib"``).
    """
    from napari_uspio import __version__

    versions = {
        "napari_uspio": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "nibabel": nib.__version__,
        "pandas": pd.__version__,
    }
    for name in extra:
        versions[name] = __import__(name).__version__
    return versions


def now_iso() -> str:
    """Now, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def utc_iso(when: datetime | str | None) -> str | None:
    """A time in UTC, ISO 8601 to the second (a naive datetime is local time; None stays)."""
    if when is None:
        return None
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def to_json(record: dict, path: str | Path | None = None) -> str:
    """The JSON text of a provenance record; written atomically to ``path`` if given."""
    text = json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if path is not None:
        write_text(path, text)
    return text
