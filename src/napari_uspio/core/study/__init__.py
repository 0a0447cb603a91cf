"""Blinded multi-reader reading studies, without Qt or a viewer.

This package holds a study's persistence: a *study* is a folder holding
``study.toml`` (seed, settings, readers, cases: :mod:`.manifest`) and its store
(:class:`StudyStore`, the interface; :class:`~.sqlite.SQLiteStore`, the
``study.sqlite`` file: every reader's order, masks as a stroke journal with
snapshots, ratings, reading time, audit log, adjudication decisions). Each
reader's order and the pseudonymous case codes shown to them are pure
functions of (case ids, reader id, seed) (:func:`reading_order`).
:class:`~.autosave.Autosave` journals a reader's edits as they happen;
:func:`export_study` writes every reading as tables, masks and provenance.

Durability
    Every write is one ``BEGIN IMMEDIATE ... COMMIT`` transaction and the
    method returns only after ``COMMIT``: a returned seq or rating is
    *acknowledged*. In WAL mode a commit ``write()``-s the transaction's pages
    and a commit frame to ``study.sqlite-wal`` before it returns, so an
    acknowledged write is in the kernel and survives the writer process being
    killed (SIGKILL) whatever ``synchronous`` is; a transaction killed half-way
    has no commit frame and is ignored when the file is next opened, so the
    store always opens, consistent. Power loss or an OS crash is another
    matter: with ``synchronous=NORMAL`` the last commits may be lost (never
    consistency); the default here, ``FULL``, fsyncs the WAL at every commit
    (about 0.5 ms on an SSD), so an acknowledged stroke survives power loss
    too, provided the disk honours fsync.

Concurrency
    One process per reader may write at once on one machine: writers are
    serialised by SQLite's lock and wait up to the busy timeout; readers never
    block. Every write names its reader and case code and is refused unless
    the code is in that reader's order. WAL needs memory shared between the
    processes, so the study folder must be on a local disk (not a network
    share). One reader runs one session at a time.

Example::

    from napari_uspio.core.study import init_study, load_study
    study = init_study("study/", "cases/", readers=["r1", "r2"], seed=7)
    with study.open_store() as store:
        entry = store.next_case("r1")          # (case_id, code, repeat)
        store.open_case("r1", entry.code)
        store.append_stroke("r1", entry.code, flat_indices, 3)
        store.set_rating("r1", entry.code, 3, {"gd": "nodular"})
        store.mark_done("r1", entry.code)
"""

from importlib import import_module

_API = {
    "Autosave": "autosave",
    "export_study": "export",
    "MANIFEST_NAME": "manifest",
    "Reader": "manifest",
    "Study": "manifest",
    "find_cases": "manifest",
    "init_study": "manifest",
    "load_study": "manifest",
    "OrderEntry": "order",
    "case_code": "order",
    "reading_order": "order",
    "Adjudication": "records",
    "AuditEntry": "records",
    "CaseLockedError": "records",
    "CaseState": "records",
    "ReaderProgress": "records",
    "StudyError": "records",
    "SCHEMA_VERSION": "sqlite",
    "STORE_NAME": "sqlite",
    "SQLiteStore": "sqlite",
    "StudyStore": "store",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:  # lazy: a writer process needs the store, not pandas and nibabel
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
