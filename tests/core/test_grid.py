"""Every voxel sits where nibabel's affine says, for any orientation and format."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from helpers import write_nifti
from napari.layers import Image

from napari_uspio.core.volume import Grid, LabelMap, Volume


def _affine(codes_perm, flips, zooms, origin):
    """Affine whose voxel axis i points along world axis perm[i], flipped if flips[i]."""
    aff = np.zeros((4, 4))
    for i, (axis, flip, zoom) in enumerate(zip(codes_perm, flips, zooms, strict=True)):
        aff[axis, i] = -zoom if flip else zoom
    aff[:3, 3] = origin
    aff[3, 3] = 1
    return aff


ORIENTATIONS = {
    "RAS": _affine((0, 1, 2), (0, 0, 0), (1.0, 1.0, 3.0), (-90, -120, -60)),
    "LAS": _affine((0, 1, 2), (1, 0, 0), (0.9, 1.1, 3.0), (90, -120, -60)),
    "LPS": _affine((0, 1, 2), (1, 1, 0), (1.0, 1.0, 2.5), (90, 120, -60)),
    "permuted ASL": _affine((1, 2, 0), (0, 0, 1), (0.8, 3.0, 1.2), (40, -100, -50)),
    "permuted SRP": _affine((2, 0, 1), (0, 0, 1), (2.0, 0.7, 1.3), (-30, 80, -70)),
}


def _check_world_positions(path, file_data, file_affine, rng):
    volume = Volume.from_file(path, "qsm")
    warnings = list(volume.warnings)
    assert warnings == []
    file_affine = nib.load(path).affine  # what nibabel says, as stored in the file
    layer = Image(volume.data, scale=volume.grid.scale, translate=volume.grid.translate)
    inv = np.linalg.inv(file_affine)
    for idx in rng.integers(0, volume.data.shape, size=(40, 3)):
        world_zyx = np.asarray(layer.data_to_world(idx))
        world_xyz = world_zyx[::-1]
        # nibabel's world coordinate of the same voxel, through the file's own affine
        file_idx = (inv @ np.r_[world_xyz, 1])[:3]
        np.testing.assert_allclose(file_idx, np.round(file_idx), atol=1e-6)
        file_idx = tuple(np.round(file_idx).astype(int))
        assert volume.data[tuple(idx)] == np.float32(file_data[file_idx])
        np.testing.assert_allclose(
            nib.affines.apply_affine(file_affine, file_idx), world_xyz, atol=1e-6
        )
    return volume


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_world_coordinates_match_nibabel(tmp_path, name):
    rng = np.random.default_rng(1)
    data = rng.normal(size=(7, 9, 5)).astype(np.float32)
    path = write_nifti(tmp_path / "qsm.nii.gz", data, ORIENTATIONS[name])
    volume = _check_world_positions(path, data, ORIENTATIONS[name], rng)
    assert volume.data.dtype == np.float32
    assert not volume.data.flags.writeable  # a view of the decoded file, never written
    expected = np.abs(nib.load(path).affine[:3, :3]).max(0)
    np.testing.assert_allclose(sorted(volume.grid.spacing_mm), sorted(expected))


def test_big_endian_and_nifti2(tmp_path):
    rng = np.random.default_rng(2)
    aff = ORIENTATIONS["LPS"]
    data = rng.normal(size=(6, 8, 4)).astype(">f4")
    p1 = write_nifti(tmp_path / "be.nii", data, aff, endian=">")
    assert nib.load(p1).get_data_dtype().byteorder == ">"
    vol = _check_world_positions(p1, data, aff, rng)
    assert vol.data.dtype.isnative
    p2 = write_nifti(tmp_path / "n2.nii.gz", data.astype("<f4"), aff, nifti2=True)
    assert isinstance(nib.load(p2), nib.Nifti2Image)
    _check_world_positions(p2, data, aff, rng)


def test_big_endian_labels_become_native(tmp_path):
    labels = np.arange(24, dtype=">i2").reshape(2, 3, 4)
    path = write_nifti(tmp_path / "lesions.nii", labels, ORIENTATIONS["LAS"], endian=">")
    assert nib.load(path).get_data_dtype().byteorder == ">"
    vol = Volume.from_file(path, "lesions")
    assert vol.data.dtype == np.dtype("int16") and vol.data.dtype.isnative
    assert sorted(vol.data.ravel()) == list(range(24))


def test_index_to_world_is_the_true_affine(tmp_path):
    aff = ORIENTATIONS["permuted SRP"]
    path = write_nifti(tmp_path / "qsm.nii", np.zeros((4, 5, 6), np.float32), aff)
    vol = Volume.from_file(path, "qsm")
    grid = vol.grid
    # every corner through index_to_world equals the napari world position
    for idx in [(0, 0, 0), tuple(n - 1 for n in grid.shape), (1, 2, 3)]:
        world_xyz = (grid.index_to_world @ np.r_[idx, 1])[:3]
        shown_zyx = np.array(idx) * grid.scale + grid.translate
        np.testing.assert_allclose(world_xyz[::-1], shown_zyx, atol=1e-9)
    assert grid.voxel_volume_mm3 == pytest.approx(2.0 * 0.7 * 1.3)


def test_oblique_affine_is_displayed_deobliqued_with_a_warning(tmp_path):
    angle = np.radians(12)
    rot = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([1.0, 1.0, 3.0])
    aff[:3, 3] = (-10, 5, 20)
    path = write_nifti(tmp_path / "flair.nii.gz", np.ones((10, 12, 8), np.float32) * 5, aff)
    path2 = write_nifti(
        tmp_path / "qsm.nii.gz", np.arange(960, dtype=np.float32).reshape(10, 12, 8), aff
    )
    vol = Volume.from_file(path2, "qsm")
    warnings = list(vol.warnings)
    assert vol.grid.oblique and vol.grid.obliquity_deg == pytest.approx(12, abs=0.01)
    assert len(warnings) == 1 and "oblique (12.0 deg)" in warnings[0]
    assert "shown deobliqued" in warnings[0]
    # measurements keep the true affine; display keeps voxel 0 and the voxel sizes
    np.testing.assert_allclose(vol.grid.index_to_world[:3, 3], aff[:3, 3])
    assert vol.grid.spacing_mm == pytest.approx((3.0, 1.0, 1.0))
    assert vol.grid.display_error_mm() > 1.0
    # the label map written back carries the true oblique affine
    labels = np.zeros(vol.grid.shape, np.uint8)
    labels[2, 3, 4] = 7
    out = LabelMap("lesions", labels, vol.grid).to_file(tmp_path / "lesions.nii.gz")
    img = nib.load(out)
    np.testing.assert_allclose(img.affine, aff, atol=1e-5)
    assert path.exists()


@pytest.mark.parametrize("name", list(ORIENTATIONS))
@pytest.mark.parametrize("nifti2", [False, True])
def test_label_map_round_trip_is_exact(tmp_path, name, nifti2):
    aff = ORIENTATIONS[name]
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 300, size=(6, 7, 5)).astype(np.int16)
    src = write_nifti(tmp_path / "lesions.nii.gz", labels, aff, nifti2=nifti2)
    vol = Volume.from_file(src, "lesions")
    out = LabelMap("lesions", vol.data, vol.grid).to_file(tmp_path / "saved.nii.gz")
    img = nib.load(out)
    assert isinstance(img, nib.Nifti2Image) == nifti2
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels)
    np.testing.assert_allclose(img.affine, aff, atol=1e-5)
    assert img.get_data_dtype() == np.int16  # max 299 needs int16


def test_grid_from_affine_shapes():
    grid = Grid.from_affine(ORIENTATIONS["permuted ASL"], (4, 5, 6))
    # voxel axis 0 points along A (y), 1 along S (z), 2 along L (x)
    assert grid.shape == (5, 4, 6)
