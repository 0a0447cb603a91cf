"""Window / level and navigation on the reading desk, driven with the mouse on the canvas."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, QPointF, Qt
from qtpy.QtGui import QWheelEvent
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication

from napari_uspio import load_case
from napari_uspio._napari.canvas_text import canvas_text
from napari_uspio._napari.desk import desk_for
from napari_uspio._napari.open_case import add_case
from napari_uspio.core.display import window_presets


@pytest.fixture
def reading(make_napari_viewer, phantom_dir):
    viewer = make_napari_viewer(show=True)
    add_case(viewer, load_case(phantom_dir))
    viewer.layers["lesions"].mode = "paint"
    return viewer


def _canvas(viewer):
    return viewer.window._qt_viewer.canvas.native


def _wheel(viewer, notches: int, modifiers=Qt.KeyboardModifier.NoModifier):
    canvas = _canvas(viewer)
    centre = QPointF(canvas.width() / 2, canvas.height() / 2)
    event = QWheelEvent(
        centre, canvas.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(canvas, event)


def test_wheel_pages_one_slice_per_notch_and_ctrl_wheel_zooms(qtbot, reading):
    viewer = reading
    step, zoom = viewer.dims.current_step[0], viewer.scene.camera.zoom
    _wheel(viewer, -1)
    assert viewer.dims.current_step[0] == step + 1 and viewer.scene.camera.zoom == zoom
    _wheel(viewer, 1)
    _wheel(viewer, 1)
    assert viewer.dims.current_step[0] == step - 1
    z_mm = viewer.layers["lesions"].data_to_world((step - 1, 0, 0))[0]
    assert viewer.dims.point[0] == pytest.approx(z_mm)
    assert viewer.dims.axis_labels[0] == f"S {z_mm:+.1f} mm"  # the slider says mm
    _wheel(viewer, 1, Qt.KeyboardModifier.ControlModifier)
    assert viewer.scene.camera.zoom > zoom and viewer.dims.current_step[0] == step - 1


def test_orientation_letters_and_scale_bar_then_napari_back(qtbot, reading):
    viewer = reading
    overlays = viewer.canvas.overlays
    letters = {o.position: o.text for k, o in overlays.items() if k.startswith("uspio_orient")}
    assert letters == {"top_center": "A", "bottom_center": "P", "middle_left": "R",
                       "middle_right": "L"}  # fmt: skip
    assert overlays["scale_bar"].visible and viewer.layers["flair"].units[-1] == "millimeter"
    desk_for(viewer).unbind()
    assert not any(o.visible for k, o in overlays.items() if k.startswith("uspio_orient"))
    assert viewer.scene.camera.mouse_zoom and viewer.mouse_wheel_callbacks


def test_pre_post_pairs_keep_one_window_whatever_changes(qtbot, reading):
    viewer = reading
    pre, post = viewer.layers["t1_pre_gd"], viewer.layers["t1_post_gd"]
    for window in [(100.0, 900.0), (250.0, 700.0), (10.0, 1500.0)]:
        post.contrast_limits = window
        assert tuple(pre.contrast_limits) == pytest.approx(window)
    pre.contrast_limits = (300.0, 1100.0)
    assert tuple(post.contrast_limits) == pytest.approx((300.0, 1100.0))
    assert tuple(viewer.layers["t1_pre_uspio"].contrast_limits) != pytest.approx((300, 1100))


def test_wl_drag_mode_changes_the_window_and_never_paints(qtbot, reading):
    viewer = reading
    desk, lesions = desk_for(viewer), viewer.layers["lesions"]
    flair = viewer.layers["flair"]
    painted = np.asarray(lesions.data).copy()
    low, high = flair.contrast_limits
    desk.press("I")
    assert desk.window_level.active and lesions.mode == "pan_zoom"
    canvas = _canvas(viewer)
    start = QPoint(canvas.width() // 2, canvas.height() // 2)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 6):  # to the right (wider) and down (lower level)
        QTest.mouseMove(canvas, start + QPoint(30 * k, 10 * k))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       start + QPoint(150, 50))  # fmt: skip
    new_low, new_high = flair.contrast_limits
    assert new_high - new_low > 1.1 * (high - low)
    assert (new_low + new_high) / 2 < (low + high) / 2
    assert np.array_equal(lesions.data, painted)
    assert canvas_text(viewer).text("window").startswith("flair: W ")
    desk.press("I")
    assert not desk.window_level.active and lesions.mode == "paint"


def test_presets_cycle_and_cursor_shows_every_visible_map(qtbot, reading):
    viewer = reading
    desk, qsm = desk_for(viewer), viewer.layers["qsm"]
    for layer in viewer.layers:
        layer.visible = layer.name in ("flair", "qsm", "lesions")
    presets = window_presets("qsm", np.asarray(qsm.data))
    desk.press("Shift+I")
    assert tuple(qsm.contrast_limits) == pytest.approx(presets[1][1])  # the top visible map
    assert "qsm: narrow" in desk.message
    canvas = _canvas(viewer)
    QTest.mouseMove(canvas, QPoint(canvas.width() // 2, canvas.height() // 2))
    QTest.mouseMove(canvas, QPoint(canvas.width() // 2 + 3, canvas.height() // 2))
    readout = canvas_text(viewer).text("cursor")
    assert "flair " in readout and "qsm " in readout and "t1_post_gd" not in readout
