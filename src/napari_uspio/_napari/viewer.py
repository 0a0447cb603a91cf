"""The radiological view of a viewer, and centring it on a lesion."""

from __future__ import annotations

#: Radiological convention: anterior up, the patient's right on the screen's left.
RADIOLOGICAL_2D = ("up", "left")


def set_radiological_view(viewer) -> None:
    """Label axes in RAS+ mm and show axial slices the way radiologists read them."""
    viewer.dims.axis_labels = ("z (S, mm)", "y (A, mm)", "x (R, mm)")
    viewer.scene.camera.orientation2d = RADIOLOGICAL_2D


def show_lesion(viewer, binding, lesion_id: int) -> None:
    """Select a lesion's label and centre the view (slice and camera) on its box."""
    layer = binding.layer
    layer.selected_label = int(lesion_id)
    box = binding.model.lesion_bbox(int(lesion_id))
    world = layer.data_to_world([(s.start + s.stop - 1) / 2 for s in box])
    viewer.dims.set_point(0, float(world[0]))
    viewer.scene.camera.center = tuple(float(v) for v in world)
