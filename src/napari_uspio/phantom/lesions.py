"""Lesions of the synthetic MS case: kinds, placement, masks, intensities, truth.

Part of :mod:`napari_uspio.phantom` (see there for the conventions).
Arrays are in file order ``(x, y, z)``; distances are in mm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage

from .anatomy import VENT, WM

#: Width of the Gd shell and of the USPIO ring (outer edge of the lesion).
EDGE_MM = 1.5
#: Radius of the focal USPIO spot.
SPOT_RADIUS_MM = 1.5
#: Nominal lesion volumes (seed 004: rim+ about 1000 mm3, rim- about 300 mm3).
VOLUME_RIM_MM3 = 1000.0
VOLUME_NO_RIM_MM3 = 300.0
#: Largest relative bump of the lesion outline (smooth waves on the ellipsoid).
IRREGULARITY = 0.15
#: Susceptibility a central vein adds (before partial-volume smoothing, which leaves
#: about +40 ppb above the lesion on a 1 mm in-plane grid).
VEIN_QSM_PPB = 150.0

#: Lesion kinds (gd, uspio, qsm rim, central vein), cycled in this order. The first
#: seven already hold every gd / uspio pattern, class and overlap category.
RECIPES: tuple[tuple[str, str, bool, bool], ...] = (
    ("shell", "ring", True, True),
    ("nodular", "focal", False, False),
    ("shell", "iso", True, False),
    ("nodular", "none", False, True),
    ("none", "none", True, True),
    ("none", "none", False, False),
    ("none", "ring", True, False),
    ("nodular", "iso", False, False),
    ("shell", "none", True, False),
    ("none", "none", False, True),
    ("nodular", "ring", True, False),
    ("shell", "focal", False, False),
    ("none", "iso", False, False),
    ("shell", "none", False, True),
    ("none", "none", True, False),
    ("nodular", "none", False, False),
    ("none", "focal", False, False),
    ("none", "none", False, True),
)

#: Lesion MTR (mean, sd) per class at baseline (seed 000) and its rise at month 12.
MTR_BY_CLASS = {
    "USPIO+/Gd+": (0.38, 0.05),
    "USPIO-/Gd+": (0.42, 0.04),
    "USPIO-/Gd-": (0.41, 0.06),
    "USPIO+/Gd-": (0.40, 0.05),
}
MTR_RISE_M12 = {"USPIO+/Gd+": 0.02, "USPIO-/Gd+": 0.01, "USPIO-/Gd-": 0.01, "USPIO+/Gd-": 0.01}
#: Lesion susceptibility relative to NAWM (mean, sd) in ppb, by (visit, rim); seed 004.
QSM_REL_PPB = {
    (1, True): (13.5, 1.5),
    (1, False): (7.8, 1.2),
    (2, True): (25.0, 2.5),
    (2, False): (12.0, 2.0),
}
#: Core : rim susceptibility ratio of rim+ lesions, by visit.
QSM_CORE_TO_RIM = {1: 5.0 / 30.0, 2: 15.0 / 40.0}
#: Hard lesion intensities by role and visit (T1 roles are relative to NAWM, below).
LESION_VALUE = {
    "flair": (950.0, 900.0),
    "t2": (1000.0, 950.0),
    "t2star": (850.0, 800.0),
    "m0": (1080.0, 1060.0),
}


@dataclass(eq=False)
class Lesion:
    """One phantom lesion: its kind, where it is, its masks (in ``box``) and values."""

    lesion_id: int
    gd: str
    uspio: str
    qsm_rim: bool
    central_vein: bool
    centre_ijk: tuple[int, int, int]
    radius_mm: float
    box: tuple[slice, slice, slice]
    mask: np.ndarray
    edge: np.ndarray
    rim: np.ndarray
    spot: np.ndarray
    vein: np.ndarray
    mtr: dict[int, float] = field(default_factory=dict)
    qsm_target_ppb: dict[int, float] = field(default_factory=dict)
    qsm_rel_ppb: dict[int, float] = field(default_factory=dict)
    shell: np.ndarray | None = None

    @property
    def gd_mask(self) -> np.ndarray:
        """Gd-enhancing voxels at baseline."""
        return {"nodular": self.mask, "shell": self.edge}.get(self.gd, np.zeros_like(self.mask))

    @property
    def uspio_mask(self) -> np.ndarray:
        """USPIO-enhancing voxels at baseline."""
        masks = {"ring": self.edge, "focal": self.spot, "iso": self.mask}
        return masks.get(self.uspio, np.zeros_like(self.mask))

    @property
    def lesion_class(self) -> str:
        """``USPIO+/Gd+``, ``USPIO-/Gd+``, ``USPIO-/Gd-`` or ``USPIO+/Gd-``."""
        return f"USPIO{'-' if self.uspio == 'none' else '+'}/Gd{'-' if self.gd == 'none' else '+'}"

    @property
    def overlap_fraction(self) -> float:
        """|USPIO & Gd| / |USPIO | Gd| enhancing voxels; NaN unless both enhance."""
        u, g = self.uspio_mask, self.gd_mask
        if not (u.any() and g.any()):
            return math.nan
        return float((u & g).sum() / (u | g).sum())

    @property
    def overlap(self) -> str:
        """The 3-point overlap scale of seed 000, or ``n/a``."""
        f = self.overlap_fraction
        if math.isnan(f):
            return "n/a"
        return "<20%" if f < 0.2 else (">80%" if f > 0.8 else "20-80%")

    @property
    def black_hole(self) -> bool:
        """Persistent T1 hypointensity at follow-up (shell, or ring / focal USPIO+/Gd+)."""
        return self.gd == "shell" or (
            self.lesion_class == "USPIO+/Gd+" and self.uspio in ("ring", "focal")
        )


def _offsets_mm(lo, hi, centre, voxel_mm):
    """Broadcastable per-axis offsets (mm) of the box voxels from ``centre``."""
    axes = [(np.arange(a, b) - c) * v for a, b, c, v in zip(lo, hi, centre, voxel_mm, strict=True)]
    return axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]


def _ellipsoid_norm(offsets, semi_mm):
    dx, dy, dz = offsets
    return np.sqrt((dx / semi_mm[0]) ** 2 + (dy / semi_mm[1]) ** 2 + (dz / semi_mm[2]) ** 2)


def outline_bumps(offsets, semi_mm, waves):
    """Relative radius change of an irregular outline at the box voxels."""
    dx, dy, dz = offsets
    norm = np.maximum(_ellipsoid_norm(offsets, semi_mm), 1e-6)
    bump = np.zeros(norm.shape)
    for d, freq, phase, amp in zip(*waves, strict=True):
        bump += amp * np.sin(
            freq
            * (d[0] * dx / semi_mm[0] + d[1] * dy / semi_mm[1] + d[2] * dz / semi_mm[2])
            / norm
            + phase
        )
    return norm, bump


@dataclass(frozen=True)
class Packing:
    """How lesions are laid out in the white matter (the defaults: one phantom case).

    ``zone``: centres within these fractions of the brain semi-axes; ``gap_vox``:
    voxels kept free between lesions per axis (None: the edge width and 2 voxels);
    ``periventricular``: every other lesion is first tried next to a ventricle;
    ``middle_slice``: this many lesions first, centred on the middle axial slice.
    """

    zone: tuple[float, float, float] = (0.6, 0.7, 0.45)
    gap_vox: tuple[int, int, int] | None = None
    periventricular: bool = True
    middle_slice: int = 7


def _try_lesion(centre, semi_mm, voxel_mm, labels, label_map, waves, periventricular, gap):
    """Return the lesion mask and its box at ``centre``, or None if it does not fit."""
    shape = np.array(labels.shape)
    half = np.ceil((semi_mm * (1 + 2 * IRREGULARITY) + 7.0) / voxel_mm).astype(int)
    lo, hi = centre - half, centre + half + 1
    if (lo < 2).any() or (hi > shape - 2).any() or labels[tuple(centre)] != WM:
        return None
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    lab = labels[box]
    offsets = _offsets_mm(lo, hi, centre, voxel_mm)
    core = _ellipsoid_norm(offsets, semi_mm) <= 1 - IRREGULARITY  # inside any outline
    if (lab[core] != WM).any() or label_map[box][core].any():
        return None  # a quick refusal: the checks below would refuse too
    norm, bump = outline_bumps(offsets, semi_mm, waves)
    mask = norm <= 1 + bump
    if (lab[ndimage.maximum_filter(mask, size=3)] != WM).any():
        return None  # lesion and one voxel around it must be white matter
    if label_map[box][ndimage.maximum_filter(mask, size=tuple(2 * gap + 1))].any():
        return None  # too close to another lesion
    if periventricular and not (lab[_ellipsoid_norm(offsets, semi_mm + 5.0) <= 1] == VENT).any():
        return None
    return box, mask, half


def place_lesions(
    labels, voxel_mm, brain_semi_mm, lesion_scale, n_lesions, rng, kinds=None, packing=Packing()
):
    """Place ``n_lesions`` non-overlapping white-matter lesions; return them and the label map.

    Parameters
    ----------
    labels : ndarray of uint8
        Tissue labels ``(x, y, z)``.
    voxel_mm : sequence of float
        Voxel size (positive) per axis.
    brain_semi_mm : sequence of float
        Semi-axes of the brain (mm) on this grid.
    lesion_scale : float
        Factor on the nominal lesion radii (below 1 on small grids).
    n_lesions : int
        Number of lesions.
    rng : numpy.random.Generator
        The phantom's random generator.
    kinds : sequence of tuple, optional
        Kind of each lesion, as in :data:`RECIPES` (default: cycle through RECIPES).
    packing : Packing
        Where lesions go and how close they may be.
    """
    voxel_mm = np.asarray(voxel_mm, float)
    kinds = [RECIPES[k % len(RECIPES)] for k in range(n_lesions)] if kinds is None else kinds
    gap = np.asarray(packing.gap_vox or np.ceil(EDGE_MM / voxel_mm).astype(int) + 2)
    centre_grid = (np.array(labels.shape) - 1) / 2.0
    zone_vox = np.asarray(brain_semi_mm) / voxel_mm * np.asarray(packing.zone)
    label_map = np.zeros(labels.shape, np.int16)
    lesions: list[Lesion] = []
    for k in range(n_lesions):
        gd, uspio, rim, vein = kinds[k]
        volume = (VOLUME_RIM_MM3 if rim else VOLUME_NO_RIM_MM3) * rng.uniform(0.75, 1.3)
        radius_mm = (3 * volume / (4 * math.pi)) ** (1 / 3) * lesion_scale
        stretch = rng.uniform(0.85, 1.15, 2)
        semi_mm = radius_mm * np.array([stretch[0], stretch[1], 1 / stretch.prod()])
        amp = rng.uniform(0.3, 1.0, 4)
        waves = (
            rng.normal(size=(4, 3)),
            rng.uniform(1.5, 3.0, 4),
            rng.uniform(0, 2 * np.pi, 4),
            amp * IRREGULARITY / amp.sum(),
        )
        placed = None
        for attempt in range(4000):
            if attempt and attempt % 500 == 0:
                semi_mm, radius_mm = semi_mm * 0.9, radius_mm * 0.9
            u = rng.uniform(-1, 1, 3)  # the first on the middle slice, where viewers open
            u[2] = 0.0 if k < packing.middle_slice else u[2] + 0.2
            centre = np.round(centre_grid + u * zone_vox).astype(int)
            near_ventricle = packing.periventricular and k % 2 == 0 and attempt < 2000
            placed = _try_lesion(
                centre,
                semi_mm,
                voxel_mm,
                labels,
                label_map,
                waves,
                near_ventricle,
                np.asarray(gap),
            )
            if placed is not None:
                break
        if placed is None:
            raise ValueError(f"could not place {n_lesions} lesions: grid too small or too many")
        box, mask, half = placed
        label_map[box][mask] = k + 1
        lesion = _lesion_masks(
            k + 1, (gd, uspio, rim, vein), centre, box, mask, half, voxel_mm, labels, rng
        )
        lesion.radius_mm = float(radius_mm)
        cls = lesion.lesion_class
        lesion.mtr[1] = float(np.clip(rng.normal(*MTR_BY_CLASS[cls]), 0.25, 0.5))
        lesion.mtr[2] = min(lesion.mtr[1] + MTR_RISE_M12[cls], 0.5)
        for visit in (1, 2):
            lesion.qsm_target_ppb[visit] = float(rng.normal(*QSM_REL_PPB[(visit, rim)]))
        lesions.append(lesion)
    for lesion in lesions:
        lesion.shell = _nawm_shell(lesion, labels, label_map, voxel_mm)
    return lesions, label_map


def _lesion_masks(lesion_id, kind, centre, box, mask, half, voxel_mm, labels, rng):
    """Edge, QSM rim, focal spot and central-vein masks of a placed lesion."""
    dist = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=voxel_mm)[1:-1, 1:-1, 1:-1]
    edge = mask & (dist <= EDGE_MM + 1e-3)
    rim = mask & (dist <= voxel_mm[:2].min() + 1e-3)
    inner = np.argwhere(mask & (dist > EDGE_MM + 1.0))
    inner = inner[inner[:, 2] == half[2]]  # in the lesion's central slice
    spot_at = inner[rng.integers(len(inner))] if (kind[1] == "focal" and len(inner)) else half
    spot = mask & (
        _ellipsoid_norm(
            _offsets_mm((0, 0, 0), mask.shape, spot_at, voxel_mm), np.full(3, SPOT_RADIUS_MM)
        )
        <= 1
    )
    vein = np.zeros_like(mask)
    if kind[3]:
        zs = np.flatnonzero(mask[half[0], half[1]])
        vein[half[0], half[1], max(zs[0] - 1, 0) : zs[-1] + 2] = True
        vein &= labels[box] == WM
    return Lesion(
        lesion_id,
        kind[0],
        kind[1],
        kind[2],
        kind[3],
        tuple(int(c) for c in centre),
        0.0,
        box,
        mask,
        edge,
        rim,
        spot,
        vein,
    )


def _nawm_shell(lesion, labels, label_map, voxel_mm):
    """NAWM around a lesion: white matter 2-6 mm (at least 1-2 voxels) from it."""
    near = np.maximum(1, np.round(2.0 / voxel_mm)).astype(int)
    far = np.maximum(near + 1, np.round(6.0 / voxel_mm)).astype(int)
    outer = ndimage.maximum_filter(lesion.mask, size=tuple(2 * far + 1))
    inner = ndimage.maximum_filter(lesion.mask, size=tuple(2 * near + 1))
    return (
        outer & ~inner & (labels[lesion.box] == WM) & (label_map[lesion.box] == 0) & ~lesion.vein
    )


def paint_lesions(hard, role, lesions, visit, wm_value):
    """Paint the lesions of ``visit`` into the noiseless, unsmoothed image of ``role``."""
    for les in lesions:
        view, m = hard[les.box], les.mask
        if role.startswith("t1_"):
            if visit == 2:
                view[m] = wm_value * (0.65 if les.black_hole else 0.92)
                continue
            view[m] = wm_value * (0.75 if les.uspio == "iso" else 0.90)
            if role == "t1_post_gd":
                view[les.gd_mask] += 0.40 * wm_value
            elif role == "t1_post_uspio" and les.uspio == "iso":
                view[m] = wm_value
            elif role == "t1_post_uspio" and les.uspio != "none":
                view[les.uspio_mask] += (0.35 if les.uspio == "ring" else 0.40) * wm_value
        elif role in LESION_VALUE:
            view[m] = LESION_VALUE[role][visit - 1]
            if role == "t2star":
                if les.qsm_rim:
                    view[les.rim] *= 0.8
                if visit == 1:
                    view[les.uspio_mask] *= 0.65
                view[les.vein] = 0.2 * wm_value
        elif role in ("r2star", "r2star_post"):
            view[m] = 15.0
            if les.qsm_rim:
                view[les.rim] = 26.0 if visit == 1 else 28.0
            if role == "r2star_post" and visit == 1:
                view[les.uspio_mask] += 8.0
            view[les.vein] = 35.0


def paint_qsm(hard, lesions, visit, sigma_vox):
    """Add the lesions' susceptibility (core / rim pattern and central vein) to ``hard``.

    The pattern is scaled so that, after partial-volume smoothing with
    ``sigma_vox``, the lesion mean (vein included) is the lesion's target in ppb
    above the white matter it replaces.
    """
    for les in lesions:
        pattern = np.zeros(les.mask.shape, np.float32)
        pattern[les.mask] = QSM_CORE_TO_RIM[visit] if les.qsm_rim else 1.0
        if les.qsm_rim:
            pattern[les.rim] = 1.0
        vein = les.vein.astype(np.float32) * np.float32(VEIN_QSM_PPB)
        from_pattern = ndimage.gaussian_filter(pattern, sigma_vox, mode="constant")[les.mask]
        from_vein = ndimage.gaussian_filter(vein, sigma_vox, mode="constant")[les.mask]
        target = les.qsm_target_ppb[visit]
        scale = max(target - from_vein.mean(), 0.3 * target) / from_pattern.mean()
        hard[les.box] += pattern * np.float32(scale) + vein


def paint_mtr(mtr, m0, lesions, visit, sigma_vox):
    """Paint each lesion's MTR into ``mtr`` so that it is its mean after partial volume.

    The image is rendered as ``Mmt = M0 (1 - MTR)``, both smoothed with ``sigma_vox``;
    the lesion mean of ``1 - smooth(Mmt) / smooth(M0)`` is affine in the value painted
    inside the lesion, so two smoothings of the lesion's neighbourhood give the value
    whose noiseless mean is the lesion's planted MTR (as MTR is measured, and reported).
    """
    margin = int(4.0 * sigma_vox + 0.5) + 1  # beyond the Gaussian's reach
    for les in lesions:
        box = tuple(
            slice(max(s.start - margin, 0), min(s.stop + margin, n))
            for s, n in zip(les.box, mtr.shape, strict=True)
        )
        inner = tuple(
            slice(s.start - b.start, s.stop - b.start) for s, b in zip(les.box, box, strict=True)
        )
        mask = np.zeros(mtr[box].shape, bool)
        mask[inner] = les.mask
        at_0, at_1 = (_mtr_after_pv(mtr[box], m0[box], mask, v, sigma_vox) for v in (0.0, 1.0))
        value = (les.mtr[visit] - at_0) / (at_1 - at_0)
        mtr[les.box][les.mask] = np.clip(value, 0.0, 0.95)


def _mtr_after_pv(mtr, m0, mask, value, sigma_vox) -> float:
    """Mean over ``mask`` of the smoothed MTR, ``value`` painted inside ``mask``."""
    local = np.array(mtr, np.float32)
    local[mask] = value
    mmt = ndimage.gaussian_filter(m0 * (1 - local), sigma_vox, mode="nearest")[mask]
    return float(np.mean(1 - mmt / ndimage.gaussian_filter(m0, sigma_vox, mode="nearest")[mask]))


def measure_qsm_rel(qsm_noiseless, lesions, visit):
    """Store each lesion's noiseless mean minus its NAWM-shell mean (ppb)."""
    for les in lesions:
        view = qsm_noiseless[les.box]
        les.qsm_rel_ppb[visit] = float(view[les.mask].mean() - view[les.shell].mean())


