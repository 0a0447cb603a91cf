"""Put a case into a napari viewer: its layers, the radiological view, the reading desk."""

from __future__ import annotations

from napari.layers import Layer
from napari.utils.notifications import show_warning

from ..core.case import Case
from .bindings import ensure_bound
from .desk import desk_for
from .layers import case_layers, create_layers
from .viewer import set_radiological_view


def add_case(viewer, case: Case) -> list[Layer]:
    """Add every layer of ``case`` to ``viewer`` and return them.

    The case is fully loaded before this is called, so a bad case never leaves
    half its layers behind; layers already in the viewer are untouched.
    """
    layers = create_layers(case_layers(case))
    binding = ensure_bound(layers[-1], case)  # bound before it is shown: widgets find it
    for layer in layers:
        viewer.add_layer(layer)
    set_radiological_view(viewer)
    desk_for(viewer).bind(binding)
    viewer.dims.set_point(0, _middle_z_mm(case))
    for text in case.warnings:
        show_warning(text)
    return layers


def _middle_z_mm(case: Case) -> float:
    z0 = case.grid.translate[0]
    return z0 + case.grid.scale[0] * (case.grid.shape[0] // 2)
