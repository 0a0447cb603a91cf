"""Loading a case: roles from names and manifests, grid check, derived maps, bad input."""

from __future__ import annotations

import gzip
import logging

import nibabel as nib
import numpy as np
import pytest
from helpers import write_nifti

from napari_uspio import CaseError, load_case
from napari_uspio.core.case import mtr_from_mt
from napari_uspio.core.roles import role_from_filename
from napari_uspio.core.volume import LabelMap

AFF = np.diag([1.0, 1.0, 3.0, 1.0])
SHAPE = (8, 10, 4)


def _img(seed=0, lo=100.0, hi=1000.0):
    return np.random.default_rng(seed).uniform(lo, hi, SHAPE).astype(np.float32)


def _case_folder(tmp_path, roles=("flair", "qsm", "m0", "mmt")):
    names = {
        "flair": "sub-01_ses-01_FLAIR.nii.gz",
        "qsm": "sub-01_ses-01_Chimap.nii.gz",
        "m0": "sub-01_ses-01_mt-off_MTS.nii.gz",
        "mmt": "sub-01_ses-01_mt-on_MTS.nii.gz",
        "t1_pre_gd": "sub-01_ses-01_acq-preGd_T1w.nii.gz",
        "t1_post_gd": "sub-01_ses-01_acq-postGd_T1w.nii.gz",
    }
    for i, role in enumerate(roles):
        data = _img(i)
        if role == "mmt":
            data = _img(0) * 0.55
        write_nifti(tmp_path / names[role], data, AFF)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("sub-01_ses-01_acq-preGd_T1w.nii.gz", "t1_pre_gd"),
        ("sub-01_ce-gadolinium_T1w.nii", "t1_post_gd"),
        ("sub-01_ses-02_acq-preUSPIO_T1w.nii.gz", "t1_pre_uspio"),
        ("sub-01_acq-postUSPIO_T1w.nii.gz", "t1_post_uspio"),
        ("sub-01_mt-off_MTS.nii.gz", "m0"),
        ("sub-01_mt-on_MTS.nii.gz", "mmt"),
        ("sub-01_MTRmap.nii.gz", "mtr"),
        ("sub-01_Chimap.nii.gz", "qsm"),
        ("SUB-01_FLAIR.NII.GZ", "flair"),
        ("sub-01_T2w.nii", "t2"),
        ("sub-01_T2starw.nii.gz", "t2star"),
        ("sub-01_R2starmap.nii.gz", "r2star"),
        ("sub-01_acq-postUSPIO_R2starmap.nii.gz", "r2star_post"),
        ("sub-01_label-WM_mask.nii.gz", "wm_mask"),
        ("sub-01_label-lesion_mask.nii.gz", "lesions"),
        ("sub-01_label-GM_mask.nii.gz", "gm_mask"),
        ("sub-01_label-GM_dseg.nii", "gm_mask"),
        ("sub-01_ses-01_label-candidates_mask.nii.gz", "candidates"),
        ("sub-01_label-candidates_dseg.nii.gz", "candidates"),
        ("candidates.nii.gz", "candidates"),
        ("qsm.nii.gz", "qsm"),
        ("t1_post_uspio.nii", "t1_post_uspio"),
        ("sub-01_T1w.nii.gz", None),
        ("notes.txt", None),
    ],
)
def test_naming_convention(name, role):
    assert role_from_filename(name) == role


def test_folder_case_tells_role_volume_and_file(tmp_path):
    folder = _case_folder(tmp_path)
    (tmp_path / "README.txt").write_text("not an image")
    case = load_case(folder)
    assert case.roles == ["flair", "m0", "mmt", "qsm"]
    assert case.path("qsm").name == "sub-01_ses-01_Chimap.nii.gz"
    assert case["qsm"].shape == (4, 10, 8)
    assert case["qsm"].dtype == np.float32
    assert case.derived_available == ["mtr"]
    assert case.folder == folder


