"""Delineation tools of the reading desk: grow from a click, fill between slices, a 3-D brush.

The tools compute in :mod:`napari_uspio.core.lesions.delineate`; here they meet the
mouse and the lesions layer. Each edit lands through ``Labels.data_setitem``: one
undo step, one paint event, so the lesion table and the autosave follow it as
they follow a brush stroke.

- **Grow** (its key toggles it): a click on an image (the compare panel's under the
  cursor, else the top visible image) grows a lesion in 3-D. The grown region is a
  *preview* drawn in the lesions map (every compare panel shows it) until the
  reader accepts it (one undo step) or cancels it (nothing left); the threshold
  keys re-grow it lower or higher. Any other desk key, and leaving the case,
  cancels a preview.
- **Fill between slices** (one key): the selected lesion's unpainted slices between
  outlined ones, by shape-based interpolation.
- **3-D brush** (its key toggles it): a drag paints a ball of the brush's diameter
  in mm (Alt + drag erases); the whole drag is one undo step.
- **Candidates** (a ``candidates`` layer shown, one key each): the candidate under the
  cursor is accepted (its voxels become a lesion with a new id, one undo step) or
  rejected; it leaves the proposal layer and :attr:`Delineation.decided` hears it.

A lesions layer that is not editable (a reference delineation to rate) refuses
every tool with the reason.
"""

from __future__ import annotations

import weakref

import numpy as np
from napari.layers import Image

from ..core.lesions.delineate import (
    DEFAULT_GROW_LEVEL,
    DelineationError,
    Grown,
    Stroke,
    grow_from_click,
    interpolate_slices,
    sphere_stroke,
)
from ..core.study.sources import accept_candidate, candidate_boxes
from .bindings import case_of
from .undo import Proposal

__all__ = ["CANDIDATES_ROLE", "GROW_ROLES", "LEVEL_STEP", "Delineation"]

#: How much the threshold keys move the grow level (fraction of click - white matter).
LEVEL_STEP = 0.05
#: The roles grown on by default, in order (MS lesions stand out on them).
GROW_ROLES = ("flair", "t2")
#: The role of the proposal layer of automatic candidates.
CANDIDATES_ROLE = "candidates"
#: Why a tool does nothing on a lesions layer that is not editable.
NOT_EDITABLE = "painting is off: these lesions are a reference delineation, rate them"


