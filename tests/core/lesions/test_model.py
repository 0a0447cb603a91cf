"""The live lesion model: hand-built volumes with known answers, and properties.

``naive_table`` below is written straight from the definitions, on whole-volume
masks, independently of the model's crop/workspace machinery.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from napari_uspio.core.lesions import MAP_ROLES, LesionModel

ALL_COLUMNS = (
    "voxels", "volume_mm3", "x_mm", "y_mm", "z_mm", "mtr_mean", "mtr_sd", "qsm_mean_ppb",
    "qsm_nawm_ppb", "qsm_rel_ppb", "qsm_rim_ppb", "uspio_enh_pct", "gd_enh_pct",
    "r2star_mean", "dr2star_mean",
)  # fmt: skip


# --------------------------------------------------------------------- oracle
def _mean(values):
    values = values[~np.isnan(values)].astype(np.float64)
    return float(values.sum() / values.size) if values.size else np.nan


def _ratio(a, b):
    return a / b if b != 0 and not np.isnan(b) and not np.isnan(a) else np.nan


def naive_shell(labels, lesion_id, spacing, width_mm, wm_mask=None):
    reach = [int(width_mm // s) + 1 for s in spacing]
    structure = np.zeros([2 * r + 1 for r in reach], dtype=bool)
    for d in itertools.product(*(range(-r, r + 1) for r in reach)):
        if sum((di * si) ** 2 for di, si in zip(d, spacing, strict=True)) <= width_mm**2:
            structure[tuple(di + r for di, r in zip(d, reach, strict=True))] = True
    shell = ndi.binary_dilation(labels == lesion_id, structure=structure) & (labels == 0)
    return shell & wm_mask if wm_mask is not None else shell


def naive_edge_core(lesion):
    padded = np.pad(lesion, ((0, 0), (1, 1), (1, 1)))
    inside = (
        padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
    )
    return lesion & ~inside, lesion & inside


def naive_columns(maps):
    wanted = {
        "mtr": {"mtr"},
        "qsm": {"qsm"},
        "uspio_enh": {"t1_pre_uspio", "t1_post_uspio"},
        "gd_enh": {"t1_pre_gd", "t1_post_gd"},
        "r2star_": {"r2star"},
        "dr2star": {"dr2star"},
    }
    return [
        c
        for c in ALL_COLUMNS
        if all(not c.startswith(p) or roles <= set(maps) for p, roles in wanted.items())
    ]


def naive_table(labels, maps, affine, wm_mask=None, width_mm=3.0):
    affine = np.asarray(affine, dtype=float)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    rows = {}
    for lesion_id in np.unique(labels[labels > 0]).tolist():
        lesion = labels == lesion_id
        shell = naive_shell(labels, lesion_id, spacing, width_mm, wm_mask)
        edge, core = naive_edge_core(lesion)
        world = affine @ np.append(np.argwhere(lesion).mean(axis=0), 1.0)
        row = {
            "voxels": int(lesion.sum()),
            "volume_mm3": lesion.sum() * abs(np.linalg.det(affine[:3, :3])),
            "x_mm": world[0],
            "y_mm": world[1],
            "z_mm": world[2],
        }
        if "mtr" in maps:
            v = maps["mtr"][lesion]
            v = v[~np.isnan(v)].astype(np.float64)
            row["mtr_mean"] = _mean(v)
            row["mtr_sd"] = float(np.std(v, ddof=1)) if v.size >= 2 else np.nan
        if "qsm" in maps:
            q = maps["qsm"]
            row["qsm_mean_ppb"] = _mean(q[lesion])
            row["qsm_nawm_ppb"] = _mean(q[shell])
            row["qsm_rel_ppb"] = row["qsm_mean_ppb"] - row["qsm_nawm_ppb"]
            row["qsm_rim_ppb"] = _mean(q[edge]) - _mean(q[core])
        for agent in ("uspio", "gd"):
            pre, post = maps.get(f"t1_pre_{agent}"), maps.get(f"t1_post_{agent}")
            if pre is not None and post is not None:
                post_ratio = _ratio(_mean(post[lesion]), _mean(post[shell]))
                pre_ratio = _ratio(_mean(pre[lesion]), _mean(pre[shell]))
                row[f"{agent}_enh_pct"] = 100 * (_ratio(post_ratio, pre_ratio) - 1)
        for role in ("r2star", "dr2star"):
            if role in maps:
                row[f"{role}_mean"] = _mean(maps[role][lesion])
        rows[lesion_id] = row
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=naive_columns(maps))
    frame.index = pd.Index(np.array(list(rows), dtype=np.int64), name="lesion")
    return frame


def assert_tables_equal(actual, expected):
    pd.testing.assert_frame_equal(
        actual, expected[list(actual.columns)], check_dtype=False, rtol=1e-6, atol=1e-9
    )


# ------------------------------------------------------------------- fixtures
def ones(shape, value=1.0):
    return np.full(shape, value, dtype=np.float32)


def random_maps(rng, shape, nan_fraction=0.1, roles=MAP_ROLES):
    maps = {r: rng.uniform(0.5, 2.0, shape).astype(np.float32) for r in roles}
    for role in ("mtr", "qsm"):
        if role in maps:
            maps[role][rng.random(shape) < nan_fraction] = np.nan
    return maps


# ----------------------------------------------------------- known answers
def test_volume_and_centroid_with_anisotropic_spacing():
    labels = np.zeros((4, 6, 7), dtype=np.int16)
    labels[1, 2, 3] = labels[2, 2, 3] = labels[2, 4, 5] = 3
    affine = np.diag([3.0, 0.5, 0.8, 1.0])
    affine[:3, 3] = [10.0, -4.0, 2.0]
    row = LesionModel(labels, {}, affine).table().loc[3]
    assert row["voxels"] == 3
    assert row["volume_mm3"] == pytest.approx(3 * 3.0 * 0.5 * 0.8)
    # mean index (z, y, x) = (5/3, 8/3, 11/3); world = A @ index: RAS x = row 0
    assert row["x_mm"] == pytest.approx(10 + 3.0 * 5 / 3)
    assert row["y_mm"] == pytest.approx(-4 + 0.5 * 8 / 3)
    assert row["z_mm"] == pytest.approx(2 + 0.8 * 11 / 3)


def test_centroid_with_permuted_and_oblique_affine():
    labels = np.zeros((5, 6, 7), dtype=np.int32)
    labels[1, 2, 3] = labels[3, 2, 5] = 1
    # index x -> world R, index y -> world A, index z -> world S, 2 mm slices, rotated 30 deg
    permuted = np.array([[0, 0, 1.0, 5], [0, 1.0, 0, 6], [2.0, 0, 0, 7], [0, 0, 0, 1]])
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    rotation = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    for affine in (permuted, rotation @ permuted):
        row = LesionModel(labels, {}, affine).table().loc[1]
        expected = affine @ np.array([2.0, 2.0, 4.0, 1.0])
        assert row[["x_mm", "y_mm", "z_mm"]].to_numpy() == pytest.approx(expected[:3])
        assert row["volume_mm3"] == pytest.approx(2 * 2.0)


def test_means_leave_out_nan_voxels_and_sd_is_sample_sd():
    labels = np.zeros((1, 3, 8), dtype=np.int32)
    labels[0, 1, 0:4] = 1  # values 0.3, 0.5, NaN, 0.7
    labels[0, 1, 5] = 2  # one valid value: SD undefined
    labels[0, 1, 7] = 3  # no valid value at all
    mtr = np.full(labels.shape, np.nan, dtype=np.float32)
    mtr[0, 1, [0, 1, 3, 5]] = [0.3, 0.5, 0.7, 0.4]
    table = LesionModel(labels, {"mtr": mtr, "r2star": mtr}, np.eye(4)).table()
    assert table.loc[1, "mtr_mean"] == pytest.approx(0.5)
    assert table.loc[1, "mtr_sd"] == pytest.approx(0.2)
    assert table.loc[1, "r2star_mean"] == pytest.approx(0.5)
    assert table.loc[2, "mtr_mean"] == pytest.approx(0.4)
    assert np.isnan(table.loc[2, "mtr_sd"])
    assert np.isnan(table.loc[3, "mtr_mean"]) and np.isnan(table.loc[3, "mtr_sd"])


@pytest.mark.parametrize(
    ("spacing", "expected_shell_voxels"),
    [((1.0, 1.0, 1.0), 122), ((3.0, 1.0, 1.0), 30), ((2.0, 1.5, 1.0), None)],
)
def test_shell_is_euclidean_in_mm(spacing, expected_shell_voxels):
    # 122: the 123 offsets within radius 3 minus the lesion voxel. 30: with 3 mm
    # slices only dz = 0 (29 in-plane offsets) and dz = +-1 straight above/below.
    shape = (9, 11, 11)
    labels = np.zeros(shape, dtype=np.int32)
    labels[4, 5, 5] = 1
    affine = np.diag([*spacing, 1.0])
    box, mask = LesionModel(labels, {}, affine).shell_mask(1)
    full = np.zeros(shape, dtype=bool)
    full[box] = mask
    offsets = np.argwhere(full) - [4, 5, 5]
    dist2 = ((offsets * spacing) ** 2).sum(axis=1)
    assert (dist2 <= 9 + 1e-9).all() and not full[4, 5, 5]
    grid = np.argwhere(np.ones(shape, bool)) - [4, 5, 5]
    inside = ((grid * spacing) ** 2).sum(axis=1) <= 9
    assert full.sum() == inside.sum() - 1
    if expected_shell_voxels is not None:
        assert full.sum() == expected_shell_voxels


def test_shell_mean_uses_exactly_the_shell_voxels():
    shape = (3, 11, 11)
    labels = np.zeros(shape, dtype=np.int32)
    labels[1, 5, 5] = 1
    qsm = ones(shape, 10.0)
    qsm[1, 5, 8] = 40.0  # distance 3 mm: in the shell
    qsm[1, 6, 8] = 1000.0  # sqrt(10) mm: outside
    qsm[0, 5, 5] = np.nan  # in the shell but NaN: left out
    row = LesionModel(labels, {"qsm": qsm}, np.diag([3.0, 1.0, 1.0, 1.0])).table().loc[1]
    # shell: 29 in-plane offsets - the lesion = 28 (one 40) + above (NaN) + below -> 29 valid
    assert row["qsm_nawm_ppb"] == pytest.approx((27 * 10.0 + 40.0 + 10.0) / 29)
    assert row["qsm_rel_ppb"] == pytest.approx(row["qsm_mean_ppb"] - row["qsm_nawm_ppb"])


def test_shell_excludes_every_lesion_and_respects_wm_and_volume_edge():
    shape = (1, 7, 7)
    labels = np.zeros(shape, dtype=np.int32)
    labels[0, 0, 0] = 1  # corner lesion: its shell is clipped at the volume edge
    labels[0, 0, 2] = 2  # another lesion inside lesion 1's reach
    wm = np.ones(shape, dtype=bool)
    wm[0, 2, 0] = False
    model = LesionModel(labels, {}, np.diag([1.0, 1.0, 1.0, 1.0]), wm_mask=wm, shell_width_mm=2)
    box, mask = model.shell_mask(1)
    full = np.zeros(shape, dtype=bool)
    full[box] = mask
    expected = {(0, 0, 1), (0, 1, 0), (0, 1, 1)}  # (0,0,2) is lesion 2, (0,2,0) not WM
    assert {tuple(p) for p in np.argwhere(full)} == expected


def test_edge_and_core_are_in_plane():
    # A 5 x 5 x 3 block: in-plane, each slice has 16 edge and 9 core voxels. A
    # 3-D (6-neighbour) definition would make the top and bottom slices all edge.
    shape = (5, 9, 9)
    labels = np.zeros(shape, dtype=np.int32)
    labels[1:4, 2:7, 2:7] = 1
    labels[2, 0:3, 8] = 2  # touches the volume edge: all its voxels are edge
    qsm = ones(shape, 10.0)
    qsm[1:4, 3:6, 3:6] = 2.0  # the core of each slice
    table = LesionModel(labels, {"qsm": qsm}, np.eye(4)).table()
    assert table.loc[1, "qsm_rim_ppb"] == pytest.approx(8.0)
    assert table.loc[1, "qsm_mean_ppb"] == pytest.approx((16 * 10 + 9 * 2) / 25)
    assert np.isnan(table.loc[2, "qsm_rim_ppb"])  # no core voxel


def test_lesion_touching_the_volume_edge():
    shape = (1, 5, 5)
    labels = np.zeros(shape, dtype=np.int32)
    labels[0, 0:3, 0:3] = 1  # only (1, 1) has its 4 neighbours in the lesion
    qsm = np.arange(25, dtype=np.float32).reshape(shape)
    row = LesionModel(labels, {"qsm": qsm}, np.eye(4), shell_width_mm=1).table().loc[1]
    edge = [0, 1, 2, 5, 7, 10, 11, 12]
    assert row["qsm_rim_ppb"] == pytest.approx(np.mean(edge) - 6)
    assert row["qsm_nawm_ppb"] == pytest.approx(np.mean([3, 8, 13, 15, 16, 17]))


def test_enhancement_percentages():
    shape = (1, 9, 9)
    labels = np.zeros(shape, dtype=np.int32)
    labels[0, 3:6, 3:6] = 1
    lesion = labels == 1

    def pair(pre_lesion, pre_shell, post_lesion, post_shell):
        pre, post = ones(shape, pre_shell), ones(shape, post_shell)
        pre[lesion], post[lesion] = pre_lesion, post_lesion
        return pre, post

    pre_u, post_u = pair(100, 50, 150, 60)  # (150/60) / (100/50) - 1 = +25 %
    pre_g, post_g = pair(80, 40, 60, 40)  # (60/40) / (80/40) - 1 = -25 %
    maps = {
        "t1_pre_uspio": pre_u,
        "t1_post_uspio": post_u,
        "t1_pre_gd": pre_g,
        "t1_post_gd": post_g,
    }
    row = LesionModel(labels, maps, np.eye(4)).table().loc[1]
    assert row["uspio_enh_pct"] == pytest.approx(25.0)
    assert row["gd_enh_pct"] == pytest.approx(-25.0)
    maps["t1_pre_gd"] = pair(80, 0, 60, 40)[0]  # a zero divisor gives NaN, no warning
    assert np.isnan(LesionModel(labels, maps, np.eye(4)).table().loc[1, "gd_enh_pct"])


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ((), ALL_COLUMNS[:5]),
        (("mtr",), ALL_COLUMNS[:7]),
        (("qsm", "t1_pre_uspio"), ALL_COLUMNS[:5] + ALL_COLUMNS[7:11]),
        (("t1_pre_gd", "t1_post_gd", "dr2star"), ALL_COLUMNS[:5] + ("gd_enh_pct", "dr2star_mean")),
        (MAP_ROLES, ALL_COLUMNS),
    ],
)
def test_columns_of_absent_maps_are_absent(roles, expected):
    labels = np.zeros((2, 4, 4), dtype=np.int32)
    labels[1, 1:3, 1:3] = 1
    model = LesionModel(labels, {r: ones(labels.shape) for r in roles}, np.eye(4))
    assert model.columns == expected
    assert tuple(model.table().columns) == expected


def test_invalid_inputs_are_rejected():
    labels = np.zeros((2, 4, 4), dtype=np.int32)
    with pytest.raises(ValueError, match="unknown map roles"):
        LesionModel(labels, {"t1": ones(labels.shape)}, np.eye(4))
    with pytest.raises(ValueError, match="qsm"):
        LesionModel(labels, {"qsm": ones((2, 4, 5))}, np.eye(4))
    with pytest.raises(ValueError, match="wm_mask"):
        LesionModel(labels, {}, np.eye(4), wm_mask=np.ones((1, 4, 4), bool))
    with pytest.raises(ValueError, match="invertible"):
        LesionModel(labels, {}, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shell width"):
        LesionModel(labels, {}, np.eye(4), shell_width_mm=-1)


# ------------------------------------------------------------------- edits
def small_case(seed=0, wm=True):
    rng = np.random.default_rng(seed)
    shape = (6, 20, 20)
    labels = np.zeros(shape, dtype=np.int32)
    labels[1:3, 3:7, 3:7] = 1
    labels[2:5, 12:17, 4:8] = 2
    labels[3, 15:19, 14:19] = 3
    wm_mask = rng.random(shape) < 0.9 if wm else None
    affine = np.diag([2.0, 1.0, 1.2, 1.0])
    return labels, random_maps(rng, shape), affine, wm_mask


def test_erased_lesion_disappears_and_is_reported():
    labels, maps, affine, wm = small_case()
    model = LesionModel(labels, maps, affine, wm)
    seen = []
    model.changed.connect(seen.append)
    model.apply_edit(model.lesion_bbox(1), None, 0)
    assert 1 not in model.table().index and 1 in seen[-1]
    labels[labels == 1] = 0
    assert_tables_equal(model.table(), naive_table(labels, maps, affine, wm))
    with pytest.raises(KeyError):
        model.lesion_bbox(1)


def test_painting_next_to_a_lesion_updates_its_shell_only_nearby():
    labels, maps, affine, wm = small_case()
    model = LesionModel(labels, maps, affine, wm)
    before = model.table()
    seen = []
    model.changed.connect(seen.append)
    model.apply_edit((slice(1, 2), slice(7, 8), slice(4, 6)), None, 9)  # beside lesion 1
    assert seen == [frozenset({1, 9})]  # lesion 1's shell lost voxels; 2 and 3 are far
    after = model.table()
    assert after.loc[1, "uspio_enh_pct"] != before.loc[1, "uspio_enh_pct"]  # shell means moved
    assert after.loc[1, "voxels"] == before.loc[1, "voxels"]
    pd.testing.assert_series_equal(after.loc[3], before.loc[3])
    labels[1, 7:8, 4:6] = 9
    assert_tables_equal(after, naive_table(labels, maps, affine, wm))


def test_apply_indices_and_sync_region_and_next_free_id():
    labels, maps, affine, wm = small_case()
    model = LesionModel(labels, maps, affine, wm)
    assert model.next_free_id() == 4
    index = (np.array([0, 0, -1]), np.array([0, 1, 2]), np.array([5, 5, 5]))
    model.apply_indices(index, np.array([7, 7, 8]))
    labels[index] = [7, 7, 8]
    assert model.next_free_id() == 9
    assert_tables_equal(model.table(), naive_table(labels, maps, affine, wm))
    now = labels.copy()
    now[2:4, 13:15, 5:7] = 0
    now[0, 0, 5] = 3
    model.sync_region(
        now, [(slice(0, 1), slice(0, 4), slice(0, 8)), (slice(2, 4), slice(8, 16), slice(0, 8))]
    )
    assert np.array_equal(model.labels, now)
    assert_tables_equal(model.table(), naive_table(now, maps, affine, wm))
    assert model.lesion_bbox(3) == (slice(0, 4), slice(0, 19), slice(5, 19))


def test_reset_and_shell_width_recompute_everything():
    labels, maps, affine, wm = small_case()
    model = LesionModel(labels, maps, affine, wm)
    seen = []
    model.changed.connect(seen.append)
    model.shell_width_mm = 1.5
    assert model.shell_width_mm == 1.5 and seen[-1] == frozenset({1, 2, 3})
    assert_tables_equal(model.table(), naive_table(labels, maps, affine, wm, 1.5))
    other = np.zeros_like(labels)
    other[0, 0:2, 0:2] = 5
    model.reset(other)
    assert seen[-1] == frozenset({1, 2, 3, 5})
    assert_tables_equal(model.table(), naive_table(other, maps, affine, wm, 1.5))
    with pytest.raises(ValueError, match="shape"):
        model.reset(np.zeros((1, 2, 3), dtype=np.int32))


def test_lesions_are_gathered_in_batches_of_bounded_size(monkeypatch):
    from napari_uspio.core.lesions import geometry as lesion_geometry

    labels, maps, affine, wm = small_case()
    expected = naive_table(labels, maps, affine, wm)
    monkeypatch.setattr(lesion_geometry, "MAX_WORKSPACE_VOXELS", 1)  # one lesion per batch
    model = LesionModel(labels, maps, affine, wm)
    assert_tables_equal(model.table(), expected)
    model.apply_edit((slice(0, 6), slice(0, 20), slice(0, 20)), None, 0)
    assert model.table().empty


def test_model_owns_a_label_copy_and_references_the_maps():
    labels, maps, affine, wm = small_case()
    model = LesionModel(labels, maps, affine, wm)
    labels[:] = 0
    assert model.table().shape[0] == 3  # the caller's array is not the model's
    assert not model.labels.flags.writeable
    assert model.nbytes < labels.nbytes + 16 * 1024  # no copies of the maps


def test_flipped_read_only_maps_are_measured_in_place():
    """Maps as a LAS file decodes (a read-only view flipped in x) give the same table."""
    labels, maps, affine, wm = small_case()
    flipped = {}
    for role, data in maps.items():
        view = np.ascontiguousarray(data[:, :, ::-1])[:, :, ::-1]  # equal values, strided
        view.flags.writeable = False
        flipped[role] = view
    assert not any(m.flags.c_contiguous for m in flipped.values())
    expected = LesionModel(labels, maps, affine, wm)
    model = LesionModel(labels, flipped, affine, wm)
    pd.testing.assert_frame_equal(model.table(), expected.table())
    stroke = (np.array([1, 1]), np.array([2, 3]), np.array([2, 2]))
    for m in (model, expected):
        m.apply_indices(stroke, 1)
    pd.testing.assert_frame_equal(model.table(), expected.table())


# -------------------------------------------------------------- properties
@st.composite
def cases(draw):
    shape = tuple(draw(st.integers(2, n)) for n in (5, 12, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.int32)
    for lesion_id in range(1, draw(st.integers(0, 5)) + 1):
        lo = [int(rng.integers(0, n)) for n in shape]
        hi = [min(n, a + int(rng.integers(1, 5))) for a, n in zip(lo, shape, strict=True)]
        labels[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))] = lesion_id
    spacing = draw(st.sampled_from([(1.0, 1.0, 1.0), (3.0, 1.0, 1.0), (2.0, 0.5, 1.5)]))
    affine = np.diag([*spacing, 1.0])
    if draw(st.booleans()):  # oblique: rotate, the spacing stays the column norms
        c, s = np.cos(0.3), np.sin(0.3)
        affine = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]) @ affine
    roles = draw(st.sets(st.sampled_from(MAP_ROLES)))
    wm = rng.random(shape) < 0.8 if draw(st.booleans()) else None
    width = draw(st.sampled_from([0.0, 1.0, 2.5, 3.0]))
    return labels, random_maps(rng, shape, 0.2, sorted(roles)), affine, wm, width, rng


@settings(max_examples=60, deadline=None)
@given(cases())
def test_full_recompute_matches_the_naive_definition(case):
    labels, maps, affine, wm, width, _ = case
    model = LesionModel(labels, maps, affine, wm, width)
    expected = naive_table(labels, maps, affine, wm, width)
    assert_tables_equal(model.full_recompute_table(), expected)
    assert_tables_equal(model.table(), expected)


@settings(max_examples=60, deadline=None)
@given(
    cases(),
    st.lists(
        st.tuples(st.sampled_from(["box", "mask", "indices", "sync"]), st.integers(0, 6)),
        max_size=12,
    ),
)
def test_any_edit_sequence_matches_a_full_recompute(case, edits):
    labels, maps, affine, wm, width, rng = case
    model = LesionModel(labels, maps, affine, wm, width)
    shape = labels.shape
    for kind, value in edits:
        lo = [int(rng.integers(0, n)) for n in shape]
        box = tuple(
            slice(a, min(n, a + int(rng.integers(1, 6)))) for a, n in zip(lo, shape, strict=True)
        )
        if kind == "box":
            model.apply_edit(box, None, value)
            labels[box] = value
        elif kind == "mask":
            mask = rng.random(labels[box].shape) < 0.5
            model.apply_edit(box, mask, value)
            labels[box][mask] = value
        elif kind == "indices":
            index = tuple(rng.integers(0, n, 6) for n in shape)
            values = rng.integers(0, 7, 6)
            model.apply_indices(index, values)
            labels[index] = values
        else:
            labels[box] = rng.integers(0, 7, labels[box].shape)
            model.sync_region(labels, [box])
        assert np.array_equal(model.labels, labels)
        pd.testing.assert_frame_equal(model.table(), model.full_recompute_table(), rtol=1e-9)
    assert_tables_equal(model.table(), naive_table(labels, maps, affine, wm, width))