def test_mapping_and_manifest(tmp_path):
    folder = _case_folder(tmp_path, ("flair", "qsm"))
    write_nifti(tmp_path / "weird_name.nii.gz", _img(9), AFF)
    case = load_case(
        {"qsm": folder / "weird_name.nii.gz", "flair": folder / "sub-01_ses-01_FLAIR.nii.gz"}
    )
    np.testing.assert_array_equal(case["qsm"], np.transpose(_img(9), (2, 1, 0)))
    (folder / "case.toml").write_text('[roles]\nqsm = "weird_name.nii.gz"\n')
    case = load_case(folder)
    assert case.path("qsm").name == "weird_name.nii.gz"  # the manifest overrides the name
    assert case.roles == ["flair", "qsm"]


def test_mtr_matches_independent_numpy(tmp_path):
    folder = _case_folder(tmp_path, ("m0", "mmt"))
    case = load_case(folder)
    m0 = np.asanyarray(nib.load(case.path("m0")).dataobj).astype(np.float64)
    mmt = np.asanyarray(nib.load(case.path("mmt")).dataobj).astype(np.float64)
    expected = np.transpose((m0 - mmt) / m0, (2, 1, 0))
    assert case["mtr"].dtype == np.float32
    np.testing.assert_allclose(case["mtr"], expected, rtol=1e-6)
    assert case["mtr"] is case["mtr"]  # computed once, lazily


def test_mtr_is_nan_never_inf_where_m0_is_not_positive():
    m0 = np.array([[[0.0, -1.0, 2.0, np.nan]]], np.float32)
    mmt = np.array([[[1.0, 1.0, 1.0, 1.0]]], np.float32)
    mtr = mtr_from_mt(m0, mmt)
    assert np.isnan(mtr[0, 0, [0, 1, 3]]).all() and mtr[0, 0, 2] == 0.5
    assert not np.isinf(mtr).any()


def test_m0_with_zeros_warns_and_names_the_file(tmp_path, caplog):
    m0 = _img(0)
    m0[:2] = 0
    write_nifti(tmp_path / "m0.nii.gz", m0, AFF)
    write_nifti(tmp_path / "mmt.nii.gz", _img(0) * 0.5, AFF)
    with caplog.at_level(logging.WARNING):
        case = load_case(tmp_path)
    assert any("m0.nii.gz: m0 <= 0 in 80 voxels" in w for w in case.warnings)
    assert np.isnan(case["mtr"]).sum() == 80 and not np.isinf(case["mtr"]).any()


def test_difference_maps_and_dr2star(tmp_path):
    for role, seed in (("t1_pre_gd", 1), ("t1_post_gd", 2), ("r2star", 3), ("r2star_post", 4)):
        write_nifti(tmp_path / f"{role}.nii.gz", _img(seed), AFF)
    case = load_case(tmp_path)
    assert set(case.derived_available) == {"gd_diff", "dr2star"}
    np.testing.assert_allclose(case["gd_diff"], case["t1_post_gd"] - case["t1_pre_gd"])
    np.testing.assert_allclose(case["dr2star"], case["r2star_post"] - case["r2star"])
    assert "uspio_diff" not in case


# ---- bad input: one message naming the file and the fix -------------------------


def _raises(source, *needles):
    with pytest.raises(CaseError) as info:
        load_case(source)
    text = str(info.value)
    for needle in needles:
        assert needle in text, text
    assert "Fix" in text
    return text


def test_not_nifti(tmp_path):
    (tmp_path / "qsm.nii.gz").write_bytes(b"PNG this is not an image")
    _raises(tmp_path, str(tmp_path / "qsm.nii.gz"), "not a NIfTI", "not gzip")


def test_other_image_format_is_refused(tmp_path):
    img = nib.Nifti1Image(_img(), AFF)
    nib.save(nib.MGHImage(img.get_fdata(dtype=np.float32), AFF), tmp_path / "x.mgz")
    _raises({"qsm": tmp_path / "x.mgz"}, "x.mgz", "MGHImage, not NIfTI")


