"""A phantom cohort after seed 000: patients, lesion classes, USPIO patterns and groups.

:func:`make_cohort` writes one small phantom case per patient (folder ``sub-01``,
``sub-02``, ... holding ``sub-phantom001_ses-01_*`` files, as
:func:`~napari_uspio.testing.simulate_study` names them) and the cohort's truth.
With 31 patients the cohort holds exactly what seed 000 reports at baseline
(:data:`SEED000`): 9 UEL, 7 GEL and 15 NEL patients; 16 USPIO+/Gd+, 67 USPIO-/Gd+,
643 USPIO-/Gd- lesions and 1 USPIO+/Gd-; USPIO patterns ring 4, focal 3, iso 10
over the 17 USPIO+ lesions; USPIO / Gd overlap <20 % for 3 and 20-80 % for 13 of the
USPIO+/Gd+ lesions, none >80 %. Lesion MTR is planted per class with exactly the
mean and SD of :data:`~napari_uspio.phantom.lesions.MTR_BY_CLASS` (0.38 / 0.42 / 0.41,
as measured: the lesion's mean after partial volume, before noise). Other
patient counts scale every number in proportion (largest remainders), keeping
each group's definition: a UEL patient has a USPIO+/Gd+ lesion, a GEL patient a
USPIO-/Gd+ lesion and no USPIO+ one, a NEL patient only USPIO-/Gd- lesions.

How the categories are planted (the lesion geometry of :mod:`.lesions`): focal
USPIO in a nodular Gd lesion overlaps <20 %; ring-like USPIO in a nodular lesion
and iso-intensity in a shell lesion overlap 20-80 %; the USPIO+/Gd- lesion
returns to iso-intensity. USPIO+ lesions carry a QSM rim (and so are larger).
Placement is repeated until every lesion's overlap is its planned category.

Each case (112 x 128 x 28 voxels of 1 x 1 x 3 mm) holds the phantom's images, the
reference delineation ``*_label-lesion_dseg`` (role ``lesions``, equal to the truth
ids, numbered in random order), ``*_label-candidates_dseg`` (role ``candidates``:
automatic candidates that miss :data:`MISS_FRACTION` of the lesions, grow or shrink
some by a voxel in plane, and add 1-3 false blobs in white matter), ``*_label-GM_mask``
and ``*_label-WM_mask``, and ``truth/`` (``lesions_truth.nii.gz``,
``lesions_truth.csv`` with the phantom's columns plus ``patient``, ``group`` and
``candidate``, and ``candidates_truth.csv``). The cohort folder holds
``patients.csv`` and ``lesions.csv`` (:data:`PATIENT_COLUMNS`, :data:`LESION_COLUMNS`);
read them with :func:`read_cohort`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from ..core.files import atomic_path
from ..core.patient import CLASS_COUNTS, patient_group
from . import TRUTH_CSV, TRUTH_DIR, _write_nifti, _write_visit, phantom_affine
from . import lesions as pl
from .anatomy import BRAIN_SEMI_AXES_MM, DGM, GM, WM, anatomy

__all__ = [
    "LESION_COLUMNS",
    "PATIENT_COLUMNS",
    "SEED000",
    "Cohort",
    "make_cohort",
    "plan_cohort",
    "read_cohort",
]

log = logging.getLogger(__name__)

#: Seed 000 at baseline: patients per group, lesions per class, USPIO+ lesions per pattern.
SEED000: dict[str, dict[str, int]] = {
    "groups": {"UEL": 9, "GEL": 7, "NEL": 15},
    "classes": {"USPIO+/Gd+": 16, "USPIO-/Gd+": 67, "USPIO-/Gd-": 643, "USPIO+/Gd-": 1},
    "patterns": {"ring": 4, "focal": 3, "iso": 10},
}
SEED000_PATIENTS = 31
#: Gd kind and overlap category each USPIO pattern is planted with in a USPIO+/Gd+ lesion.
PATTERN_GD = {
    "ring": ("nodular", "20-80%"),
    "focal": ("nodular", "<20%"),
    "iso": ("shell", "20-80%"),
}
#: Share of nodular (else shell) USPIO-/Gd+ lesions; of QSM rim+ and central-vein+ lesions.
P_NODULAR, P_RIM, P_VEIN = 0.7, 0.15, 0.5
#: Case grid, brain and lesion scale, and how densely lesions are packed.
SHAPE_XYZ, VOXEL_MM, BRAIN_SCALE, LESION_SCALE = (112, 128, 28), (1.0, 1.0, 3.0), 0.5, 0.7
PACKING = pl.Packing(
    zone=(0.8, 0.8, 0.7), gap_vox=(2, 2, 1), periventricular=False, middle_slice=2
)
#: Most lesions one case holds (the rest of a heavy patient's share goes to others).
MAX_LESIONS = 45
#: Truth lesions the candidates miss; false candidates per case (low, high inclusive).
MISS_FRACTION, FALSE_CANDIDATES = 0.1, (1, 3)
PLACEMENT_TRIES = 8
ENDINGS = {
    "lesions": "label-lesion_dseg",
    "candidates": "label-candidates_dseg",
    "gm_mask": "label-GM_mask",
}
PATIENTS_CSV, LESIONS_CSV, CANDIDATES_CSV = "patients.csv", "lesions.csv", "candidates_truth.csv"
PATIENT_COLUMNS = (
    "patient", "group", "n_lesions", *CLASS_COUNTS,
    "n_candidates", "n_missed", "n_false_candidates",
)  # fmt: skip
LESION_COLUMNS = (
    "patient", "group", "lesion", "lesion_class", "gd", "uspio", "overlap", "qsm_rim",
    "central_vein", "mtr_true", "qsm_rel_ppb_true", "volume_mm3", "voxels", "candidate",
)  # fmt: skip


@dataclass(frozen=True)
class Cohort:
    """A written cohort: its folder and truth tables.

    Attributes
    ----------
    folder : Path
        The cohort folder; ``folder / patient`` is a case folder.
    patients : DataFrame
        One row per patient, :data:`PATIENT_COLUMNS` (``n_uspio_pos_gd_pos`` ... are
        lesion counts per class, as in :data:`napari_uspio.core.patient.CLASS_COUNTS`).
    lesions : DataFrame
        One row per truth lesion, :data:`LESION_COLUMNS`: ``uspio`` is the pattern
        (``none``, ``ring``, ``focal``, ``iso``), ``overlap`` ``n/a`` unless both agents
        enhance, ``mtr_true`` the planted MTR, ``candidate`` the id of the lesion's
        automatic candidate (0: missed).
    """

    folder: Path
    patients: pd.DataFrame
    lesions: pd.DataFrame

    def case(self, patient: str) -> Path:
        """The case folder of a patient (``sub-01``, ...)."""
        return self.folder / patient


def read_cohort(folder) -> Cohort:
    """Read the truth tables of a cohort written by :func:`make_cohort` (``n/a`` kept)."""
    folder = Path(folder)
    read = lambda name: pd.read_csv(folder / name, keep_default_na=False)  # noqa: E731
    return Cohort(folder, read(PATIENTS_CSV), read(LESIONS_CSV))


def make_cohort(out_dir, n_patients: int = SEED000_PATIENTS, seed: int = 0) -> Cohort:
    """Write a phantom cohort after seed 000 into ``out_dir``; return it.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created if missing); one case folder per patient.
    n_patients : int
        Number of patients; 31 reproduces seed 000's counts exactly, others scale them.
    seed : int
        Seed of the plan and of every case; equal seeds write equal files.

    Returns
    -------
    Cohort
        The folder and its truth tables.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_cohort(n_patients, seed)
    patients, tables = [], []
    for k in range(1, n_patients + 1):
        patient, rng = f"sub-{k:02d}", np.random.default_rng([seed, k])
        kinds = plan[plan.patient == patient]
        kind_list = list(kinds[["gd", "uspio", "qsm_rim", "central_vein"]].itertuples(False, None))
        table, counts = _write_case(out_dir / patient, k, kind_list, kinds, rng)
        table.insert(0, "patient", patient)
        table.insert(1, "group", patient_group(table))
        _write_csv(table, out_dir / patient / TRUTH_DIR / TRUTH_CSV)
        classes = table.lesion_class.value_counts()
        patients.append(
            {"patient": patient, "group": table.group.iloc[0], "n_lesions": len(table)}
            | {key: int(classes.get(cls, 0)) for key, cls in CLASS_COUNTS.items()}
            | counts
        )
        tables.append(table)
    _write_csv(pd.DataFrame(patients, columns=PATIENT_COLUMNS), out_dir / PATIENTS_CSV)
    lesions = pd.concat(tables, ignore_index=True)[list(LESION_COLUMNS)]
    _write_csv(lesions, out_dir / LESIONS_CSV)
    log.info(
        "cohort of %d patients (%d lesions) written to %s in %.1f s",
        n_patients,
        len(lesions),
        out_dir,
        time.perf_counter() - start,
    )
    return read_cohort(out_dir)


