"""Text on the canvas: a few named lines (series, window, cursor values, a message).

One :class:`CanvasText` per viewer (:func:`canvas_text`) composes the viewer's
text overlay from named slots, so the reading keys, the window/level and the
cursor readout each own their line and never overwrite each other's. A message
(:meth:`CanvasText.flash`) shows what a key just did and clears itself. Lines
are wrapped so that they end before the middle of a view (of each panel of the
compare layout), where the bottom orientation letter is.
"""

from __future__ import annotations

import textwrap
from weakref import WeakKeyDictionary

from qtpy.QtCore import QTimer

#: Slots, top to bottom.
SLOTS = ("series", "window", "cursor", "message")
#: How long a flashed message stays on the canvas.
FLASH_MS = 2500
#: The overlay font's mean character width and the letter's half width, in canvas pixels.
CHAR_PX, LETTER_GAP_PX = 10.5, 45

_TEXTS: WeakKeyDictionary = WeakKeyDictionary()


class CanvasText:
    """The viewer's text overlay, composed of named lines."""

    def __init__(self, viewer):
        self.viewer = viewer
        self.lines: dict[str, str] = {}
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self.set("message", ""))
        overlay = viewer.canvas.overlays["text"]
        overlay.position = "bottom_left"  # the compare panels name themselves top left
        overlay.font_size = 11
        overlay.color = "#f0f0f0"
        viewer.canvas.events.size.connect(self._show)
        viewer.canvas.grid.events.enabled.connect(self._show)

    def set(self, slot: str, text: str) -> None:
        """Show ``text`` on the line ``slot`` (empty: remove the line)."""
        if slot not in SLOTS:
            raise ValueError(f"unknown canvas text slot {slot!r}; one of {SLOTS}")
        if text:
            self.lines[slot] = text
        else:
            self.lines.pop(slot, None)
        self._show()

    def _show(self, event=None) -> None:
        """Compose the overlay from the lines, each wrapped before the bottom letter."""
        width = self._width_chars()
        shown = [
            "\n".join(textwrap.wrap(self.lines[s], width) or [""])
            for s in SLOTS
            if s in self.lines
        ]
        self.viewer.canvas.overlays["text"].text = "\n".join(shown)
        self.viewer.canvas.overlays["text"].visible = bool(shown)

    def _width_chars(self) -> int:
        """Characters a line may hold and end before the middle of a view."""
        _, view_px = self.viewer.canvas.viewbox_size(self.viewer.layers)
        return max(16, int((view_px / 2 - LETTER_GAP_PX) / CHAR_PX))

    def text(self, slot: str) -> str:
        """The line shown in ``slot`` ('' when none)."""
        return self.lines.get(slot, "")

    def flash(self, text: str, ms: int = FLASH_MS) -> None:
        """Show a short message that clears itself after ``ms`` milliseconds."""
        self.set("message", text)
        self._timer.start(ms)

    def clear(self) -> None:
        """Remove every line."""
        self._timer.stop()
        for slot in list(self.lines):
            self.set(slot, "")


def canvas_text(viewer) -> CanvasText:
    """The :class:`CanvasText` of a viewer (made on first use)."""
    text = _TEXTS.get(viewer)
    if text is None:
        text = _TEXTS[viewer] = CanvasText(viewer)
    return text