def test_truncated_gzip(tmp_path):
    path = write_nifti(tmp_path / "qsm.nii.gz", _img(), AFF)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    _raises(tmp_path, str(path), "truncated or corrupt")


def test_corrupt_gzip(tmp_path):
    path = write_nifti(tmp_path / "flair.nii.gz", _img(), AFF)
    raw = bytearray(path.read_bytes())
    raw[400:600] = b"\x00" * 200
    path.write_bytes(bytes(raw))
    _raises(tmp_path, str(path))


def test_folder_without_roles(tmp_path):
    write_nifti(tmp_path / "brain.nii.gz", _img(), AFF)
    _raises(tmp_path, "no role recognised", "brain.nii.gz", "case.toml")


def test_duplicate_files_for_one_role(tmp_path):
    write_nifti(tmp_path / "sub-01_Chimap.nii.gz", _img(), AFF)
    write_nifti(tmp_path / "qsm.nii", _img(), AFF)
    _raises(tmp_path, "qsm: qsm.nii, sub-01_Chimap.nii.gz", "case.toml")


def test_4d_volumes(tmp_path):
    write_nifti(tmp_path / "qsm.nii.gz", np.zeros((*SHAPE, 3), np.float32) + 1, AFF)
    _raises(tmp_path, "qsm.nii.gz", "(8, 10, 4, 3)", "3-D")
    write_nifti(tmp_path / "qsm.nii.gz", _img()[..., None], AFF)  # trailing 1 is fine
    assert load_case(tmp_path)["qsm"].shape == (4, 10, 8)


def test_all_nan_and_constant(tmp_path):
    write_nifti(tmp_path / "qsm.nii.gz", np.full(SHAPE, np.nan, np.float32), AFF)
    _raises(tmp_path, "qsm.nii.gz", "every voxel is NaN")
    write_nifti(tmp_path / "qsm.nii.gz", np.full(SHAPE, 7, np.float32), AFF)
    case = load_case(tmp_path)
    assert case.warnings == ["qsm.nii.gz: qsm is constant (7); it carries no contrast."]


def test_header_scaling_overflow(tmp_path):
    path = write_nifti(tmp_path / "t2.nii", np.full(SHAPE, 30000, np.int16), AFF)
    raw = bytearray(path.read_bytes())
    raw[112:116] = np.array([1e36], "<f4").tobytes()  # scl_slope: 30000 * 1e36 > float32 max
    path.write_bytes(bytes(raw))
    assert np.asanyarray(nib.load(path).dataobj).max() > np.finfo(np.float32).max
    _raises(tmp_path, str(path), "infinite values")


def test_header_dimension_overflow(tmp_path):
    path = write_nifti(tmp_path / "flair.nii", _img(), AFF)
    raw = bytearray(path.read_bytes())
    # dim[1..3] are int16 at byte 42; claim 32767^3 voxels (far beyond the file)
    raw[42:48] = np.array([32767, 32767, 32767], "<i2").tobytes()
    path.write_bytes(bytes(raw))
    _raises(tmp_path, str(path), "dimension overflow")


def test_negative_dimension_in_header(tmp_path):
    path = write_nifti(tmp_path / "flair.nii", _img(), AFF)
    raw = bytearray(path.read_bytes())
    raw[42:44] = np.array([-5], "<i2").tobytes()
    path.write_bytes(bytes(raw))
    _raises(tmp_path, str(path))


