"""Atomic file writes and the label map written back in its file's orientation."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nibabel as nib
import numpy as np

from .roles import NIFTI_SUFFIXES
from .volume import Grid


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    An interrupted write never damages the previous file. The temporary name
    keeps the full suffix (``.nii.gz``) so writers that look at it behave.
    """
    path = Path(path)
    suffix = next((s for s in NIFTI_SUFFIXES if path.name.lower().endswith(s)), path.suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def label_dtype(data: np.ndarray) -> np.dtype:
    """The smallest NIfTI-friendly integer type that holds every label."""
    top = int(data.max()) if data.size else 0
    for dtype in (np.uint8, np.int16, np.int32):
        if top <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def save_label_map(path: str | Path, labels_zyx: np.ndarray, grid: Grid) -> Path:
    """Write a ``(z, y, x)`` label map as NIfTI in the file orientation of ``grid``.

    The affine is the case's original affine and the header (qform / sform codes,
    units) is taken from the case's file when known, so the file overlays the
    case's volumes in any viewer.
    """
    path = Path(path)
    if labels_zyx.shape != grid.shape:
        raise ValueError(f"label map shape {labels_zyx.shape} is not the grid's {grid.shape}")
    if labels_zyx.size and labels_zyx.min() < 0:
        raise ValueError("label maps hold non-negative ids only")
    data = np.asarray(grid.to_file_order(labels_zyx)).astype(label_dtype(labels_zyx))
    header = grid.header.copy() if grid.header is not None else None
    cls = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
    img = cls(data, grid.file_affine, header=header)
    img.set_data_dtype(data.dtype)
    img.header.set_slope_inter(1.0, 0.0)
    img.header["descrip"] = b"napari-uspio lesion labels"
    img.header["intent_name"] = b""
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return path


def write_csv(table, path: str | Path, index: bool = True) -> Path:
    """Write a pandas table as a tidy CSV (one header row), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=index)
    return path
