"""Navigation as in a reading room: the wheel pages slices, positions in mm, orientation.

:func:`install_navigation` gives a viewer (until ``remove()``): the mouse wheel pages
one slice per notch (Ctrl + wheel zooms, the other way round from napari), the
slider's axis label carries the slice position in mm (napari's slider shows an
index), the orientation letters of the radiological view on the canvas (every
compare panel too) and a scale bar in mm.
"""

from __future__ import annotations

import numpy as np
from napari.components.overlays import TextOverlay

__all__ = ["Navigation", "install_navigation"]

#: Zoom factor per wheel notch with Ctrl.
ZOOM_PER_NOTCH = 1.15
#: Orientation letters of the radiological view (anterior up, patient's right on the left).
ORIENTATION = {"top_center": "A", "bottom_center": "P", "middle_left": "R", "middle_right": "L"}
#: The name of the slice axis (z, superior) in the slider's label.
AXIS_NAMES = ("S", "A", "R")


class Navigation:
    """Wheel paging, mm slider label, orientation letters and scale bar of one viewer."""

    def __init__(self, viewer):
        self.viewer = viewer
        camera = viewer.scene.camera
        self._saved = (camera.mouse_zoom, list(viewer.mouse_wheel_callbacks))
        camera.mouse_zoom = False
        viewer.mouse_wheel_callbacks.clear()  # napari's: Ctrl pages, Alt walks the layers
        viewer.mouse_wheel_callbacks.append(self._wheel)
        overlays = viewer.canvas.overlays
        self._letters = [f"uspio_orientation_{pos}" for pos in ORIENTATION]
        for key, (position, letter) in zip(self._letters, ORIENTATION.items(), strict=True):
            if key in overlays:  # kept hidden since the last case: a new one costs ~0.1 s
                overlays[key].visible = True
                continue
            overlays[key] = TextOverlay(
                text=letter, position=position, visible=True, gridded=True, font_size=12,
                color="#ffd040",
            )  # fmt: skip
        scale_bar = overlays["scale_bar"]
        self._scale_bar = scale_bar.visible
        scale_bar.visible = True  # in mm: the case's layers carry units (layers.placement)
        viewer.dims.events.point.connect(self._label_slider)
        self._label_slider()

    def _wheel(self, viewer, event) -> None:
        delta = float(np.clip(event.delta[1], -1, 1))
        if not delta:
            return
        if "Control" in event.modifiers:
            viewer.scene.camera.zoom *= ZOOM_PER_NOTCH**delta
        else:
            forward = 1 if event.native is not None and event.native.inverted() else -1
            self.page(int(np.sign(delta * forward)))
        event.handled = True

    def page(self, steps: int) -> None:
        """Move ``steps`` slices along the first axis not displayed."""
        dims = self.viewer.dims
        if not dims.not_displayed:
            return
        axis = dims.not_displayed[0]
        top = int(dims.nsteps[axis]) - 1
        dims.set_current_step(axis, int(np.clip(dims.current_step[axis] + steps, 0, top)))

    def _label_slider(self, event=None) -> None:
        dims = self.viewer.dims
        if not dims.not_displayed or dims.ndim != 3:
            return
        axis = dims.not_displayed[0]
        labels = list(dims.axis_labels)
        name = AXIS_NAMES[axis] if axis < len(AXIS_NAMES) else str(axis)
        labels[axis] = f"{name} {dims.point[axis]:+.1f} mm"
        if tuple(labels) != tuple(dims.axis_labels):
            dims.axis_labels = labels

    def remove(self) -> None:
        """Give the viewer napari's wheel, slider label and scale bar back; letters hidden."""
        self.viewer.dims.events.point.disconnect(self._label_slider)
        mouse_zoom, callbacks = self._saved
        self.viewer.scene.camera.mouse_zoom = mouse_zoom
        self.viewer.mouse_wheel_callbacks[:] = callbacks
        for key in self._letters:  # hidden, not removed: the next case shows them again
            if key in self.viewer.canvas.overlays:
                self.viewer.canvas.overlays[key].visible = False
        self.viewer.canvas.overlays["scale_bar"].visible = self._scale_bar


def install_navigation(viewer) -> Navigation:
    """Install reading-room navigation on a viewer (``remove()`` uninstalls it)."""
    return Navigation(viewer)
