"""Roles of the volumes of a case, the file naming convention, and display hints.

A *role* says what a volume is (``qsm``, ``t1_post_uspio``, ...). Files are
recognised by a BIDS-like naming convention: the stem's trailing
``[<entity>-<label>_]<suffix>`` decides the role (case-insensitive), whatever
subject / session entities come before it. A file named exactly after its
role (``qsm.nii.gz``) is recognised too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Acquired roles, in display order (bottom layer first).
IMAGE_ROLES: tuple[str, ...] = (
    "flair",
    "t2",
    "t2star",
    "r2star",
    "r2star_post",
    "m0",
    "mmt",
    "mtr",
    "qsm",
    "t1_pre_gd",
    "t1_post_gd",
    "t1_pre_uspio",
    "t1_post_uspio",
)
#: The role shown (and read) first when a case opens: lesions are delineated on FLAIR.
FIRST_SHOWN: tuple[str, ...] = ("flair", "t2", "t1_post_uspio", "t1_post_gd", "qsm")
#: Roles holding masks / label maps rather than intensities.
MASK_ROLES: tuple[str, ...] = ("wm_mask", "gm_mask", "candidates", "lesions")
#: Optional label maps that hold no lesions: tissue masks and automatic lesion candidates.
NOT_LESION_ROLES: tuple[str, ...] = ("wm_mask", "gm_mask", "candidates")
ROLES: tuple[str, ...] = IMAGE_ROLES + MASK_ROLES

#: Derived maps: name -> (roles it needs, how it is computed).
DERIVED: dict[str, tuple[tuple[str, ...], str]] = {
    "mtr": (("m0", "mmt"), "(m0 - mmt) / m0, NaN where m0 <= 0"),
    "gd_diff": (("t1_post_gd", "t1_pre_gd"), "t1_post_gd - t1_pre_gd"),
    "uspio_diff": (("t1_post_uspio", "t1_pre_uspio"), "t1_post_uspio - t1_pre_uspio"),
    "dr2star": (("r2star_post", "r2star"), "r2star_post - r2star (s^-1)"),
}

#: Maps the lesion model measures (acquired or derived), in table order.
MEASURED_MAPS: tuple[str, ...] = (
    "mtr",
    "qsm",
    "t1_pre_gd",
    "t1_post_gd",
    "t1_pre_uspio",
    "t1_post_uspio",
    "r2star",
    "dr2star",
)

#: BIDS-like name endings (lower case, without extension) for each role.
NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "t1_pre_gd": ("acq-pregd_t1w",),
    "t1_post_gd": ("acq-postgd_t1w", "ce-gd_t1w", "ce-gadolinium_t1w"),
    "t1_pre_uspio": ("acq-preuspio_t1w",),
    "t1_post_uspio": ("acq-postuspio_t1w", "ce-uspio_t1w"),
    "m0": ("mt-off_mts",),
    "mmt": ("mt-on_mts",),
    "mtr": ("mtrmap",),
    "qsm": ("chimap", "qsm"),
    "flair": ("flair",),
    "t2": ("t2w",),
    "t2star": ("t2starw", "t2starmap"),
    "r2star": ("acq-preuspio_r2starmap", "r2starmap"),
    "r2star_post": ("acq-postuspio_r2starmap",),
    "wm_mask": ("label-wm_mask", "label-wm_dseg"),
    "gm_mask": ("label-gm_mask", "label-gm_dseg"),
    "candidates": ("label-candidates_mask", "label-candidates_dseg"),
    "lesions": ("label-lesion_mask", "label-lesion_dseg", "label-lesions_mask"),
}

NIFTI_SUFFIXES = (".nii.gz", ".nii")


def strip_nifti_suffix(name: str) -> str | None:
    """Return the file name without ``.nii`` / ``.nii.gz``, or None if not NIfTI."""
    lower = name.lower()
    for suffix in NIFTI_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return None


def role_from_filename(name: str) -> str | None:
    """Return the role a file name denotes by the naming convention, or None.

    The longest matching ending wins, so ``..._acq-postUSPIO_R2starmap`` is
    ``r2star_post`` and not ``r2star``.

    Examples
    --------
    >>> role_from_filename("sub-01_ses-01_acq-postUSPIO_T1w.nii.gz")
    't1_post_uspio'
    >>> role_from_filename("qsm.nii")
    'qsm'
    """
    stem = strip_nifti_suffix(name)
    if stem is None:
        return None
    stem = stem.lower()
    if stem in ROLES:
        return stem
    best: tuple[int, str] | None = None
    for role, endings in NAME_PATTERNS.items():
        for ending in endings:
            if re.search(rf"(^|_){re.escape(ending)}$", stem):
                if best is None or len(ending) > best[0]:
                    best = (len(ending), role)
    return None if best is None else best[1]


@dataclass(frozen=True)
class DisplayHint:
    """How a role is shown: colormap, window and blending."""

    colormap: str
    window: tuple[float, float] | None = None  # None: from the data percentiles
    blending: str = "translucent_no_depth"


DISPLAY: dict[str, DisplayHint] = {
    "flair": DisplayHint("gray"),
    "t2": DisplayHint("gray"),
    "t2star": DisplayHint("gray"),
    "r2star": DisplayHint("magma"),
    "r2star_post": DisplayHint("magma"),
    "dr2star": DisplayHint("PiYG", None),
    "m0": DisplayHint("gray"),
    "mmt": DisplayHint("gray"),
    "mtr": DisplayHint("viridis", (0.0, 0.6)),
    "qsm": DisplayHint("gray", None),
    "t1_pre_gd": DisplayHint("gray"),
    "t1_post_gd": DisplayHint("gray"),
    "t1_pre_uspio": DisplayHint("gray"),
    "t1_post_uspio": DisplayHint("gray"),
    "gd_diff": DisplayHint("PiYG"),
    "uspio_diff": DisplayHint("PiYG"),
    "wm_mask": DisplayHint("gray", (0.0, 1.0)),
    "gm_mask": DisplayHint("gray", (0.0, 1.0)),
}

#: Roles shown with a window symmetric around 0 (signed maps).
SYMMETRIC = frozenset({"qsm", "gd_diff", "uspio_diff", "dr2star"})

#: Pairs that share one window so pre and post compare by eye.
WINDOW_PAIRS: tuple[tuple[str, str], ...] = (
    ("t1_pre_gd", "t1_post_gd"),
    ("t1_pre_uspio", "t1_post_uspio"),
    ("r2star", "r2star_post"),
    ("m0", "mmt"),
)
