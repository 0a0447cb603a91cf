"""*Mark case done* -> next case displayed: ``python benchmarks/bench_next_case.py [--quick]``.

Needs a display (run it under ``xvfb-run``). Builds a study of phantom cases
(256 x 256 x 44, 13 roles; ``--quick``: 128 x 128 x 24) read by one reader in a
real viewer; in each case a stroke is painted, then *Mark case done* is timed
until the next case is displayed (events processed). Three ways, one run,
medians and the ratio to the old way:

- layers replaced, no prefetch (how it was: every layer removed and re-added);
- layers reused, no prefetch (the next case loaded on *Mark case done*);
- layers reused, prefetched (the reader's reading time let the prefetch finish).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from napari_uspio import make_phantom
from napari_uspio._napari.reading_session import ReadingSession
from napari_uspio.core.study.manifest import init_study
from napari_uspio.core.study.session import StudySession

N_CASES = 6


def _switches(viewer, study_dir: Path, replace: bool, prefetch: bool) -> list[float]:
    session = ReadingSession(StudySession(study_dir, "r1", prefetch=prefetch))
    session.open_next(viewer)
    times = []
    for _ in range(N_CASES - 1):
        layer = viewer.layers["lesions"]
        layer.brush_size = 3
        layer.paint((layer.data.shape[0] // 2, 100, 100), 1)
        if prefetch:
            session.core.prefetcher.wait()  # the reader read for longer than a load
        QApplication.processEvents()
        start = time.perf_counter()
        if replace:
            session.remove_layers(viewer)
        session.mark_done(viewer)
        QApplication.processEvents()
        times.append(time.perf_counter() - start)
    session.sign_out(viewer)
    return times


def main(quick: bool) -> None:
    shape = (128, 128, 24) if quick else (256, 256, 44)
    with tempfile.TemporaryDirectory() as tmp:
        cases = Path(tmp) / "cases"
        for k in range(N_CASES):
            make_phantom(cases / f"sub-{k:02d}", seed=k, shape_xyz=shape)
        viewer = napari.Viewer(show=True)
        viewer.window._qt_window.resize(1600, 900)
        ways = {
            "layers replaced, no prefetch (before)": (True, False),
            "layers reused, no prefetch": (False, False),
            "layers reused, prefetched": (False, True),
        }
        medians = {}
        for k, (name, (replace, prefetch)) in enumerate(ways.items()):
            study = init_study(Path(tmp) / f"study{k}", cases, ["r1"], seed=k)
            medians[name] = statistics.median(_switches(viewer, study.folder, replace, prefetch))
        viewer.close()
    before = medians["layers replaced, no prefetch (before)"]
    print(f"volume {shape[::-1]} (z, y, x), 13 roles, {N_CASES - 1} switches per way")
    print("| Mark case done -> next case displayed | median s | vs before |\n|---|---|---|")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.2f} | {seconds / before:.2f}x |")


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