def plan_cohort(n_patients: int = SEED000_PATIENTS, seed: int = 0) -> pd.DataFrame:
    """The planted lesions of a cohort, one row each, before any image is made.

    Columns ``patient``, ``group`` (planned), ``lesion_class``, ``gd``, ``uspio``,
    ``qsm_rim``, ``central_vein`` (bool), ``overlap`` (planned category), ``mtr``
    (planted lesion MTR: per class, draws shifted and scaled so that their mean and SD
    are exactly :data:`~.lesions.MTR_BY_CLASS`'s, as seed 000 reports them); within a
    patient USPIO+ lesions come first, then Gd+, then the others.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    rng = np.random.default_rng([seed, 0])
    scale = n_patients / SEED000_PATIENTS
    n_uel, n_gel, n_nel = _apportion(np.array(list(SEED000["groups"].values())), n_patients)
    groups = rng.permutation(np.repeat(["UEL", "GEL", "NEL"], [n_uel, n_gel, n_nel]))
    uel, gel = groups == "UEL", groups == "GEL"
    want = {c: _round(n * scale) for c, n in SEED000["classes"].items()}
    weights = rng.gamma(4.0, size=n_patients)  # lesion burden
    counts = {
        "USPIO+/Gd+": uel + _apportion(weights * uel, max(want["USPIO+/Gd+"] - n_uel, 0)),
        "USPIO+/Gd-": _apportion(weights * uel, want["USPIO+/Gd-"] if n_uel else 0),
        "USPIO-/Gd+": gel + _apportion(weights * (uel | gel), max(want["USPIO-/Gd+"] - n_gel, 0)),
        "USPIO-/Gd-": (groups == "NEL") + _apportion(weights, max(want["USPIO-/Gd-"] - n_nel, 0)),
    }
    _cap(counts, weights)
    n_uspio = int(counts["USPIO+/Gd+"].sum() + counts["USPIO+/Gd-"].sum())
    patterns = list(np.repeat(["ring", "focal", "iso"], _apportion(
        np.array(list(SEED000["patterns"].values())), n_uspio
    )))  # fmt: skip
    gd_neg_patterns = [patterns.pop() for _ in range(int(counts["USPIO+/Gd-"].sum()))]  # iso
    patterns = list(rng.permutation(patterns))
    rows = []
    for i, group in enumerate(groups):
        kinds = []
        for _ in range(counts["USPIO+/Gd+"][i]):
            pattern = patterns.pop()
            gd, overlap = PATTERN_GD[pattern]
            kinds.append(("USPIO+/Gd+", gd, pattern, True, overlap))
        for _ in range(counts["USPIO+/Gd-"][i]):
            kinds.append(("USPIO+/Gd-", "none", gd_neg_patterns.pop(), True, "n/a"))
        for _ in range(counts["USPIO-/Gd+"][i]):
            gd = "nodular" if rng.random() < P_NODULAR else "shell"
            kinds.append(("USPIO-/Gd+", gd, "none", bool(rng.random() < P_RIM), "n/a"))
        for _ in range(counts["USPIO-/Gd-"][i]):
            kinds.append(("USPIO-/Gd-", "none", "none", bool(rng.random() < P_RIM), "n/a"))
        for cls, gd, uspio, rim, overlap in kinds:
            rows.append(
                {
                    "patient": f"sub-{i + 1:02d}",
                    "group": group,
                    "lesion_class": cls,
                    "gd": gd,
                    "uspio": uspio,
                    "qsm_rim": rim,
                    "central_vein": bool(rng.random() < P_VEIN),
                    "overlap": overlap,
                }
            )
    plan = pd.DataFrame(rows)
    plan["mtr"] = 0.0
    for cls, (mean, sd) in pl.MTR_BY_CLASS.items():
        at = plan.index[plan.lesion_class == cls]
        z = rng.standard_normal(len(at))
        z = (z - z.mean()) / z.std(ddof=1) if len(at) > 1 else np.zeros(len(at))
        plan.loc[at, "mtr"] = np.clip(mean + sd * z, 0.1, 0.7)
    return plan


def _round(x: float) -> int:
    return int(np.floor(x + 0.5))


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """``total`` split in proportion to ``weights`` by largest remainders (none if all 0)."""
    weights = np.asarray(weights, float)
    out = np.zeros(len(weights), int)
    if total <= 0 or not weights.any():
        return out
    quotas = weights / weights.sum() * total
    out[:] = np.floor(quotas)
    order = np.argsort(-(quotas - out), kind="stable")
    out[order[: total - out.sum()]] += 1
    return out


def _cap(counts: dict[str, np.ndarray], weights: np.ndarray) -> None:
    """Move USPIO-/Gd- lesions from patients above :data:`MAX_LESIONS` to others."""
    total = sum(counts.values())
    if total.sum() > MAX_LESIONS * len(weights):
        raise ValueError(f"more than {MAX_LESIONS} lesions per patient: add patients")
    while (excess := np.maximum(total - MAX_LESIONS, 0)).any():
        counts["USPIO-/Gd-"] -= excess
        if (counts["USPIO-/Gd-"] < 0).any():
            raise ValueError(f"more than {MAX_LESIONS} enhancing lesions in one patient")
        room = (total < MAX_LESIONS).astype(float)
        counts["USPIO-/Gd-"] += _apportion(weights * room, int(excess.sum()))
        total = sum(counts.values())


def _case_file(k: int, role: str) -> str:
    return f"sub-phantom{k:03d}_ses-01_{ENDINGS[role]}.nii.gz"


def _write_case(folder: Path, k: int, kinds, plan, rng) -> tuple[pd.DataFrame, dict]:
    """Write patient ``k``'s case (``plan``: its rows of the plan); return its truth, counts."""
    overlaps = list(plan.overlap)
    voxel = np.asarray(VOXEL_MM)
    labels, wm_var = anatomy(SHAPE_XYZ, voxel, BRAIN_SCALE, rng)
    semi_mm = np.multiply(BRAIN_SEMI_AXES_MM, BRAIN_SCALE)
    for _ in range(PLACEMENT_TRIES):
        lesions, label_map = pl.place_lesions(
            labels, voxel, semi_mm, LESION_SCALE, len(kinds), rng, kinds=kinds, packing=PACKING
        )
        if [les.overlap for les in lesions] == list(overlaps):
            break
    else:
        raise RuntimeError(f"{folder}: no placement gave the planned overlap categories")
    for les, mtr in zip(lesions, plan.mtr, strict=True):
        les.mtr[1] = float(mtr)
    lut = np.concatenate([[0], rng.permutation(len(lesions)) + 1]).astype(np.int16)
    label_map = lut[label_map]  # ids in random order: they tell nothing of the class
    for les in lesions:
        les.lesion_id = int(lut[les.lesion_id])
    lesions.sort(key=lambda les: les.lesion_id)
    affine = phantom_affine(SHAPE_XYZ, voxel)
    _write_visit(folder, k, 1, (labels, wm_var, lesions, label_map, affine, voxel), rng)
    _write_nifti(folder / _case_file(k, "lesions"), label_map, affine)
    gm = np.isin(labels, (GM, DGM)).astype(np.uint8)
    _write_nifti(folder / _case_file(k, "gm_mask"), gm, affine)
    candidates, found = _candidates(labels, label_map, lesions, rng)
    _write_nifti(folder / _case_file(k, "candidates"), candidates, affine)
    _write_csv(found, folder / TRUTH_DIR / CANDIDATES_CSV)
    table = pl.truth_table(lesions, label_map, affine, voxel, 1)
    of_lesion = dict(zip(found.lesion, found.candidate, strict=True))
    table["candidate"] = [of_lesion.get(lesion, 0) for lesion in table.lesion]
    counts = {
        "n_candidates": len(found),
        "n_missed": int((table.candidate == 0).sum()),
        "n_false_candidates": int((found.lesion == 0).sum()),
    }
    return table, counts


