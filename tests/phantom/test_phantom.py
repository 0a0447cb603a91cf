"""The synthetic MS case: files, grid, determinism, ground truth, visible patterns."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from napari_uspio.core.roles import role_from_filename
from napari_uspio.phantom import (
    GEOMETRIES,
    ROLE_ENDINGS,
    make_phantom,
    phantom_file_name,
    phantom_truth,
)

SEED = 0


@pytest.fixture(scope="module")
def case_dir(phantom_dir):
    """The session's default phantom (seed 0, with its follow-up visit)."""
    return phantom_dir


def _load(folder, role, session=1):
    return nib.load(folder / phantom_file_name(SEED, role, session))


def _data(folder, role, session=1):
    return np.asanyarray(_load(folder, role, session).dataobj)


@pytest.fixture(scope="module")
def labels(case_dir):
    return np.asanyarray(nib.load(case_dir / "truth" / "lesions_truth.nii.gz").dataobj)


@pytest.fixture(scope="module")
def truth(case_dir):
    return phantom_truth(case_dir)


@pytest.fixture(scope="module")
def nawm(case_dir, labels):
    """White matter away (2 voxels) from lesions and from other tissue."""
    wm = _data(case_dir, "wm_mask") > 0
    return ndimage.binary_erosion(
        wm & ~ndimage.binary_dilation(labels > 0, iterations=2), iterations=1
    )


def _lesion_means(image, labels, ids):
    return ndimage.mean(image, labels, index=list(ids))


def _lesion_peaks(image, labels, ids):
    """Per lesion, the highest 3 x 3 in-plane mean: finds small (focal) enhancement."""
    local = ndimage.uniform_filter(image, size=(3, 3, 1))
    return ndimage.maximum(local, labels, index=list(ids))


# -- files and grid -------------------------------------------------------------------


def test_files_and_roles(case_dir):
    names = sorted(p.name for p in case_dir.glob("*.nii.gz"))
    assert len(names) == len(ROLE_ENDINGS) == 13
    roles = {role_from_filename(n) for n in names}
    assert roles == set(ROLE_ENDINGS)
    for role in ROLE_ENDINGS:
        name = phantom_file_name(SEED, role)
        assert name.startswith("sub-phantom000_ses-01_") and (case_dir / name).is_file()
        assert role_from_filename(name) == role
    assert "mtr" not in roles and "lesions" not in roles
    assert not list(case_dir.glob(".*"))  # no temporary files left
    assert sorted(p.name for p in (case_dir / "truth").iterdir()) == [
        "lesions_truth.csv",
        "lesions_truth.nii.gz",
    ]


def test_dtypes(case_dir):
    for role in ROLE_ENDINGS:
        dtype = _load(case_dir, role).get_data_dtype()
        assert dtype == (np.uint8 if role == "wm_mask" else np.float32), role
    assert nib.load(case_dir / "truth" / "lesions_truth.nii.gz").get_data_dtype() == np.int16
    assert set(np.unique(_data(case_dir, "wm_mask"))) == {0, 1}


def _check_grid(img, shape, voxel_mm):
    assert img.shape == shape
    assert np.allclose(img.header.get_zooms(), voxel_mm)
    assert nib.aff2axcodes(img.affine) == ("L", "A", "S")  # x flipped: readers reorient
    assert np.allclose(img.affine[:3, :3], np.diag([-voxel_mm[0], voxel_mm[1], voxel_mm[2]]))
    centre = img.affine @ np.array([*((np.array(shape) - 1) / 2), 1.0])
    assert np.allclose(centre[:3], 0)
    assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 2
    assert np.allclose(img.header.get_qform(), img.affine)
    assert np.allclose(img.header.get_sform(), img.affine)
    assert img.header.get_xyzt_units()[0] == "mm"


def test_default_grid(case_dir):
    assert GEOMETRIES["default"] == ((256, 256, 44), (1.0, 1.0, 3.0))
    for role in ROLE_ENDINGS:
        _check_grid(_load(case_dir, role), (256, 256, 44), (1.0, 1.0, 3.0))
    _check_grid(
        nib.load(case_dir / "truth" / "lesions_truth.nii.gz"), (256, 256, 44), (1.0, 1.0, 3.0)
    )


def test_iso1mm_grid(tmp_path):
    assert GEOMETRIES["iso1mm"] == ((192, 224, 160), (1.0, 1.0, 1.0))
    out = make_phantom(tmp_path, seed=1, geometry="iso1mm", shape_xyz=(96, 112, 80))
    for role in ("flair", "qsm", "wm_mask"):
        img = nib.load(out / phantom_file_name(1, role))
        _check_grid(img, (96, 112, 80), (1.0, 1.0, 1.0))
    assert len(phantom_truth(out)) == 18


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="geometry"):
        make_phantom(tmp_path, geometry="2mm")
    with pytest.raises(ValueError, match="n_lesions"):
        make_phantom(tmp_path, n_lesions=0)
    with pytest.raises(ValueError, match="shape_xyz"):
        make_phantom(tmp_path, shape_xyz=(64, 64))


