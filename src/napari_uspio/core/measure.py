"""The per-lesion table of a case from files: the CLI's and notebooks' entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .case import Case
from .lesions import LesionModel
from .volume import CaseError, read_volume

#: NAWM shell width used unless the reader sets another (mm).
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


def read_labels(case: Case, path: str | Path) -> np.ndarray:
    """Read a label map and check it lies on the case grid (error names both grids)."""
    volume, _ = read_volume(path, "lesions")
    diffs = case.grid.mismatch(volume.grid)
    if diffs:
        z, y, x = case.grid.shape
        sz, sy, sx = case.grid.spacing_mm
        raise CaseError(
            f"{path}: label map is not on the case grid ({', '.join(diffs)}); the case grid is "
            f"{x} x {y} x {z} voxels of {sx:g} x {sy:g} x {sz:g} mm "
            f"({case.folder or 'given files'}). Fix: resample the label map to the case grid "
            "(nearest neighbour) or paint it on this case."
        )
    return volume.data
