"""The adjudicator's session in a viewer: the consensus layer, the readers' masks as Reader A/B/C.

The adjudicator signs in like a reader and is blinded like one (case codes,
layers named by role; readers shown only as letters). The work on items (queue,
consensus, final ratings, decisions, export) is the GUI-free
:class:`~napari_uspio.core.adjudication.desk.AdjudicationDesk`; this adapter
shows an item: its case under the adjudicator's code with the consensus label
map (``consensus`` layer: lesion id = item number, autosaved like any reading,
drawn by the reading desk: outlines, the open item in the selected colour), one
outline layer per reader (``Reader A``, ``Reader B``, ...) in its own colour
(:meth:`AdjudicationSession.legend`), the evidence image of every disputed
field, the view centred and zoomed on the item; and it makes a reader's mask or
"no lesion" an undoable edit of the consensus layer.

Where outlines coincide they stay apart: the consensus (1 voxel thick) is drawn
on top, Reader A (2 voxels) under it, Reader B (3) under A, and so on, so every
outline shows as its own band inside the one above it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from napari.layers import Image, Labels
from napari.utils.colormaps import DirectLabelColormap

from ..core.adjudication.desk import AdjudicationDesk, Voxels
from ..core.adjudication.items import Item
from ..core.adjudication.queue import CaseAdjudication
from .compare import set_visible
from .desk import LESION_COLOUR, SELECTED_COLOUR, desk_for
from .reading_session import ReadingSession

#: Outline colours of the readers' masks, by letter order (A, B, C, ...): none of them
#: the consensus colours (``LESION_COLOUR``, ``SELECTED_COLOUR`` of the reading desk).
READER_COLORS = ("#ff4df0", "#ff8a3d", "#7cff4d", "#b48cff", "#ff4d4d", "#ffffff")
CONSENSUS_LAYER = "consensus"
#: Field of view around an opened item: three times its extent, at least this (mm).
MIN_FOV_MM = 40.0


class LegendEntry(NamedTuple):
    """One line of the legend: who, colour, outline thickness (voxels), layer name."""

    name: str
    colour: str
    contour: int
    layer: str


def reader_colour(letter: str) -> str:
    """The outline colour of Reader ``letter``."""
    return READER_COLORS[(ord(letter) - ord("A")) % len(READER_COLORS)]


def reader_contour(letter: str) -> int:
    """The outline thickness (voxels) of Reader ``letter``: A 2, B 3, ... (consensus: 1)."""
    return 2 + ord(letter) - ord("A")


class AdjudicationSession(ReadingSession):
    """Show the items of an :class:`AdjudicationDesk` in a viewer, one at a time.

    Moving to another case swaps its maps into the same layers, the readers'
    outline layers included (see :meth:`ReadingSession.show`).
    """

    LESIONS_LAYER = CONSENSUS_LAYER

    def __init__(self, desk: AdjudicationDesk):
        super().__init__(desk)
        self.desk = desk
        self.reader_layers: list[Labels] = []

    @property
    def current(self) -> CaseAdjudication | None:
        """The case shown (None: none)."""
        return self.desk.current

    @property
    def item(self) -> Item | None:
        """The item shown (None: none)."""
        return self.desk.item

    def open_item(self, viewer, ca: CaseAdjudication, item: Item) -> None:
        """Show an item: its case (opened if needed), the readers' masks, zoomed on it.

        A case no longer ready is refused by the desk before anything closes.
        """
        desk_for(viewer).settle()
        if self.desk.current is None or self.desk.current.code != ca.code:
            self.show(viewer, self.desk.open_case(ca))
            self._show_reader_layers(viewer)
        self.desk.select(item)
        viewer.layers.selection.active = self.binding.layer
        self.binding.layer.selected_label = self.desk.item.item  # drawn in SELECTED_COLOUR
        self._show_evidence(viewer)
        self._focus(viewer)

    def legend(self) -> list[LegendEntry]:
        """The consensus, its open item, then each reader: colour and outline thickness."""
        entries = [
            LegendEntry("Consensus", LESION_COLOUR, 1, CONSENSUS_LAYER),
            LegendEntry("Open item (consensus)", SELECTED_COLOUR, 1, CONSENSUS_LAYER),
        ]
        for layer in self.reader_layers:
            letter = layer.metadata["letter"]
            entries.append(
                LegendEntry(layer.name, reader_colour(letter), reader_contour(letter), layer.name)
            )
        return entries

    def set_reader_visible(self, letter: str, visible: bool) -> None:
        """Show or hide Reader ``letter``'s outlines."""
        for layer in self.reader_layers:
            if layer.metadata["letter"] == letter:
                layer.visible = bool(visible)

    def evidence_roles(self) -> tuple[str, ...]:
        """The evidence images of the open item's disputed fields (shown when it opens)."""
        return self.desk.evidence_roles() if self.desk.item is not None else ()

    def use_reader_mask(self, letter: str) -> None:
        """Make the item's consensus mask exactly that reader's lesion (undoable)."""
        self.desk.use_reader_mask(letter, self._replace)

    def no_lesion(self) -> None:
        """Remove the item from the consensus mask (undoable)."""
        self.desk.no_lesion(self.binding.delete_lesion)

    def remove_layers(self, viewer) -> None:
        """Remove the readers' layers too."""
        for layer in self.reader_layers:
            if layer in viewer.layers:
                viewer.layers.remove(layer)
        self.reader_layers = []
        super().remove_layers(viewer)

    def _replace(self, number: int, voxels: Voxels) -> None:
        """Make lesion ``number`` of the consensus layer exactly ``voxels``, undoably."""
        if number in self.binding.model.ids:
            self.binding.delete_lesion(number)
        self.binding.layer.data_setitem(voxels, number)

    def _show_evidence(self, viewer) -> None:
        """Show the evidence image of every disputed field (the others hidden).

        Two or more: side by side in the compare layout (the consensus outlined on
        each; the readers' outlines come back in the single view, key Y).
        """
        roles = self.evidence_roles()
        compare = desk_for(viewer).compare
        images = [x for x in self.layers if isinstance(x, Image)]
        shown = [x for x in images if x.metadata.get("role", x.name) in roles]
        if len(shown) > 1:  # from panels to panels directly: only the layers that change
            compare.show(list(roles))  # in the order of the disputed fields
            return
        compare.single()
        for layer in images if shown else ():
            set_visible(layer, layer in shown)

    def _show_reader_layers(self, viewer) -> None:
        """One outline layer per reader, under the consensus: A just under it, then B, ...

        A reader's layer of the case before is reused (its data swapped); layers
        are added or removed only when the readers' letters change.
        """
        lesions, current = self.binding.layer, self.desk.current
        old = {layer.metadata["letter"]: layer for layer in self.reader_layers}
        self.reader_layers, above = [], lesions
        for reader, letter in sorted(current.letters.items(), key=lambda kv: kv[1]):
            mask = (self.desk.readings.readings[reader].labels > 0).astype(np.uint8)
            meta = {"study_code": current.code, "role": "reader mask", "letter": letter}
            layer = old.pop(letter, None)
            if layer is not None and layer in viewer.layers:
                layer.metadata = meta
                layer.data = mask
                for name in ("scale", "translate"):
                    if not np.allclose(getattr(layer, name), getattr(lesions, name)):
                        setattr(layer, name, getattr(lesions, name))
            else:
                layer = self._reader_layer(mask, letter, meta)
                viewer.layers.insert(viewer.layers.index(above), layer)
            self.reader_layers.append(layer)
            above = layer
        for layer in old.values():
            if layer in viewer.layers:
                viewer.layers.remove(layer)
        viewer.layers.selection.active = lesions

    def _reader_layer(self, mask: np.ndarray, letter: str, metadata: dict) -> Labels:
        """A reader's outline layer, on the consensus layer's grid, not editable."""
        layer = Labels(
            mask,
            name=f"Reader {letter}",
            scale=self.binding.layer.scale,
            translate=self.binding.layer.translate,
            units=self.binding.layer.units,
            opacity=1.0,
            colormap=DirectLabelColormap(
                color_dict={None: "transparent", 0: "transparent", 1: reader_colour(letter)}
            ),
            metadata=metadata,
        )
        layer.contour = reader_contour(letter)
        layer.editable = False
        return layer

    def _item_box(self) -> tuple[np.ndarray, np.ndarray]:
        """Voxel bounds (low, high) of the open item in the consensus and every reader's mask."""
        item, boxes = self.desk.item, []
        if item.item in self.binding.model.ids:
            box = self.binding.model.lesion_bbox(item.item)
            boxes.append(([s.start for s in box], [s.stop - 1 for s in box]))
        for reader in item.detected_by:
            voxels = self.desk.reader_voxels(self.desk.current.letters[reader])
            boxes.append(([v.min() for v in voxels], [v.max() for v in voxels]))
        return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)

    def _focus(self, viewer) -> None:
        """Slice and centre on the item; zoom so it fills a third of the view (40 mm at least)."""
        low, high = self._item_box()
        layer = self.binding.layer
        centre = layer.data_to_world((low + high) / 2)
        size = (high - low + 1) * np.asarray(layer.scale)
        viewer.reset_view()
        shown = list(viewer.dims.displayed)
        extent = viewer.layers.extent.world
        span = float(min(extent[1][d] - extent[0][d] for d in shown))
        fov = max(3 * float(max(size[d] for d in shown)), MIN_FOV_MM)
        camera = viewer.scene.camera
        camera.zoom = camera.zoom * max(1.0, span / fov)
        for d in viewer.dims.not_displayed:
            viewer.dims.set_point(d, float(centre[d]))
        camera.center = tuple(float(centre[d]) for d in shown)