def test_same_seed_same_arrays_other_seed_differs(tmp_path):
    kwargs = dict(shape_xyz=(128, 128, 30), n_lesions=7)
    a = make_phantom(tmp_path / "a", seed=5, **kwargs)
    b = make_phantom(tmp_path / "b", seed=5, **kwargs)
    c = make_phantom(tmp_path / "c", seed=6, **kwargs)
    for role in ROLE_ENDINGS:
        name = phantom_file_name(5, role)
        arr_a = np.asanyarray(nib.load(a / name).dataobj)
        arr_b = np.asanyarray(nib.load(b / name).dataobj)
        arr_c = np.asanyarray(nib.load(c / phantom_file_name(6, role)).dataobj)
        assert arr_a.tobytes() == arr_b.tobytes(), role
        assert (a / name).read_bytes() == (b / name).read_bytes(), role
        assert not np.array_equal(arr_a, arr_c), role
    assert phantom_truth(a).equals(phantom_truth(b))
    assert not phantom_truth(a).equals(phantom_truth(c))


# -- ground truth -----------------------------------------------------------------------


def test_truth_columns(truth):
    assert list(truth.columns) == [
        "lesion",
        "x_mm",
        "y_mm",
        "z_mm",
        "radius_mm",
        "voxels",
        "volume_mm3",
        "gd",
        "uspio",
        "qsm_rim",
        "central_vein",
        "overlap",
        "lesion_class",
        "mtr_true",
        "qsm_rel_ppb_true",
    ]
    assert list(truth.lesion) == list(range(1, 19))
    assert (truth.overlap == "n/a").any()  # read back as text, not NaN


def test_truth_matches_label_map(case_dir, truth, labels):
    img = nib.load(case_dir / "truth" / "lesions_truth.nii.gz")
    counts = np.bincount(labels.ravel(), minlength=len(truth) + 1)
    assert counts[len(truth) + 1 :].sum() == 0
    inverse = np.linalg.inv(img.affine)
    for row in truth.itertuples():
        assert row.voxels == counts[row.lesion] > 0
        assert row.volume_mm3 == pytest.approx(row.voxels * 3.0)
        ijk = np.round(inverse @ [row.x_mm, row.y_mm, row.z_mm, 1.0])[:3].astype(int)
        assert labels[tuple(ijk)] == row.lesion
    # lesions are apart and off the edge: growing one by 2 voxels reaches no other
    for lesion, box in zip(truth.lesion, ndimage.find_objects(labels), strict=True):
        box = tuple(slice(s.start - 3, s.stop + 3) for s in box)
        assert all(s.start >= 0 for s in box)
        assert all(s.stop <= n for s, n in zip(box, labels.shape, strict=True))
        grown = ndimage.binary_dilation(labels[box] == lesion, iterations=2)
        assert set(np.unique(labels[box][grown])) <= {0, lesion}


def test_every_category_present(truth):
    assert set(truth.gd) == {"none", "nodular", "shell"}
    assert set(truth.uspio) == {"none", "ring", "focal", "iso"}
    assert set(truth.qsm_rim) == {"present", "absent"}
    assert set(truth.central_vein) == {"present", "absent"}
    assert set(truth.overlap) == {"<20%", "20-80%", ">80%", "n/a"}
    assert set(truth.lesion_class) == {"USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd-", "USPIO+/Gd-"}
    both = (truth.gd != "none") & (truth.uspio != "none")
    assert ((truth.overlap == "n/a") == ~both).all()
    assert truth.mtr_true.between(0.25, 0.5).all()
    assert 0.2 < (truth.central_vein == "present").mean() < 0.5


def test_rim_lesions_larger_and_more_paramagnetic(truth):
    rim = truth.qsm_rim == "present"
    assert truth.volume_mm3[rim].mean() > 2 * truth.volume_mm3[~rim].mean()
    assert truth.radius_mm[rim].mean() > truth.radius_mm[~rim].mean()
    assert truth.qsm_rel_ppb_true[rim].mean() > truth.qsm_rel_ppb_true[~rim].mean() + 3
    assert 9 < truth.qsm_rel_ppb_true[rim].mean() < 18
    assert 5 < truth.qsm_rel_ppb_true[~rim].mean() < 11


# -- the patterns, measured in the images -------------------------------------------------


