"""Adding a reader (or adjudicator) to a study once it is running: ``study add-reader``.

The new reader's order is computed as every reader's is (case ids, reader id,
seed: :func:`~.order.reading_order`) and stored; ``study.toml`` gains the reader;
on a server study the reader gets a database role under the study's policies
(:mod:`.postgres.access`). Nobody else's order or codes change.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..files import write_text
from .manifest import Reader, Study, check_readers, load_study, manifest_text
from .records import StudyError

__all__ = ["add_reader"]


def add_reader(study_dir: str | Path, reader: str, role: str = "reader") -> Study:
    """Add ``reader`` with ``role`` to the study in ``study_dir``; return the study."""
    study = load_study(study_dir)
    if study.package:
        raise StudyError(f"{study.folder}: a case package; add readers in the study folder")
    grown = replace(study, readers=(*study.readers, Reader(str(reader).strip(), role)))
    check_readers(list(grown.readers))
    with grown.open_store() as store:
        store.add_reader(reader, role, grown.order(reader))
        if grown.store is not None:
            store.set_up_access([reader])
    write_text(grown.manifest_path, manifest_text(grown))
    return grown
