"""Which Labels layer is bound to which lesion model, without touching layer privates."""

from __future__ import annotations

from weakref import WeakKeyDictionary

import numpy as np
from napari.layers import Labels

from ..core.case import Case
from ..core.lesions import DEFAULT_SHELL_WIDTH_MM, lesion_model
from ..core.ratings import Ratings
from .binding import LabelsBinding

_BINDINGS: WeakKeyDictionary[Labels, LabelsBinding] = WeakKeyDictionary()


def case_of(layer) -> Case | None:
    """The case a layer was opened from (kept in ``layer.metadata['case']``)."""
    case = layer.metadata.get("case")
    return case if isinstance(case, Case) else None


def binding_for(layer: Labels) -> LabelsBinding | None:
    """The live binding of a Labels layer, if any."""
    return _BINDINGS.get(layer)


def ensure_bound(layer: Labels, case: Case) -> LabelsBinding:
    """The layer's binding to ``case``, made if it has none (or one to another case)."""
    binding = binding_for(layer)
    if binding is not None and case_of(layer) is case:
        return binding
    return bind(layer, case)


def bind(
    layer: Labels,
    case: Case,
    shell_width_mm: float = DEFAULT_SHELL_WIDTH_MM,
    ratings: Ratings | None = None,
) -> LabelsBinding:
    """Bind ``layer`` to a new lesion model over ``case``'s maps (rebinding replaces).

    Raises
    ------
    ValueError
        When the layer's shape is not the case grid's.
    """
    if tuple(layer.data.shape) != case.grid.shape:
        raise ValueError(
            f"layer {layer.name!r} has shape {layer.data.shape}, the case grid is "
            f"{case.grid.shape}: it cannot be measured on this case"
        )
    old = _BINDINGS.pop(layer, None)
    if old is not None:
        old.disconnect()
    model = lesion_model(case, np.asarray(layer.data), shell_width_mm)
    binding = LabelsBinding(layer, model, ratings)
    _BINDINGS[layer] = binding
    layer.metadata["case"] = case
    layer.metadata["grid"] = case.grid
    return binding
