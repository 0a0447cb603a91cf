"""The live per-lesion table of a label map: the model, its geometry and its statistics.

- :mod:`.model`: :class:`LesionModel`, kept current under edits in proportion to
  each change (definitions of every column: :data:`napari_uspio.core.fields.COLUMNS`);
- :mod:`.geometry`: NAWM shell, edge and core of lesions, on small crops;
- :mod:`.stats`: the table columns from voxel lists.
"""

from __future__ import annotations

import numpy as np

from ..case import Case
from .model import MAP_ROLES, LesionModel

__all__ = ["DEFAULT_SHELL_WIDTH_MM", "MAP_ROLES", "LesionModel", "lesion_model"]

#: NAWM shell width used unless the reader or the study sets another (mm).
DEFAULT_SHELL_WIDTH_MM = 3.0


def lesion_model(
    case: Case, labels: np.ndarray, shell_width_mm: float = DEFAULT_SHELL_WIDTH_MM
) -> LesionModel:
    """A :class:`LesionModel` over ``labels`` with every map the case has."""
    return LesionModel(
        labels,
        dict(case.measured_maps()),
        case.grid.index_to_world,
        wm_mask=case.wm_mask,
        shell_width_mm=shell_width_mm,
    )
