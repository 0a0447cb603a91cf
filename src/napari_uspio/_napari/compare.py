"""The compare layout: images side by side in napari's grid, the lesions outlined on each.

napari's grid puts ``stride`` consecutive layers in one tile, with one linked
camera (zoom, pan) and one slice for all tiles. The layout orders the layers in
pairs (image, lesion outlines): the first panel holds the reader's ``lesions``
layer itself, every other panel a *mirror*, a Labels layer on the very same
array (never a copy), drawn like the lesions layer and refreshed after each
stroke, undo or redo. Painting in any panel edits the active ``lesions`` layer
at the world position clicked, so there is one lesion map and one undo history.
The single view puts the layers back in their reading order, mirrors hidden.
"""

from __future__ import annotations

from napari.layers import Image, Labels

from ..core.roles import WINDOW_PAIRS

__all__ = ["CompareLayout", "default_panels", "set_visible"]

#: Roles offered as extra panels, in the order the reader sees them.
EXTRA_PANELS = ("flair", "t2", "qsm", "mtr", "gd_diff", "uspio_diff", "t2star", "r2star")
#: The pre / post pairs compared by default (Gd, then USPIO).
DEFAULT_PAIRS = WINDOW_PAIRS[:2]
MIRROR_ROLE = "lesions_mirror"


def default_panels(roles, extra=()) -> list[str]:
    """Panels for the roles a case has: pre | post Gd, pre | post USPIO, then ``extra``."""
    panels = [role for pair in DEFAULT_PAIRS for role in pair if role in roles]
    panels += [role for role in extra if role in roles and role not in panels]
    return panels or [r for r in EXTRA_PANELS if r in roles][:1]


def set_visible(layer, visible: bool) -> None:
    """Show or hide a layer, touching it only on a change.

    napari re-applies a layer's mode remembered from its last hiding whenever
    ``visible`` is set to True, even when it was visible: a reader's paint brush
    would silently turn into pan / zoom.
    """
    if layer.visible != visible:
        layer.visible = visible


