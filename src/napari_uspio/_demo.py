"""The demo: napari with the sample case, its ground-truth lesions and the widgets."""

from __future__ import annotations

import sys
from pathlib import Path

#: How long the headless demo lets Qt draw before the screenshot (ms).
SETTLE_MS = 1500


def open_demo_viewer():
    """Open a viewer with the sample case opened through the Case widget.

    The ``lesions`` layer starts from the phantom's ground truth, so the Lesions
    table has rows to show; *File > Open Sample* gives the unread case.
    """
    import napari

    from ._napari.io import sample_case_dir
    from .core.volume import LabelMap

    viewer = napari.Viewer(title="napari-uspio demo")
    viewer.window.resize(1600, 1000)
    _, case_widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Case")
    lesions_dock, lesions_widget = viewer.window.add_plugin_dock_widget(
        "napari-uspio", "Lesions", tabify=True
    )
    viewer.window.add_plugin_dock_widget("napari-uspio", "Ratings", tabify=True)
    case_widget.open_sample()
    viewer.reset_view()
    truth = sample_case_dir() / "truth" / "lesions_truth.nii.gz"
    if truth.exists():
        viewer.layers["lesions"].data = LabelMap.from_file(truth, "lesions").data
    lesions_widget.select_lesion(int(lesions_widget.binding.model.table().index[0]))
    lesions_widget.shell_check.setChecked(True)
    lesions_dock.raise_()  # the Lesions tab in front; Case and Ratings are beside it
    return viewer


def run_demo(screenshot: Path | None = None) -> int:
    """Open the demo; with ``screenshot``, save the whole window there and quit."""
    import napari
    from qtpy.QtCore import QTimer

    viewer = open_demo_viewer()
    if screenshot is None:
        napari.run()
        return 0

    def _shoot():
        viewer.screenshot(str(screenshot), canvas_only=False, flash=False)
        sys.stdout.write(f"demo screenshot saved to {Path(screenshot).resolve()}\n")
        viewer.close()

    QTimer.singleShot(SETTLE_MS, _shoot)
    napari.run()
    return 0
