"""Opening NIfTI-1/2 files with every bad input named: the checks before the data.

:func:`open_nifti` refuses what is not NIfTI (named ``.gz`` but not gzip, no
NIfTI header inside, another image format), :func:`file_shape` what is not a
3-D volume, :func:`check_size` a header claiming more data than the file holds
(before anything is allocated), and :func:`read_data` a truncated or corrupt
file (short data, a failed gzip CRC). Each error is a :class:`CaseError`
naming the file and the fix.

``.nii.gz`` files are decompressed by ISA-L (python-isal, checking the same CRC
as zlib, 2-3x faster): the header from a stream, the data into one buffer by one
call that releases the GIL (:func:`decompress`), so files decode in parallel
threads and a case opening on a worker never stalls the viewer (nibabel
zero-fills a buffer of the whole data and then streams into it holding the GIL,
~0.3 s per 300 MB).
"""

from __future__ import annotations

import gzip
import mmap
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from isal import igzip, isal_zlib
from nibabel.volumeutils import apply_read_scaling

__all__ = [
    "GZIP_ERRORS",
    "CaseError",
    "check_size",
    "file_shape",
    "decompress",
    "open_nifti",
    "read_data",
]

#: What a truncated or corrupt gzip stream raises (zlib's and ISA-L's own error).
GZIP_ERRORS = (OSError, EOFError, zlib.error, isal_zlib.error)


class CaseError(ValueError):
    """Bad input: the message names the file(s) and says how to fix it."""


def open_nifti(path: Path) -> nib.Nifti1Image:
    """Open a NIfTI-1/2 file; a ``.gz`` is decompressed whole so its CRC is checked."""
    if not path.exists():
        raise CaseError(f"{path}: file not found. Fix: check the path or the case folder.")
    if path.is_dir():
        raise CaseError(f"{path}: is a folder, not a NIfTI file. Fix: pick a .nii / .nii.gz file.")
    try:
        if path.name.lower().endswith(".gz"):
            img = _from_gzip(path)
        else:  # image data memory-mapped read-only: kept as is when it needs no conversion
            img = nib.load(path, mmap="r")
    except CaseError:
        raise
    except GZIP_ERRORS as exc:
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
    """Open a ``.nii.gz``: its header from a streaming ISA-L decompressor."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        raise CaseError(
            f"{path}: not a NIfTI file (named .gz but not gzip-compressed). "
            "Fix: re-export the volume as .nii or .nii.gz."
        )
    stream = igzip.open(path, "rb")
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


def read_data(img: nib.Nifti1Image, dtype=None) -> np.ndarray:
    """The image's data as ``np.asanyarray(img.dataobj, dtype)`` gives it (scaled).

    A ``.nii.gz`` opened by :func:`open_nifti` is decompressed by
    :func:`decompress`, viewed in place (no copy) and scaled as nibabel's array
    proxy scales (byte-identical); other files are nibabel's (a ``.nii`` stays
    memory-mapped). Raises OSError or EOFError when the file is truncated or corrupt.
    """
    proxy = img.dataobj
    holder = img.file_map["image"]
    if not isinstance(holder.fileobj, gzip.GzipFile):
        return np.asanyarray(proxy, dtype=dtype)
    holder.fileobj.close()
    count = int(np.prod(proxy.shape))
    decoded = decompress(Path(holder.filename), proxy.offset + count * proxy.dtype.itemsize)
    raw = np.frombuffer(decoded, proxy.dtype, count, proxy.offset)
    raw = raw.reshape(proxy.shape, order=proxy.order)
    slope, inter = np.asanyarray(proxy.slope), np.asanyarray(proxy.inter)
    use = slope.dtype if dtype is None else np.dtype(dtype)  # as nibabel's ArrayProxy
    slope = slope.astype(use) if np.can_cast(slope, use) else slope
    inter = inter.astype(use) if np.can_cast(inter, use) else inter
    scaled = apply_read_scaling(raw, slope, inter)
    if dtype is None:
        return scaled
    return scaled.astype(np.promote_types(scaled.dtype, dtype), copy=False).astype(
        dtype, copy=False
    )


def decompress(path: Path, size: int) -> mmap.mmap:
    """The first ``size`` bytes a gzip file decompresses to; the rest read and checked.

    ISA-L's C reader fills one buffer of anonymous memory in a call that holds no
    GIL, so files decode in parallel threads and the viewer's thread is never
    stalled (igzip's public file object takes the GIL back for every block;
    ``igzip.decompress`` grows its output by copies; numpy's huge-page buffers
    fault in slower here). Reading on to the end checks every member's CRC and
    length. Raises OSError or EOFError when the file is short or corrupt.
    """
    buffer = mmap.mmap(-1, size)
    done = 0
    with open(path, "rb") as fh, memoryview(buffer) as view:
        reader = isal_zlib._GzipReader(fh)
        while done < size and (n := reader.readinto(view[done:])):
            done += n
        while reader.read(1 << 20):  # to the end: the CRC of the last member
            pass
    if done < size:
        raise OSError(f"expected {size} bytes of NIfTI header and data, got {done}")
    return buffer


def check_size(img: nib.Nifti1Image, path: Path) -> None:
    """Refuse headers that claim more data than the file holds (before allocating it)."""
    header = img.header
    n_bytes = int(np.prod(img.shape, dtype=object)) * header.get_data_dtype().itemsize
    offset = int(header.get_data_offset())
    available = _stored_bytes(img, path, offset + n_bytes) - offset
    if n_bytes > available:
        raise CaseError(
            f"{path}: the header claims shape {img.shape} ({n_bytes:,} bytes of data) but the "
            f"file holds {max(available, 0):,}; the file is truncated or its header is corrupt "
            "(dimension overflow). Fix: copy or re-export the file again."
        )


def _stored_bytes(img: nib.Nifti1Image, path: Path, needed: int) -> int:
    """The bytes the file holds (a ``.nii.gz`` decompressed), at least up to ``needed``."""
    if not isinstance(img.file_map["image"].fileobj, gzip.GzipFile):
        return path.stat().st_size
    size = _gzip_size(path)
    if size >= needed or needed > path.stat().st_size * 1032:  # deflate's most: 1032:1
        return size
    return _decoded_size(path, needed)  # the trailer holds the last member's size only


def _gzip_size(path: Path) -> int:
    """Uncompressed size from the gzip trailer (modulo 2**32, so a lower bound)."""
    with open(path, "rb") as fh:
        fh.seek(-4, 2)
        isize = int.from_bytes(fh.read(4), "little")
    compressed = path.stat().st_size
    # ISIZE wraps at 4 GiB: add the wraps a file of this compressed size could hold
    return isize + (2**32) * (compressed * 1032 // 2**32)


def _decoded_size(path: Path, limit: int) -> int:
    """The bytes a gzip file decodes to, up to ``limit``, streamed (nothing kept).

    For files of several members (bgzip, concatenated); a corrupt stream counts
    what decodes before the fault.
    """
    done = 0
    try:
        with igzip.open(path, "rb") as stream:
            while done < limit and (chunk := stream.read(1 << 20)):
                done += len(chunk)
    except GZIP_ERRORS:
        pass  # it holds what decodes
    return done


def file_shape(img: nib.Nifti1Image, path: Path) -> tuple[int, int, int]:
    """The 3-D shape of a volume (a trailing axis of length 1 dropped), else refused."""
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