class CompareLayout:
    """Switch a viewer between the single view and panels of a lesions layer's case."""

    def __init__(self, viewer, lesions: Labels, mirrors: list[Labels] = ()):
        self.viewer = viewer
        self.lesions = lesions
        #: Mirrors kept from the case before (see :meth:`release`) show this case's array.
        self.mirrors: list[Labels] = [m for m in mirrors if m in viewer.layers]
        self.panels: list[str] = []
        self._single_order: list = []
        self._single_visible: dict = {}
        self._tiles = 1  # tiles across the longer side of the grid (zoom divided by it)
        self._attached = False
        self.attach()

    @property
    def active(self) -> bool:
        """Whether the compare layout is shown."""
        return bool(self.panels)

    def images(self) -> dict[str, Image]:
        """The case's image layers in the viewer, by role."""
        return {
            layer.metadata["role"]: layer
            for layer in self.viewer.layers
            if isinstance(layer, Image) and "role" in layer.metadata
        }

    def show(self, panels: list[str]) -> None:
        """Lay out ``panels`` (roles, left to right, top to bottom) with outlines on each."""
        images = self.images()
        panels = [role for role in panels if role in images]
        if not panels:
            raise ValueError("no image to compare: the case has none of the panels asked for")
        if not self.active:
            self._single_order = list(self.viewer.layers)
            self._single_visible = {layer: layer.visible for layer in self.viewer.layers}
        self._ensure_mirrors(len(panels) - 1)
        pairs = [(images[panels[0]], self.lesions)]
        pairs += [
            (images[role], mirror) for role, mirror in zip(panels[1:], self.mirrors, strict=False)
        ]
        placed = [layer for pair in pairs for layer in pair]
        rest = [layer for layer in self.viewer.layers if layer not in placed]
        for layer in rest:
            set_visible(layer, False)
        for image, outline in pairs:
            set_visible(image, True)
            set_visible(outline, self.lesions.visible if outline is not self.lesions else True)
            image.name_overlay.visible = True
        self._reorder(placed + rest)  # napari's grid: layer i sits in tile i // stride
        self.viewer.canvas.grid.stride = 2
        self.viewer.canvas.grid.spacing = 4
        was_active = self.active
        self.panels = panels
        self.viewer.canvas.grid.enabled = True
        self.viewer.layers.selection.active = self.lesions
        if not was_active:  # each panel shows the field of view the single view showed
            self._tiles = max(self.viewer.canvas.grid.actual_shape(self.viewer.layers))
            self.viewer.scene.camera.zoom /= self._tiles

    def single(self) -> None:
        """Back to the single view: the layers' reading order and visibility, mirrors hidden."""
        if not self.active:
            return
        self.viewer.canvas.grid.enabled = False
        for layer in self.images().values():
            layer.name_overlay.visible = False
        order = [layer for layer in self._single_order if layer in self.viewer.layers]
        order = [layer for layer in self.viewer.layers if layer not in order] + order  # mirrors
        self._reorder(order)
        for layer in self.viewer.layers:
            set_visible(layer, self._single_visible.get(layer, False))
        self.panels = []
        if self.lesions in self.viewer.layers:  # (gone when the reader removed it)
            self.viewer.layers.selection.active = self.lesions
        self.viewer.scene.camera.zoom *= self._tiles

    def style_mirrors(self) -> None:
        """Draw every mirror like the lesions layer (colours, outline, opacity)."""
        for mirror in self.mirrors:
            mirror.colormap = self.lesions.colormap
            mirror.contour = self.lesions.contour
            mirror.opacity = self.lesions.opacity
            if self.active and mirror in self._panel_layers():
                set_visible(mirror, self.lesions.visible)

    def close(self) -> None:
        """Single view, mirrors removed, the lesions layer's events released."""
        for mirror in self.release():
            if mirror in self.viewer.layers:
                self.viewer.layers.remove(mirror)

    def release(self) -> list[Labels]:
        """Single view, the lesions layer's events released; return the mirrors, kept.

        A reading session whose next case has other layers hands the mirrors to
        the next layout, so no mirror is removed and added at a case switch.
        """
        self.single()
        self.detach()
        mirrors, self.mirrors = self.mirrors, []
        return mirrors

    def detach(self) -> None:
        """Release the lesions layer's events; the layout stays as it is shown.

        A reading session swaps the next case into the same layers and then
        :meth:`attach` es the layout again: no layer moves at a case switch.
        """
        if self._attached:
            self.lesions.events.paint.disconnect(self._refresh_mirrors)
            self.lesions.events.set_data.disconnect(self._refresh_mirrors)
            self._attached = False

    def attach(self) -> None:
        """Follow the lesions layer (again): the mirrors show its array, on its grid."""
        for mirror in self.mirrors:
            mirror.data = self.lesions.data
            for name in ("scale", "translate"):
                if tuple(getattr(mirror, name)) != tuple(getattr(self.lesions, name)):
                    setattr(mirror, name, getattr(self.lesions, name))
        if not self._attached:
            self.lesions.events.paint.connect(self._refresh_mirrors)
            self.lesions.events.set_data.connect(self._refresh_mirrors)
            self._attached = True

    # ---- internals ----------------------------------------------------------------

    def _panel_layers(self) -> list[Labels]:
        return self.mirrors[: max(0, len(self.panels) - 1)]

    def _ensure_mirrors(self, n: int) -> None:
        """At least ``n`` mirrors of the lesions layer, sharing its array, in the viewer."""
        while len(self.mirrors) < n:
            mirror = Labels(
                self.lesions.data,  # the same array: painting the lesions layer shows here
                name=f"lesions ({len(self.mirrors) + 2})",
                scale=self.lesions.scale,
                translate=self.lesions.translate,
                units=self.lesions.units,
                metadata={"role": MIRROR_ROLE},
                visible=False,
            )
            mirror.editable = False
            self.mirrors.append(mirror)
            self.viewer.add_layer(mirror)
        self.style_mirrors()

    def _reorder(self, order: list) -> None:
        for target, layer in enumerate(order):
            here = self.viewer.layers.index(layer)
            if here != target:
                self.viewer.layers.move(here, target)

    def refresh_mirrors(self, event=None) -> None:
        """Redraw the mirrors shown (their array changed without an event)."""
        self._refresh_mirrors()

    def _refresh_mirrors(self, event=None) -> None:
        for mirror in self.mirrors:
            if mirror.visible:
                mirror.refresh()
