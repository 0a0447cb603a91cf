"""The voxel grid of a case: RAS+ reorientation without resampling, napari placement.

Arrays are held in napari axis order ``(z, y, x)`` after reorienting the file to the
closest canonical (RAS+) orientation by flips and axis permutations only. A
:class:`Grid` keeps the true voxel-to-world affine of that array and the affine of
the original file, so world coordinates are exact and label maps can be written
back in the file's own orientation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

#: Grids whose affines agree to this many mm (over the field of view) are one grid.
GRID_TOLERANCE_MM = 1e-3
#: Obliquity (degrees) below which an affine counts as axis-aligned.
OBLIQUE_TOLERANCE_DEG = 0.01

_ZYX = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float)


@dataclass(frozen=True, eq=False)
class Grid:
    """The voxel grid of a case, in napari ``(z, y, x)`` order.

    Attributes
    ----------
    shape : tuple of int
        Array shape ``(z, y, x)`` after reorientation.
    index_to_world : ndarray
        4x4 affine from homogeneous ``(z, y, x)`` voxel index to RAS+ world mm.
    file_affine : ndarray
        The affine of the file the grid came from (its own orientation).
    file_shape : tuple of int
        The 3-D shape in the file's own axis order.
    """

    shape: tuple[int, int, int]
    index_to_world: np.ndarray
    file_affine: np.ndarray
    file_shape: tuple[int, int, int]
    header: nib.Nifti1Header | None = field(default=None, repr=False)

    @classmethod
    def from_affine(
        cls,
        file_affine: np.ndarray,
        file_shape: tuple[int, ...],
        header: nib.Nifti1Header | None = None,
    ) -> Grid:
        """Grid for an array of ``file_shape`` with voxel-to-RAS ``file_affine``."""
        file_affine = np.asarray(file_affine, dtype=float)
        ornt = io_orientation(file_affine)
        canonical = file_affine @ inv_ornt_aff(ornt, file_shape[:3])
        shape_ras = tuple(int(file_shape[int(ax)]) for ax in ornt[:, 0].argsort())
        return cls(
            shape=(shape_ras[2], shape_ras[1], shape_ras[0]),
            index_to_world=canonical @ _ZYX,
            file_affine=file_affine,
            file_shape=tuple(int(n) for n in file_shape[:3]),
            header=header,
        )

    @classmethod
    def from_file(cls, path) -> Grid:
        """The grid of a NIfTI file from its header alone (no image data is read)."""
        img = nib.load(path)
        return cls.from_affine(img.affine, img.shape[:3], header=img.header)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size along ``(z, y, x)`` in mm."""
        norms = np.linalg.norm(self.index_to_world[:3, :3], axis=0)
        return tuple(float(n) for n in norms)

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm3."""
        return voxel_volume_mm3(self.index_to_world)

    @property
    def origin_mm(self) -> tuple[float, float, float]:
        """World position (RAS+ mm, as ``z, y, x``) of voxel ``(0, 0, 0)``."""
        x, y, z = self.index_to_world[:3, 3]
        return (float(z), float(y), float(x))

    @property
    def scale(self) -> tuple[float, float, float]:
        """Napari ``scale`` for every layer of the case."""
        return self.spacing_mm

    @property
    def translate(self) -> tuple[float, float, float]:
        """Napari ``translate`` for every layer of the case."""
        return self.origin_mm

    @property
    def obliquity_deg(self) -> float:
        """Largest angle between a voxel axis and its world axis, in degrees."""
        axes = self.index_to_world[:3, :3] / np.linalg.norm(self.index_to_world[:3, :3], axis=0)
        # column c (index axis z, y, x) should point along world axis 2 - c
        cosines = [abs(axes[2 - c, c]) for c in range(3)]
        return float(np.degrees(np.arccos(np.clip(min(cosines), -1.0, 1.0))))

    @property
    def oblique(self) -> bool:
        """True when the display (scale/translate only) cannot be exact."""
        return self.obliquity_deg > OBLIQUE_TOLERANCE_DEG

    def display_error_mm(self) -> float:
        """Largest distance between true and displayed voxel position (corners)."""
        corners = np.array(np.meshgrid(*[[0, n - 1] for n in self.shape])).reshape(3, -1).T
        homog = np.c_[corners, np.ones(len(corners))]
        true_xyz = (self.index_to_world @ homog.T)[:3][::-1].T
        shown_zyx = corners * np.array(self.scale) + np.array(self.translate)
        return float(np.max(np.linalg.norm(true_xyz - shown_zyx, axis=1)))

    def to_file_order(self, data_zyx: np.ndarray) -> np.ndarray:
        """Undo the reorientation: an array of this grid in the file's axis order."""
        ras = np.transpose(data_zyx, (2, 1, 0))
        back = ornt_transform(np.array([[0, 1], [1, 1], [2, 1]]), io_orientation(self.file_affine))
        return apply_orientation(ras, back)

    def mismatch(self, other: Grid) -> list[str]:
        """Describe how ``other`` differs from this grid; empty when they agree."""
        out = []
        if other.shape != self.shape:
            out.append(f"shape {_xyz(other.shape)} instead of {_xyz(self.shape)}")
        extent_mm = max(np.array(self.shape) * np.array(self.spacing_mm))
        dlin = np.abs(other.index_to_world[:3, :3] - self.index_to_world[:3, :3]).max()
        if dlin * extent_mm > GRID_TOLERANCE_MM:
            dvox = np.subtract(other.spacing_mm, self.spacing_mm)
            if np.abs(dvox).max() > 1e-6:
                out.append(
                    f"voxel size {_xyz(other.spacing_mm)} mm instead of {_xyz(self.spacing_mm)} mm"
                )
            rot = _angle_deg(self.index_to_world[:3, :3], other.index_to_world[:3, :3])
            if rot > OBLIQUE_TOLERANCE_DEG:
                out.append(
                    f"orientation {_codes(other.file_affine)} rotated by {rot:.2f} deg "
                    f"relative to {_codes(self.file_affine)}"
                )
        shift = float(np.linalg.norm(other.index_to_world[:3, 3] - self.index_to_world[:3, 3]))
        if shift > GRID_TOLERANCE_MM:
            out.append(f"origin shifted by {shift:.3f} mm")
        if out and _codes(other.file_affine) != _codes(self.file_affine):
            out.append(f"stored {_codes(other.file_affine)}, reference {_codes(self.file_affine)}")
        return out


