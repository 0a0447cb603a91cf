"""The demo: napari with the sample case, its ground-truth lesions and the widgets."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

#: How long the headless demo lets Qt draw, once the case is shown, before the screenshot (ms).
SETTLE_MS = 1500


def open_demo_viewer(ready: Callable[[], None] | None = None):
    """Open a viewer and the sample case through the Case widget (on its worker).

    Once the case is shown, the ``lesions`` layer is set to the phantom's ground
    truth, so the Lesions table has rows to show (*File > Open Sample* gives the
    unread case), and ``ready()`` is called.
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

    def shown(_case) -> None:
        viewer.reset_view()
        truth = sample_case_dir() / "truth" / "lesions_truth.nii.gz"
        if truth.exists():
            viewer.layers["lesions"].data = LabelMap.from_file(truth, "lesions").data
        lesions_widget.select_lesion(int(lesions_widget.binding.model.table().index[0]))
        lesions_widget.shell_check.setChecked(True)
        lesions_dock.raise_()  # the Lesions tab in front; Case and Ratings are beside it
        if ready is not None:
            ready()

    case_widget.opened.connect(shown)
    case_widget.open_sample()
    return viewer


def run_demo(screenshot: Path | None = None) -> int:
    """Open the demo; with ``screenshot``, save the whole window there and quit."""
    import napari
    from qtpy.QtCore import QTimer

    if screenshot is None:
        open_demo_viewer()
        napari.run()
        return 0
    viewer = None

    def _shoot():
        viewer.screenshot(str(screenshot), canvas_only=False, flash=False)
        sys.stdout.write(f"demo screenshot saved to {Path(screenshot).resolve()}\n")
        viewer.close()

    viewer = open_demo_viewer(ready=lambda: QTimer.singleShot(SETTLE_MS, _shoot))
    napari.run()
    return 0
