"""The demo: napari with the sample case and the plugin's widgets docked."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def open_demo_viewer():
    """A viewer with the sample case opened through the Case widget."""
    import napari

    viewer = napari.Viewer(title="napari-uspio demo")
    _, case_widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Case")
    viewer.window.add_plugin_dock_widget("napari-uspio", "Lesions", tabify=True)
    case_widget.open_sample()
    return viewer


def run_demo(screenshot: Path | None = None) -> int:
    """Open the demo; with ``screenshot``, save the whole window there and quit."""
    import napari
    from qtpy.QtCore import QTimer

    viewer = open_demo_viewer()
    if screenshot is None:
        napari.run()
        return 0
    viewer.window.resize(1600, 1000)

    def _shoot():
        viewer.screenshot(str(screenshot), canvas_only=False, flash=False)
        import sys

        sys.stdout.write(f"demo screenshot saved to {Path(screenshot).resolve()}\n")
        viewer.close()

    QTimer.singleShot(1500, _shoot)
    napari.run()
    return 0
