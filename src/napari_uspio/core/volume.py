"""One NIfTI volume of a role, read onto its RAS+ grid with every bad input named."""

from __future__ import annotations

import gzip
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, io_orientation

from .grid import Grid
from .roles import MASK_ROLES

__all__ = ["CaseError", "Grid", "Volume", "read_volume"]

log = logging.getLogger(__name__)


class CaseError(ValueError):
    """Bad input: the message names the file(s) and says how to fix it."""


@dataclass(frozen=True, eq=False)
class Volume:
    """A volume of one role on its grid, with the file it came from."""

    role: str
    data: np.ndarray
    grid: Grid
    path: Path | None = None

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along ``(z, y, x)`` in mm."""
        return self.grid.spacing_mm


def _open_nifti(path: Path) -> nib.Nifti1Image:
    """Open a NIfTI-1/2 file; a ``.gz`` is decompressed whole so its CRC is checked."""
    if not path.exists():
        raise CaseError(f"{path}: file not found. Fix: check the path or the case folder.")
    if path.is_dir():
        raise CaseError(f"{path}: is a folder, not a NIfTI file. Fix: pick a .nii / .nii.gz file.")
    try:
        if path.name.lower().endswith(".gz"):
            img = _from_gzip(path)
        else:
            img = nib.load(path)
    except CaseError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise CaseError(
            f"{path}: truncated or corrupt gzip ({type(exc).__name__}: {exc}). "
            "Fix: copy or re-export the file again."
        ) from exc
    except Exception as exc:  # nibabel raises many types for bad headers
        raise CaseError(
            f"{path}: not a readable NIfTI-1/2 file ({type(exc).__name__}: {exc}). "
            "Fix: re-export the volume as .nii or .nii.gz."
        ) from exc
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise CaseError(
            f"{path}: is a {type(img).__name__}, not NIfTI. Fix: convert it to .nii.gz "
            "(e.g. with dcm2niix or mri_convert)."
        )
    return img


def _from_gzip(path: Path) -> nib.Nifti1Image:
    """Open a ``.nii.gz`` on one streaming decompressor (see :func:`_finish_gzip`)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        raise CaseError(
            f"{path}: not a NIfTI file (named .gz but not gzip-compressed). "
            "Fix: re-export the volume as .nii or .nii.gz."
        )
    stream = gzip.open(path, "rb")
    sizes = {int.from_bytes(stream.read(4), order) for order in ("little", "big")}
    stream.seek(0)
    if not sizes & {348, 540}:
        stream.close()
        raise CaseError(
            f"{path}: not a NIfTI-1/2 file (no NIfTI header inside the gzip). "
            "Fix: re-export the volume as .nii or .nii.gz."
        )
    cls = nib.Nifti1Image if 348 in sizes else nib.Nifti2Image
    holder = nib.FileHolder(filename=str(path), fileobj=stream)
    return cls.from_file_map({"header": holder, "image": holder})


def _finish_gzip(img: nib.Nifti1Image) -> None:
    """Read a gzip stream to its end, so a corrupt file fails its CRC check."""
    stream = img.file_map["image"].fileobj
    if isinstance(stream, gzip.GzipFile):
        with stream:
            while stream.read(1 << 20):
                pass


def _check_size(img: nib.Nifti1Image, path: Path) -> None:
    """Refuse headers that claim more data than the file holds (before allocating it)."""
    header = img.header
    n_bytes = int(np.prod(img.shape, dtype=object)) * header.get_data_dtype().itemsize
    available = _stored_bytes(img, path) - int(header.get_data_offset())
    if n_bytes > available:
        raise CaseError(
            f"{path}: the header claims shape {img.shape} ({n_bytes:,} bytes of data) but the "
            f"file holds {max(available, 0):,}; the file is truncated or its header is corrupt "
            "(dimension overflow). Fix: copy or re-export the file again."
        )


def _stored_bytes(img: nib.Nifti1Image, path: Path) -> int:
    if isinstance(img.file_map["image"].fileobj, gzip.GzipFile):
        return _gzip_size(path)
    return path.stat().st_size


def _gzip_size(path: Path) -> int:
    """Uncompressed size from the gzip trailer (modulo 2**32, so a lower bound)."""
    with open(path, "rb") as fh:
        fh.seek(-4, 2)
        isize = int.from_bytes(fh.read(4), "little")
    compressed = path.stat().st_size
    # ISIZE wraps at 4 GiB: add the wraps a file of this compressed size could hold
    return isize + (2**32) * (compressed * 1032 // 2**32)


def _file_shape(img: nib.Nifti1Image, path: Path) -> tuple[int, int, int]:
    shape = img.shape
    if len(shape) == 4 and shape[3] == 1:
        return shape[:3]
    if len(shape) != 3:
        raise CaseError(
            f"{path}: has shape {shape}; a case needs 3-D volumes (a trailing axis of "
            "length 1 is accepted). Fix: extract the one 3-D volume you want to read "
            "(e.g. fslroi or nibabel's slicer)."
        )
    if min(shape) < 1:
        raise CaseError(f"{path}: has an empty dimension {shape}. Fix: re-export the volume.")
    return shape


def read_volume(path: str | Path, role: str) -> tuple[Volume, list[str]]:
    """Read one NIfTI file as a role on its RAS+ grid.

    Returns
    -------
    volume : Volume
        Data in ``(z, y, x)``: float32 for images, the file's integer type for
        masks / label maps (native byte order).
    warnings : list of str
        Things the reader should know (constant volume, oblique affine).

    Raises
    ------
    CaseError
        Not NIfTI, corrupt or truncated, not 3-D, all-NaN, overflowing values.
    """
    path = Path(path)
    img = _open_nifti(path)
    file_shape = _file_shape(img, path)
    _check_size(img, path)
    grid = Grid.from_affine(img.affine, file_shape)
    grid = Grid(grid.shape, grid.index_to_world, grid.file_affine, grid.file_shape, img.header)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
            if role in MASK_ROLES:
                raw = np.asanyarray(img.dataobj)
            else:
                raw = img.get_fdata(dtype=np.float32, caching="unchanged")
        _finish_gzip(img)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise CaseError(
            f"{path}: the image data cannot be read ({type(exc).__name__}: {exc}); the file is "
            "truncated or corrupt. Fix: copy or re-export the file again."
        ) from exc
    raw = raw.reshape(file_shape)
    data = apply_orientation(raw, io_orientation(img.affine))
    data = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    if role in MASK_ROLES:
        data = _as_label_map(data, path, role)
    warnings = _check_values(data, path, role)
    if grid.oblique:
        warnings.append(
            f"{path.name}: the affine is oblique ({grid.obliquity_deg:.1f} deg); layers are "
            f"shown deobliqued on the voxel grid (positions off by up to "
            f"{grid.display_error_mm():.1f} mm). Measurements and saved label maps use "
            "the true affine."
        )
    return Volume(role, data, grid, path), warnings


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
    finite = np.isfinite(data)
    if np.isinf(data).any():
        raise CaseError(
            f"{path}: holds infinite values after scaling (scl_slope / scl_inter overflow "
            "float32 or the data holds inf). Fix: re-export with a sensible scaling or data type."
        )
    if not finite.any():
        raise CaseError(f"{path}: every voxel is NaN. Fix: check the export of this volume.")
    lo, hi = float(np.nanmin(data)), float(np.nanmax(data))
    if lo == hi:
        return [f"{path.name}: {role} is constant ({lo:g}); it carries no contrast."]
    return []
