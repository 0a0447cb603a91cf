"""Delineation tools on the phantom and on shapes whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_uspio.core.lesions.delineate import (
    DelineationError,
    grow_from_click,
    interpolate_slices,
    sphere_stroke,
)
from napari_uspio.core.lesions.geometry import spacing_mm
from napari_uspio.core.volume import LabelMap


def _mask(shape, stroke) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[stroke.indices] = True
    return mask


def _dice(a, b) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


@pytest.fixture(scope="module")
def truth(phantom_dir):
    return LabelMap.from_file(phantom_dir / "truth" / "lesions_truth.nii.gz", "lesions").data


def test_a_click_grows_every_phantom_lesion_and_never_another(phantom_case, truth):
    spacing = spacing_mm(phantom_case.grid.index_to_world)
    dices = {}
    for lesion_id in np.unique(truth)[1:]:
        voxels = np.argwhere(truth == lesion_id)
        click = voxels[np.argmin(((voxels - voxels.mean(axis=0)) ** 2).sum(axis=1))]
        grown = grow_from_click(
            phantom_case["flair"],
            np.zeros_like(truth),
            tuple(click),
            int(lesion_id),
            spacing,
            phantom_case.wm_mask,
        )
        mask = _mask(truth.shape, grown.stroke)
        assert not (mask & (truth > 0) & (truth != lesion_id)).any()
        dices[int(lesion_id)] = _dice(mask, truth == lesion_id)
    assert min(dices.values()) >= 0.8, dices


def _two_touching_balls():
    z, y, x = np.meshgrid(*(np.arange(n) for n in (20, 40, 40)), indexing="ij")
    left = (z - 10) ** 2 + (y - 20) ** 2 + (x - 14) ** 2 <= 36
    right = (z - 10) ** 2 + (y - 20) ** 2 + (x - 25) ** 2 <= 36
    image = np.random.default_rng(1).normal(500, 10, left.shape).astype(np.float32)
    image[left | right] += 300
    return image, left, right


def test_growing_stops_at_the_lesion_already_painted():
    image, left, right = _two_touching_balls()
    assert (ndimage.binary_dilation(left) & right).any()  # they touch
    labels = left.astype(np.int32)  # lesion 1 painted
    grown = grow_from_click(image, labels, (10, 20, 26), 2, (1.0, 1.0, 1.0))
    mask = _mask(labels.shape, grown.stroke)
    assert not (mask & left).any()
    assert _dice(mask, right & ~left) >= 0.9


def test_the_level_moves_the_threshold_and_the_region():
    image, left, _ = _two_touching_balls()
    image = ndimage.gaussian_filter(image, 1.5)  # a soft edge: the level matters
    labels = np.zeros(image.shape, dtype=np.int32)
    sizes, thresholds = [], []
    for level in (0.2, 0.5, 0.8):
        grown = grow_from_click(image, labels, (10, 20, 12), 1, (1.0, 1.0, 1.0), level=level)
        sizes.append(grown.stroke.n_voxels)
        thresholds.append(grown.threshold)
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == 3
    assert sizes[0] > sizes[1] > sizes[2] > 0


def test_a_lesion_one_slice_thick_is_grown():
    """At 1 x 1 x 3 mm the click's value is read in its own slice, not 9 mm of z."""
    _, y, x = np.meshgrid(*(np.arange(n) for n in (9, 40, 40)), indexing="ij")
    lesion = np.zeros((9, 40, 40), bool)
    lesion[4] = (y[4] - 20) ** 2 + (x[4] - 20) ** 2 <= 9
    image = np.random.default_rng(3).normal(400, 10, lesion.shape).astype(np.float32)
    image[lesion] += 150
    labels = np.zeros(lesion.shape, np.int32)
    grown = grow_from_click(image, labels, (4, 20, 20), 1, (3.0, 1.0, 1.0))
    assert _dice(_mask(labels.shape, grown.stroke), lesion) >= 0.9


def test_the_radius_bounds_the_region():
    z, y, _ = np.meshgrid(*(np.arange(n) for n in (30, 60, 60)), indexing="ij")
    image = np.where((z - 15) ** 2 + (y - 30) ** 2 <= 4, 900.0, 500.0)  # a bright tube
    image += np.random.default_rng(2).normal(0, 5, image.shape)  # along x: grows to the radius
    grown = grow_from_click(
        image, np.zeros(image.shape, np.int32), (15, 30, 31), 1, (1.0, 1.0, 1.0), radius_mm=8.0
    )
    voxels = np.stack(grown.stroke.indices, axis=1) - np.array([15, 30, 31])
    assert np.sqrt((voxels**2).sum(axis=1)).max() <= 8.0
    assert np.abs(voxels[:, 2]).max() == 8  # reached the radius along the tube


