"""Window / level like a clinical viewer: a drag mode, presets, linked pairs, values.

:func:`install_window_level` gives a viewer (until ``remove()``):

- a **W/L drag mode** (:meth:`WindowLevel.toggle`): while it is on, a left drag on
  an image changes its window (horizontal: width, vertical: level) and painting
  is paused (the lesions layer is in pan / zoom, the camera does not pan), so
  W/L never fights a brush stroke; napari's right button stays the brush's;
- **presets** per role (:func:`~napari_uspio.core.display.window_presets`), cycled
  by :meth:`WindowLevel.cycle_preset` on the image under the cursor;
- each pre / post pair of :data:`~napari_uspio.core.roles.WINDOW_PAIRS` keeps one
  window, whatever changes either (napari's contrast slider, a drag, a preset);
- on the canvas: the window of the image shown (``W 400 L 200``) and the value of
  every visible map under the cursor, in O(number of layers) per mouse move.
"""

from __future__ import annotations

import math

import numpy as np
from napari.layers import Image, Labels

from ..core.display import window_presets
from ..core.roles import WINDOW_PAIRS
from .canvas_text import canvas_text

__all__ = ["WindowLevel", "install_window_level"]

#: Canvas pixels of drag that double (or halve) the window width.
DRAG_DOUBLING_PX = 150.0
#: Canvas pixels of drag that move the level by one window width.
DRAG_LEVEL_PX = 300.0


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.3g}"


class WindowLevel:
    """Window / level tools of one viewer (see the module docstring)."""

    def __init__(self, viewer):
        self.viewer = viewer
        self.active = False
        self._preset: dict[str, int] = {}
        self._saved: tuple | None = None  # (camera.mouse_pan, lesions mode) while active
        self._linked: list[Image] = []
        viewer.mouse_drag_callbacks.append(self._drag)
        viewer.mouse_move_callbacks.append(self._readout)
        for image in self.images():
            image.events.contrast_limits.connect(self._follow)
            self._linked.append(image)
        self._show_window(self.shown())

    # ---- which image ----------------------------------------------------------------

    def images(self) -> list[Image]:
        """The image layers of the viewer."""
        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def shown(self) -> Image | None:
        """The image under the cursor: its compare panel's, else the top visible one."""
        layers = self.viewer.layers
        if self.viewer.canvas.grid.enabled:
            tile = tuple(self.viewer.cursor.viewbox or (0, 0))
            inside = [layers[i] for i in self.viewer.canvas.grid.contents_at(tile, layers)]
        else:
            inside = list(layers)
        visible = [x for x in inside if isinstance(x, Image) and x.visible]
        return visible[-1] if visible else None

    # ---- the drag mode ----------------------------------------------------------------

    def toggle(self) -> str:
        """Turn the W/L drag mode on or off; returns what to tell the reader."""
        camera = self.viewer.scene.camera
        lesions = self._labels()
        if not self.active:
            self._saved = (camera.mouse_pan, {x: x.mode for x in lesions})
            camera.mouse_pan = False
            for layer in lesions:
                layer.mode = "pan_zoom"
        else:
            mouse_pan, modes = self._saved
            camera.mouse_pan = mouse_pan
            for layer, mode in modes.items():
                layer.mode = mode
        self.active = not self.active
        return (
            "W/L drag: on (drag on an image; the key again to paint)"
            if self.active
            else ("W/L drag: off")
        )

    def _drag(self, viewer, event):
        if not self.active or event.button != 1:
            return
        image = self.shown()
        if image is None:
            return
        x0, y0 = event.pos
        low, high = image.contrast_limits
        level0, width0 = (low + high) / 2, max(high - low, 1e-6)
        yield
        while event.type == "mouse_move":
            dx, dy = event.pos[0] - x0, event.pos[1] - y0
            width = width0 * 2 ** (dx / DRAG_DOUBLING_PX)
            level = level0 - width0 * dy / DRAG_LEVEL_PX
            set_window(image, (level - width / 2, level + width / 2))
            yield

    # ---- presets ------------------------------------------------------------------

    def cycle_preset(self) -> str:
        """Give the image under the cursor its next preset; returns what to tell the reader."""
        image = self.shown()
        if image is None:
            return "No image shown."
        role = image.metadata.get("role", image.name)
        presets = window_presets(role, np.asarray(image.data))
        k = (self._preset.get(role, 0) + 1) % len(presets)
        self._preset[role] = k
        name, window = presets[k]
        set_window(image, window)
        return f"{role}: {name} window"

    # ---- linked pairs, numbers on the canvas -----------------------------------------

    def _follow(self, event) -> None:
        image = event.source
        role = image.metadata.get("role", image.name)
        partner = _partner(role)
        for other in self.images():
            if partner is not None and other.metadata.get("role", other.name) == partner:
                set_window(other, image.contrast_limits)
        self._show_window(image)

    def refresh(self) -> None:
        """Show the window of the image under the cursor (after a layout change)."""
        self._show_window(self.shown())

    def _show_window(self, image: Image | None) -> None:
        if image is None:
            canvas_text(self.viewer).set("window", "")
            return
        low, high = image.contrast_limits
        role = image.metadata.get("role", image.name)
        text = f"{role}: W {_number(high - low)} L {_number((high + low) / 2)}"
        canvas_text(self.viewer).set("window", text)

    def _readout(self, viewer, event) -> None:
        values = []
        for layer in viewer.layers:
            if not isinstance(layer, Image) or not layer.visible:
                continue
            value = layer.get_value(event.position, world=True)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                values.append(f"{layer.name} {_number(float(value))}")
        canvas_text(viewer).set("cursor", "  ".join(values))
        self._show_window(self.shown())

    def remove(self) -> None:
        """Remove the tools (the windows set stay as they are)."""
        if self.active:
            self.toggle()
        self.viewer.mouse_drag_callbacks.remove(self._drag)
        self.viewer.mouse_move_callbacks.remove(self._readout)
        for image in self._linked:
            image.events.contrast_limits.disconnect(self._follow)
        self._linked = []
        for slot in ("window", "cursor"):
            canvas_text(self.viewer).set(slot, "")

    def _labels(self) -> list[Labels]:
        return [x for x in self.viewer.layers if isinstance(x, Labels)]


def _partner(role: str) -> str | None:
    for pre, post in WINDOW_PAIRS:
        if role == pre:
            return post
        if role == post:
            return pre
    return None


def set_window(image: Image, window) -> None:
    """Set an image's window, widening its slider range when the window goes beyond it."""
    low, high = (float(v) for v in window)
    lo_range, hi_range = image.contrast_limits_range
    if low < lo_range or high > hi_range:
        image.contrast_limits_range = (min(low, lo_range), max(high, hi_range))
    if tuple(image.contrast_limits) != (low, high):  # a pair follows once, no recursion
        image.contrast_limits = (low, high)


def install_window_level(viewer) -> WindowLevel:
    """Install the window / level tools on a viewer (``remove()`` uninstalls them)."""
    return WindowLevel(viewer)