def test_mismatched_grids_name_every_file(tmp_path):
    write_nifti(tmp_path / "flair.nii.gz", _img(), AFF)
    write_nifti(tmp_path / "qsm.nii.gz", _img(), AFF)
    write_nifti(tmp_path / "t2.nii.gz", _img()[:-1], AFF)
    shifted = AFF.copy()
    shifted[:3, 3] = (0.5, 0, 0)
    write_nifti(tmp_path / "m0.nii.gz", _img(), shifted)
    bigger = np.diag([1.2, 1.0, 3.0, 1.0])
    write_nifti(tmp_path / "mmt.nii.gz", _img(), bigger)
    flipped = AFF @ np.diag([-1.0, 1, 1, 1])
    write_nifti(tmp_path / "t2star.nii.gz", _img(), flipped)
    text = _raises(
        tmp_path,
        "reference is " + str(tmp_path / "flair.nii.gz"),
        "t2.nii.gz (t2): shape 7 x 10 x 4 instead of 8 x 10 x 4",
        "t2star.nii.gz (t2star): origin shifted by 7.000 mm, stored LAS, reference RAS",
        "m0.nii.gz (m0): origin shifted by 0.500 mm",
        "mmt.nii.gz (mmt): voxel size 1.2 x 1 x 3 mm instead of 1 x 1 x 3 mm",
        "coregister and resample",
    )
    assert "qsm.nii.gz (qsm)" not in text


def test_grids_equal_within_tolerance_load(tmp_path):
    write_nifti(tmp_path / "flair.nii.gz", _img(), AFF)
    nudged = AFF.copy()
    nudged[0, 3] += 1e-5
    write_nifti(tmp_path / "qsm.nii.gz", _img(), nudged)
    assert load_case(tmp_path).roles == ["flair", "qsm"]


def test_same_grid_stored_in_another_orientation_loads(tmp_path):
    data = _img()
    write_nifti(tmp_path / "flair.nii.gz", data, AFF)
    las = AFF.copy()
    las[0, 0], las[0, 3] = -1.0, SHAPE[0] - 1
    write_nifti(tmp_path / "qsm.nii.gz", data[::-1], las)
    case = load_case(tmp_path)
    np.testing.assert_array_equal(case["qsm"], case["flair"])


def test_missing_file_and_unknown_role(tmp_path):
    _raises({"qsm": tmp_path / "nope.nii.gz"}, str(tmp_path / "nope.nii.gz"), "file not found")
    with pytest.raises(CaseError, match="unknown role"):
        load_case({"swi": tmp_path / "x.nii"})
    _raises(tmp_path / "absent", "folder not found")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (np.full(SHAPE, 1.5, np.float32), "non-integer"),
        (np.full(SHAPE, -2, np.int16), "negative ids"),
        (np.full(SHAPE, 2**40, np.float64), "beyond int32"),
    ],
)
def test_bad_label_files(tmp_path, data, needle):
    write_nifti(tmp_path / "flair.nii.gz", _img(), AFF)
    write_nifti(tmp_path / "sub-01_label-lesion_mask.nii.gz", data, AFF)
    _raises(tmp_path, "label-lesion_mask.nii.gz", needle)


def test_gzip_file_that_is_not_nifti(tmp_path):
    (tmp_path / "flair.nii.gz").write_bytes(gzip.compress(b"hello" * 100))
    _raises(tmp_path, "flair.nii.gz")


def test_candidates_and_gm_mask_load_as_label_maps_not_measured(tmp_path):
    write_nifti(tmp_path / "sub-01_FLAIR.nii.gz", _img(), AFF)
    candidates = np.zeros(SHAPE, np.int16)
    candidates[1, 2:4, 2:4] = 7
    write_nifti(tmp_path / "sub-01_label-candidates_dseg.nii.gz", candidates, AFF)
    gm = np.zeros(SHAPE, np.uint8)
    gm[:, :3] = 1
    write_nifti(tmp_path / "sub-01_label-GM_mask.nii.gz", gm, AFF)
    case = load_case(tmp_path)
    assert case.roles == ["flair", "gm_mask", "candidates"]
    assert isinstance(case.volume("candidates"), LabelMap)
    assert case["candidates"].dtype == np.int16
    assert case["candidates"].max() == 7
    assert case.gm_mask.dtype == bool and case.gm_mask.sum() == gm.sum()
    assert case.wm_mask is None
    assert "candidates" not in dict(case.measured_maps())
