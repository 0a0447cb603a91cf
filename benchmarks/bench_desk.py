"""What the reading desk adds per key: ``python benchmarks/bench_desk.py [--quick]``.

Needs a display (run it under ``xvfb-run``). Opens the default phantom
(256 x 256 x 44, or a 512 x 512 x 300 one without ``--quick``) with its true
lesions in a real viewer, then times, one run, medians in ms: a rating key, undo
of a rating, next unrated (centres the view), overlay cycle, flick pre / post,
compare on and off, a window preset, a cursor readout.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from napari_uspio import load_case, make_phantom
from napari_uspio._napari.desk import desk_for
from napari_uspio._napari.open_case import add_case
from napari_uspio.core.volume import LabelMap

REPEATS = 30


def _median_ms(action, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        QApplication.processEvents()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(quick: bool) -> None:
    shape = (256, 256, 44) if quick else (512, 512, 300)
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_phantom(Path(tmp) / "case", seed=0, shape_xyz=shape)
        viewer = napari.Viewer(show=True)
        add_case(viewer, load_case(folder))
        layer = viewer.layers["lesions"]
        layer.data = LabelMap.from_file(folder / "truth" / "lesions_truth.nii.gz", "lesions").data
        layer.selected_label = 1
        desk = desk_for(viewer)
        rows = {
            "rating key (W / E: Gd nodular, shell)": lambda: (desk.press("W"), desk.press("E")),
            "rating key then undo": lambda: (desk.press("Q"), desk.press("Ctrl+Z")),
            "next unrated (N)": lambda: desk.press("N"),
            "overlay cycle (O)": lambda: desk.press("O"),
            "flick pre/post (G)": lambda: desk.press("G"),
            "compare on + off (Y, Y)": lambda: (desk.press("Y"), desk.press("Y")),
            "window preset (Shift+I)": lambda: desk.press("Shift+I"),
        }
        print(f"volume {shape[::-1]} (z, y, x), {len(desk.binding.model.ids)} lesions")
        print("| action | median ms |\n|---|---|")
        for name, action in rows.items():
            print(f"| {name} | {_median_ms(action):.1f} |")
        viewer.close()


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
