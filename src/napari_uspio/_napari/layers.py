"""Layer data tuples for a case: every layer on the case grid, named by role."""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Labels, Layer

from ..core.case import Case
from ..core.display import case_windows
from ..core.roles import DERIVED, DISPLAY, FIRST_SHOWN, IMAGE_ROLES, DisplayHint
from ..core.volume import Grid

LayerData = tuple[Any, dict[str, Any], str]


def placement(grid: Grid) -> dict[str, Any]:
    """The ``scale`` / ``translate`` (in mm) every layer of a case shares."""
    return {"scale": grid.scale, "translate": grid.translate, "units": ("mm",) * len(grid.scale)}


def image_layers(case: Case) -> list[LayerData]:
    """Image layer tuples for acquired roles and derived maps, bottom first."""
    names = [r for r in IMAGE_ROLES if r in case.volumes and r != "mtr"]
    names += [d for d in DERIVED if d in case]  # derived (or acquired mtr) on top
    maps = {name: case[name] for name in names}
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
            "contrast_limits": windows[name],
            "visible": name == shown,
            "blending": hint.blending,
            "metadata": meta,
            **placement(case.grid),
        }
        layers.append((maps[name], kwargs, "image"))
    return layers


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

    Data, placement, window, visibility and metadata are the new case's; a Labels
    layer's undo history is cleared (it belongs to the case before).
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
    if layer.visible != kwargs.get("visible", True):  # napari redraws even when unchanged
        layer.visible = kwargs.get("visible", True)
    if isinstance(layer, Labels):  # napari keeps the history across data; clear it
        layer.editable = False  # (napari's public way: non-editable drops the history)
        layer.editable = True


def case_layers(case: Case) -> list[LayerData]:
    """Every layer of a case: images, then the lesions Labels layer on top."""
    extra = []
    if "wm_mask" in case.volumes:
        wm = case.volumes["wm_mask"]
        meta = {"role": "wm_mask", "grid": case.grid, "case": case}
        kw = {"name": "wm_mask", "visible": False, "opacity": 0.3, "metadata": meta}
        extra.append(((wm.data > 0).astype(np.uint8), kw | placement(case.grid), "labels"))
    return image_layers(case) + extra + [labels_layer(case)]
