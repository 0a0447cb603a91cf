"""Kill a reading process (a real napari Labels layer, the lesion model and autosave)
with SIGKILL mid-stroke, resume from the store, repeat: no acknowledged stroke is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SHAPE = (4, 48, 48)
CHILD = r"""
import sys, numpy as np, napari.layers
from napari_uspio._napari.binding import LabelsBinding
from napari_uspio.core.study.autosave import Autosave
from napari_uspio.core.lesions import LesionModel
from napari_uspio.core.study.sqlite import SQLiteStore
from test_autosave_kill import SHAPE, stroke
store = SQLiteStore(sys.argv[1])
labels = store.labels("r1", "C-1", SHAPE, np.uint16)  # resume where the last run stopped
layer = napari.layers.Labels(labels.copy())
model = LesionModel(labels, {}, np.eye(4))
binding = LabelsBinding(layer, model)
autosave = Autosave(store, "r1", "C-1", model, binding.ratings)
run = int(sys.argv[2])
for i in range(10**6):
    stroke(layer, run, i)
    print(run, i, flush=True)  # acknowledged: the paint event returned after the commit
"""


def stroke(layer, run: int, i: int, dabs: int = 2) -> None:
    """The i-th stroke of a run (two dabs): deterministic, so the checker can replay it."""
    rng = np.random.default_rng([run, i])
    layer.brush_size = int(rng.integers(2, 6))
    z, y, x = int(rng.integers(0, SHAPE[0])), *(int(v) for v in rng.integers(0, SHAPE[1], 2))
    values = [int(v) for v in rng.integers(0, 6, 2)]
    with layer.block_history():
        layer.paint((z, y, x), values[0])
        if dabs > 1:
            layer.paint((z, min(y + 2, SHAPE[1] - 1), x), values[1])


def test_killed_reader_loses_at_most_the_stroke_in_flight(tmp_path):
    import napari.layers

    from napari_uspio.core.study.order import OrderEntry
    from napari_uspio.core.study.sqlite import SQLiteStore

    path = tmp_path / "study.sqlite"
    store = SQLiteStore(path, create=True)
    store.add_reader("r1", "reader", [OrderEntry("case", "C-1", False)])
    store.close()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), *sys.path]),
    )
    expected = napari.layers.Labels(np.zeros(SHAPE, np.uint16))
    random.seed(0)
    for run in range(8):
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), str(run)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        acked = -1
        deadline = time.monotonic() + 60
        while acked < 5 + random.randrange(40) and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked = int(line.split()[1])
        os.kill(child.pid, signal.SIGKILL)  # mid-stroke or between strokes
        rest = child.stdout.read().split()  # lines printed before the kill landed
        child.stdout.close()
        child.wait()
        acked = max([acked, *(int(v) for v in rest[1::2])])
        assert acked >= 5, "the child never got going"
        saved = SQLiteStore(path).labels("r1", "C-1", SHAPE, np.uint16)
        for i in range(acked + 1):
            stroke(expected, run, i)
        # the stroke in flight may have landed in part (each dab is one commit) or whole
        candidates = [expected.data.copy()]
        for dabs in (1, 2):
            trial = napari.layers.Labels(candidates[0].copy())
            stroke(trial, run, acked + 1, dabs)
            candidates.append(trial.data)
        assert any(np.array_equal(saved, c) for c in candidates), f"run {run}: strokes lost"
        expected.data = saved.copy()  # the next run resumes from the store
    check = SQLiteStore(path)
    assert check.integrity_check() == "ok"
