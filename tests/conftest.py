"""Shared fixtures: NIfTI writers and a phantom case made once per session."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest


def write_nifti(path: Path, data, affine=None, nifti2=False, endian="<", **header) -> Path:
    """Write ``data`` (file axis order) with ``affine`` to ``path``; return it."""
    affine = np.eye(4) if affine is None else affine
    cls = nib.Nifti2Image if nifti2 else nib.Nifti1Image
    hdr = (nib.Nifti2Header if nifti2 else nib.Nifti1Header)(endianness=endian)
    data = np.asarray(data)
    hdr.set_data_dtype(data.dtype)
    img = cls(data, affine, header=hdr)
    for key, value in header.items():
        img.header[key] = value
    nib.save(img, path)
    return path


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory) -> Path:
    """A default-geometry phantom case (seed 0), written once per session."""
    from napari_uspio import make_phantom

    return make_phantom(tmp_path_factory.mktemp("phantom") / "case", seed=0)


@pytest.fixture(scope="session")
def phantom_case(phantom_dir):
    from napari_uspio import load_case

    return load_case(phantom_dir)


def ratings_from_truth(truth):
    """A scripted reader: the phantom's truth table (index ``lesion``) typed as ratings."""
    from napari_uspio.core.ratings import Ratings

    ratings = Ratings()
    for lesion_id, row in truth.iterrows():
        ratings.set(
            int(lesion_id),
            gd=row.gd,
            uspio=row.uspio,
            qsm_rim=row.qsm_rim,
            central_vein=row.central_vein,
            overlap=row.overlap,
            confidence="high",
        )
    return ratings
