"""Put a case into a napari viewer: its layers, the radiological view, the reading desk.

A large case shows its first image while the rest loads (:func:`show_first`);
:func:`add_case` then adopts that layer, so nothing is drawn twice. A widget adds
the layers one per turn of the event loop (:func:`adding_case`), so the viewer
answers between them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

from napari.layers import Image, Layer
from napari.utils._units import get_unit_registry
from napari.utils.notifications import show_warning

from ..core.case import Case, Progress, load_case
from ..core.roles import FIRST_SHOWN, MEASURED_MAPS
from ..core.volume import Volume
from .bindings import ensure_bound
from .desk import desk_for
from .layers import case_layers, create_layers, preview_layer, swap_layer
from .viewer import set_radiological_view


def load_for_display(
    source, progress: Progress | None = None, loaded: Callable[[Volume], None] | None = None
) -> Case:
    """:func:`~napari_uspio.core.case.load_case` and what showing it needs, on a worker.

    The derived maps the lesion model measures are computed and napari's unit
    registry is built (~0.4 s the first time a layer has units) here, so that the
    GUI thread does neither while it adds the layers.
    """
    get_unit_registry().mm  # noqa: B018 (built on first use)
    case = load_case(source, progress, loaded)
    case.compute(MEASURED_MAPS)
    return case


def show_first(viewer, volume: Volume) -> Image | None:
    """Show a volume just read when it is the first image a case shows, else nothing."""
    if volume.role not in FIRST_SHOWN:
        return None
    (layer,) = create_layers([preview_layer(volume)])
    viewer.add_layer(layer)
    set_radiological_view(viewer)
    viewer.dims.set_point(0, _middle_z_mm(volume))
    return layer


def discard_first(viewer, layer: Layer | None) -> None:
    """Remove a first image shown when its case could not be loaded after all."""
    if layer is not None and layer in viewer.layers:
        viewer.layers.remove(layer)


def add_case(viewer, case: Case, first: Layer | None = None) -> list[Layer]:
    """Add every layer of ``case`` to ``viewer`` and return them.

    The case is fully loaded before this is called, so a bad case never leaves
    half its layers behind; layers already in the viewer are untouched, except
    ``first`` (from :func:`show_first`), which becomes the layer of its role.
    """
    steps = adding_case(viewer, case, first)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def adding_case(
    viewer, case: Case, first: Layer | None = None
) -> Generator[Layer, None, list[Layer]]:
    """:func:`add_case` one layer at a time: yields each layer added, returns them all.

    The case is bound (its reading tools installed) once the last one is added.
    """
    specs = case_layers(case)
    names = [kwargs["name"] for _, kwargs, _ in specs]
    if first is not None and (first not in viewer.layers or first.name not in names):
        discard_first(viewer, first)
        first = None
    at = names.index(first.name) if first is not None else None
    created = create_layers([spec for k, spec in enumerate(specs) if k != at])
    layers = created if at is None else [*created[:at], first, *created[at:]]
    binding = ensure_bound(layers[-1], case)  # bound before it is shown: widgets find it
    if first is not None:
        swap_layer(first, *specs[at][:2])
    for layer in created:
        viewer.add_layer(layer)
        yield layer
    if first is not None and at + 1 < len(layers):  # back to its place in the order
        viewer.layers.move(viewer.layers.index(first), viewer.layers.index(layers[at + 1]))
    set_radiological_view(viewer)
    desk_for(viewer).bind(binding)
    if first is None:  # a reader who paged slices while the case loaded stays there
        viewer.dims.set_point(0, _middle_z_mm(case.volumes[case.roles[0]]))
    for text in case.warnings:
        show_warning(text)
    return layers


def _middle_z_mm(volume: Volume) -> float:
    grid = volume.grid
    return grid.translate[0] + grid.scale[0] * (grid.shape[0] // 2)
