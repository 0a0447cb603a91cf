"""The delineation tools in a reading session: keys on the canvas, clicks and drags."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)
from qtpy.QtCore import Qt

from napari_uspio._napari.desk import desk_for
from napari_uspio._napari.reading_session import ReadingSession
from napari_uspio._widgets.ratings_widget import RatingsWidget
from napari_uspio.core.lesions.delineate import interpolate_slices
from napari_uspio.core.study.manifest import init_study
from napari_uspio.core.study.session import StudySession
from napari_uspio.core.volume import LabelMap

MOUSE = {"press": mouse_press_callbacks, "move": mouse_move_callbacks}


def _mouse(viewer, kind: str, position, modifiers=()) -> None:
    """A left-button mouse event at a world position, as napari's canvas sends it."""
    event = SimpleNamespace(
        type=f"mouse_{kind}",
        position=tuple(float(c) for c in position),
        button=1,
        modifiers=list(modifiers),
        pos=np.zeros(2),
        is_dragging=kind == "move",
        handled=False,
        native=None,
    )
    run = MOUSE.get(kind, mouse_release_callbacks)
    run(viewer, ReadOnlyWrapper(event, exceptions=("handled",)))


def _type(qtbot, viewer, key: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    canvas = viewer.window._qt_viewer.canvas.native
    code = getattr(Qt.Key, f"Key_{key}") if len(key) > 1 else Qt.Key(ord(key.upper()))
    qtbot.keyClick(canvas, code, modifier)


@pytest.fixture
def reading(make_napari_viewer, phantom_cases, tmp_path):
    """A reader's session on a phantom case, its true lesions at hand."""
    study = init_study(tmp_path / "study", phantom_cases(1, (128, 128, 24), 4), ["r1"], seed=2)
    viewer = make_napari_viewer(show=True)
    session = ReadingSession(StudySession(study.folder, "r1"))
    session.open_next(viewer)
    layer = viewer.layers["lesions"]
    case = layer.metadata["case"]
    truth = LabelMap.from_file(case.folder / "truth" / "lesions_truth.nii.gz", "lesions").data
    yield viewer, session, layer, truth
    session.sign_out(viewer)


def _centre_world(layer, mask) -> np.ndarray:
    voxels = np.argwhere(mask)
    centre = voxels[np.argmin(((voxels - voxels.mean(axis=0)) ** 2).sum(axis=1))]
    return np.asarray(layer.data_to_world(centre))


def _journaled(session) -> int:
    return session.store.journal_size("r1", session.entry.code)[0]


def test_grow_a_lesion_by_key_and_click_accept_it_as_one_journaled_undo_step(reading, qtbot):
    viewer, session, layer, truth = reading
    desk = desk_for(viewer)
    panel = RatingsWidget(viewer)
    qtbot.addWidget(panel)
    _type(qtbot, viewer, "G", Qt.KeyboardModifier.ShiftModifier)
    assert desk.tools.tool == "grow" and "Grow: click" in desk.message
    strokes = _journaled(session)
    _mouse(viewer, "press", _centre_world(layer, truth == 1))
    _mouse(viewer, "release", _centre_world(layer, truth == 1))
    preview = np.asarray(layer.data) == 1
    assert preview.any() and "Enter accepts" in desk.message
    assert panel.message.text() == desk.message  # a click's message reaches the panel too
    assert 1 not in session.binding.model.ids and _journaled(session) == strokes  # not yet
    _type(qtbot, viewer, ".")  # a higher threshold: a smaller lesion
    higher = np.asarray(layer.data) == 1
    assert higher.sum() <= preview.sum() and desk.tools.level > 0.5
    _type(qtbot, viewer, ",")
    _type(qtbot, viewer, "Return")
    grown = np.asarray(layer.data) == 1
    assert np.array_equal(grown, preview)
    assert _journaled(session) == strokes + 1 and 1 in session.binding.model.ids
    dice = 2 * (grown & (truth == 1)).sum() / (grown.sum() + (truth == 1).sum())
    assert dice >= 0.8
    assert "grown" in desk.message and int(layer.selected_label) == 1
    _type(qtbot, viewer, "Z", Qt.KeyboardModifier.ControlModifier)
    assert not (np.asarray(layer.data) == 1).any()  # one undo step takes it all back


def test_a_preview_cancelled_or_left_leaves_nothing(reading, qtbot):
    viewer, session, layer, truth = reading
    desk = desk_for(viewer)
    before = np.array(layer.data, copy=True)
    desk.press("Shift+G")
    _mouse(viewer, "press", _centre_world(layer, truth == 2))
    assert (np.asarray(layer.data) != before).any()
    _type(qtbot, viewer, "Escape")
    np.testing.assert_array_equal(layer.data, before)
    _mouse(viewer, "press", _centre_world(layer, truth == 2))
    desk.press("N")  # any other key of the desk cancels the preview first
    np.testing.assert_array_equal(layer.data, before)
    _mouse(viewer, "press", _centre_world(layer, truth == 2))
    code = session.entry.code
    session.lock_done(viewer)  # leaving the case: the preview is not saved
    stored = session.store.labels("r1", code, before.shape, before.dtype)
    np.testing.assert_array_equal(stored, before)


def test_grow_is_refused_where_it_cannot_work(reading):
    viewer, _, layer, truth = reading
    desk = desk_for(viewer)
    desk.press("Shift+G")
    background = np.argwhere(truth == 0)[0]  # a corner, outside the brain
    _mouse(viewer, "press", layer.data_to_world(background))
    assert "does not stand out" in desk.message or "outside the white matter" in desk.message
    assert not np.asarray(layer.data).any()
    desk.tools.grow_role = "t2star_missing"  # a role the case does not have
    _mouse(viewer, "press", _centre_world(layer, truth == 1))
    assert "no t2star_missing to grow on" in desk.message and not np.asarray(layer.data).any()
    desk.tools.grow_role = "t1_pre_gd"  # lesions do not stand out on T1 before contrast
    _mouse(viewer, "press", _centre_world(layer, truth == 1))
    assert "does not stand out" in desk.message and not np.asarray(layer.data).any()


def test_grow_in_the_compare_layout_shows_on_every_panel(reading):
    viewer, _, layer, truth = reading
    desk = desk_for(viewer)
    desk.press("Y")
    desk.press("Shift+G")
    _mouse(viewer, "press", _centre_world(layer, truth == 3))
    label = desk.tools.grown.stroke.label
    for mirror in desk.compare.mirrors:  # each panel draws the preview: the same array
        assert np.shares_memory(mirror.data, layer.data)
    desk.press("Enter")
    assert label in desk.binding.model.ids and desk.compare.active


def test_fill_between_slices_by_key_is_one_journaled_step(reading, qtbot):
    viewer, session, layer, _ = reading
    spacing = np.abs(np.asarray(layer.scale))
    z, y, x = np.ogrid[: layer.data.shape[0], : layer.data.shape[1], : layer.data.shape[2]]
    outlined = np.zeros(layer.data.shape, bool)
    outlined[4] = ((y - 30) ** 2 + (x - 30) ** 2 <= 36)[0]  # a reader's outlines, 6 slices apart
    outlined[10] = ((y - 33) ** 2 + (x - 31) ** 2 <= 100)[0]
    layer.data_setitem(np.nonzero(outlined), 9)
    layer.selected_label = 9
    expected = interpolate_slices(np.asarray(layer.data), 9, tuple(spacing))
    strokes = _journaled(session)
    _type(qtbot, viewer, "L", Qt.KeyboardModifier.ShiftModifier)
    filled = np.asarray(layer.data) == 9
    assert set(np.unique(np.nonzero(filled)[0])) == set(range(4, 11))
    assert np.array_equal(np.argwhere(filled & ~outlined), np.transpose(expected.indices))
    areas = filled.sum(axis=(1, 2))[4:11]
    assert np.all(np.diff(areas) >= 0)  # the fill grows from the small outline to the large
    assert _journaled(session) == strokes + 1 and "slices filled" in desk_for(viewer).message
    desk_for(viewer).undo()
    assert np.array_equal(np.asarray(layer.data) == 9, outlined)


def test_the_3d_brush_paints_a_ball_in_mm_in_one_undo_step(reading, qtbot):
    viewer, session, layer, _ = reading
    desk = desk_for(viewer)
    layer.mode = "paint"
    _type(qtbot, viewer, "M", Qt.KeyboardModifier.ShiftModifier)
    assert desk.tools.tool == "brush3d" and layer.mode == "pan_zoom"
    layer.brush_size = 8.0  # mm across
    layer.selected_label = 7
    start = np.asarray(layer.data_to_world((12, 60, 60)))
    strokes = _journaled(session)
    _mouse(viewer, "press", start)
    _mouse(viewer, "move", start + (0, 0, 3.0))
    _mouse(viewer, "release", start + (0, 0, 3.0))
    painted = np.asarray(layer.data) == 7
    voxel_mm3 = float(np.prod(np.abs(layer.scale)))
    one_ball = 4 / 3 * np.pi * 4.0**3
    assert one_ball < painted.sum() * voxel_mm3 < 2 * one_ball  # two overlapping balls
    assert _journaled(session) == strokes + 1 and 7 in session.binding.model.ids
    _mouse(viewer, "press", start, modifiers=["Alt"])  # Alt + drag erases
    _mouse(viewer, "release", start, modifiers=["Alt"])
    assert (np.asarray(layer.data) == 7).sum() < painted.sum()
    desk.undo()
    desk.undo()
    assert not (np.asarray(layer.data) == 7).any()
    desk.press("Shift+M")
    assert desk.tools.tool is None and layer.mode == "paint"  # the reader's mode is back
