"""npe2 reader, writer and sample data."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.case import find_case_files, load_case
from ..core.roles import MASK_ROLES, role_from_filename, strip_nifti_suffix
from ..core.volume import CaseError, Grid, LabelMap, Volume
from .layers import LayerData, case_layers, placement

log = logging.getLogger(__name__)

SAMPLE_SEED = 0


def get_reader(path: str | list[str]):
    """Return a reader for a NIfTI file or a case folder, or None."""
    if isinstance(path, list):
        return None if len(path) != 1 else get_reader(path[0])
    p = Path(path)
    if p.is_dir():
        try:
            find_case_files(p)
        except CaseError:
            return None
        return read_case_folder
    return read_nifti_file if strip_nifti_suffix(p.name) else None


def read_case_folder(path: str | list[str]) -> list[LayerData]:
    """All layers of a case folder (raises :class:`CaseError` naming the file)."""
    path = path[0] if isinstance(path, list) else path
    return case_layers(load_case(path), defer=False)  # napari makes these layers


def read_nifti_file(path: str | list[str]) -> list[LayerData]:
    """One NIfTI file as a correctly placed image (or labels, for masks) layer."""
    path = Path(path[0] if isinstance(path, list) else path)
    role = role_from_filename(path.name)
    volume = Volume.from_file(path, role or "image")
    for text in volume.warnings:
        log.warning(text)
    name = role or strip_nifti_suffix(path.name)
    meta = {"role": role, "grid": volume.grid}
    kwargs = {"name": name, "metadata": meta, **placement(volume.grid)}
    return [(volume.data, kwargs, "labels" if role in MASK_ROLES else "image")]


def write_labels(path: str, data: Any, attributes: dict) -> list[str]:
    """Write a Labels layer as NIfTI with its case's affine (exact round trip)."""
    grid = attributes.get("metadata", {}).get("grid")
    data = np.asarray(data)
    if not isinstance(grid, Grid):
        grid = _grid_from_placement(attributes, data.shape)
    LabelMap("lesions", data, grid).to_file(path)
    return [path]


def _grid_from_placement(attributes: dict, shape: tuple[int, ...]) -> Grid:
    """A RAS+ grid from a layer's scale / translate (a layer not from a case)."""
    scale = np.ones(3) if attributes.get("scale") is None else np.asarray(attributes["scale"])
    trans = np.zeros(3) if attributes.get("translate") is None else attributes["translate"]
    affine = np.eye(4)
    affine[:3, :3] = np.diag(scale[::-1])
    affine[:3, 3] = np.asarray(trans)[::-1]
    return Grid.from_affine(affine, shape[::-1])


def sample_case_dir() -> Path:
    """Folder of the bundled sample case, generated once into the user cache."""
    from ..phantom import make_phantom

    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "napari-uspio"
    folder = root / f"sample-seed{SAMPLE_SEED:03d}"
    if not (folder / ".complete").exists():
        make_phantom(folder, seed=SAMPLE_SEED)
        (folder / ".complete").write_text("ok\n")
    return folder


def make_sample_data() -> list[LayerData]:
    """The "USPIO MS sample case": a phantom with every lesion kind."""
    return case_layers(load_case(sample_case_dir()), defer=False)
