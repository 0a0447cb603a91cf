"""Delineation tools: grow a lesion from a click, fill slices between outlines, a 3-D brush.

Each tool returns the voxels to set (a :class:`Stroke`: indices into the label map
and the new label), computed in a box around the work, never over the volume; the
viewer applies it as one undoable, journaled edit. Nothing here needs Qt.

- :func:`grow_from_click`: the region connected to a click whose intensity stands
  out from the normal-appearing white matter around it, within a radius in mm,
  never entering another lesion nor leaving the white matter (when the case has a
  mask). The threshold sits ``level`` of the way from the local white-matter median
  up to the intensity at the click (0.5: half way, the half-maximum edge).
- :func:`interpolate_slices`: the axial slices between a lesion's outlined slices,
  filled by shape-based interpolation (signed distances in mm, interpolated
  linearly; Raya & Udupa 1990, as 3D Slicer's *Fill between slices*).
- :func:`sphere_stroke`: a ball of a radius in mm around a voxel, honouring
  anisotropic voxels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import flood

from .geometry import Ball, Box

__all__ = [
    "DEFAULT_GROW_LEVEL",
    "DEFAULT_GROW_RADIUS_MM",
    "DelineationError",
    "Grown",
    "Stroke",
    "grow_from_click",
    "interpolate_slices",
    "sphere_stroke",
]

#: How far the grow threshold sits from the white-matter median up to the click.
DEFAULT_GROW_LEVEL = 0.5
#: The largest distance from the click a grown lesion reaches (mm).
DEFAULT_GROW_RADIUS_MM = 12.0
#: A click stands out when it is this many robust SDs above the white matter.
_MIN_CONTRAST_SD = 2.0
#: The click's value is the median of the voxels this close to it along each axis (mm).
_CLICK_REACH_MM = 1.5


class DelineationError(ValueError):
    """A tool cannot work here; the message says why and what to do."""


@dataclass(frozen=True)
class Stroke:
    """Voxels to set to ``label``: ``indices`` as from :func:`numpy.nonzero` (z, y, x)."""

    indices: tuple[np.ndarray, np.ndarray, np.ndarray]
    label: int

    @property
    def n_voxels(self) -> int:
        """How many voxels the stroke sets."""
        return int(self.indices[0].size)


@dataclass(frozen=True)
class Grown:
    """A grown lesion (a preview until accepted) and the statistics it came from."""

    stroke: Stroke
    threshold: float
    wm_median: float
    wm_sd: float
    level: float


def _box(seed, shape, spacing_mm, radius_mm) -> tuple[slice, ...]:
    reach = [int(np.ceil(radius_mm / s)) for s in spacing_mm]
    return tuple(
        slice(max(0, c - r), min(n, c + r + 1)) for c, r, n in zip(seed, reach, shape, strict=True)
    )


def _ball_in_box(box, seed, spacing_mm, radius_mm) -> np.ndarray:
    axes = [
        (np.arange(b.start, b.stop) - c) * s for b, c, s in zip(box, seed, spacing_mm, strict=True)
    ]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)
    return z**2 + y**2 + x**2 <= radius_mm**2


def grow_from_click(
    image: np.ndarray,
    labels: np.ndarray,
    seed: tuple[int, int, int],
    label: int,
    spacing_mm,
    wm_mask: np.ndarray | None = None,
    level: float = DEFAULT_GROW_LEVEL,
    radius_mm: float = DEFAULT_GROW_RADIUS_MM,
) -> Grown:
    """Grow lesion ``label`` in 3-D from the voxel ``seed`` (z, y, x) of ``image``.

    The reference is the white matter in a box of ``radius_mm`` around the click
    (``wm_mask`` less every lesion; without a mask, the box less lesions and its
    brightest 10 %): its median and robust SD (1.4826 MAD). The region is the
    connected set of voxels at or above ``median + level * (click - median)``
    (the click's value: the median of the voxels within 1.5 mm along each axis,
    3 x 3 x 1 at 1 x 1 x 3 mm, so a lesion one slice thick counts), within
    ``radius_mm``, outside other lesions and, with a mask, inside the white matter
    (its holes filled: a mask that excludes lesions still admits them). Holes
    of the region are filled.

    Raises
    ------
    DelineationError
        When the click is outside the image, on another lesion, outside the white
        matter, or does not stand out from the white matter around it.
    """
    seed = tuple(int(c) for c in seed)
    if not all(0 <= c < n for c, n in zip(seed, image.shape, strict=True)):
        raise DelineationError("The click is outside the image: click inside a lesion.")
    if labels[seed] not in (0, label):
        raise DelineationError(
            f"The click is on lesion {int(labels[seed])}: select it, or click another lesion."
        )
    if not 0.0 < level < 1.0:
        raise DelineationError(f"The grow level must be between 0 and 1, not {level:g}.")
    spacing_mm = np.asarray(spacing_mm, dtype=float)
    box = _box(seed, image.shape, spacing_mm, radius_mm)
    local = tuple(c - b.start for c, b in zip(seed, box, strict=True))
    values = np.asarray(image[box], dtype=np.float32)
    lesions = np.asarray(labels[box])
    allowed = _ball_in_box(box, seed, spacing_mm, radius_mm) & np.isfinite(values)
    allowed &= (lesions == 0) | (lesions == label)
    if wm_mask is not None:
        wm = np.asarray(wm_mask[box]) > 0
        if not ndimage.binary_fill_holes(wm)[local]:
            raise DelineationError(
                "The click is outside the white matter (wm_mask): click inside a lesion."
            )
        allowed &= ndimage.binary_fill_holes(wm)
        reference = values[wm & (lesions == 0) & np.isfinite(values)]
    else:
        reference = values[(lesions == 0) & np.isfinite(values) & (values != 0)]
        if reference.size:
            reference = reference[reference <= np.percentile(reference, 90)]
    if reference.size < 20:
        raise DelineationError("Too little white matter around the click to set a threshold.")
    median = float(np.median(reference))
    sd = 1.4826 * float(np.median(np.abs(reference - median))) or float(reference.std()) or 1.0
    reach = np.floor(_CLICK_REACH_MM / spacing_mm + 1e-9).astype(int)
    near = tuple(slice(max(0, c - r), c + r + 1) for c, r in zip(local, reach, strict=True))
    at_click = float(np.nanmedian(values[near]))
    if not at_click > median + _MIN_CONTRAST_SD * sd:
        raise DelineationError(
            f"The click ({at_click:.4g}) does not stand out from the white matter around "
            f"it (median {median:.4g}, SD {sd:.3g}): click inside a bright lesion, on the "
            "image it shows (FLAIR or T2)."
        )
    threshold = median + level * (at_click - median)
    candidate = allowed & (values >= threshold)
    if not candidate[local]:
        candidate[local] = True  # a click on a dark voxel inside a bright lesion
    region = flood(candidate.astype(np.uint8), local, connectivity=1)
    region = ndimage.binary_fill_holes(region) & allowed
    zz, yy, xx = np.nonzero(region & (lesions != label))
    indices = (zz + box[0].start, yy + box[1].start, xx + box[2].start)
    return Grown(Stroke(indices, int(label)), threshold, median, sd, float(level))


def interpolate_slices(
    labels: np.ndarray, label: int, spacing_mm, box: Box | None = None
) -> Stroke:
    """The axial slices between the outlined slices of lesion ``label``, filled.

    Between two consecutive slices holding the lesion (z = a and z = b, b > a + 1),
    slice z is inside where ``(1 - t) d_a + t d_b <= 0``, ``t = (z - a) / (b - a)``,
    ``d`` the signed in-plane distance (mm) to each outline's edge (negative
    inside). Only empty voxels are filled: other lesions are never overwritten.
    ``box``: the lesion's bounding box (the lesion model keeps it), so that only
    the box is searched.

    Raises
    ------
    DelineationError
        When the lesion is outlined on fewer than two slices, or has no gap.
    """
    box = box or tuple(slice(0, n) for n in labels.shape)
    found = np.nonzero(labels[box] == label)
    if found[0].size == 0:
        raise DelineationError(f"Lesion {label} is not painted: outline it on two slices.")
    z_slices = np.unique(found[0]) + box[0].start
    gaps = [(a, b) for a, b in zip(z_slices[:-1], z_slices[1:], strict=True) if b > a + 1]
    if not gaps:
        raise DelineationError(
            f"Lesion {label} has no slices to fill between: outline it on two slices "
            "with unpainted slices between them (e.g. every 2nd or 3rd)."
        )
    spacing_mm = np.asarray(spacing_mm, dtype=float)
    pad = 2  # the interpolated shape may reach past both outlines' boxes: never by much
    y0, x0 = (max(0, int(found[k].min()) + box[k].start - pad) for k in (1, 2))
    y1, x1 = (min(labels.shape[k], int(found[k].max()) + box[k].start + pad + 1) for k in (1, 2))
    out: list[list[np.ndarray]] = [[], [], []]
    for a, b in gaps:
        d_a, d_b = (
            _signed_distance(labels[z, y0:y1, x0:x1] == label, spacing_mm[1:]) for z in (a, b)
        )
        for z in range(a + 1, b):
            t = (z - a) / (b - a)
            inside = ((1 - t) * d_a + t * d_b <= 0) & (labels[z, y0:y1, x0:x1] == 0)
            yy, xx = np.nonzero(inside)
            out[0].append(np.full(yy.size, z))
            out[1].append(yy + y0)
            out[2].append(xx + x0)
    indices = tuple(np.concatenate(axis).astype(np.intp) for axis in out)
    return Stroke(indices, int(label))  # type: ignore[arg-type]


def _signed_distance(mask: np.ndarray, sampling) -> np.ndarray:
    """Signed distance (mm) to the edge of a 2-D mask: negative inside, positive outside."""
    outside = ndimage.distance_transform_edt(~mask, sampling=sampling)
    inside = ndimage.distance_transform_edt(mask, sampling=sampling)
    return np.where(mask, 0.5 * np.min(sampling) - inside, outside - 0.5 * np.min(sampling))


def sphere_stroke(
    shape, centre: tuple[int, int, int], radius_mm: float, spacing_mm, label: int
) -> Stroke:
    """Every voxel of ``shape`` within ``radius_mm`` of ``centre`` (z, y, x), set to ``label``.

    ``label`` 0 erases. The ball honours anisotropic voxels (see :class:`Ball`).
    """
    ball = Ball.from_width(radius_mm, np.asarray(spacing_mm, dtype=float))
    offsets = np.argwhere(ball.offsets) - np.asarray(ball.margin)
    voxels = offsets + np.asarray(centre, dtype=np.intp)
    inside = np.all((voxels >= 0) & (voxels < np.asarray(shape)), axis=1)
    voxels = voxels[inside]
    return Stroke((voxels[:, 0], voxels[:, 1], voxels[:, 2]), int(label))
