"""Synthetic MS cases ("phantoms") with ground truth, deterministic for a seed.

A data generator for demos, tests and benchmarks, outside the domain core.

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
:data:`~napari_uspio.phantom.lesions.RECIPES`; the first 7 hold every Gd kind
(none / nodular / shell), USPIO pattern (none / ring / focal / iso), QSM rim,
central vein, lesion class and overlap category, and are centred on the middle
axial slice (where viewers open). Smaller grids shrink the lesions, which may
merge categories.

Truth columns: ``lesion``, ``x_mm``/``y_mm``/``z_mm`` (world RAS centre, a lesion
voxel), ``radius_mm`` (nominal equivalent-sphere radius), ``voxels``,
``volume_mm3`` (voxels x voxel volume), ``gd``, ``uspio``, ``qsm_rim``,
``central_vein``, ``overlap``, ``lesion_class``, ``mtr_true`` (the lesion's mean
MTR after partial-volume smoothing, before noise: the value painted inside the lesion
is chosen so), ``qsm_rel_ppb_true`` (mean of the
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

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from ..core.files import atomic_path
from . import lesions as pl
from .anatomy import BRAIN_SEMI_AXES_MM, anatomy
from .render import render_roles

__all__ = [
    "DEFAULT_N_LESIONS",
    "GEOMETRIES",
    "ROLE_ENDINGS",
    "TRUTH_CSV",
    "TRUTH_DIR",
    "TRUTH_LABELS",
    "make_phantom",
    "phantom_affine",
    "phantom_file_name",
    "phantom_truth",
]

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
    labels, wm_var = anatomy(shape, voxel, brain_scale, rng)
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
        render_roles(write, labels, wm_var, lesions, label_map, visit, rng)
        for job in pending:
            job.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    truth = out_dir / TRUTH_DIR
    truth.mkdir(exist_ok=True)
    _write_nifti(truth / TRUTH_LABELS, label_map, affine)
    table = pl.truth_table(lesions, label_map, affine, voxel, visit)
    with atomic_path(truth / TRUTH_CSV) as tmp:
        table.to_csv(tmp, index=False)


def _write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write NIfTI-1 with qform and sform = ``affine``, atomically.

    ``nib.save`` writes gzip level 1 without a time stamp: equal arrays, equal bytes.
    """
    img = nib.Nifti1Image(data, affine)
    img.set_data_dtype(data.dtype)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=2)
    img.header.set_xyzt_units(xyz="mm")
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
