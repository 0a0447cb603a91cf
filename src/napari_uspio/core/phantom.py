"""A synthetic MS case ("phantom") with ground truth, deterministic for a seed.

:func:`make_phantom` writes one NIfTI per role (see :data:`ROLE_ENDINGS`),
named ``sub-phantom<seed>_ses-01_<ending>.nii.gz`` so that
:func:`~napari_uspio.core.roles.role_from_filename` recognises each file, and
the ground truth into ``truth/`` (``lesions_truth.nii.gz``, int16 lesion ids
1..N, and ``lesions_truth.csv``). No MTR file (derived from ``m0`` / ``mmt``)
and no lesion mask is written beside the images.

Grid and orientation
    ``geometry="default"``: 256 x 256 x 44 voxels of 1 x 1 x 3 mm (44 contiguous
    axial slices, as in seed 000); ``"iso1mm"``: 192 x 224 x 160 voxels of 1 mm.
    ``shape_xyz`` changes the voxel count but not the voxel size; the brain (and,
    on grids smaller than the geometry's, the lesions) is scaled to the field of
    view. The affine is diagonal and **LAS** (negative x voxel size, as written by
    many scanners), so readers must reorient to RAS+; the grid centre is world
    (0, 0, 0) mm. qform (code 1) and sform (code 2) hold the same affine; units mm.

Lesions (``n_lesions``, default 18) cycle through
:data:`~napari_uspio.core.phantom_lesions.RECIPES`; the first 7 hold every Gd kind
(none / nodular / shell), USPIO pattern (none / ring / focal / iso), QSM rim,
central vein, lesion class and overlap category, and are centred on the middle
axial slice (where viewers open). Smaller grids shrink the lesions, which may
merge categories.

Truth columns: ``lesion``, ``x_mm``/``y_mm``/``z_mm`` (world RAS centre, a lesion
voxel), ``radius_mm`` (nominal equivalent-sphere radius), ``voxels``,
``volume_mm3`` (voxels x voxel volume), ``gd``, ``uspio``, ``qsm_rim``,
``central_vein``, ``overlap``, ``lesion_class``, ``mtr_true`` (the lesion's MTR
before partial-volume smoothing and noise), ``qsm_rel_ppb_true`` (mean of the
noiseless QSM over the lesion, central vein included, minus the mean over a
white-matter shell 2-6 mm around it). ``overlap`` is the number of voxels
enhancing with both USPIO and Gd divided by the number enhancing with either,
on the scale ``<20%`` / ``20-80%`` / ``>80%``, and ``n/a`` unless both enhance.
The follow-up table describes the follow-up visit (no enhancement; ``gd``/
``uspio`` ``none``) and adds ``black_hole`` (yes|no) and ``baseline_class``.

Follow-up (``followup/``, ``ses-02``, same grid and lesions): no enhancement;
shell and ring / focal USPIO+/Gd+ lesions are black holes (T1 -35 %); rim+
lesions about +25 ppb, rim- about +12 ppb; lesion MTR up by 0.01-0.02 (seed 000).

Anatomy: an ellipsoidal brain (cortical ribbon with sulci, lateral and third
ventricles, thalami, lentiform and caudate nuclei) in a thin CSF layer, a
signal-free skull and a thin bright scalp (fat), so that percentile display
windows put the scalp, not the white matter, at the top of the T1 window.

Acquisition model: the T2*-weighted image and ``r2star_post`` are post-USPIO
(24 h) scans; T1 enhancement is expressed as a fraction of the NAWM T1 signal.
Magnitude images have Rician noise (sigma 2.5 % of white matter; background is
noise only); QSM and R2* have Gaussian noise inside the brain mask (brain and
CSF) and are 0 outside it. No bias field. Float images are rounded to
multiples of 1/16 (far below the noise) so that they compress.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from . import phantom_lesions as pl
from .phantom_lesions import BG, CSF, DGM, GM, VENT, WM

BONE, SCALP = 6, 7
log = logging.getLogger(__name__)

#: Geometry name -> (voxel count x, y, z; voxel size mm).
GEOMETRIES: dict[str, tuple[tuple[int, int, int], tuple[float, float, float]]] = {
    "default": ((256, 256, 44), (1.0, 1.0, 3.0)),
    "iso1mm": ((192, 224, 160), (1.0, 1.0, 1.0)),
}
#: Role -> file name ending (BIDS capitalisation of :data:`roles.NAME_PATTERNS`).
ROLE_ENDINGS: dict[str, str] = {
    "t1_pre_gd": "acq-preGd_T1w",
    "t1_post_gd": "acq-postGd_T1w",
    "t1_pre_uspio": "acq-preUSPIO_T1w",
    "t1_post_uspio": "acq-postUSPIO_T1w",
    "m0": "mt-off_MTS",
    "mmt": "mt-on_MTS",
    "qsm": "Chimap",
    "flair": "FLAIR",
    "t2": "T2w",
    "t2star": "T2starw",
    "r2star": "acq-preUSPIO_R2starmap",
    "r2star_post": "acq-postUSPIO_R2starmap",
    "wm_mask": "label-WM_mask",
}
DEFAULT_N_LESIONS = 18
TRUTH_DIR, TRUTH_LABELS, TRUTH_CSV = "truth", "lesions_truth.nii.gz", "lesions_truth.csv"

#: Brain semi-axes (left-right, anterior-posterior, inferior-superior) at scale 1.
BRAIN_SEMI_AXES_MM = (68.0, 84.0, 56.0)
CSF_LAYER_MM = 2.5
SKULL_MM = 5.0  # no signal
SCALP_MM = 4.5  # fat, bright on T1: sets the top of percentile windows as in real heads
CORTEX_MM = 3.0
SULCUS_DEPTH_MM = 12.0
PV_SIGMA_VOX = 0.7
NOISE_FRACTION_OF_WM = 0.025
QSM_NOISE_PPB = 3.0
R2STAR_NOISE_PER_S = 1.0
_CHUNK_SLICES = 16
_SULCUS_SPHERE_MM = 76

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


def phantom_affine(shape_xyz, voxel_mm) -> np.ndarray:
    """Return the LAS voxel-to-world affine whose grid centre is world (0, 0, 0) mm."""
    affine = np.diag([-voxel_mm[0], voxel_mm[1], voxel_mm[2], 1.0])
    affine[:3, 3] = -affine[:3, :3] @ ((np.asarray(shape_xyz, float) - 1) / 2)
    return affine


def phantom_file_name(seed: int, role: str, session: int = 1) -> str:
    """File name of ``role`` in the phantom of ``seed`` (``ses-01`` baseline)."""
    return f"sub-phantom{seed:03d}_ses-{session:02d}_{ROLE_ENDINGS[role]}.nii.gz"


def phantom_truth(out_dir) -> pd.DataFrame:
    """Read ``out_dir/truth/lesions_truth.csv`` (``n/a`` stays a string)."""
    return pd.read_csv(Path(out_dir) / TRUTH_DIR / TRUTH_CSV, keep_default_na=False)


def make_phantom(
    out_dir,
    seed: int = 0,
    geometry: str = "default",
    shape_xyz: tuple[int, int, int] | None = None,
    followup: bool = False,
    n_lesions: int | None = None,
) -> Path:
    """Write a synthetic MS case with ground truth into ``out_dir``; return it.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created if missing).
    seed : int
        Seed of ``numpy.random.default_rng``; equal seeds give equal arrays.
    geometry : {"default", "iso1mm"}
        Voxel size and default voxel count (see module docstring).
    shape_xyz : tuple of int, optional
        Voxel count (x, y, z) instead of the geometry's.
    followup : bool
        Also write a month-12 visit into ``out_dir/followup`` (``ses-02``).
    n_lesions : int, optional
        Number of lesions (default 18; at least 7 for every kind).

    Returns
    -------
    Path
        ``out_dir``.
    """
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry {geometry!r} is not one of {sorted(GEOMETRIES)}")
    ref_shape, voxel_mm = GEOMETRIES[geometry]
    shape = tuple(int(n) for n in (shape_xyz or ref_shape))
    if len(shape) != 3 or min(shape) < 8:
        raise ValueError(f"shape_xyz must be 3 voxel counts of at least 8, got {shape_xyz}")
    n_lesions = DEFAULT_N_LESIONS if n_lesions is None else int(n_lesions)
    if n_lesions < 1:
        raise ValueError("n_lesions must be at least 1")
    start = time.perf_counter()
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    voxel = np.asarray(voxel_mm, float)
    brain_scale = float(np.min(np.multiply(shape, voxel) / np.multiply(ref_shape, voxel)))
    labels, wm_var = _anatomy(shape, voxel, brain_scale, rng)
    lesions, label_map = pl.place_lesions(
        labels,
        voxel,
        np.multiply(BRAIN_SEMI_AXES_MM, brain_scale),
        min(1.0, brain_scale),
        n_lesions,
        rng,
    )
    affine = phantom_affine(shape, voxel)
    case = (labels, wm_var, lesions, label_map, affine, voxel)
    _write_visit(out_dir, seed, 1, case, rng)
    if followup:
        _write_visit(out_dir / "followup", seed, 2, case, rng)
    log.info(
        "phantom seed %d %s written to %s in %.1f s",
        seed,
        shape,
        out_dir,
        time.perf_counter() - start,
    )
    return out_dir


def _smooth_field(shape, voxel_mm, brain_scale, sigma_mm, rng) -> np.ndarray:
    """Smooth Gaussian noise of unit variance, correlation ``sigma_mm`` (brain mm)."""
    spacing = sigma_mm / 2.0
    coarse = np.maximum(4, np.ceil(np.multiply(shape, voxel_mm) / brain_scale / spacing) + 1)
    noise = rng.standard_normal(tuple(int(n) for n in coarse), dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, 2.0, mode="wrap")
    noise /= noise.std()
    out = ndimage.zoom(noise, np.divide(shape, coarse), order=1, mode="nearest")
    return out[: shape[0], : shape[1], : shape[2]]


def _anatomy(shape, voxel_mm, brain_scale, rng):
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
    wm_var = _smooth_field(shape, voxel_mm, brain_scale, 12.0, rng)
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


def _write_visit(out_dir: Path, seed: int, visit: int, case, rng) -> None:
    """Render and write every role of one visit, then its ground truth."""
    labels, wm_var, lesions, label_map, affine, voxel = case
    out_dir.mkdir(parents=True, exist_ok=True)

    pending: list = []
    pool = ThreadPoolExecutor(max_workers=2)  # compress files while rendering the next

    def write(role, data):
        if data.dtype.kind == "f":  # multiples of 1/16: far below the noise, compresses
            data = np.divide(np.round(np.multiply(data, 16, out=data), out=data), 16, out=data)
        pending.append(
            pool.submit(_write_nifti, out_dir / phantom_file_name(seed, role, visit), data, affine)
        )
        while len(pending) > 2:
            pending.pop(0).result()

    try:
        _render_roles(write, labels, wm_var, lesions, label_map, visit, rng)
        for job in pending:
            job.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    truth = out_dir / TRUTH_DIR
    truth.mkdir(exist_ok=True)
    _write_nifti(truth / TRUTH_LABELS, label_map, affine)
    table = pl.truth_table(lesions, label_map, affine, voxel, visit)
    tmp = truth / f".{TRUTH_CSV}.part"
    table.to_csv(tmp, index=False)
    os.replace(tmp, truth / TRUTH_CSV)


def _render_roles(write, labels, wm_var, lesions, label_map, visit, rng) -> None:
    """Render every role of a visit, in a fixed order, and pass it to ``write``."""
    is_wm = labels == WM
    brain_mask = (labels != BG) & (labels < BONE)
    for role in ("t1_pre_gd", "t1_post_gd", "t1_pre_uspio", "t1_post_uspio"):
        write(role, _magnitude(role, "t1", labels, lesions, visit, rng))
    m0 = _hard("m0", labels)
    pl.paint_lesions(m0, "m0", lesions, visit, TISSUE_VALUES["m0"][WM])
    mtr = _hard("mtr", labels)
    mtr[is_wm] += WM_MTR_VARIATION * wm_var[is_wm]
    pl.paint_lesions(mtr, "mtr", lesions, visit, TISSUE_VALUES["mtr"][WM])
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


def _write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write gzipped NIfTI-1 via a temporary name and ``os.replace`` (reproducible bytes)."""
    img = nib.Nifti1Image(data, affine)
    img.set_data_dtype(data.dtype)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=2)
    img.header.set_xyzt_units(xyz="mm")
    tmp = path.with_name(f".{path.name}.part")
    try:
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz,
        ):
            holder = nib.FileHolder(fileobj=gz)
            img.to_file_map({"image": holder, "header": holder})
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