def truth_table(lesions, label_map, affine, voxel_mm, visit) -> pd.DataFrame:
    """Return the ground-truth table of ``visit`` (1 = baseline, 2 = follow-up)."""
    counts = np.bincount(label_map.ravel(), minlength=len(lesions) + 1)
    voxel_volume = float(np.prod(voxel_mm))
    rows = []
    for les in lesions:
        x, y, z = (affine @ np.array([*les.centre_ijk, 1.0]))[:3]
        n = int(counts[les.lesion_id])
        row = {
            "lesion": les.lesion_id,
            "x_mm": round(x, 2),
            "y_mm": round(y, 2),
            "z_mm": round(z, 2),
            "radius_mm": round(les.radius_mm, 2),
            "voxels": n,
            "volume_mm3": round(n * voxel_volume, 3),
            "gd": les.gd if visit == 1 else "none",
            "uspio": les.uspio if visit == 1 else "none",
            "qsm_rim": "present" if les.qsm_rim else "absent",
            "central_vein": "present" if les.central_vein else "absent",
            "overlap": les.overlap if visit == 1 else "n/a",
            "lesion_class": les.lesion_class if visit == 1 else "USPIO-/Gd-",
            "mtr_true": round(les.mtr[visit], 4),
            "qsm_rel_ppb_true": round(les.qsm_rel_ppb[visit], 3),
        }
        if visit == 2:
            row["black_hole"] = "yes" if les.black_hole else "no"
            row["baseline_class"] = les.lesion_class
        rows.append(row)
    return pd.DataFrame(rows)
