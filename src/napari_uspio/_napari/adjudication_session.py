"""The adjudicator's session in a viewer: the queue, the readers' masks as Reader A/B/C.

The adjudicator signs in like a reader and is blinded like one (case codes,
layers named by role; readers shown only as letters). Opening a queue item
opens its case under the adjudicator's code, with the consensus label map
(``consensus`` layer: lesion id = item number, autosaved like any reading)
and one outline layer per reader (``Reader A``, ``Reader B``, ...). The
adjudicator sets the final mask (paint, or take one reader's mask, or no
lesion), the final ratings and a written rationale; see
:mod:`napari_uspio.core.adjudication`.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Image, Labels
from napari.utils.colormaps import DirectLabelColormap

from ..core.adjudication.consensus import export_consensus
from ..core.adjudication.items import Item, item_values
from ..core.adjudication.queue import (
    CaseAdjudication,
    adjudication_queue,
    case_adjudication,
    open_consensus,
)
from ..core.agreement.readings import CaseReadings, done_readings
from ..core.ratings import Rating, RatingError
from ..core.study.records import StudyError
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
    """An adjudicator signed in to a study, settling disputed items one by one."""

    def __init__(self, study_dir, adjudicator: str):
        super().__init__(study_dir, adjudicator)
        if self.study.reader(adjudicator).role != "adjudicator":
            raise StudyError(
                f"{adjudicator!r} is a reader of this study; adjudication needs an adjudicator "
                "id (the study's [[readers]] with role = 'adjudicator')"
            )
        self.cases: list[CaseAdjudication] = []
        self.waiting: list[str] = []
        self.current: CaseAdjudication | None = None
        self.readings: CaseReadings | None = None
        self.item: Item | None = None
        self.reader_layers: list[Labels] = []
        self.refresh_queue()

    # ------------------------------------------------------------ queue
    def refresh_queue(self) -> None:
        """Recompute the queue from the readers' done readings and the decisions."""
        self.cases, self.waiting = adjudication_queue(self.study, self.store, self.reader)

    def queue(self) -> list[tuple[CaseAdjudication, Item]]:
        """Every disputed item of the ready cases, in the adjudicator's case order."""
        return [(ca, item) for ca in self.cases for item in ca.disputed]

    def pending(self) -> list[tuple[CaseAdjudication, Item]]:
        """Disputed items without a decision."""
        return [(ca, item) for ca, item in self.queue() if item in ca.pending]

    # ------------------------------------------------------------ opening
    def open_item(self, viewer, ca: CaseAdjudication, item: Item) -> None:
        """Show an item: its case (opened if needed), the readers' masks, centred on it."""
        if self.current is None or self.current.code != ca.code:
            found = case_adjudication(
                self.study, self.store, self.reader, ca.case_id, done_readings(self.store)
            )
            if found is None:
                self.refresh_queue()
                raise StudyError(
                    f"case {ca.code} is no longer ready: a reader reopened it. The queue is "
                    "updated; adjudicate it once every reader has marked it done again."
                )
            self.close_case(viewer)
            ca, cr = found
            open_consensus(self.store, self.reader, ca, cr)
            entry = next(e for e in self.store.order(self.reader) if e.code == ca.code)
            self.open(viewer, entry)
            self.binding.layer.name = CONSENSUS_LAYER
            self.binding.layer.brush_size = 3  # lesions are a few mm across
            self.current, self.readings = ca, cr
            self._add_reader_layers(viewer)
            self.cases = [ca if c.code == ca.code else c for c in self.cases]
        self.item = next(i for i in self.current.items if i.item == item.item)
        viewer.layers.selection.active = self.binding.layer
        self.binding.layer.selected_label = self.item.item
        self._show_evidence(viewer)
        self._centre(viewer)

    def _show_evidence(self, viewer) -> None:
        """Show the image the first disputed rating is read on (FLAIR for detection)."""
        disputed = self.item.disputed_fields
        role = EVIDENCE.get(disputed[0], "flair") if disputed else "flair"
        images = [x for x in self.layers if isinstance(x, Image)]
        if not any(x.name == role for x in images):
            return
        for layer in images:
            layer.visible = layer.name == role

    def _add_reader_layers(self, viewer) -> None:
        lesions = self.binding.layer
        for reader, letter in sorted(self.current.letters.items(), key=lambda kv: kv[1]):
            colour = READER_COLORS[(ord(letter) - ord("A")) % len(READER_COLORS)]
            mask = (self.readings.readings[reader].labels > 0).astype(np.uint8)
            layer = Labels(
                mask,
                name=f"Reader {letter}",
                scale=lesions.scale,
                translate=lesions.translate,
                opacity=1.0,
                colormap=DirectLabelColormap(
                    color_dict={None: "transparent", 0: "transparent", 1: colour}
                ),
                metadata={"study_code": self.current.code, "role": "reader mask"},
            )
            layer.contour = 1
            layer.editable = False
            viewer.add_layer(layer)
            self.reader_layers.append(layer)

    def _centre(self, viewer) -> None:
        if self.item.item in self.binding.model.ids:
            show_lesion(viewer, self.binding, self.item.item)
            return
        reader, lesion = next((r, k) for r, k in self.item.lesions.items() if k is not None)
        voxels = np.argwhere(self.readings.readings[reader].labels == lesion)
        centre = (voxels.min(axis=0) + voxels.max(axis=0)) / 2
        world = self.binding.layer.data_to_world(centre)
        viewer.dims.set_point(0, float(world[0]))
        viewer.scene.camera.center = tuple(float(v) for v in world)

    def sign_out(self, viewer) -> None:
        """Close the open case and the store (everything is saved already)."""
        self.close_case(viewer)
        self.store.close()

    def close_case(self, viewer) -> None:
        """Remove the readers' layers too (everything is saved already)."""
        for layer in self.reader_layers:
            if layer in viewer.layers:
                viewer.layers.remove(layer)
        self.reader_layers, self.current, self.readings, self.item = [], None, None, None
        super().close_case(viewer)

    # ------------------------------------------------------------ the item
    def reader_ratings(self) -> dict[str, Rating | None]:
        """Letter -> that reader's rating of the open item (None: not detected)."""
        values = item_values(self.readings, self.item)
        return dict(sorted((self.current.letters[r], v) for r, v in values.items()))

    def final_rating(self) -> Rating:
        """The consensus rating of the open item (as set so far)."""
        return self.binding.ratings.get(self.item.item)

    def set_final(self, **fields: str | None) -> Rating:
        """Set fields of the item's consensus rating (validated; autosaved)."""
        rating = self.binding.ratings.set(self.item.item, **fields)
        self._withdraw("rating changed")
        return rating

    def _withdraw(self, why: str) -> None:
        """A decided item that is edited is pending again (audited)."""
        if self.item.item in self.current.decisions:
            self.store.withdraw_decision(self.reader, self.current.code, self.item.item, why)
            del self.current.decisions[self.item.item]

    def use_reader_mask(self, letter: str) -> None:
        """Make the item's consensus mask exactly that reader's lesion (undoable)."""
        reader = next(r for r, x in self.current.letters.items() if x == letter)
        lesion = self.item.lesions[reader]
        if lesion is None:
            raise StudyError(f"Reader {letter} did not mark this lesion; choose another")
        layer, number = self.binding.layer, self.item.item
        if number in self.binding.model.ids:
            self.binding.delete_lesion(number)
        layer.data_setitem(np.nonzero(self.readings.readings[reader].labels == lesion), number)
        self._withdraw(f"mask of Reader {letter} taken")
        if not self.final_rating().complete:  # the reader's rating as a start, where unset
            rating = self.reader_ratings()[letter]
            unset = {
                k: v
                for k, v in rating.as_dict().items()
                if self.final_rating().as_dict()[k] in (None, "")
            }
            try:
                self.set_final(**unset)
            except RatingError:
                pass  # inconsistent with what the adjudicator set: left to them

    def no_lesion(self) -> None:
        """Remove the item from the consensus mask (undoable)."""
        if self.item.item in self.binding.model.ids:
            self.binding.delete_lesion(self.item.item)
            self._withdraw("no lesion")

    def resolve(self, rationale: str) -> str:
        """Record the decision on the open item; return it (``lesion`` / ``no lesion``).

        A lesion kept in the consensus must be fully rated first.
        """
        kept = self.item.item in self.binding.model.ids
        rating = self.final_rating()
        if kept and not rating.complete:
            raise RatingError(
                "rate the consensus lesion completely first (Gd, USPIO, QSM rim, central vein, "
                "confidence, and overlap when both enhance), or choose No lesion"
            )
        record = self.store.resolve_item(
            self.reader,
            self.current.code,
            self.item.item,
            decision="lesion" if kept else "no lesion",
            rationale=rationale,
            rating=rating.as_dict() if kept else {},
            letters=self.current.letters,
            disputed=self.item.describe(),
        )
        self.current.decisions[self.item.item] = record
        return record.decision

    def export(self, out_dir, partial: bool = False):
        """Write the consensus export (see :func:`export_consensus`)."""
        if self.autosave is not None:
            self.autosave.compact()
        return export_consensus(self.study.folder, out_dir, self.reader, partial=partial)
