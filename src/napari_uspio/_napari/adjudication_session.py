"""The adjudicator's session in a viewer: the consensus layer, the readers' masks as Reader A/B/C.

The adjudicator signs in like a reader and is blinded like one (case codes,
layers named by role; readers shown only as letters). The work on items (queue,
consensus, final ratings, decisions, export) is the GUI-free
:class:`~napari_uspio.core.adjudication.desk.AdjudicationDesk`; this adapter
shows an item: its case under the adjudicator's code with the consensus label
map (``consensus`` layer: lesion id = item number, autosaved like any reading),
one outline layer per reader (``Reader A``, ``Reader B``, ...), the image the
disputed rating is read on, the view centred on the item; and it makes a
reader's mask or "no lesion" an undoable edit of the consensus layer.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Image, Labels
from napari.utils.colormaps import DirectLabelColormap

from ..core.adjudication.desk import AdjudicationDesk, Voxels
from ..core.adjudication.items import Item
from ..core.adjudication.queue import CaseAdjudication
from .reading_session import ReadingSession
from .viewer import show_lesion

#: Outline colours of the readers' masks, by letter order (A, B, C, ...).
READER_COLORS = ("#00e5ff", "#ff4df0", "#ffd000", "#7cff4d", "#ff8a3d", "#b48cff")
CONSENSUS_LAYER = "consensus"
#: The image each disputed rating is read on, shown when an item opens.
EVIDENCE = {
    "gd": "t1_post_gd",
    "uspio": "t1_post_uspio",
    "qsm_rim": "qsm",
    "central_vein": "t2star",
    "overlap": "t1_post_uspio",
    "black_hole": "t1_pre_gd",
    "detection": "flair",
}


class AdjudicationSession(ReadingSession):
    """Show the items of an :class:`AdjudicationDesk` in a viewer, one at a time."""

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
        """Show an item: its case (opened if needed), the readers' masks, centred on it.

        A case no longer ready is refused by the desk before anything closes.
        """
        if self.desk.current is None or self.desk.current.code != ca.code:
            self.show(viewer, self.desk.open_case(ca))
            self.binding.layer.name = CONSENSUS_LAYER
            self.binding.layer.brush_size = 3  # lesions are a few mm across
            self._add_reader_layers(viewer)
        self.desk.select(item)
        viewer.layers.selection.active = self.binding.layer
        self.binding.layer.selected_label = self.desk.item.item
        self._show_evidence()
        self._centre(viewer)

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

    def _show_evidence(self) -> None:
        """Show the image the first disputed rating is read on (FLAIR for detection)."""
        disputed = self.desk.item.disputed_fields
        role = EVIDENCE.get(disputed[0], "flair") if disputed else "flair"
        images = [x for x in self.layers if isinstance(x, Image)]
        if not any(x.name == role for x in images):
            return
        for layer in images:
            layer.visible = layer.name == role

    def _add_reader_layers(self, viewer) -> None:
        lesions, current = self.binding.layer, self.desk.current
        for reader, letter in sorted(current.letters.items(), key=lambda kv: kv[1]):
            colour = READER_COLORS[(ord(letter) - ord("A")) % len(READER_COLORS)]
            mask = (self.desk.readings.readings[reader].labels > 0).astype(np.uint8)
            layer = Labels(
                mask,
                name=f"Reader {letter}",
                scale=lesions.scale,
                translate=lesions.translate,
                opacity=1.0,
                colormap=DirectLabelColormap(
                    color_dict={None: "transparent", 0: "transparent", 1: colour}
                ),
                metadata={"study_code": current.code, "role": "reader mask"},
            )
            layer.contour = 1
            layer.editable = False
            viewer.add_layer(layer)
            self.reader_layers.append(layer)

    def _centre(self, viewer) -> None:
        item = self.desk.item
        if item.item in self.binding.model.ids:
            show_lesion(viewer, self.binding, item.item)
            return
        voxels = self.desk.reader_voxels(self.desk.current.letters[item.detected_by[0]])
        centre = [(v.min() + v.max()) / 2 for v in voxels]
        world = self.binding.layer.data_to_world(centre)
        viewer.dims.set_point(0, float(world[0]))
        viewer.scene.camera.center = tuple(float(v) for v in world)