@pytest.mark.parametrize(
    ("click", "painted", "wm", "message"),
    [
        ((10, 20, 60), False, False, "outside the image"),
        ((10, 20, 14), True, False, "on lesion 1"),
        ((10, 5, 5), False, False, "does not stand out"),
        ((10, 20, 25), False, True, "outside the white matter"),
    ],
)
def test_a_click_where_growing_cannot_work_is_refused(click, painted, wm, message):
    image, left, right = _two_touching_balls()
    labels = left.astype(np.int32) if painted else np.zeros(left.shape, np.int32)
    wm_mask = None
    if wm:
        wm_mask = np.zeros(left.shape, dtype=np.uint8)
        wm_mask[:, :, :18] = 1  # the right ball is outside
    with pytest.raises(DelineationError, match=message):
        grow_from_click(image, labels, click, 2, (1.0, 1.0, 1.0), wm_mask)


def _disc(shape_yx, centre, radius_mm, spacing_yx):
    y, x = np.meshgrid(*(np.arange(n) for n in shape_yx), indexing="ij")
    return ((y - centre[0]) * spacing_yx[0]) ** 2 + (
        (x - centre[1]) * spacing_yx[1]
    ) ** 2 <= radius_mm**2


def test_interpolation_fills_the_slices_between_two_outlines_as_scipy_computes():
    spacing = (3.0, 0.8, 0.8)
    labels = np.zeros((12, 50, 50), dtype=np.int32)
    labels[2][_disc((50, 50), (25, 25), 4.0, spacing[1:])] = 5
    labels[6][_disc((50, 50), (25, 27), 12.0, spacing[1:])] = 5
    labels[4, 0:3, 0:3] = 9  # another lesion on a slice between: never overwritten
    stroke = interpolate_slices(labels, 5, spacing)
    filled = labels.copy()
    filled[stroke.indices] = stroke.label
    assert set(np.unique(stroke.indices[0])) == {3, 4, 5}
    box = ndimage.find_objects(labels)[4]  # lesion 5's box, as the lesion model keeps it
    in_box = interpolate_slices(labels, 5, spacing, box)
    assert all(np.array_equal(a, b) for a, b in zip(in_box.indices, stroke.indices, strict=True))
    assert (filled[4, 0:3, 0:3] == 9).all()

    def signed(mask):  # direct: distances to the edge in mm, negative inside
        half = 0.5 * min(spacing[1:])
        inside = ndimage.distance_transform_edt(mask, sampling=spacing[1:])
        outside = ndimage.distance_transform_edt(~mask, sampling=spacing[1:])
        return np.where(mask, half - inside, outside - half)

    for z in (3, 4, 5):
        t = (z - 2) / 4
        expected = ((1 - t) * signed(labels[2] == 5) + t * signed(labels[6] == 5)) <= 0
        expected &= labels[z] == 0
        assert np.array_equal(filled[z] == 5, expected)
    areas = [(filled[z] == 5).sum() for z in range(2, 7)]
    assert areas == sorted(areas)  # the disc grows from one outline to the other


def test_interpolating_one_shape_repeats_it():
    labels = np.zeros((8, 30, 30), dtype=np.int32)
    square = np.zeros((30, 30), dtype=bool)
    square[10:18, 8:20] = True
    labels[1][square] = labels[4][square] = 3
    stroke = interpolate_slices(labels, 3, (2.0, 1.0, 1.0))
    labels[stroke.indices] = 3
    for z in (2, 3):
        assert np.array_equal(labels[z] == 3, square)


def test_interpolation_needs_two_outlines_with_a_gap():
    labels = np.zeros((8, 20, 20), dtype=np.int32)
    with pytest.raises(DelineationError, match="not painted"):
        interpolate_slices(labels, 1, (1.0, 1.0, 1.0))
    labels[3, 5:9, 5:9] = labels[4, 5:9, 5:9] = 1
    with pytest.raises(DelineationError, match="no slices to fill"):
        interpolate_slices(labels, 1, (1.0, 1.0, 1.0))


@pytest.mark.parametrize("spacing", [(3.0, 1.0, 1.0), (1.0, 1.0, 1.0), (1.5, 0.5, 0.5)])
def test_the_3d_brush_is_a_ball_in_mm(spacing):
    radius = 6.0
    stroke = sphere_stroke((100, 200, 200), (50, 100, 100), radius, spacing, 4)
    volume_mm3 = stroke.n_voxels * float(np.prod(spacing))
    assert volume_mm3 == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.06)
    offsets_mm = (np.stack(stroke.indices, axis=1) - [50, 100, 100]) * np.array(spacing)
    assert np.sqrt((offsets_mm**2).sum(axis=1)).max() <= radius
    clipped = sphere_stroke((100, 200, 200), (0, 0, 0), radius, spacing, 0)
    assert 0 < clipped.n_voxels < stroke.n_voxels and min(a.min() for a in clipped.indices) >= 0