def voxel_volume_mm3(affine: np.ndarray) -> float:
    """Volume of one voxel: the product of the voxel sizes, exact for whole-mm voxels.

    ``|det|`` of the 3x3 part is used only for sheared (non-orthogonal) affines;
    for the usual ones it would turn 1 x 1 x 3 mm into 3.0000000000000004 mm3.
    """
    columns = np.asarray(affine, dtype=float)[:3, :3]
    norms = np.linalg.norm(columns, axis=0)
    gram = (columns.T @ columns) / np.outer(norms, norms)
    if np.abs(gram - np.eye(3)).max() < 1e-9:
        return float(np.prod(norms))
    return float(abs(np.linalg.det(columns)))


def _xyz(values_zyx) -> str:
    """Format a ``(z, y, x)`` triple in NIfTI ``x x y x z`` order."""
    return " x ".join(f"{v:g}" for v in values_zyx[::-1])


def _codes(affine: np.ndarray) -> str:
    return "".join(nib.aff2axcodes(affine))


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    ua = a / np.linalg.norm(a, axis=0)
    ub = b / np.linalg.norm(b, axis=0)
    cos = np.clip((np.trace(ua.T @ ub) - 1) / 2, -1.0, 1.0)
    return float(np.degrees(math.acos(cos)))
