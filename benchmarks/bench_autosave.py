"""Cost of autosave in a reading session: brush strokes journaled into the study store.

Run ``python benchmarks/bench_autosave.py``. On a 300 x 512 x 512 label volume bound
to the lesion model, 150 strokes (4 brush dabs each, in one undo step, each a new
lesion) are timed end to end (napari's paint, the model, ``features``, and the
journal's SQLite commits), with and without autosave; then compaction and reopening.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import napari.layers
import numpy as np

from napari_uspio._napari.binding import LabelsBinding
from napari_uspio.core.lesions import LesionModel
from napari_uspio.core.study.autosave import Autosave
from napari_uspio.core.study.order import OrderEntry
from napari_uspio.core.study.sqlite import SQLiteStore

SHAPE = (300, 512, 512)
STROKES = 150


def strokes_ms(with_autosave: bool, folder: Path) -> tuple[np.ndarray, SQLiteStore, Autosave]:
    store = SQLiteStore(folder / "study.sqlite", create=True)
    store.add_reader("r1", "reader", [OrderEntry("case", "C-1", False)])
    labels = np.zeros(SHAPE, np.uint16)
    model = LesionModel(labels, {}, np.eye(4))
    layer = napari.layers.Labels(labels.copy())
    binding = LabelsBinding(layer, model)
    autosave = Autosave(store, "r1", "C-1", model, binding.ratings) if with_autosave else None
    rng = np.random.default_rng(0)
    layer.brush_size = 8
    times = []
    for i in range(STROKES):
        z, y, x = rng.integers(0, SHAPE[0]), *rng.integers(20, SHAPE[1] - 20, 2)
        start = time.perf_counter()
        with layer.block_history():
            for d in range(4):
                layer.paint((z, y + d, x + d), i + 1)
        times.append((time.perf_counter() - start) * 1e3)
    return np.array(times), store, autosave


def main() -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        plain, _, _ = strokes_ms(False, Path(a))
        saved, store, autosave = strokes_ms(True, Path(b))
        n, nbytes = store.journal_size("r1", "C-1")
        start = time.perf_counter()
        store.labels("r1", "C-1", SHAPE, np.uint16)
        replay_s = time.perf_counter() - start
        start = time.perf_counter()
        autosave.compact()
        compact_s = time.perf_counter() - start
        start = time.perf_counter()
        store.labels("r1", "C-1", SHAPE, np.uint16)
        open_s = time.perf_counter() - start
    print(f"volume {SHAPE}, {STROKES} strokes of 4 dabs (ms, whole stroke incl. napari's paint)")
    print("| | median | p95 |\n|---|---|---|")
    print(f"| without autosave | {np.median(plain):.2f} | {np.percentile(plain, 95):.2f} |")
    print(f"| with autosave | {np.median(saved):.2f} | {np.percentile(saved, 95):.2f} |")
    print(
        f"journal: {n} edits, {nbytes / 1024:.0f} kB; open by replay {replay_s:.2f} s; "
        f"compaction {compact_s:.2f} s; open from snapshot {open_s:.2f} s"
    )


if __name__ == "__main__":
    main()
