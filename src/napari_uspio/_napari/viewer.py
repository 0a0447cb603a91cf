"""Put a case into a napari viewer: layers, radiological view, lesion model binding."""

from __future__ import annotations

from napari.layers import Layer
from napari.utils.notifications import show_warning

from ..core.case import Case
from .bindings import ensure_bound
from .layers import case_layers

#: Radiological convention: anterior up, the patient's right on the screen's left.
RADIOLOGICAL_2D = ("up", "left")


def set_radiological_view(viewer) -> None:
    """Label axes in RAS+ mm and show axial slices the way radiologists read them."""
    viewer.dims.axis_labels = ("z (S, mm)", "y (A, mm)", "x (R, mm)")
    viewer.scene.camera.orientation2d = RADIOLOGICAL_2D


def add_case(viewer, case: Case) -> list[Layer]:
    """Add every layer of ``case`` to ``viewer`` and return them.

    The case is fully loaded before this is called, so a bad case never leaves
    half its layers behind; layers already in the viewer are untouched.
    """
    layers = [Layer.create(data, kwargs, kind) for data, kwargs, kind in case_layers(case)]
    ensure_bound(layers[-1], case)  # bound before it is shown: widgets find it bound
    for layer in layers:
        viewer.add_layer(layer)
    set_radiological_view(viewer)
    viewer.dims.set_point(0, _middle_z_mm(case))
    for text in case.warnings:
        show_warning(text)
    return layers


def _middle_z_mm(case: Case) -> float:
    z0 = case.grid.translate[0]
    return z0 + case.grid.scale[0] * (case.grid.shape[0] // 2)


def show_lesion(viewer, binding, lesion_id: int) -> None:
    """Select a lesion's label and centre the view (slice and camera) on its box."""
    layer = binding.layer
    layer.selected_label = int(lesion_id)
    box = binding.model.lesion_bbox(int(lesion_id))
    world = layer.data_to_world([(s.start + s.stop - 1) / 2 for s in box])
    viewer.dims.set_point(0, float(world[0]))
    viewer.scene.camera.center = tuple(float(v) for v in world)
