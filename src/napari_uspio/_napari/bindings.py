"""Which Labels layer is bound to which lesion model, without touching layer privates.

A layer opened from a case carries it (``layer.metadata['case']``); :func:`bind`
binds a layer to a lesion model over a case, :func:`bind_opened_cases` binds every
layer of a viewer that carries its case, and :func:`layer_to_measure` picks the
layer a widget measures.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import numpy as np
from napari.layers import Labels

from ..core.case import Case
from ..core.lesions import DEFAULT_SHELL_WIDTH_MM, LesionModel, lesion_model
from ..core.ratings import Ratings
from ..core.roles import NOT_LESION_ROLES
from .binding import LabelsBinding
from .compare import MIRROR_ROLE
from .overlays import SHELL_ROLE

_BINDINGS: WeakKeyDictionary[Labels, LabelsBinding] = WeakKeyDictionary()
#: Roles of Labels layers that hold no lesions of their own (a mask, an overlay, a mirror).
NOT_LESIONS = (*NOT_LESION_ROLES, SHELL_ROLE, MIRROR_ROLE)


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
    model: LesionModel | None = None,
) -> LabelsBinding:
    """Bind ``layer`` to a lesion model over ``case``'s maps (rebinding replaces).

    ``model``: the model to keep current (e.g. a study reading's, which its autosave
    journals); by default a new one over the layer's labels.

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
    if model is None:
        model = lesion_model(case, np.asarray(layer.data), shell_width_mm)
    binding = LabelsBinding(layer, model, ratings)
    _BINDINGS[layer] = binding
    layer.metadata["case"] = case
    layer.metadata["grid"] = case.grid
    return binding


def lesion_layers(layers) -> list[Labels]:
    """The Labels layers that may hold lesions (not a white-matter mask, not an overlay)."""
    return [
        layer
        for layer in layers
        if isinstance(layer, Labels) and layer.metadata.get("role") not in NOT_LESIONS
    ]


def bind_opened_cases(layers, shell_width_mm: float) -> list[Labels]:
    """Bind every lesion layer that carries its case and has no binding; return them all."""
    found = lesion_layers(layers)
    for layer in found:
        if binding_for(layer) is None and case_of(layer) is not None:
            bind(layer, case_of(layer), shell_width_mm)
    return found


def layer_to_measure(candidates: list[Labels], current: Labels | None) -> Labels | None:
    """The lesion layer a widget measures among ``candidates``.

    The current one while it is there and bound (or while none is bound); otherwise
    the last bound layer, else the last one.
    """
    bound = [layer for layer in candidates if binding_for(layer) is not None]
    if current in candidates and (binding_for(current) is not None or not bound):
        return current
    if bound:
        return bound[-1]
    return candidates[-1] if candidates else None


def bind_to_open_case(layer: Labels, layers, shell_width_mm: float) -> LabelsBinding | None:
    """The binding of ``layer``, made over the case open in ``layers`` if it has none.

    None when no case is open. Raises :class:`ValueError` when the layer is not on
    the case grid (see :func:`bind`).
    """
    binding = binding_for(layer)
    if binding is not None:
        return binding
    case = next((case_of(x) for x in layers if case_of(x) is not None), None)
    return None if case is None else bind(layer, case, shell_width_mm)
