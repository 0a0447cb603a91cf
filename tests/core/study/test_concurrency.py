"""Concurrency test: three reader processes write strokes, ratings and time at once.

On each backend (a SQLite file; a PostgreSQL database on the test server),
readers r1, r2 and r3 each run in their own process on the same store for
``NAPARI_USPIO_CONCURRENCY_S`` seconds (default 30), on the same three cases
(each reader under their own codes), printing every acknowledged write. While
they run, this process reads progress and label maps (readers never block).
Then every acknowledged write must be in the store exactly once, attributed
to the right reader and case: stroke seqs contiguous and complete, label maps
equal to a replay of the acknowledged strokes, ratings equal to each lesion's
last acknowledged rating (its comment names the reader and the write), time
equal to the sum of the acknowledged increments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from napari_uspio.core.fields import RATINGS
from napari_uspio.core.study.order import reading_order
from napari_uspio.core.study.postgres import PostgresStore
from napari_uspio.core.study.sqlite import SQLiteStore

FIELDS = RATINGS.columns

pytestmark = pytest.mark.slow

DURATION_S = float(os.environ.get("NAPARI_USPIO_CONCURRENCY_S", "30"))
SHAPE = (8, 32, 32)
SIZE = int(np.prod(SHAPE))
READERS = ("r1", "r2", "r3")
CASES = ("sub-01", "sub-02", "sub-03")
SEED = 11
N_LESIONS = 5


def codes(reader: str) -> dict[str, str]:
    return {e.case_id: e.code for e in reading_order(CASES, reader, SEED)}


def action(reader: str, i: int):
    """The ``i``-th write of ``reader``: the same in the writer and in the checker."""
    rng = np.random.default_rng([READERS.index(reader), i])
    case = CASES[int(rng.integers(len(CASES)))]
    draw = rng.random()
    if draw < 0.65:
        idx = rng.choice(SIZE, int(rng.integers(1, 100)), replace=False)
        return "stroke", case, idx, int(rng.integers(0, N_LESIONS + 1))
    if draw < 0.9:
        fields = {
            "gd": str(rng.choice(["none", "nodular", "shell"])),
            "qsm_rim": str(rng.choice(["present", "absent"])),
            "comment": f"{reader}:{i}",  # names the reader and the write
        }
        return "rating", case, int(rng.integers(1, N_LESIONS + 1)), fields
    return "time", case, int(rng.integers(1, N_LESIONS + 1)), None


def open_store(target: str, **options):
    """The store at ``target``: a PostgreSQL URL, else a SQLite file."""
    if target.startswith("postgresql://"):
        return PostgresStore(target, **options)
    return SQLiteStore(target, **options)


def write_for(target: str, reader: str, seconds: float, spool: str | None = None) -> None:
    """A reader's process: random writes for ``seconds``, each acknowledgement printed.

    With ``spool`` (a folder) the reader is a workstation of a server study: it writes
    through its spool (:class:`SpooledStore`) in that folder.
    """
    if spool is not None:
        from napari_uspio.core.study.spool import SpooledStore

        store = SpooledStore(target, reader, spool)
    else:
        store = open_store(target, compact_strokes=50)
    mine = codes(reader)
    labels = {c: store.labels(reader, mine[c], SHAPE, np.int16) for c in CASES}
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        kind, case, a, b = action(reader, i)
        code = mine[case]
        if kind == "stroke":
            labels[case].reshape(-1)[a] = b
            seq = store.append_stroke(reader, code, a, b, labels_now=lambda c=case: labels[c])
            sys.stdout.write(f"S {i} {case} {seq}\n")
        elif kind == "rating":
            store.set_rating(reader, code, a, b)
            sys.stdout.write(f"R {i} {case} {a}\n")
        else:
            store.add_time(reader, code, 1.0, lesion=a)
            sys.stdout.write(f"T {i} {case} {a}\n")
        sys.stdout.flush()
        i += 1
    store.close()


@contextmanager
def writers(targets: dict[str, str], seconds: float, folder: Path, spools=None):
    """One :func:`write_for` process per reader of ``targets`` (reader -> store URL or file).

    Acknowledgements go to ``folder/<reader>.acks``; ``spools`` (reader -> folder) makes
    each a workstation of a server study. Yields reader -> process; on exit a process
    still running (a failure) is killed.
    """
    here = str(Path(__file__).parent)
    procs, outs = {}, {}
    try:
        for reader, target in targets.items():
            spool = None if spools is None else str(spools[reader])
            script = (
                f"import sys; sys.path.insert(0, {here!r}); import test_concurrency as t; "
                f"t.write_for({target!r}, {reader!r}, {seconds!r}, {spool!r})"
            )
            outs[reader] = open(folder / f"{reader}.acks", "w")  # noqa: SIM115
            procs[reader] = subprocess.Popen(
                [sys.executable, "-c", script],
                stdout=outs[reader],
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
            )
        yield procs
    finally:
        for reader, proc in procs.items():
            if proc.poll() is None:  # pragma: no cover - only on a failure
                proc.kill()
                proc.wait()
            outs[reader].close()


def test_three_readers_write_at_once_and_nothing_is_lost_or_mixed(backend, tmp_path):
    path = str(backend.target)
    with backend.open(create=True) as store:
        for reader in READERS:
            store.add_reader(reader, "reader", reading_order(CASES, reader, SEED))
    polls = 0
    targets = dict.fromkeys(READERS, path)
    with writers(targets, DURATION_S, tmp_path) as procs:
        with backend.open() as watcher:  # reads while the writers write
            while any(p.poll() is None for p in procs.values()):
                assert len(watcher.status()) == 3
                for reader in READERS:
                    watcher.labels(reader, codes(reader)["sub-01"], SHAPE, np.int16)
                polls += 1
                time.sleep(0.25)
        errors = {r: p.communicate(timeout=60)[1] for r, p in procs.items()}
    for reader, proc in procs.items():
        assert proc.returncode == 0, f"{reader}:\n{errors[reader]}"
    assert polls >= max(1, DURATION_S)  # the watcher read all along

    with backend.open() as store:
        if backend.name == "sqlite":
            assert store.integrity_check() == "ok"
        for reader in READERS:
            check_reader(store, reader, (tmp_path / f"{reader}.acks").read_text().splitlines())


def check_reader(store, reader: str, lines: list[str]) -> None:
    labels = {c: np.zeros(SHAPE, np.int16) for c in CASES}
    seq = dict.fromkeys(CASES, 0)
    payload: dict[tuple[str, int], tuple] = {}
    ratings: dict[str, dict[int, dict]] = {c: {} for c in CASES}
    seconds = dict.fromkeys(CASES, 0.0)
    lesion_seconds: dict[str, dict[int, float]] = {c: {} for c in CASES}
    assert len(lines) > 100 * DURATION_S / 30, f"{reader} wrote too little"
    for i, line in enumerate(lines):
        kind, number, case, value = line.split()
        _, acted_case, a, b = action(reader, i)
        assert (int(number), case) == (i, acted_case)
        if kind == "S":
            assert int(value) == seq[case] + 1, f"{reader} {case}: seq {value} after {seq[case]}"
            seq[case] = int(value)
            labels[case].reshape(-1)[a] = b
            payload[case, seq[case]] = (a, b)
        elif kind == "R":
            ratings[case][a] = {**dict.fromkeys(FIELDS), **b}
        else:
            seconds[case] += 1.0
            lesion_seconds[case][a] = lesion_seconds[case].get(a, 0.0) + 1.0
    for case, code in codes(reader).items():
        where = f"{reader}, {case} ({code})"
        assert store.last_seq(reader, code) == seq[case], where  # no stroke lost or doubled
        np.testing.assert_array_equal(
            store.labels(reader, code, SHAPE, np.int16), labels[case], err_msg=where
        )
        for s, idx, values in store.strokes(reader, code):
            np.testing.assert_array_equal(idx, payload[case, s][0], err_msg=where)
            assert (values == payload[case, s][1]).all(), where
        assert store.ratings(reader, code) == ratings[case], where
        state = store.case_state(reader, code)
        assert state.seconds_spent == seconds[case], where
        assert store.lesion_times(reader, code) == lesion_seconds[case], where
