"""Screenshots of the reading desk for the README, at 1920 x 1080.

Run under Xvfb: ``xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python
scripts/desk_screenshots.py [OUT_DIR]`` (default ``docs``). Writes
``desk_single.png`` and ``desk_compare.png``: the sample case with its true
lesions, a lesion selected and rated by keys on the canvas.
"""

from __future__ import annotations

import sys
from pathlib import Path

import napari
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication

from napari_uspio import load_case
from napari_uspio._napari.desk import desk_for
from napari_uspio._napari.io import sample_case_dir
from napari_uspio._napari.open_case import add_case
from napari_uspio._napari.viewer import show_lesion
from napari_uspio.core.volume import LabelMap


def _settle(ms: int = 600) -> None:
    QTest.qWait(ms)
    QApplication.processEvents()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="napari-uspio — reading desk")
    viewer.window.add_plugin_dock_widget("napari-uspio", "Reading desk")
    viewer.window._qt_window.showMaximized()
    viewer.window._qt_window.resize(1920, 1080)
    case = load_case(sample_case_dir())
    add_case(viewer, case)
    layer = viewer.layers["lesions"]
    layer.data = LabelMap.from_file(
        sample_case_dir() / "truth" / "lesions_truth.nii.gz", "lesions"
    ).data
    desk = desk_for(viewer)
    show_lesion(viewer, desk.binding, 2)
    viewer.reset_view()
    layer.mode = "paint"
    canvas = viewer.window._qt_viewer.canvas.native
    for key in (Qt.Key.Key_G, Qt.Key.Key_E, Qt.Key.Key_S, Qt.Key.Key_8):
        QTest.keyClick(canvas, key)  # post-Gd shown, Gd shell, USPIO ring, overlap 20-80 %
    _settle()
    viewer.window._qt_window.grab().save(str(out / "desk_single.png"))
    QTest.keyClick(canvas, Qt.Key.Key_Y)
    _settle(1000)
    viewer.window._qt_window.grab().save(str(out / "desk_compare.png"))
    viewer.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