def test_mtr_lower_in_uspio_gd_lesions_than_nawm(case_dir, truth, labels, nawm):
    m0 = _data(case_dir, "m0").astype(np.float64)
    mmt = _data(case_dir, "mmt").astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mtr = np.where(m0 > 0, (m0 - mmt) / m0, np.nan)
    double = truth.lesion[truth.lesion_class == "USPIO+/Gd+"]
    in_double = np.isin(labels, double)
    assert np.nanmean(mtr[in_double]) < np.nanmean(mtr[nawm]) - 0.03
    assert np.nanmean(mtr[nawm]) == pytest.approx(0.46, abs=0.01)


def test_gd_enhancement(case_dir, truth, labels):
    diff = _data(case_dir, "t1_post_gd").astype(np.float64) - _data(case_dir, "t1_pre_gd")
    means = _lesion_means(diff, labels, truth.lesion)
    gd = (truth.gd != "none").to_numpy()
    assert means[gd].min() > means[~gd].max() + 50
    assert abs(means[~gd]).max() < 15


def test_uspio_iso_pattern(case_dir, truth, labels, nawm):
    pre = _data(case_dir, "t1_pre_uspio").astype(np.float64)
    post = _data(case_dir, "t1_post_uspio").astype(np.float64)
    iso = truth.lesion[truth.uspio == "iso"]
    assert len(iso) >= 1
    nawm_pre, nawm_post = pre[nawm].mean(), post[nawm].mean()
    for mean_pre, mean_post in zip(
        _lesion_means(pre, labels, iso), _lesion_means(post, labels, iso), strict=True
    ):
        assert mean_pre < 0.85 * nawm_pre
        assert abs(mean_post - nawm_post) < 0.04 * nawm_post


def test_uspio_enhancement_and_r2star(case_dir, truth, labels):
    diff = _data(case_dir, "t1_post_uspio").astype(np.float64) - _data(case_dir, "t1_pre_uspio")
    dr2 = _data(case_dir, "r2star_post").astype(np.float64) - _data(case_dir, "r2star")
    uspio = (truth.uspio != "none").to_numpy()
    peaks = _lesion_peaks(diff, labels, truth.lesion)
    assert peaks[uspio].min() > 100 > 50 > peaks[~uspio].max()
    dr2_peaks = _lesion_peaks(dr2, labels, truth.lesion)
    assert dr2_peaks[uspio].min() > 2.5 > 2 > dr2_peaks[~uspio].max()


def test_lesions_bright_on_flair(case_dir, truth, labels, nawm):
    flair = _data(case_dir, "flair").astype(np.float64)
    assert _lesion_means(flair, labels, truth.lesion).min() > 1.3 * flair[nawm].mean()


def test_qsm_measured_like_truth(case_dir, truth, labels, nawm):
    qsm = _data(case_dir, "qsm").astype(np.float64)
    assert qsm[nawm].mean() == pytest.approx(-20, abs=1.5)
    rel = _lesion_means(qsm, labels, truth.lesion) - qsm[nawm].mean()
    assert np.corrcoef(rel, truth.qsm_rel_ppb_true)[0, 1] > 0.8


# -- follow-up ----------------------------------------------------------------------------


def test_followup_written(case_dir, truth):
    fu = case_dir / "followup"
    names = sorted(p.name for p in fu.glob("*.nii.gz"))
    assert len(names) == 13 and all("_ses-02_" in n for n in names)
    assert {role_from_filename(n) for n in names} == set(ROLE_ENDINGS)
    fu_truth = phantom_truth(fu)
    assert list(fu_truth.lesion) == list(truth.lesion)
    assert (
        (fu_truth[["x_mm", "y_mm", "z_mm", "voxels"]] == truth[["x_mm", "y_mm", "z_mm", "voxels"]])
        .all()
        .all()
    )
    assert set(fu_truth.black_hole) == {"yes", "no"}
    assert (fu_truth.gd == "none").all() and (fu_truth.uspio == "none").all()
    assert (fu_truth.baseline_class == truth.lesion_class).all()
    assert (fu_truth.mtr_true >= truth.mtr_true).all()
    rim = fu_truth.qsm_rim == "present"
    assert fu_truth.qsm_rel_ppb_true[rim].mean() > 18
    assert fu_truth.qsm_rel_ppb_true[~rim].mean() < 16


def test_followup_images(case_dir, labels):
    fu = case_dir / "followup"
    fu_truth = phantom_truth(fu)
    pre = _data(fu, "t1_pre_gd", 2).astype(np.float64)
    diff = _data(fu, "t1_post_gd", 2).astype(np.float64) - pre
    assert abs(_lesion_means(diff, labels, fu_truth.lesion)).max() < 15  # no enhancement
    t1 = _lesion_means(pre, labels, fu_truth.lesion)
    hole = (fu_truth.black_hole == "yes").to_numpy()
    assert t1[hole].max() < t1[~hole].min()
