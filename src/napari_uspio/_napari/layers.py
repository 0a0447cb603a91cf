"""Layer data tuples for a case: every layer on the case grid, named by role."""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Labels, Layer
from napari.utils.colormaps import DirectLabelColormap

from ..core.case import Case
from ..core.display import case_windows
from ..core.roles import DERIVED, DISPLAY, FIRST_SHOWN, IMAGE_ROLES, MEASURED_MAPS, DisplayHint
from ..core.volume import Grid, Volume

LayerData = tuple[Any, dict[str, Any], str]


def placement(grid: Grid) -> dict[str, Any]:
    """The ``scale`` / ``translate`` (in mm) every layer of a case shares."""
    return {"scale": grid.scale, "translate": grid.translate, "units": ("mm",) * len(grid.scale)}


def image_layers(case: Case, defer: bool = True) -> list[LayerData]:
    """Image layer tuples for acquired roles and derived maps, bottom first.

    With ``defer``, a derived map the lesion model does not measure (a subtraction)
    and the case has not computed is a zero placeholder until its layer is first
    shown (:func:`create_layers` connects that); nothing is computed for a map
    nobody looks at.
    """
    names = [r for r in IMAGE_ROLES if r in case.volumes and r != "mtr"]
    names += [d for d in DERIVED if d in case]  # derived (or acquired mtr) on top
    later = {n for n in names if defer and deferrable(case, n)}
    maps = {name: case[name] for name in names if name not in later}
    windows = case_windows(maps)
    shown = next((r for r in FIRST_SHOWN if r in maps), names[0] if names else None)
    layers = []
    for name in names:
        hint = DISPLAY.get(name, DisplayHint("gray"))
        meta = {"role": name, "grid": case.grid, "case": case}
        if name in DERIVED and name not in case.volumes:
            meta["derived_from"] = DERIVED[name][1]
        kwargs = {
            "name": name,
            "colormap": hint.colormap,
            "contrast_limits": windows.get(name, (0.0, 1.0)),
            "visible": name == shown,
            "blending": hint.blending,
            "metadata": meta | {"deferred": name in later},
            **placement(case.grid),
        }
        data = placeholder(case.grid.shape) if name in later else maps[name]
        layers.append((data, kwargs, "image"))
    return layers


def deferrable(case: Case, name: str) -> bool:
    """Whether a map is a derived one nobody measures, not computed yet."""
    return name in case.derived_available and name not in MEASURED_MAPS and not case.computed(name)


def placeholder(shape: tuple[int, ...]) -> np.ndarray:
    """Zeros of a shape in no memory (one float broadcast): a map not computed yet."""
    return np.broadcast_to(np.zeros((), np.float32), shape)


#: The one colour of every automatic candidate (lesions have a colour each).
CANDIDATE_COLOUR = "#ff40ff"


def create_layers(specs: list[LayerData]) -> list[Layer]:
    """The layers of layer tuples; a deferred map is computed when first shown."""
    layers = [Layer.create(*spec) for spec in specs]
    for layer in layers:
        if layer.metadata.get("read_only"):
            layer.editable = False
        if "contour" in layer.metadata:  # not a Labels constructor argument in napari 0.9
            layer.contour = layer.metadata["contour"]
        if "deferred" in layer.metadata:
            layer.events.visible.connect(lambda _event, layer=layer: fill_deferred(layer))
    return layers


def fill_deferred(layer: Layer) -> None:
    """Compute a deferred derived map of a shown layer into it, with its window."""
    meta = layer.metadata
    if not (layer.visible and meta.get("deferred")):
        return
    data = meta["case"][meta["role"]]
    low, high = case_windows({meta["role"]: data})[meta["role"]]
    layer.metadata = {**meta, "deferred": False}
    layer.data = data
    layer.contrast_limits_range = (low, high)
    layer.contrast_limits = (low, high)


def preview_layer(volume: Volume) -> LayerData:
    """The layer tuple of one image read before its case is complete (the first shown)."""
    hint = DISPLAY.get(volume.role, DisplayHint("gray"))
    kwargs = {
        "name": volume.role,
        "colormap": hint.colormap,
        "contrast_limits": case_windows({volume.role: volume.data})[volume.role],
        "blending": hint.blending,
        "metadata": {"role": volume.role, "grid": volume.grid, "preview": True},
        **placement(volume.grid),
    }
    return (volume.data, kwargs, "image")


def lesion_labels(case: Case) -> np.ndarray:
    """The case's label map, or an empty one on the case grid."""
    if "lesions" in case.volumes:
        return case["lesions"]
    return np.zeros(case.grid.shape, dtype=np.uint16)  # 65535 lesions; half the memory


def labels_layer(case: Case) -> LayerData:
    """The ``lesions`` Labels layer tuple of a case."""
    kwargs = {
        "name": "lesions",
        "opacity": 0.6,
        "metadata": {"role": "lesions", "grid": case.grid, "case": case},
        **placement(case.grid),
    }
    return (lesion_labels(case), kwargs, "labels")


def swap_layer(layer: Layer, data, kwargs: dict[str, Any]) -> None:
    """Show another case's map of the same role in ``layer``: no layer removed or added.

    Data, placement, window and metadata are the new case's; the layer stays shown
    or hidden as the reader left it; a Labels layer's undo history is cleared (it
    belongs to the case before).
    """
    layer.metadata = kwargs["metadata"]
    layer.data = data
    for name in ("scale", "translate"):  # each change re-lays the scene: only if it moved
        if not np.allclose(getattr(layer, name), kwargs[name]):
            setattr(layer, name, kwargs[name])
    if "contrast_limits" in kwargs:
        low, high = kwargs["contrast_limits"]
        layer.contrast_limits_range = (min(low, high - 1e-6), high)
        layer.contrast_limits = (low, high)
    fill_deferred(layer)  # shown in the case before: computed for this one too
    if isinstance(layer, Labels):  # napari keeps the history across data; clear it
        layer.editable = False  # (napari's public way: non-editable drops the history)
        layer.editable = not layer.metadata.get("read_only", False)


def case_layers(case: Case, defer: bool = True) -> list[LayerData]:
    """Every layer of a case: images, then the lesions Labels layer on top.

    ``defer``: see :func:`image_layers` (layers made by :func:`create_layers`).
    """
    extra = []
    if "wm_mask" in case.volumes:
        wm = case.volumes["wm_mask"].data
        binary = wm.dtype == np.uint8 and int(wm.max(initial=0)) <= 1
        meta = {"role": "wm_mask", "grid": case.grid, "case": case}
        kw = {"name": "wm_mask", "visible": False, "opacity": 0.3, "metadata": meta}
        data = wm if binary else (wm > 0).astype(np.uint8)  # a 0/1 mask is shown, not copied
        extra.append((data, kw | placement(case.grid), "labels"))
    if "candidates" in case.volumes:  # a proposal, outlined, never painted on
        meta = {"role": "candidates", "grid": case.grid, "case": case, "read_only": True}
        kw = {"name": "candidates", "opacity": 0.9, "metadata": meta | {"contour": 1}}
        kw["colormap"] = DirectLabelColormap(color_dict={None: CANDIDATE_COLOUR, 0: "transparent"})
        extra.append((case["candidates"], kw | placement(case.grid), "labels"))
    return image_layers(case, defer) + extra + [labels_layer(case)]