def _candidates(labels, label_map, lesions, rng) -> tuple[np.ndarray, pd.DataFrame]:
    """Automatic candidates: most lesions (some a voxel larger or smaller), false blobs.

    Returns the label map (file order) and its table: ``candidate``, ``lesion`` (truth
    id, 0 for a false candidate), ``change`` (``exact``, ``grown``, ``shrunk``,
    ``false``) and ``voxels``.
    """
    n_missed = _round(MISS_FRACTION * len(lesions))
    missed = set(rng.choice([les.lesion_id for les in lesions], n_missed, replace=False))
    found = [les for les in lesions if les.lesion_id not in missed]
    n_false = int(rng.integers(FALSE_CANDIDATES[0], FALSE_CANDIDATES[1] + 1))
    out = np.zeros(labels.shape, np.int16)
    in_plane = ndimage.generate_binary_structure(2, 1)[:, :, None]
    rows = []
    for les in found:
        change, mask = ("exact", "grown", "shrunk")[rng.integers(3)], les.mask
        if change == "grown":
            mask = ndimage.binary_dilation(mask, in_plane) & ((label_map[les.box] == 0) | mask)
        elif change == "shrunk":
            shrunk = ndimage.binary_erosion(mask, in_plane)
            change, mask = (
                ("shrunk", shrunk) if 2 * shrunk.sum() >= mask.sum() else ("exact", mask)
            )
        rows.append({"lesion": les.lesion_id, "change": change})
        out[les.box][mask] = len(rows)
    for _ in range(n_false):
        free = (labels == WM) & ~ndimage.maximum_filter((label_map > 0) | (out > 0), (9, 9, 3))
        if not free.any():
            break
        centre = np.unravel_index(rng.choice(np.flatnonzero(free)), labels.shape)
        lo = np.maximum(np.subtract(centre, (3, 3, 1)), 0)
        box = tuple(
            slice(a, b) for a, b in zip(lo, np.minimum(lo + (7, 7, 3), labels.shape), strict=True)
        )
        dx, dy, dz = np.ogrid[box]
        ball = ((dx - centre[0]) ** 2 + (dy - centre[1]) ** 2) / rng.uniform(1.5, 2.5) ** 2 + (
            (dz - centre[2]) * VOXEL_MM[2] / 3.5
        ) ** 2 <= 1
        rows.append({"lesion": 0, "change": "false"})
        out[box][ball & (labels[box] == WM)] = len(rows)
    lut = np.concatenate([[0], rng.permutation(len(rows)) + 1]).astype(np.int16)
    out = lut[out]  # ids in random order, as the truth's
    voxels = np.bincount(out.ravel(), minlength=len(rows) + 1)
    for k, row in enumerate(rows, start=1):
        row["candidate"] = int(lut[k])
        row["voxels"] = int(voxels[lut[k]])
    table = pd.DataFrame(rows, columns=["candidate", "lesion", "change", "voxels"])
    return out, table.sort_values("candidate", ignore_index=True)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
