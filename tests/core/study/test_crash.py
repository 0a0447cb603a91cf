"""Crash test: a writer killed with SIGKILL at any moment loses at most the write in flight.

A spawner process (a small python script importing this module once) forks
one writer per run; the writer resumes the reader's masks from the store,
then appends random strokes (compacting every few strokes) and sets random
ratings in a loop, printing each acknowledged write after the call returned.
The test kills it with SIGKILL after a random 20-300 ms, 100 times on the same
store, and after every kill opens the store and checks that every
acknowledged stroke and rating is there exactly once, that the write in
flight is either wholly there or absent, and that the file passes
``PRAGMA integrity_check``. Forking from a warm spawner keeps each run short
(a fresh interpreter would spend most of a run importing).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pytest

from napari_uspio.core.fields import RATINGS
from napari_uspio.core.study.order import reading_order
from napari_uspio.core.study.sqlite import SQLiteStore

FIELDS = RATINGS.columns

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="the spawner forks (POSIX only)"),
]

SHAPE = (8, 32, 32)
SIZE = int(np.prod(SHAPE))
READER = "r1"
CASES = ("case-a", "case-b")
SEED = 3
RUNS = 100
COMPACT_STROKES = 25
N_LESIONS = 6
CODES = {e.case_id: e.code for e in reading_order(CASES, READER, SEED)}


def action(run: int, i: int):
    """The ``i``-th write of run ``run``: the same in the writer and in the checker."""
    rng = np.random.default_rng([run, i])
    case = CASES[int(rng.integers(len(CASES)))]
    if rng.random() < 0.7:
        idx = rng.choice(SIZE, int(rng.integers(1, 150)), replace=False)
        if rng.random() < 0.6:
            return "stroke", case, idx, int(rng.integers(0, N_LESIONS + 1))
        return "stroke", case, idx, rng.integers(0, N_LESIONS + 1, idx.size)
    fields = {
        "gd": str(rng.choice(["none", "nodular", "shell"])),
        "uspio": str(rng.choice(["none", "ring", "focal", "iso"])),
        "confidence": str(rng.choice(["low", "medium", "high"])),
        "comment": f"{run}:{i}",  # which write the stored rating comes from
    }
    return "rating", case, int(rng.integers(1, N_LESIONS + 1)), fields


# ------------------------------------------------------------------ writer side
def write_until_killed(path: str, run: int) -> None:
    """Resume the masks from the store, then write forever, printing each acknowledgement."""
    store = SQLiteStore(path, compact_strokes=COMPACT_STROKES)
    labels = {c: store.labels(READER, CODES[c], SHAPE, np.int16) for c in CASES}
    i = 0
    while True:
        kind, case, a, b = action(run, i)
        if kind == "stroke":
            labels[case].reshape(-1)[a] = b  # painted first, as napari does, then saved
            seq = store.append_stroke(
                READER, CODES[case], a, b, labels_now=lambda c=case: labels[c]
            )
            sys.stdout.write(f"S {i} {case} {seq}\n")
        else:
            store.set_rating(READER, CODES[case], a, b)
            sys.stdout.write(f"R {i} {case} {a}\n")
        sys.stdout.flush()
        i += 1


def serve(path: str) -> None:
    """The spawner: ``run N`` forks a writer and answers its pid; ``reap PID`` its status."""
    for line in sys.stdin:
        command, arg = line.split()
        if command == "run":
            pid = os.fork()
            if pid == 0:
                try:
                    fd = os.open(f"{path}.acks{arg}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                    os.dup2(fd, 1)  # the writer's stdout is the run's acknowledgement file
                    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                    write_until_killed(path, int(arg))
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(3)
            sys.__stdout__.write(f"{pid}\n")
        else:
            sys.__stdout__.write(f"{os.waitpid(int(arg), 0)[1]}\n")
        sys.__stdout__.flush()


# ------------------------------------------------------------------ checker side
class Expected:
    """What the store must hold: the acknowledged writes (plus in-flight ones that landed)."""

    def __init__(self) -> None:
        self.labels = {c: np.zeros(SHAPE, np.int16) for c in CASES}
        self.seq = dict.fromkeys(CASES, 0)
        self.payload: dict[tuple[str, int], tuple] = {}
        self.ratings: dict[str, dict[int, dict]] = {c: {} for c in CASES}
        self.acknowledged = self.landed_in_flight = 0

    def stroke(self, case, idx, values, seq) -> None:
        assert seq == self.seq[case] + 1, f"{case}: stroke seq {seq} after {self.seq[case]}"
        self.labels[case].reshape(-1)[idx] = values
        self.seq[case] = seq
        self.payload[case, seq] = (idx, np.broadcast_to(values, idx.shape))

    def rating(self, case, lesion, fields) -> None:
        self.ratings[case][lesion] = {**dict.fromkeys(FIELDS), **fields}


def check_after_kill(path: Path, run: int, expected: Expected) -> None:
    lines = Path(f"{path}.acks{run}").read_text().splitlines()
    with SQLiteStore(path) as store:  # the store always opens
        for i, line in enumerate(lines):
            kind, number, case, value = line.split()
            assert int(number) == i, f"run {run}: acknowledgements out of order"
            _, acted_case, a, b = action(run, i)
            assert case == acted_case
            if kind == "S":
                expected.stroke(case, a, b, int(value))
            else:
                expected.rating(case, a, b)
        expected.acknowledged += len(lines)
        # the write in flight when killed: wholly there or absent
        kind, case, a, b = action(run, len(lines))
        code = CODES[case]
        if kind == "stroke":
            last = store.last_seq(READER, code)
            assert last in (expected.seq[case], expected.seq[case] + 1), f"run {run}: {last}"
            if last == expected.seq[case] + 1:
                expected.stroke(case, a, b, last)
                expected.landed_in_flight += 1
        elif store.ratings(READER, code).get(a, {}).get("comment") == b["comment"]:
            expected.rating(case, a, b)
            expected.landed_in_flight += 1
        for case, code in CODES.items():
            where = f"after run {run}, {case}"
            assert store.last_seq(READER, code) == expected.seq[case], where
            stored = store.labels(READER, code, SHAPE, np.int16)
            np.testing.assert_array_equal(stored, expected.labels[case], err_msg=where)
            assert store.ratings(READER, code) == expected.ratings[case], where
            for seq, idx, values in store.strokes(READER, code):  # the journal's tail
                want_idx, want_values = expected.payload[case, seq]
                np.testing.assert_array_equal(idx, want_idx, err_msg=f"{where}, stroke {seq}")
                np.testing.assert_array_equal(values, want_values, err_msg=where)
        assert store.integrity_check() == "ok"


def test_sigkill_at_random_moments_loses_only_the_write_in_flight(tmp_path):
    path = tmp_path / "study.sqlite"
    with SQLiteStore(path, create=True) as store:
        store.add_reader(READER, "reader", reading_order(CASES, READER, SEED))
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import test_crash as t; t.serve({str(path)!r})"
    )
    errors = tmp_path / "writer-stderr.txt"
    expected = Expected()
    pause = random.Random(20260509)
    with open(errors, "w") as err:
        with subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        ) as spawner:
            assert spawner.stdin is not None and spawner.stdout is not None
            try:
                for run in range(RUNS):
                    spawner.stdin.write(f"run {run}\n")
                    spawner.stdin.flush()
                    pid = int(spawner.stdout.readline())
                    time.sleep(pause.uniform(0.02, 0.3))
                    os.kill(pid, signal.SIGKILL)
                    spawner.stdin.write(f"reap {pid}\n")
                    spawner.stdin.flush()
                    status = int(spawner.stdout.readline())
                    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
                        f"run {run}: the writer stopped by itself:\n{errors.read_text()}"
                    )
                    check_after_kill(path, run, expected)
            finally:
                spawner.stdin.close()
                spawner.wait(timeout=30)
    assert expected.acknowledged > 20 * RUNS  # the writers did real work between kills
    total = sum(expected.seq.values())
    with SQLiteStore(path) as store:
        journaled = sum(store.journal_size(READER, code)[0] for code in CODES.values())
    assert journaled < total  # compaction ran (and was killed at times) along the way
    if os.environ.get("NAPARI_USPIO_CRASH_STATS"):
        sys.stderr.write(
            f"{expected.acknowledged} acknowledged writes, {total} strokes, "
            f"{expected.landed_in_flight} in-flight writes landed, {journaled} journaled\n"
        )
