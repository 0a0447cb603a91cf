"""Anatomy of the phantom: tissue labels of an ellipsoidal brain and a white-matter field.

Arrays are in file order ``(x, y, z)``; distances are in mm of the unscaled brain.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Tissue labels (ventricles have CSF intensities).
BG, CSF, GM, WM, DGM, VENT, BONE, SCALP = 0, 1, 2, 3, 4, 5, 6, 7

#: Brain semi-axes (left-right, anterior-posterior, inferior-superior) at scale 1.
BRAIN_SEMI_AXES_MM = (68.0, 84.0, 56.0)
CSF_LAYER_MM = 2.5
SKULL_MM = 5.0  # no signal
SCALP_MM = 4.5  # fat, bright on T1: sets the top of percentile windows as in real heads
CORTEX_MM = 3.0
SULCUS_DEPTH_MM = 12.0
PV_SIGMA_VOX = 0.7
_CHUNK_SLICES = 16
_SULCUS_SPHERE_MM = 76


def smooth_field(shape, voxel_mm, brain_scale, sigma_mm, rng) -> np.ndarray:
    """Smooth Gaussian noise of unit variance, correlation ``sigma_mm`` (brain mm)."""
    spacing = sigma_mm / 2.0
    coarse = np.maximum(4, np.ceil(np.multiply(shape, voxel_mm) / brain_scale / spacing) + 1)
    noise = rng.standard_normal(tuple(int(n) for n in coarse), dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, 2.0, mode="wrap")
    noise /= noise.std()
    out = ndimage.zoom(noise, np.divide(shape, coarse), order=1, mode="nearest")
    return out[: shape[0], : shape[1], : shape[2]]


def anatomy(shape, voxel_mm, brain_scale, rng):
    """Tissue labels (uint8, file order) and a smooth white-matter variation field."""
    waves = (
        rng.normal(size=(8, 3)),
        rng.uniform(1.5, 3.5, 8),
        rng.uniform(0, 2 * np.pi, 8),
        rng.uniform(0.006, 0.016, 8),
    )
    waves = [a.astype(np.float32) for a in waves]  # float32 keeps the labelling fast
    # sulci: zero crossings of smooth noise read on a sphere of _SULCUS_SPHERE_MM
    sulcal = rng.standard_normal((2 * _SULCUS_SPHERE_MM // 2 + 11,) * 3, dtype=np.float32)
    sulcal = ndimage.gaussian_filter(sulcal, 2.0, mode="wrap")
    sulcal /= sulcal.std()
    wm_var = smooth_field(shape, voxel_mm, brain_scale, 12.0, rng)
    centre = (np.asarray(shape) - 1) / 2.0
    x, y, z_all = (
        (np.arange(n) - c) * v / brain_scale
        for n, c, v in zip(shape, centre, voxel_mm * np.array([-1, 1, 1]), strict=True)
    )
    x, y = x.astype(np.float32)[:, None, None], y.astype(np.float32)[None, :, None]
    z_all = z_all.astype(np.float32)
    labels = np.empty(shape, np.uint8)
    for k0 in range(0, shape[2], _CHUNK_SLICES):
        k1 = min(k0 + _CHUNK_SLICES, shape[2])
        labels[:, :, k0:k1] = _tissue_labels(x, y, z_all[None, None, k0:k1], sulcal, waves)
    return labels, wm_var


def _ellipsoid(x, y, z, centre, semi):
    return (
        ((x - centre[0]) / semi[0]) ** 2
        + ((y - centre[1]) / semi[1]) ** 2
        + ((z - centre[2]) / semi[2]) ** 2
    ) < 1


def _tissue_labels(x, y, z, sulcal, waves):
    """Labels of a slab; coordinates in mm of the unscaled brain (RAS, brain centre 0)."""
    ax, ay, az = BRAIN_SEMI_AXES_MM
    ax_eff = ax * (1 - 0.06 * y / ay)  # a little wider at the back
    u, v, w = x / ax_eff, y / ay, z / az
    r = np.maximum(np.sqrt(u * u + v * v + w * w), 1e-3)
    grad = np.sqrt((u / ax_eff) ** 2 + (v / ay) ** 2 + (w / az) ** 2) / r
    bump = np.zeros_like(r)
    for d, freq, phase, amp in zip(*waves, strict=True):
        bump += amp * np.sin(freq * (d[0] * u + d[1] * v + d[2] * w) / r + phase)
    depth = (1 + bump - r) / np.maximum(grad, 1e-6)  # mm below the brain surface
    labels = np.zeros(depth.shape, np.uint8)
    labels[depth > -(CSF_LAYER_MM + SKULL_MM + SCALP_MM)] = SCALP
    labels[depth > -(CSF_LAYER_MM + SKULL_MM)] = BONE
    labels[depth > -CSF_LAYER_MM] = CSF
    brain = depth >= 0
    labels[brain] = WM
    deep = np.zeros(depth.shape, bool)
    for side in (-1, 1):
        for centre, semi in (
            ((9, -15, 0), (7, 11, 9)),
            ((25, 0, -2), (5, 13, 9)),
            ((14, 14, 7), (4, 8, 8)),
        ):  # thalamus, lentiform, caudate
            deep |= _ellipsoid(x, y, z, (side * centre[0], *centre[1:]), semi)
    labels[deep & brain] = DGM
    vent = _ellipsoid(x, y, z, (0, -5, -5), (1.5, 13, 9))  # third ventricle
    yv = y + 4
    for side in (-1, 1):  # lateral ventricles: arched, horns bent outward and down
        vent |= _ellipsoid(
            x - side * (7 + 0.010 * yv**2), yv, z - (12 - 0.012 * yv**2), (0, 0, 0), (5.5, 32, 8)
        )
    labels[vent & brain] = VENT
    midline = ~_ellipsoid(0, y, z, (0, -5, 7), (1, 40, 28))  # interhemispheric fissure
    shallow = brain & (depth < SULCUS_DEPTH_MM + CORTEX_MM)
    band = np.full(depth.shape, np.inf, np.float32)
    radial = (_SULCUS_SPHERE_MM - 0.6 * depth[shallow]) / r[shallow] / 2.0  # coarse voxels
    coords = [
        np.broadcast_to(c, depth.shape)[shallow] * radial + sulcal.shape[0] // 2 for c in (u, v, w)
    ]
    band[shallow] = np.abs(ndimage.map_coordinates(sulcal, coords, order=1, mode="nearest"))
    labels[
        brain & ((depth < CORTEX_MM) | (shallow & (band < 0.9)) | (midline & (np.abs(x) < 4)))
    ] = GM
    labels[
        (shallow & (band < 0.15) & (depth < SULCUS_DEPTH_MM)) | (brain & midline & (np.abs(x) < 1))
    ] = CSF
    return labels
