"""An MS case on real anatomy: ``python benchmarks/mni_lesions.py [FOLDER]``.

:func:`make_mni_case` writes a FLAIR-like image, a white-matter mask and the lesion
truth on the MNI152 2009a symmetric template (T1 and GM / WM probabilities, 1 mm,
197 x 233 x 189) that nilearn's wheel ships in ``nilearn/datasets/data``: from an
installed nilearn (never imported), else read from the wheel (``pip download
nilearn==0.14.1 --no-deps``, cached in ``~/.cache/napari-uspio/nilearn``).
Licences: nilearn's code is BSD-3-Clause; for the template its notes
(``datasets/description/icbm152_2009.rst``) say only "License: unknown"; the
template's own notice (MNI, not in the wheel) reads "Copyright (C) 1993-2009 Louis
Collins, McConnell Brain Imaging Centre, Montreal Neurological Institute, McGill
University. Permission to use, copy, modify, and distribute this software and its
documentation for any purpose and without fee is hereby granted, provided that the
above copyright notice appear in all copies."

FLAIR model (1 mm): WM 1, GM 1.3, CSF 0.2 (x ``WM``) mixed by the tissue
probabilities, 0 outside the brain; lesions (irregular ellipsoids, radii 2-7 mm,
~30-1500 mm3, in deep WM, >= 3 mm apart) 1.5-1.9 x WM, partial volume at the border.
Each 3 axial slices are averaged into one 1 x 1 x 3 mm voxel (the affine keeps each
voxel centre's world position), then Rician noise (sigma 3 % of WM) is added.
Truth: lesion fraction of a voxel >= 0.5, int16 ids 1..N.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from napari_uspio.phantom import ROLE_ENDINGS, TRUTH_DIR, TRUTH_LABELS

NILEARN = "0.14.1"
CACHE = Path.home() / ".cache" / "napari-uspio" / "nilearn"
MEMBER = "nilearn/datasets/data/mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
WM, GM, CSF, NOISE = 400.0, 1.3, 0.2, 0.03  # WM signal; GM, CSF and noise sigma x WM
SLAB, GAP_MM = 3, 3  # 1 mm slices averaged into one; least distance between lesions


def template_files() -> dict[str, Path]:
    """The T1, GM and WM template files (``{"t1": path, "gm": ..., "wm": ...}``)."""
    spec = importlib.util.find_spec("nilearn")
    if spec is not None and spec.submodule_search_locations:
        root = Path(list(spec.submodule_search_locations)[0]).parent
        files = {t: root / MEMBER.format(t) for t in ("t1", "gm", "wm")}
        if all(p.is_file() for p in files.values()):
            return files
    files = {t: CACHE / Path(MEMBER.format(t)).name for t in ("t1", "gm", "wm")}
    if all(p.is_file() for p in files.values()):
        return files
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob(f"nilearn-{NILEARN}-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", f"nilearn=={NILEARN}", "--no-deps"]
        run = subprocess.run([*cmd, "-d", str(CACHE)], capture_output=True, text=True)
        wheels = sorted(CACHE.glob(f"nilearn-{NILEARN}-*.whl"))
        if run.returncode or not wheels:
            raise RuntimeError(
                f"the MNI152 template was not found: nilearn is not installed and "
                f"`{' '.join(cmd)} -d {CACHE}` failed ({run.stderr.strip()[-300:]}). Fix: "
                f"pip install nilearn, or put nilearn-{NILEARN}-py3-none-any.whl in {CACHE}."
            )
    try:
        with zipfile.ZipFile(wheels[0]) as wheel:
            for tissue, path in files.items():
                tmp = path.with_suffix(".part")
                tmp.write_bytes(wheel.read(MEMBER.format(tissue)))
                tmp.replace(path)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise RuntimeError(
            f"{wheels[0]}: no MNI152 template in it ({exc}). Fix: delete it and run again."
        ) from exc
    return files


def _lesion_shape(radius_eq: float, rng) -> np.ndarray:
    """An irregular ellipsoid (bool, 33^3 box of 1 mm, centred) of about the radius given."""
    radii = np.clip(radius_eq * np.exp(rng.normal(0, 0.25, 3)), 2, 7)
    radii *= np.clip(radius_eq / np.cbrt(radii.prod()), 2 / radii.min(), 7 / radii.max())
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    d = np.indices((33, 33, 33)).reshape(3, -1) - 16.0
    f = np.sqrt((((rotation @ d) / radii[:, None]) ** 2).sum(0)).reshape(33, 33, 33)
    bumps = ndimage.gaussian_filter(rng.normal(size=f.shape), 1.5)
    shape = f + 0.2 * np.clip(bumps / bumps.std(), -2, 2) <= 1
    parts, _ = ndimage.label(shape)
    return ndimage.binary_fill_holes(parts == parts[16, 16, 16])


def _plant(wm: np.ndarray, n_lesions: int, rng) -> tuple[np.ndarray, list[float]]:
    """Lesion ids on the 1 mm grid in deep WM (>= 90 % of voxels at WM > 0.9), and contrasts."""
    depth = ndimage.distance_transform_edt(wm > 0.9)
    labels = np.zeros(wm.shape, np.int16)
    ball = np.indices((2 * GAP_MM + 1,) * 3) - GAP_MM
    ball = (ball**2).sum(0) <= GAP_MM**2
    contrasts: list[float] = []
    for volume in rng.permutation(np.geomspace(30, 1500, n_lesions)):
        radius = np.cbrt(3 * volume / (4 * np.pi))
        sites = np.argwhere(depth >= min(0.7 * radius, 6))
        for attempt in range(400):
            shape = _lesion_shape(radius * 0.97 ** (attempt // 40), rng)
            centre = sites[rng.integers(len(sites))]
            box = tuple(slice(c - 16, c + 17) for c in centre)
            near = ndimage.binary_dilation(shape, ball)
            if (
                np.mean(wm[box][shape] > 0.9) >= 0.9
                and wm[box][shape].min() > 0.5
                and not labels[box][near].any()
            ):
                labels[box][shape] = len(contrasts) + 1
                contrasts.append(float(rng.uniform(1.5, 1.9)))
                break
        else:
            raise RuntimeError(f"no room for a {volume:.0f} mm3 lesion in deep white matter")
    return labels, contrasts


def make_mni_case(folder: Path, n_lesions: int = 12, seed: int = 0, slab: int = SLAB) -> Path:
    """Write an MS case on the MNI152 template into ``folder``; return it.

    Parameters
    ----------
    folder : Path
        Output folder (created if missing): ``sub-mni_ses-01_FLAIR.nii.gz``,
        ``sub-mni_ses-01_label-WM_mask.nii.gz`` and ``truth/lesions_truth.nii.gz``.
    n_lesions : int
        Number of lesions, volumes spread geometrically over 30-1500 mm3.
    seed : int
        Seed of ``numpy.random.default_rng``; equal seeds give equal files.
    slab : int
        Slice thickness in mm (1 mm slices averaged): 3 (clinical 2-D FLAIR) or 1
        (3-D FLAIR, the template's own 1 mm grid).

    Returns
    -------
    Path
        ``folder``.
    """
    rng = np.random.default_rng(seed)
    images = {t: nib.load(p) for t, p in template_files().items()}
    t1, gm, wm = (np.asarray(images[t].dataobj, np.float32) / 255 for t in ("t1", "gm", "wm"))
    brain = (t1 > 0.2) | (gm + wm > 0.1)
    csf = np.clip(1 - gm - wm, 0, 1) * brain
    flair = WM * (wm + GM * gm + CSF * csf)
    labels, contrasts = _plant(wm, n_lesions, rng)
    boxes = ndimage.find_objects(labels)
    for i, (box, contrast) in enumerate(zip(boxes, contrasts, strict=True), 1):
        box = tuple(slice(s.start - 3, s.stop + 3) for s in box)  # deep WM: inside the grid
        part = ndimage.gaussian_filter((labels[box] == i).astype(np.float32), 0.6)
        flair[box] += part * (contrast * WM - flair[box])  # partial volume at the border

    nx, ny, nz = flair.shape
    nz -= nz % slab

    def coarse(a: np.ndarray) -> np.ndarray:
        return a[:, :, :nz].reshape(nx, ny, nz // slab, slab).mean(-1)

    truth = np.zeros((nx, ny, nz // slab), np.int16)
    for i in range(1, len(contrasts) + 1):
        truth[coarse(labels == i) >= 0.5] = i
    noise = rng.normal(0, NOISE * WM, (2, *truth.shape))
    signal = np.hypot(coarse(flair) + noise[0], noise[1]).astype(np.float32)
    signal = np.round(signal * 16) / 16  # far below the noise: compresses
    wm_mask = ((coarse(wm) > 0.5) | (truth > 0)).astype(np.uint8)
    to_fine = np.eye(4)
    to_fine[2, 2], to_fine[2, 3] = slab, (slab - 1) / 2  # coarse k = mean of 3k .. 3k + 2
    affine = images["t1"].affine @ to_fine
    folder = Path(folder)
    (folder / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    name = "sub-mni_ses-01_{}.nii.gz".format
    for path, data in (
        (name(ROLE_ENDINGS["flair"]), signal),
        (name(ROLE_ENDINGS["wm_mask"]), wm_mask),
        (f"{TRUTH_DIR}/{TRUTH_LABELS}", truth),
    ):
        img = nib.Nifti1Image(data, affine)
        img.header.set_qform(affine, code=1)
        img.header.set_sform(affine, code=2)
        img.header.set_xyzt_units(xyz="mm")
        nib.save(img, folder / path)
    return folder


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from napari_uspio import load_case
    from napari_uspio.core.volume import LabelMap

    out = make_mni_case(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mni_case"))
    case = load_case(out)
    truth = LabelMap.from_file(out / TRUTH_DIR / TRUTH_LABELS, "lesions").data  # (z, y, x)
    flair, voxel_mm3 = case["flair"], float(np.prod(case.grid.spacing_mm))
    nawm = case.wm_mask & ~ndimage.binary_dilation(truth > 0, iterations=2)
    print(f"{out}: {flair.shape[::-1]} voxels (x y z), {case.grid.spacing_mm[::-1]} mm")
    print("| id | voxels | volume_mm3 | slices | contrast |\n|---|---|---|---|---|")
    ids = [int(i) for i in np.unique(truth)[1:]]
    for i, lesion in ((i, truth == i) for i in ids):
        n, slices = lesion.sum(), np.unique(np.nonzero(lesion)[0]).size
        ratio = flair[lesion].mean() / flair[nawm].mean()
        print(f"| {i} | {n} | {n * voxel_mm3:.0f} | {slices} | {ratio:.2f} |")
    sizes = sorted(ids, key=lambda i: (truth == i).sum())
    shown = [sizes[k * (len(sizes) - 1) // 5] for k in range(6)]
    fig, axes = plt.subplot_mosaic("Abcd;Aefg", figsize=(16, 6.4), width_ratios=(2, 1, 1, 1))
    window = dict(cmap="gray", origin="lower", vmin=0, vmax=np.percentile(flair[truth > 0], 95))
    z_big = int(np.median(np.nonzero(truth == shown[-1])[0]))
    axes["A"].imshow(flair[z_big], **window)
    axes["A"].contour(truth[z_big] > 0, [0.5], colors="r", linewidths=0.6)
    axes["A"].set_title(f"FLAIR, axial slice {z_big} of {len(flair)} (R on the right)")
    for key, i in zip("bcdefg", shown, strict=True):
        z, y, x = (int(np.median(a)) for a in np.nonzero(truth == i))
        crop = (z, slice(y - 20, y + 20), slice(x - 20, x + 20))
        axes[key].imshow(flair[crop], **window)
        axes[key].contour(truth[crop] == i, [0.5], colors="r", linewidths=0.8)
        axes[key].set_title(f"lesion {i}: {(truth == i).sum() * voxel_mm3:.0f} mm3, slice {z}")
    for ax in axes.values():
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig("/tmp/mni_case.png", dpi=100)