class Delineation:
    """The delineation tools of one reading desk while a lesions layer is bound."""

    def __init__(self, desk):
        self.desk = desk
        self.viewer = desk.viewer
        self.tool: str | None = None  # "grow" | "brush3d" | None
        self.level = DEFAULT_GROW_LEVEL
        #: The role grown on (None: :data:`GROW_ROLES`, else the image under the cursor).
        self.grow_role: str | None = None
        self.grown: Grown | None = None  # the preview shown
        self._click: tuple[Image, tuple[int, int, int], int] | None = None
        self._drawn: tuple[Stroke, np.ndarray] | None = None  # (stroke, old values)
        self._saved: tuple | None = None  # (camera.mouse_pan, layer mode) while a tool is on
        #: Called ``decided(decision, candidate, lesion)`` as a candidate is accepted
        #: (lesion: its new id) or rejected (lesion None); a reading session records it.
        self.decided = None
        self._boxes_of: weakref.ref | None = None  # the candidates map the boxes are of
        self._candidate_boxes: list = []
        self.viewer.mouse_drag_callbacks.append(self._drag)

    @property
    def layer(self):
        """The lesions layer read."""
        return self.desk.layer

    def _spacing(self) -> np.ndarray:
        return np.abs(np.asarray(self.layer.scale, dtype=float))

    # ---- switching tools -------------------------------------------------------------

    def toggle_grow(self) -> None:
        """Turn the grow tool on or off."""
        if not self._switch("grow"):
            return
        if self.tool == "grow":
            self.desk.say("Grow: click inside a lesion (, . threshold, Enter accepts, Esc)")
        else:
            self.desk.say("Grow: off")

    def toggle_brush3d(self) -> None:
        """Turn the 3-D brush on or off (a ball of the brush diameter, in mm)."""
        if not self._switch("brush3d"):
            return
        if self.tool == "brush3d":
            self.desk.say(f"3-D brush: {self.layer.brush_size:g} mm ball (Alt + drag erases)")
        else:
            self.desk.say("3-D brush: off")

    def refused(self, tool: str) -> bool:
        """Say why and return True when the lesions layer may not be edited."""
        if self.layer.editable:
            return False
        self.desk.say(f"{tool}: {NOT_EDITABLE}.", ms=6000)
        return True

    def _switch(self, tool: str) -> bool:
        """Turn ``tool`` on (or off when on); False when refused."""
        self.cancel()
        if self.tool is None and self.refused("Grow" if tool == "grow" else "3-D brush"):
            return False
        camera = self.viewer.scene.camera
        if self.tool is None:
            if self.desk.window_level is not None and self.desk.window_level.active:
                self.desk.window_level.toggle()  # one drag mode at a time
            self._saved = (camera.mouse_pan, self.layer.mode)
            self.layer.mode = "pan_zoom"
            self.layer.mouse_pan = camera.mouse_pan = False
            self.tool = tool
        elif self.tool == tool:
            self._restore()
        else:
            self.tool = tool
        return True

    def _restore(self) -> None:
        if self._saved is not None:
            mouse_pan, mode = self._saved
            self.layer.mode = mode
            self.viewer.scene.camera.mouse_pan = mouse_pan
        self.tool = self._saved = None

    # ---- grow --------------------------------------------------------------------------

    def grow_at(self, position_world, image: Image | None = None) -> Grown | None:
        """Grow (a preview of) a lesion from the world position clicked, on ``image``."""
        self.cancel()
        image = image or self._image()
        if image is None:
            wanted = self.grow_role or "FLAIR, T2 or an image shown"
            self.desk.say(f"Grow: this case has no {wanted} to grow on.")
            return None
        voxel = tuple(int(round(c)) for c in self.layer.world_to_data(position_world)[-3:])
        data = np.asarray(self.layer.data)
        inside = all(0 <= c < n for c, n in zip(voxel, data.shape, strict=True))
        label = self._label_for(data[voxel] if inside else 0)
        self._click = (image, voxel, label)
        return self._regrow()

    def adjust(self, direction: str) -> None:
        """Re-grow the preview with the threshold a notch ``"higher"`` or ``"lower"``."""
        if self._click is None:
            self.desk.say("Grow: click a lesion first.")
            return
        step = LEVEL_STEP if direction == "higher" else -LEVEL_STEP
        self.level = float(np.clip(self.level + step, LEVEL_STEP, 1 - LEVEL_STEP))
        self._undraw()
        self._regrow()

    def accept(self) -> None:
        """Make the preview a lesion: one undo step, measured and autosaved."""
        if self.grown is None:
            self.desk.say("Nothing to accept: grow a lesion first.")
            return
        stroke = self.grown.stroke
        self.cancel()
        self.layer.data_setitem(stroke.indices, stroke.label)
        self.layer.selected_label = stroke.label
        volume = stroke.n_voxels * float(np.prod(self._spacing()))
        self.desk.say(f"Lesion {stroke.label} grown: {volume:.0f} mm3")

    def cancel(self) -> None:
        """Take the preview away (nothing of it stays)."""
        self._undraw()
        self.grown = self._click = None

    def _regrow(self) -> Grown | None:
        image, voxel, label = self._click
        case = case_of(self.layer)
        try:
            grown = grow_from_click(
                np.asarray(image.data),
                np.asarray(self.layer.data),
                voxel,
                label,
                self._spacing(),
                None if case is None else case.wm_mask,
                level=self.level,
            )
        except DelineationError as exc:
            self._click = None
            self.desk.say(f"Grow: {exc}", ms=6000)
            return None
        self.grown = grown
        self._draw(grown.stroke)
        role = image.metadata.get("role", image.name)
        self.desk.say(
            f"Lesion {label} on {role} (threshold {grown.threshold:.4g}): "
            "Enter accepts, Esc cancels"
        )
        return grown

    def _label_for(self, under_click: int) -> int:
        """The selected lesion if the click is on it or it is unpainted, else a new id."""
        binding = self.desk.binding
        selected = int(self.layer.selected_label)
        if selected and (under_click == selected or selected not in binding.model.ids):
            return selected
        return binding.ratings.next_free_id(binding.model.ids)

    def _image(self) -> Image | None:
        """The image grown on: :attr:`grow_role`, else FLAIR, T2, the image under the cursor."""
        images = {x.metadata.get("role", x.name): x for x in self.desk._images()}
        for role in (self.grow_role,) if self.grow_role else GROW_ROLES:
            if role in images:
                return images[role]
        if self.grow_role is None and self.desk.window_level is not None:
            return self.desk.window_level.shown()
        return None

    # ---- the preview, drawn in the lesions map without history -------------------------

    def _draw(self, stroke: Stroke) -> None:
        data = self.layer.data
        self._drawn = (stroke, np.array(data[stroke.indices], copy=True))
        data[stroke.indices] = stroke.label
        self._refresh()

    def _undraw(self) -> None:
        if self._drawn is not None:
            stroke, old = self._drawn
            self.layer.data[stroke.indices] = old
            self._drawn = None
            self._refresh()

    def _refresh(self) -> None:
        self.layer.refresh()
        if self.desk.compare is not None:
            self.desk.compare.refresh_mirrors()

    # ---- fill between slices -----------------------------------------------------------

    def fill_between(self) -> None:
        """Fill the selected lesion's slices between its outlines (one undo step)."""
        self.cancel()
        lesion_id = self.desk.lesion_id
        if self.refused("Fill between slices"):
            return
        if lesion_id is None:
            self.desk.say("Fill between slices: select a painted lesion first.")
            return
        box = self.desk.binding.model.lesion_bbox(lesion_id)
        labels = np.asarray(self.layer.data)
        try:
            stroke = interpolate_slices(labels, lesion_id, self._spacing(), box)
        except DelineationError as exc:
            self.desk.say(f"Fill between slices: {exc}", ms=6000)
            return
        self.layer.data_setitem(stroke.indices, lesion_id)
        slices = len(np.unique(stroke.indices[0]))
        volume = stroke.n_voxels * float(np.prod(self._spacing()))
        self.desk.say(f"Lesion {lesion_id}: {slices} slices filled ({volume:.0f} mm3 added)")

    # ---- automatic candidates ----------------------------------------------------------

    def _candidate(self, what: str):
        """The candidate under the cursor on the proposal layer (None: said why)."""
        layer = next(
            (x for x in self.viewer.layers if x.metadata.get("role") == CANDIDATES_ROLE), None
        )
        if layer is None:
            self.desk.say(f"{what}: this reading has no candidates.")
            return None
        voxel = tuple(int(round(c)) for c in layer.world_to_data(self.viewer.cursor.position)[-3:])
        inside = all(0 <= c < n for c, n in zip(voxel, layer.data.shape, strict=True))
        candidate = int(layer.data[voxel]) if inside else 0
        if not candidate:
            self.desk.say(f"{what}: no candidate under the cursor; point at one.")
            return None
        box = self._boxes(layer.data)[candidate - 1]
        return Proposal(layer, candidate, box, layer.data[box] == candidate)

    def _boxes(self, candidates: np.ndarray) -> list:
        """The candidates' boxes, found once per map (a case's, while its layer shows it)."""
        if self._boxes_of is None or self._boxes_of() is not candidates:
            self._candidate_boxes = candidate_boxes(candidates)
            self._boxes_of = weakref.ref(candidates)
        return self._candidate_boxes

    def accept_candidate(self) -> None:
        """The candidate under the cursor becomes a lesion with a new id (one undo step)."""
        self.cancel()
        found = None if self.refused("Accept candidate") else self._candidate("Accept")
        if found is None:
            return
        binding = self.desk.binding
        lesion = binding.ratings.next_free_id(binding.model.ids)
        indices = accept_candidate(
            np.asarray(self.layer.data), found.proposals.data, found.candidate, found.box
        )
        if not indices[0].size:
            self.desk.say("Accept: the candidate lies under other lesions only.")
            return
        self.layer.data_setitem(indices, lesion)
        self.desk.steps.accepted(found)
        self.layer.selected_label = lesion
        self._drop(found, "accepted", lesion)
        self.desk.say(f"Candidate accepted: lesion {lesion}")

    def reject_candidate(self) -> None:
        """Reject the candidate under the cursor (recorded; it leaves the proposal layer)."""
        self.cancel()
        found = self._candidate("Reject")
        if found is not None:
            self._drop(found, "rejected", None)
            self.desk.say("Candidate rejected")

    def _drop(self, proposal: Proposal, decision: str, lesion: int | None) -> None:
        proposal.show(False)
        if self.decided is not None:
            self.decided(decision, proposal.candidate, lesion)

    # ---- the 3-D brush -----------------------------------------------------------------

    def _drag(self, viewer, event):
        if self.tool is None or event.button != 1:
            return
        if self.tool == "grow":
            self.grow_at(event.position)
            return
        erase = "Alt" in event.modifiers
        label = 0 if erase else self._label_for(int(self.layer.selected_label))
        touched: list[tuple[Stroke, np.ndarray]] = []
        self._dab(event.position, label, touched)
        yield
        while event.type == "mouse_move":
            self._dab(event.position, label, touched)
            yield
        self.finish_brush(touched, label)

    def _dab(self, position_world, label: int, touched: list) -> None:
        """Draw a ball at ``position_world`` now (no history yet); remember the old values."""
        data = self.layer.data
        centre = tuple(int(round(c)) for c in self.layer.world_to_data(position_world)[-3:])
        ball = sphere_stroke(data.shape, centre, self.layer.brush_size / 2, self._spacing(), label)
        old = np.asarray(data[ball.indices])
        keep = old != label if label == 0 else old == 0  # paint never covers another lesion
        indices = tuple(axis[keep] for axis in ball.indices)
        touched.append((Stroke(indices, label), old[keep].copy()))
        data[indices] = label
        self._refresh()

    def finish_brush(self, touched: list, label: int) -> None:
        """Turn a drag's balls into one undoable edit (put back, then set in one go)."""
        if not touched:
            return
        data = self.layer.data
        for stroke, old in reversed(touched):
            data[stroke.indices] = old
        indices = tuple(np.concatenate([s.indices[k] for s, _ in touched]) for k in range(3))
        self.layer.data_setitem(indices, label)
        if label:
            self.layer.selected_label = label

    def remove(self) -> None:
        """Cancel a preview, give the mouse back."""
        self.cancel()
        if self.tool is not None:
            self._restore()
        if self._drag in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._drag)
