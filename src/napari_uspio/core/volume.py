"""Volumes of a case: an intensity image and a label map, each reading and writing its file.

As nibabel and TorchIO do, images and label maps are two types: an
:class:`ImageVolume` holds float32 intensities, a :class:`LabelMap` whole
non-negative lesion ids (never interpolated, written back in its file's own
orientation by :meth:`LabelMap.to_file`). :meth:`Volume.from_file` reads either
(by role) onto its RAS+ grid (:mod:`.grid`), after the checks of :mod:`.nifti`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, io_orientation

from .files import atomic_path
from .grid import Grid
from .nifti import (
    GZIP_ERRORS,
    CaseError,
    check_size,
    file_shape,
    open_nifti,
    read_data,
)
from .roles import MASK_ROLES

__all__ = ["CaseError", "Grid", "ImageVolume", "LabelMap", "Volume"]


@dataclass(frozen=True, eq=False)
class Volume:
    """A volume of one role on its grid, with the file it came from.

    ``data`` is ``(z, y, x)`` (native byte order); ``warnings`` are things the
    reader should know (constant volume, oblique affine).
    """

    role: str
    data: np.ndarray
    grid: Grid
    path: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along ``(z, y, x)`` in mm."""
        return self.grid.spacing_mm

    @classmethod
    def from_file(cls, path: str | Path, role: str) -> Volume:
        """Read one NIfTI file as ``role``: a :class:`LabelMap` for mask roles, else an image.

        Raises
        ------
        CaseError
            Not NIfTI, corrupt or truncated, not 3-D, all-NaN, overflowing values,
            label maps that are not whole non-negative ids.
        """
        kind = cls if cls is not Volume else LabelMap if role in MASK_ROLES else ImageVolume
        data, grid, warnings = _read(Path(path), role, labels=kind is LabelMap)
        return kind(role, data, grid, Path(path), tuple(warnings))


class ImageVolume(Volume):
    """Intensities (float32) of an acquired role or a derived map."""


class LabelMap(Volume):
    """Lesion ids (or a mask): whole non-negative numbers in an integer array."""

    def to_file(self, path: str | Path) -> Path:
        """Write the map as NIfTI in the file orientation of its grid, atomically.

        The affine is the case's original affine and the header (qform / sform
        codes, units) is taken from the case's file when known, so the file
        overlays the case's volumes in any viewer.
        """
        path = Path(path)
        labels = np.asarray(self.data)
        if labels.shape != self.grid.shape:
            raise ValueError(f"label map shape {labels.shape} is not the grid's {self.grid.shape}")
        if labels.size and labels.min() < 0:
            raise ValueError("label maps hold non-negative ids only")
        data = np.asarray(self.grid.to_file_order(labels)).astype(label_dtype(labels))
        header = self.grid.header.copy() if self.grid.header is not None else None
        cls = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
        img = cls(data, self.grid.file_affine, header=header)
        img.set_data_dtype(data.dtype)
        img.header.set_slope_inter(1.0, 0.0)
        img.header["descrip"] = b"napari-uspio lesion labels"
        img.header["intent_name"] = b""
        with atomic_path(path) as tmp:
            nib.save(img, tmp)
        return path


def label_dtype(data: np.ndarray) -> np.dtype:
    """The smallest NIfTI-friendly integer type that holds every label."""
    top = int(data.max()) if data.size else 0
    for dtype in (np.uint8, np.int16, np.int32):
        if top <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _read(path: Path, role: str, labels: bool) -> tuple[np.ndarray, Grid, list[str]]:
    """The ``(z, y, x)`` data, grid and warnings of one file (see :meth:`Volume.from_file`)."""
    img = open_nifti(path)
    shape = file_shape(img, path)
    check_size(img, path)
    grid = Grid.from_affine(img.affine, shape, header=img.header)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
            raw = read_data(img, None if labels else np.float32)
    except (*GZIP_ERRORS, ValueError) as exc:
        raise CaseError(
            f"{path}: the image data cannot be read ({type(exc).__name__}: {exc}); the file is "
            "truncated or corrupt. Fix: copy or re-export the file again."
        ) from exc
    raw = raw.reshape(shape)
    data = apply_orientation(raw, io_orientation(img.affine))
    data = np.transpose(data, (2, 1, 0))
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    if labels:  # painted: an array of their own in C order
        data = data.copy() if not data.flags.writeable else np.ascontiguousarray(data)
        data = _as_label_map(data, path, role)
    else:  # a view of the .nii mapping or the decoded .nii.gz (a copy costs ~1 s / 300 MB)
        data.flags.writeable = False
    # the same values in file order: contiguous, so checked ~5x faster than the RAS+ view
    warnings = _check_values(data if labels else raw, path, role)
    if grid.oblique:
        warnings.append(
            f"{path.name}: the affine is oblique ({grid.obliquity_deg:.1f} deg); layers are "
            f"shown deobliqued on the voxel grid (positions off by up to "
            f"{grid.display_error_mm():.1f} mm). Measurements and saved label maps use "
            "the true affine."
        )
    return data, grid, warnings


def _as_label_map(data: np.ndarray, path: Path, role: str) -> np.ndarray:
    """Integer, non-negative ids in an integer array (float files with whole values pass)."""
    if data.dtype == bool:
        return data.astype(np.uint8)
    if np.issubdtype(data.dtype, np.floating):
        if not np.isfinite(data).all() or not np.array_equal(data, np.round(data)):
            raise CaseError(
                f"{path}: {role} holds non-integer values; a label map holds whole lesion ids. "
                "Fix: save it with an integer data type (e.g. int16) without scaling."
            )
        top = float(data.max()) if data.size else 0.0
        if top > np.iinfo(np.int32).max:
            raise CaseError(
                f"{path}: {role} holds ids up to {top:g}, beyond int32. Fix: renumber the "
                "lesions 1..N."
            )
        data = data.astype(np.int32)
    if data.size and data.min() < 0:
        raise CaseError(
            f"{path}: {role} holds negative ids (min {data.min()}); ids are 0 (background) or "
            "positive. Fix: renumber the lesions 1..N."
        )
    if data.dtype == np.uint64 or data.dtype == np.uint32:
        top = int(data.max()) if data.size else 0
        if top > np.iinfo(np.int32).max:
            raise CaseError(
                f"{path}: {role} holds ids up to {top}, beyond int32. Fix: renumber the "
                "lesions 1..N."
            )
        data = data.astype(np.int32)
    return data


def _check_values(data: np.ndarray, path: Path, role: str) -> list[str]:
    if not np.issubdtype(data.dtype, np.floating):
        lo, hi = (data.min(), data.max()) if data.size else (0, 0)
        return [f"{path.name}: {role} is constant ({lo})."] if lo == hi else []
    with np.errstate(invalid="ignore"):  # two passes, no temporary array
        lo, hi = float(np.fmin.reduce(data, axis=None)), float(np.fmax.reduce(data, axis=None))
    if np.isinf(lo) or np.isinf(hi):
        raise CaseError(
            f"{path}: holds infinite values after scaling (scl_slope / scl_inter overflow "
            "float32 or the data holds inf). Fix: re-export with a sensible scaling or data type."
        )
    if np.isnan(lo):
        raise CaseError(f"{path}: every voxel is NaN. Fix: check the export of this volume.")
    if lo == hi:
        return [f"{path.name}: {role} is constant ({lo:g}); it carries no contrast."]
    return []
