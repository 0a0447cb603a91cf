"""Layers of a case: subtractions computed only when shown, inputs never held twice."""

from __future__ import annotations

import numpy as np

from napari_uspio import load_case
from napari_uspio._napari.open_case import add_case


def test_a_subtraction_is_computed_when_first_shown(make_napari_viewer, phantom_dir):
    case = load_case(phantom_dir)
    viewer = make_napari_viewer()
    add_case(viewer, case)
    gd = viewer.layers["gd_diff"]
    assert not case.computed("gd_diff") and not case.computed("uspio_diff")
    assert gd.data.strides == (0, 0, 0) and gd.data.shape == case.grid.shape  # no memory
    assert case.computed("mtr")  # measured by the lesion model: computed at once
    gd.visible = True
    assert case.computed("gd_diff") and gd.data is case["gd_diff"]
    post, pre = case["t1_post_gd"], case["t1_pre_gd"]
    np.testing.assert_array_equal(gd.data, post - pre)
    low, high = gd.contrast_limits
    assert low < 0 < high  # a symmetric window of the subtraction, not the placeholder's 0-1
    assert not gd.metadata["deferred"]
    assert not case.computed("uspio_diff")


def test_layers_show_the_case_arrays_without_a_copy(make_napari_viewer, phantom_dir):
    case = load_case(phantom_dir)
    viewer = make_napari_viewer()
    add_case(viewer, case)
    assert "wm_mask" in case.roles and "m0" in case.roles
    for role in case.roles:
        if role in viewer.layers and role != "lesions":
            assert viewer.layers[role].data is case.volumes[role].data, role
