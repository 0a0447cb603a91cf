"""The lesion table of the phantom, painted with its ground truth, against independent numbers.

Every expected value here is computed again from the files with nibabel, numpy
and scipy (never through ``napari_uspio``'s readers or geometry helpers), and the
relations between lesion kinds are the ones the phantom builds in
(``core/phantom_lesions.py``: ``paint_lesions`` and ``paint_qsm``).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from helpers import write_nifti
from nibabel.affines import apply_affine
from scipy import ndimage as ndi

from napari_uspio import load_case
from napari_uspio.core.lesions import lesion_model
from napari_uspio.phantom import phantom_file_name, phantom_truth

GEOMETRY = ["voxels", "volume_mm3", "x_mm", "y_mm", "z_mm"]
SPACING_ZYX = np.array([3.0, 1.0, 1.0])
VOXEL_MM3 = 1.0 * 1.0 * 3.0
SHELL_MM = 3.0


def _zyx(path) -> np.ndarray:
    """A file as float64 (z, y, x) on its closest RAS+ grid, read with nibabel only."""
    img = nib.as_closest_canonical(nib.load(path))
    return np.transpose(img.get_fdata(dtype=np.float64), (2, 1, 0))


def _file(phantom_dir, role):
    return phantom_dir / phantom_file_name(0, role)


@pytest.fixture(scope="module")
def truth(phantom_dir):
    """(truth label map in (z, y, x), truth CSV indexed by lesion)."""
    labels = np.rint(_zyx(phantom_dir / "truth" / "lesions_truth.nii.gz")).astype(np.int64)
    return labels, phantom_truth(phantom_dir).set_index("lesion")


@pytest.fixture(scope="module")
def measured(phantom_case, phantom_dir):
    labels = phantom_case.read_labels(phantom_dir / "truth" / "lesions_truth.nii.gz").data
    model = lesion_model(phantom_case, labels)
    return model, model.table()


@pytest.fixture(scope="module")
def table_with_truth(measured, truth):
    _, table = measured
    _, csv = truth
    kinds = csv[["gd", "uspio", "qsm_rim", "qsm_rel_ppb_true", "mtr_true"]]
    return table.join(kinds, how="inner")


# --------------------------------------------------------------------------- geometry
def test_truth_painted_voxels_volume_and_centroid(measured, truth, phantom_dir):
    model, table = measured
    labels, csv = truth
    ids = np.unique(labels[labels > 0])
    assert ids.tolist() == list(range(1, 19))
    assert table.index.tolist() == ids.tolist()
    assert np.array_equal(model.labels, labels)

    counts = np.bincount(labels.ravel())
    assert table["voxels"].tolist() == counts[ids].tolist()
    assert table["voxels"].tolist() == csv.loc[ids, "voxels"].tolist()
    assert (table["voxels"] > 0).all()
    # voxel volume 1 x 1 x 3 mm (exactness: test_volume_is_exact_for_whole_mm_voxels)
    np.testing.assert_allclose(table["volume_mm3"], counts[ids] * VOXEL_MM3, rtol=1e-12)
    np.testing.assert_allclose(table["volume_mm3"], csv.loc[ids, "volume_mm3"], rtol=1e-12)

    # centroid in file space (LAS file, x flipped), through nibabel's affine
    img = nib.load(phantom_dir / "truth" / "lesions_truth.nii.gz")
    file_labels = np.asanyarray(img.dataobj)
    for lesion_id in ids:
        mean_ijk = np.argwhere(file_labels == lesion_id).mean(axis=0)
        x, y, z = apply_affine(img.affine, mean_ijk)
        row = table.loc[lesion_id]
        assert row["x_mm"] == pytest.approx(x, abs=1e-6), lesion_id
        assert row["y_mm"] == pytest.approx(y, abs=1e-6), lesion_id
        assert row["z_mm"] == pytest.approx(z, abs=1e-6), lesion_id
    # the centroid lies within a radius of the truth's nominal centre (a lesion voxel)
    dist = np.linalg.norm(
        table[["x_mm", "y_mm", "z_mm"]].to_numpy()
        - csv.loc[ids, ["x_mm", "y_mm", "z_mm"]].to_numpy(),
        axis=1,
    )
    assert (dist < csv.loc[ids, "radius_mm"].to_numpy() + 3.0).all(), dist


def test_volume_is_exact_for_whole_mm_voxels(measured, truth):
    """222 voxels of 1 x 1 x 3 mm are 666.0 mm3, as in the truth CSV, not 666.0000000000001.

    The model takes the voxel volume as ``abs(np.linalg.det(3x3))``, which is
    3.0000000000000004 for the phantom's permuted diagonal affine.
    """
    _, table = measured
    labels, csv = truth
    ids = table.index.to_numpy()
    counts = np.bincount(labels.ravel())[ids]
    assert table["volume_mm3"].tolist() == [float(n) * VOXEL_MM3 for n in counts]
    assert table["volume_mm3"].tolist() == csv.loc[ids, "volume_mm3"].tolist()


# ------------------------------------------------------------------------ map means
def test_truth_painted_map_means_match_numpy(measured, truth, phantom_dir):
    _, table = measured
    labels, _ = truth
    m0 = _zyx(_file(phantom_dir, "m0"))
    mmt = _zyx(_file(phantom_dir, "mmt"))
    with np.errstate(divide="ignore", invalid="ignore"):
        mtr = np.where(m0 > 0, (m0 - mmt) / m0, np.nan)
    maps = {
        "mtr_mean": mtr,
        "qsm_mean_ppb": _zyx(_file(phantom_dir, "qsm")),
        "r2star_mean": _zyx(_file(phantom_dir, "r2star")),
        "dr2star_mean": _zyx(_file(phantom_dir, "r2star_post"))
        - _zyx(_file(phantom_dir, "r2star")),
    }
    for column, volume in maps.items():
        expected = [np.nanmean(volume[labels == i]) for i in table.index]
        np.testing.assert_allclose(table[column], expected, rtol=1e-5, err_msg=column)
    # MTR SD (ddof=1) too
    expected_sd = [np.nanstd(mtr[labels == i], ddof=1) for i in table.index]
    np.testing.assert_allclose(table["mtr_sd"], expected_sd, rtol=1e-4)
    # the lesion MTR follows the phantom's true lesion MTR (partial volume and noise aside)
    truth_mtr = phantom_truth(phantom_dir).set_index("lesion").loc[table.index, "mtr_true"]
    assert np.corrcoef(table["mtr_mean"], truth_mtr)[0, 1] > 0.8


def _ball(width_mm, spacing):
    reach = [int(np.ceil(width_mm / s)) for s in spacing]
    grid = np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij")
    return sum((g * s) ** 2 for g, s in zip(grid, spacing, strict=True)) <= width_mm**2


def test_truth_painted_nawm_shell_matches_scipy(measured, truth, phantom_dir):
    _, table = measured
    labels, _ = truth
    qsm = _zyx(_file(phantom_dir, "qsm"))
    wm = _zyx(_file(phantom_dir, "wm_mask")) > 0
    t1 = {r: _zyx(_file(phantom_dir, r)) for r in ("t1_pre_gd", "t1_post_gd")}
    ball = _ball(SHELL_MM, SPACING_ZYX)
    assert ball.shape == (3, 7, 7) and ball[0].sum() == 1  # 3 mm reaches one slice, on axis
    for lesion_id in (1, 2, 7, 13, 18):
        lesion = labels == lesion_id
        shell = ndi.binary_dilation(lesion, structure=ball) & (labels == 0) & wm
        assert shell.sum() > lesion.sum() // 2
        nawm = np.nanmean(qsm[shell])
        row = table.loc[lesion_id]
        assert row["qsm_nawm_ppb"] == pytest.approx(nawm, rel=1e-5)
        assert row["qsm_rel_ppb"] == pytest.approx(np.nanmean(qsm[lesion]) - nawm, rel=1e-5)
        # Gd enhancement: (post_lesion / post_shell) / (pre_lesion / pre_shell) - 1
        pre, post = t1["t1_pre_gd"], t1["t1_post_gd"]
        ratio = (post[lesion].mean() / post[shell].mean()) / (
            pre[lesion].mean() / pre[shell].mean()
        )
        assert row["gd_enh_pct"] == pytest.approx(100 * (ratio - 1), rel=1e-4, abs=1e-4)
        # edge / core: 4 in-plane neighbours
        inner = lesion.copy()
        for axis in (1, 2):
            for shift in (1, -1):
                moved = np.zeros_like(lesion)
                src = [slice(None)] * 3
                dst = [slice(None)] * 3
                src[axis] = slice(0, -1) if shift == 1 else slice(1, None)
                dst[axis] = slice(1, None) if shift == 1 else slice(0, -1)
                moved[tuple(dst)] = lesion[tuple(src)]
                inner &= moved
        edge = lesion & ~inner
        assert row["qsm_rim_ppb"] == pytest.approx(
            np.nanmean(qsm[edge]) - np.nanmean(qsm[inner]), rel=1e-5
        )


# ---------------------------------------------------------------- the phantom's kinds
def test_qsm_rim_lesions_are_paramagnetic_at_their_edge(table_with_truth):
    t = table_with_truth
    rim = t["qsm_rim"] == "present"
    assert rim.sum() >= 5 and (~rim).sum() >= 5
    # rim+ lesions are built 13.5 ppb above NAWM, rim- 7.8: on average, and lesion by lesion
    assert t.loc[rim, "qsm_rel_ppb"].mean() > t.loc[~rim, "qsm_rel_ppb"].mean() + 2.0
    assert t.loc[rim, "qsm_rel_ppb"].min() > t.loc[~rim, "qsm_rel_ppb"].max()
    # every lesion is paramagnetic relative to its NAWM
    assert (t["qsm_rel_ppb"] > 0).all()
    # rim+: rim 1.0 : core 1/6 -> edge above core; rim-: uniform, smoothing lowers the edge
    assert t.loc[rim, "qsm_rim_ppb"].mean() > t.loc[~rim, "qsm_rim_ppb"].mean() + 5.0
    assert (t.loc[rim, "qsm_rim_ppb"] > 0).all()
    assert (t.loc[~rim, "qsm_rim_ppb"] < 0).all()
    # measured against the phantom's own noiseless value (a 2-6 mm shell there)
    assert np.corrcoef(t["qsm_rel_ppb"], t["qsm_rel_ppb_true"])[0, 1] > 0.9


def test_gd_enhancement_follows_the_gd_kind(table_with_truth):
    t = table_with_truth
    gd = t["gd"] != "none"
    assert gd.sum() >= 5 and (~gd).sum() >= 5
    assert t.loc[gd, "gd_enh_pct"].mean() > t.loc[~gd, "gd_enh_pct"].mean() + 10
    # nodular: +40 % of WM over the whole lesion; shell: on its 1.5 mm edge only
    assert (t.loc[gd, "gd_enh_pct"] > 5).all()
    assert (t.loc[~gd, "gd_enh_pct"].abs() < 2).all()
    nodular, shell = t["gd"] == "nodular", t["gd"] == "shell"
    assert t.loc[nodular, "gd_enh_pct"].mean() > t.loc[shell, "gd_enh_pct"].mean()
    # gd enhancement does not leak into the USPIO numbers of USPIO- lesions
    assert (t.loc[gd & (t["uspio"] == "none"), "uspio_enh_pct"].abs() < 2).all()


def test_uspio_enhancement_follows_the_uspio_pattern(table_with_truth):
    t = table_with_truth
    kind = t["uspio"]
    plus = kind != "none"
    assert set(kind) == {"none", "ring", "focal", "iso"}
    # every USPIO+ lesion enhances more than every USPIO- one; USPIO- stay near 0
    assert t.loc[plus, "uspio_enh_pct"].min() > t.loc[~plus, "uspio_enh_pct"].max()
    assert (t.loc[plus, "uspio_enh_pct"] > 1.0).all()
    assert (t.loc[~plus, "uspio_enh_pct"].abs() < 1.5).all()
    # iso: hypointense before (0.75 WM), iso after (1.0 WM) -> +33 % on the whole lesion,
    # more than a ring (+0.35 WM on the edge only), more than a focal spot (1.5 mm)
    mean = t.groupby("uspio")["uspio_enh_pct"].mean()
    assert mean["iso"] > mean["ring"] > mean["focal"] > mean["none"]
    assert t.loc[kind == "iso", "uspio_enh_pct"].min() > 10
    # USPIO shortens T2*: the post-USPIO R2* rises where USPIO enhances
    assert t.loc[plus, "dr2star_mean"].min() > t.loc[~plus, "dr2star_mean"].max()
    assert (t.loc[~plus, "dr2star_mean"].abs() < 0.5).all()


# ------------------------------------------------------------------ a case without maps
@pytest.mark.parametrize("role", ["flair", "wm_mask"])
def test_case_without_maps_gives_geometry_only(tmp_path, role):
    shape_xyz = (12, 10, 6)
    affine = np.array([[-0.9, 0, 0, 30], [0, 1.1, 0, -20], [0, 0, 2.5, -7], [0, 0, 0, 1.0]])
    if role == "flair":
        data = np.random.default_rng(1).uniform(100, 900, shape_xyz).astype(np.float32)
    else:
        data = np.zeros(shape_xyz, np.uint8)
        data[2:10, 1:9, 1:5] = 1
    path = write_nifti(tmp_path / f"{role}.nii.gz", data, affine)
    affine = nib.load(path).affine  # as stored (float32)
    case = load_case({role: path})
    assert list(case.measured_maps()) == []
    model = lesion_model(case, np.zeros(case.grid.shape, np.uint16))
    assert model.table().empty
    assert list(model.table().columns) == GEOMETRY
    # paint a 2 x 3 x 4 box of lesion 3 (z, y, x) and one voxel of lesion 7
    model.apply_edit((slice(1, 3), slice(2, 5), slice(4, 8)), None, 3)
    model.apply_indices((np.array([4]), np.array([0]), np.array([0])), 7)
    table = model.table()
    assert list(table.columns) == GEOMETRY
    assert table.index.tolist() == [3, 7]
    assert table["voxels"].tolist() == [24, 1]
    voxel_mm3 = abs(affine[0, 0] * affine[1, 1] * affine[2, 2])
    np.testing.assert_allclose(table["volume_mm3"], [24 * voxel_mm3, voxel_mm3], rtol=1e-12)
    # centroid of lesion 3 in world mm, through the file affine: x index flips (LAS)
    z, y, x = 1.5, 3.0, 5.5  # mean (z, y, x) index on the RAS grid
    i_file = shape_xyz[0] - 1 - x
    expected = apply_affine(affine, [i_file, y, z])
    np.testing.assert_allclose(table.loc[3, ["x_mm", "y_mm", "z_mm"]], expected, atol=1e-9)
    pd.testing.assert_frame_equal(table, model.full_recompute_table())
