"""Rendering the phantom's images: tissue values, lesions, partial volume, noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import lesions as pl
from .anatomy import BG, BONE, WM

PV_SIGMA_VOX = 0.7
NOISE_FRACTION_OF_WM = 0.025
QSM_NOISE_PPB = 3.0
R2STAR_NOISE_PER_S = 1.0

#: Noiseless tissue values: background, CSF, GM, WM, deep GM, ventricle, skull, scalp.
#: QSM and R2* are 0 outside the brain mask (CSF included), as in masked maps.
TISSUE_VALUES: dict[str, tuple[float, ...]] = {
    "t1": (0.0, 250.0, 600.0, 900.0, 700.0, 250.0, 30.0, 1500.0),
    "flair": (0.0, 120.0, 650.0, 500.0, 590.0, 120.0, 20.0, 700.0),
    "t2": (0.0, 1400.0, 650.0, 450.0, 560.0, 1400.0, 30.0, 900.0),
    "t2star": (0.0, 1300.0, 600.0, 420.0, 330.0, 1300.0, 15.0, 600.0),
    "m0": (0.0, 1500.0, 1100.0, 1000.0, 1050.0, 1500.0, 40.0, 1000.0),
    "mtr": (0.0, 0.05, 0.38, 0.46, 0.40, 0.05, 0.0, 0.10),
    "qsm": (0.0, 0.0, 10.0, -20.0, 60.0, 0.0, 0.0, 0.0),
    "r2star": (0.0, 2.0, 17.0, 20.0, 30.0, 2.0, 0.0, 0.0),
}
#: Spatial variation of white matter (times a smooth unit-variance field).
WM_MTR_VARIATION = 0.01
WM_QSM_VARIATION_PPB = -1.5  # more myelin: higher MTR, more diamagnetic


def render_roles(write, labels, wm_var, lesions, label_map, visit, rng) -> None:
    """Render every role of a visit, in a fixed order, and pass it to ``write``."""
    is_wm = labels == WM
    brain_mask = (labels != BG) & (labels < BONE)
    for role in ("t1_pre_gd", "t1_post_gd", "t1_pre_uspio", "t1_post_uspio"):
        write(role, _magnitude(role, "t1", labels, lesions, visit, rng))
    m0 = _hard("m0", labels)
    pl.paint_lesions(m0, "m0", lesions, visit, TISSUE_VALUES["m0"][WM])
    mtr = _hard("mtr", labels)
    mtr[is_wm] += WM_MTR_VARIATION * wm_var[is_wm]
    pl.paint_mtr(mtr, m0, lesions, visit, PV_SIGMA_VOX)
    mmt = m0 * (1 - mtr)
    del mtr
    sigma = NOISE_FRACTION_OF_WM * TISSUE_VALUES["m0"][WM]
    write("m0", _rician(_smooth(m0), sigma, rng))
    del m0
    write("mmt", _rician(_smooth(mmt), sigma, rng))
    del mmt
    qsm = _hard("qsm", labels)
    qsm[is_wm] += WM_QSM_VARIATION_PPB * wm_var[is_wm]
    pl.paint_qsm(qsm, lesions, visit, PV_SIGMA_VOX)
    qsm = _smooth(qsm)
    pl.measure_qsm_rel(qsm, lesions, visit)
    write("qsm", _gaussian_noise(qsm, QSM_NOISE_PPB, brain_mask, rng))
    del qsm
    for role in ("flair", "t2", "t2star"):
        write(role, _magnitude(role, role, labels, lesions, visit, rng))
    for role in ("r2star", "r2star_post"):
        r2 = _hard("r2star", labels)
        pl.paint_lesions(r2, role, lesions, visit, TISSUE_VALUES["r2star"][WM])
        r2 = _gaussian_noise(_smooth(r2), R2STAR_NOISE_PER_S, brain_mask, rng)
        write(role, np.maximum(r2, 0, out=r2))
    write("wm_mask", (is_wm | (label_map > 0)).astype(np.uint8))


def _hard(tissue: str, labels: np.ndarray) -> np.ndarray:
    """Noiseless, unsmoothed float32 image of the tissue values."""
    return np.asarray(TISSUE_VALUES[tissue], np.float32)[labels]


def _magnitude(role, tissue, labels, lesions, visit, rng) -> np.ndarray:
    """Render a magnitude image: tissues, lesions, partial volume, Rician noise."""
    hard = _hard(tissue, labels)
    wm_value = TISSUE_VALUES[tissue][WM]
    pl.paint_lesions(hard, role, lesions, visit, wm_value)
    return _rician(_smooth(hard), NOISE_FRACTION_OF_WM * wm_value, rng)


def _smooth(hard: np.ndarray) -> np.ndarray:
    """Partial-volume smoothing (Gaussian, :data:`PV_SIGMA_VOX` voxels)."""
    return ndimage.gaussian_filter(hard, PV_SIGMA_VOX, output=np.float32, mode="nearest")


def _rician(image: np.ndarray, sigma: float, rng) -> np.ndarray:
    """``sqrt((s + n1)**2 + n2**2)`` in place, slice by slice, floored at 1/16."""
    plane = image.shape[:2]
    for k in range(image.shape[2]):
        n1 = rng.standard_normal(plane, dtype=np.float32) * np.float32(sigma)
        n2 = rng.standard_normal(plane, dtype=np.float32) * np.float32(sigma)
        np.hypot(np.add(image[:, :, k], n1, out=n1), n2, out=image[:, :, k])
    return np.maximum(image, 1 / 16, out=image)  # stays > 0 once rounded to 1/16


def _gaussian_noise(image: np.ndarray, sigma: float, inside: np.ndarray, rng) -> np.ndarray:
    """Add Gaussian noise inside ``inside``; 0 outside (in place)."""
    plane = image.shape[:2]
    for k in range(image.shape[2]):
        image[:, :, k] += rng.standard_normal(plane, dtype=np.float32) * np.float32(sigma)
    image[~inside] = 0
    return image
