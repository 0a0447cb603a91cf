"""The Lesions dock widget in a real viewer, on a small phantom case.

Edits go through napari's own paths (mouse callbacks, ``data_setitem``, undo) and
the widget's buttons; the live table is checked against the layer's voxels and
against a full recompute of the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from napari.layers import Labels
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)
from qtpy.QtCore import Qt

from napari_uspio import load_case, make_phantom
from napari_uspio._napari.bindings import binding_for
from napari_uspio._napari.open_case import add_case
from napari_uspio._napari.overlays import SHELL_LAYER
from napari_uspio._widgets.lesions_widget import LesionsWidget
from napari_uspio.core.case import find_case_files

SHAPE_XYZ = (96, 96, 20)
SHAPE = SHAPE_XYZ[::-1]  # (z, y, x)
LEFT = Qt.MouseButton.LeftButton


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    return make_phantom(tmp_path_factory.mktemp("small") / "case", seed=0, shape_xyz=SHAPE_XYZ)


@pytest.fixture(scope="module")
def empty_case(small_dir):
    """The small phantom without a lesion map: the lesions layer opens empty."""
    return load_case(small_dir)


@pytest.fixture(scope="module")
def truth_case(small_dir):
    """The small phantom with its ground-truth lesions (ids 1..18) as the lesion map."""
    files = find_case_files(small_dir)
    files["lesions"] = small_dir / "truth" / "lesions_truth.nii.gz"
    return load_case(files)


def _open(make_napari_viewer, case, widget_first=False):
    viewer = make_napari_viewer()
    if widget_first:
        _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Lesions")
        add_case(viewer, case)
    else:
        add_case(viewer, case)
        _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Lesions")
    assert isinstance(widget, LesionsWidget)
    return viewer, viewer.layers["lesions"], widget


@pytest.fixture
def truth_view(make_napari_viewer, truth_case, qtbot):
    return _open(make_napari_viewer, truth_case)


@pytest.fixture
def empty_view(make_napari_viewer, empty_case, qtbot):
    return _open(make_napari_viewer, empty_case)


# ------------------------------------------------------------------------------ helpers
def table_ids(widget) -> list[int]:
    """Lesion ids shown in the widget's table, in row order."""
    rows = range(widget.table.rowCount())
    return [int(widget.table.item(r, 0).number) for r in rows if widget.table.item(r, 0)]


def widget_cell(widget, lesion_id: int, column: str) -> float:
    widget.all_columns.setChecked(True)  # every column, named as in the CSV
    headers = [
        widget.table.horizontalHeaderItem(c).text() for c in range(widget.table.columnCount())
    ]
    col = headers.index(column)
    for r in range(widget.table.rowCount()):
        if int(widget.table.item(r, 0).number) == lesion_id:
            return widget.table.item(r, col).number
    raise KeyError(lesion_id)


def features_table(layer) -> pd.DataFrame:
    table = layer.features.set_index("index")
    table.index.name = "lesion"
    return table


def check_consistent(layer):
    """Live table == full recompute == layer.features; model labels == layer data."""
    model = binding_for(layer).model
    assert np.array_equal(model.labels, layer.data)
    table = model.table()
    pd.testing.assert_frame_equal(table, model.full_recompute_table(), rtol=1e-9)
    pd.testing.assert_frame_equal(
        features_table(layer)[table.columns], table, check_exact=False, rtol=1e-12
    )
    counts = np.bincount(np.asarray(layer.data).ravel().astype(np.int64))
    ids = np.flatnonzero(counts)
    ids = ids[ids > 0]
    assert table.index.tolist() == ids.tolist()
    assert table["voxels"].tolist() == counts[ids].tolist()
    return table


def world_box(layer, lesion_id):
    """(lo, hi) world corners (z, y, x) of a lesion's voxel centres."""
    at = np.argwhere(np.asarray(layer.data) == lesion_id)
    assert at.size
    a = np.asarray(layer.data_to_world(at.min(axis=0)))
    b = np.asarray(layer.data_to_world(at.max(axis=0)))
    return np.minimum(a, b), np.maximum(a, b)


def select_row(qtbot, widget, lesion_id):
    """Click the table row of ``lesion_id``."""
    row = table_ids(widget).index(lesion_id)
    item = widget.table.item(row, 1)
    widget.table.scrollToItem(item)
    rect = widget.table.visualItemRect(item)
    qtbot.mouseClick(widget.table.viewport(), LEFT, pos=rect.center())


# -------------------------------------------------------------------------------- tests
@pytest.mark.parametrize(
    "widget_first", [False, True], ids=["case-then-widget", "widget-then-case"]
)
def test_open_case_gives_bound_lesions_layer(make_napari_viewer, truth_case, qtbot, widget_first):
    viewer, layer, widget = _open(make_napari_viewer, truth_case, widget_first)
    assert isinstance(layer, Labels)
    assert layer.data.shape == SHAPE
    images = [lay for lay in viewer.layers if lay.metadata.get("role") not in ("lesions",)]
    assert len(images) >= 12
    for image in images:
        np.testing.assert_array_equal(layer.scale, image.scale)
        np.testing.assert_array_equal(layer.translate, image.translate)
    np.testing.assert_allclose(layer.scale, (3.0, 1.0, 1.0))
    binding = binding_for(layer)
    assert binding is not None
    assert widget.layer is layer and widget.binding is binding
    assert widget.layer_box.currentText() == "lesions"
    items = [widget.layer_box.itemText(i) for i in range(widget.layer_box.count())]
    assert items == ["lesions"]  # the wm_mask Labels layer is not offered
    # the truth lesions are measured and shown
    truth = np.bincount(np.asarray(layer.data).ravel())
    table = check_consistent(layer)
    assert table.index.tolist() == list(range(1, 19))
    assert table["voxels"].tolist() == truth[1:19].tolist()
    qtbot.waitUntil(lambda: sorted(table_ids(widget)) == list(range(1, 19)))
    assert widget_cell(widget, 7, "voxels") == truth[7]


def test_mouse_drag_paints_a_lesion_into_the_table(empty_view, qtbot, MouseEvent):
    viewer, layer, widget = empty_view
    model = binding_for(layer).model
    assert model.table().empty and widget.table.rowCount() == 0
    paints = []
    layer.events.paint.connect(lambda event: paints.append(event))
    layer.mode = "paint"
    layer.selected_label = 5
    layer.brush_size = 5
    z = float(viewer.dims.point[0])
    z_index = int(np.round(layer.world_to_data((z, 0.0, 0.0))[0]))
    assert z_index == SHAPE[0] // 2  # the case opens on its middle slice
    start, end = (z, -6.0, -10.0), (z, 4.0, 12.0)

    def event(kind, position, dragging):
        return ReadOnlyWrapper(
            MouseEvent(
                type=kind,
                is_dragging=dragging,
                position=position,
                view_direction=None,
                dims_displayed=(1, 2),
                dims_point=tuple(viewer.dims.point),
            )
        )

    mouse_press_callbacks(layer, event("mouse_press", start, False))
    mouse_move_callbacks(layer, event("mouse_move", (z, -1.0, 1.0), True))
    mouse_move_callbacks(layer, event("mouse_move", end, True))
    mouse_release_callbacks(layer, event("mouse_release", end, False))

    # one stroke, one committed paint event; checked once, after the release
    assert len(paints) == 1
    painted = np.asarray(layer.data) == 5
    n = int(np.count_nonzero(painted))
    assert n > 20
    assert set(np.nonzero(painted)[0].tolist()) == {z_index}  # only the slice shown
    for position in (start, end):
        assert layer.data[tuple(np.round(layer.world_to_data(position)).astype(int))] == 5
    features = layer.features
    row = features[features["index"] == 5]
    assert len(row) == 1 and int(row["voxels"].iloc[0]) == n
    assert row["volume_mm3"].iloc[0] == pytest.approx(3.0 * n)
    pd.testing.assert_frame_equal(model.table(), model.full_recompute_table(), rtol=1e-9)
    check_consistent(layer)
    qtbot.waitUntil(lambda: table_ids(widget) == [5])
    assert widget_cell(widget, 5, "voxels") == n
    assert "Lesion 5" in widget.summary.text()


def test_selecting_a_row_selects_and_centres_the_lesion(truth_view, qtbot):
    viewer, layer, widget = truth_view
    qtbot.waitUntil(lambda: len(table_ids(widget)) == 18)
    model = binding_for(layer).model
    # the lesion farthest (in z) from the slice shown
    table = model.table()
    lesion_id = int((table["z_mm"] - viewer.dims.point[0]).abs().idxmax())
    lo, hi = world_box(layer, lesion_id)
    assert not lo[0] <= viewer.dims.point[0] <= hi[0]
    select_row(qtbot, widget, lesion_id)
    assert layer.selected_label == lesion_id
    assert lo[0] <= viewer.dims.point[0] <= hi[0]
    centre = np.asarray(viewer.scene.camera.center, dtype=float)
    assert len(centre) == 3
    assert np.all(lo - 1e-9 <= centre) and np.all(centre <= hi + 1e-9), (lo, centre, hi)
    # the slice shown holds the lesion
    z_index = int(np.round(layer.world_to_data(viewer.dims.point)[0]))
    assert np.any(np.asarray(layer.data[z_index]) == lesion_id)
    # the row stays selected
    rows = widget.table.selectionModel().selectedRows()
    assert [int(widget.table.item(r.row(), 0).number) for r in rows] == [lesion_id]


def test_new_lesion_button_selects_next_free_id_and_paint(truth_view, qtbot):
    viewer, layer, widget = truth_view
    model = binding_for(layer).model
    layer.mode = "pan_zoom"
    viewer.layers.selection.active = viewer.layers["flair"]
    qtbot.mouseClick(widget.new_button, LEFT)
    assert model.next_free_id() == 19
    assert layer.selected_label == 19
    assert layer.mode == "paint"
    assert viewer.layers.selection.active is layer
    assert "Lesion 19" in widget.summary.text() and "not painted" in widget.summary.text()


def test_delete_button_and_undo(truth_view, qtbot):
    viewer, layer, widget = truth_view
    qtbot.waitUntil(lambda: len(table_ids(widget)) == 18)
    lesion_id = 3
    before = np.argwhere(np.asarray(layer.data) == lesion_id)
    assert len(before) > 0
    widget.select_lesion(lesion_id)
    qtbot.mouseClick(widget.delete_button, LEFT)
    assert not np.any(np.asarray(layer.data) == lesion_id)
    assert lesion_id not in layer.features["index"].tolist()
    table = check_consistent(layer)
    assert len(table) == 17
    qtbot.waitUntil(lambda: lesion_id not in table_ids(widget) and len(table_ids(widget)) == 17)

    layer.undo()
    after = np.argwhere(np.asarray(layer.data) == lesion_id)
    np.testing.assert_array_equal(after, before)
    features = layer.features
    assert int(features.loc[features["index"] == lesion_id, "voxels"].iloc[0]) == len(before)
    check_consistent(layer)
    qtbot.waitUntil(lambda: lesion_id in table_ids(widget))
    assert widget_cell(widget, lesion_id, "voxels") == len(before)


def test_merge_button_and_undo(truth_view, qtbot):
    viewer, layer, widget = truth_view
    qtbot.waitUntil(lambda: len(table_ids(widget)) == 18)
    a, b = 2, 1
    data = np.asarray(layer.data)
    voxels_a, voxels_b = int(np.sum(data == a)), int(np.sum(data == b))
    where_a = np.argwhere(data == a)
    widget.select_lesion(a)
    widget.merge_target.setValue(b)
    qtbot.mouseClick(widget.merge_button, LEFT)
    assert not np.any(np.asarray(layer.data) == a)
    features = layer.features
    assert a not in features["index"].tolist()
    assert int(features.loc[features["index"] == b, "voxels"].iloc[0]) == voxels_a + voxels_b
    assert layer.selected_label == b
    check_consistent(layer)
    qtbot.waitUntil(lambda: a not in table_ids(widget))
    assert widget_cell(widget, b, "voxels") == voxels_a + voxels_b

    layer.undo()
    np.testing.assert_array_equal(np.argwhere(np.asarray(layer.data) == a), where_a)
    table = check_consistent(layer)
    assert table.loc[a, "voxels"] == voxels_a and table.loc[b, "voxels"] == voxels_b
    qtbot.waitUntil(
        lambda: a in table_ids(widget) and widget_cell(widget, b, "voxels") == voxels_b
    )


def test_shell_overlay(truth_view, qtbot):
    viewer, layer, widget = truth_view
    model = binding_for(layer).model
    lesion_id = 7
    widget.select_lesion(lesion_id)
    assert SHELL_LAYER not in viewer.layers
    widget.shell_check.setChecked(True)
    assert SHELL_LAYER in viewer.layers
    shell = viewer.layers[SHELL_LAYER]
    assert shell.visible
    box, mask = model.shell_mask(lesion_id)
    assert mask.any()
    np.testing.assert_array_equal(np.asarray(shell.data) != 0, mask)
    assert np.asarray(shell.data).max() == 1
    np.testing.assert_allclose(shell.scale, layer.scale)
    start = [s.start for s in box]
    np.testing.assert_allclose(shell.data_to_world((0, 0, 0)), layer.data_to_world(start))
    # the shell hugs the lesion: it lies around the lesion's voxels, never on them
    full = np.zeros(SHAPE, bool)
    full[box] = mask
    assert not np.any(full & (np.asarray(layer.data) != 0))
    # the lesions layer stays the one painted on
    assert viewer.layers.selection.active is layer
    # it follows the selected lesion
    other = 1
    widget.select_lesion(other)
    box, mask = model.shell_mask(other)
    np.testing.assert_array_equal(np.asarray(shell.data) != 0, mask)
    np.testing.assert_allclose(
        shell.data_to_world((0, 0, 0)), layer.data_to_world([s.start for s in box])
    )
    assert shell.visible
    widget.shell_check.setChecked(False)
    assert not viewer.layers[SHELL_LAYER].visible


def test_shell_width_recomputes_nawm(truth_view, qtbot):
    viewer, layer, widget = truth_view
    model = binding_for(layer).model
    assert model.shell_width_mm == 3.0 and widget.shell_width.value() == 3.0
    before = model.table()["qsm_nawm_ppb"].copy()
    widget.shell_width.setValue(5.0)
    widget.shell_width.editingFinished.emit()
    assert model.shell_width_mm == 5.0
    after = model.table()["qsm_nawm_ppb"]
    assert (after != before).sum() >= 10
    check_consistent(layer)
    pd.testing.assert_series_equal(
        features_table(layer)["qsm_nawm_ppb"], after, check_exact=False, rtol=1e-12
    )
    qtbot.waitUntil(
        lambda: widget_cell(widget, 1, "qsm_nawm_ppb") == pytest.approx(after[1], rel=1e-6)
    )
    assert after[1] != pytest.approx(before[1], rel=1e-6)


def test_summary_shows_selected_lesion(truth_view, qtbot):
    viewer, layer, widget = truth_view
    model = binding_for(layer).model
    for lesion_id in (4, 11):
        layer.selected_label = lesion_id
        text = widget.summary.text()
        volume = model.table().loc[lesion_id, "volume_mm3"]
        assert f"<b>Lesion {lesion_id}</b>" in text
        assert f"volume <b>{volume:.0f} mm³</b>" in text
        assert volume == pytest.approx(
            3.0 * np.sum(np.asarray(layer.data) == lesion_id), rel=1e-12
        )
        mtr = model.table().loc[lesion_id, "mtr_mean"]
        assert f"MTR <b>{mtr:.3f}</b>" in text


def test_second_labels_layer_can_be_chosen_and_bound(truth_view, qtbot):
    viewer, layer, widget = truth_view
    second = viewer.add_labels(
        np.zeros(SHAPE, np.uint16), name="second", scale=layer.scale, translate=layer.translate
    )
    items = [widget.layer_box.itemText(i) for i in range(widget.layer_box.count())]
    assert items == ["lesions", "second"]
    assert widget.layer is layer  # adding a layer does not steal the widget
    assert binding_for(second) is None
    widget.layer_box.setCurrentText("second")
    binding = binding_for(second)
    assert binding is not None
    assert widget.layer is second and widget.binding is binding
    assert binding.model.table().empty
    qtbot.waitUntil(lambda: widget.table.rowCount() == 0)
    # paint a lesion into it: features appear there, the first layer is untouched
    second.selected_label = 7
    second.brush_size = 3
    z = int(SHAPE[0] // 2)
    second.paint((z, 40, 50), 7)
    n = int(np.sum(np.asarray(second.data) == 7))
    assert n > 0
    features = second.features
    assert features["index"].tolist() == [7]
    assert int(features["voxels"].iloc[0]) == n
    check_consistent(second)
    check_consistent(layer)
    assert binding_for(layer).model.table().index.tolist() == list(range(1, 19))
    qtbot.waitUntil(lambda: table_ids(widget) == [7])
    # and back
    widget.layer_box.setCurrentText("lesions")
    assert widget.layer is layer
    qtbot.waitUntil(lambda: len(table_ids(widget)) == 18)


def test_delete_on_a_layer_without_case_does_not_raise(make_napari_viewer, qtbot):
    """A Labels layer that is on no case: the widget says so, its buttons do nothing."""
    viewer = make_napari_viewer()
    plain = viewer.add_labels(np.zeros((4, 8, 8), np.uint8), name="plain")
    plain.data_setitem((np.array([1]), np.array([2]), np.array([3])), 2)
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Lesions")
    assert widget.layer is plain and widget.binding is None
    assert "not on an open case" in widget.summary.text()
    plain.selected_label = 2
    qtbot.mouseClick(widget.new_button, LEFT)
    qtbot.mouseClick(widget.merge_button, LEFT)
    qtbot.mouseClick(widget.delete_button, LEFT)
    assert plain.data[1, 2, 3] == 2


def test_clicking_the_row_of_the_selected_label_centres_the_view(truth_view, qtbot):
    """The row of the label already selected (napari selects label 1 on open) centres too.

    The row is highlighted from the start, so a click on it changes no selection and
    ``itemSelectionChanged`` (the only signal the widget listens to) never fires.
    """
    viewer, layer, widget = truth_view
    lesion_id = int(layer.selected_label)
    assert lesion_id == 1 and lesion_id in table_ids(widget)
    rows = widget.table.selectionModel().selectedRows()
    assert [int(widget.table.item(r.row(), 0).number) for r in rows] == [lesion_id]
    lo, hi = world_box(layer, lesion_id)
    # the reader has looked elsewhere: another slice, another place
    viewer.dims.set_point(0, float(hi[0] + 9.0))
    viewer.scene.camera.center = (float(hi[0] + 9.0), float(hi[1] + 30.0), float(hi[2] + 30.0))
    select_row(qtbot, widget, lesion_id)
    assert lo[0] <= viewer.dims.point[0] <= hi[0]
    centre = np.asarray(viewer.scene.camera.center, dtype=float)
    assert np.all(lo[1:] <= centre[1:]) and np.all(centre[1:] <= hi[1:]), (lo, centre, hi)


def test_sorted_table_row_click_selects_that_lesion(truth_view, qtbot):
    viewer, layer, widget = truth_view
    model = binding_for(layer).model
    headers = [
        widget.table.horizontalHeaderItem(c).text() for c in range(widget.table.columnCount())
    ]
    # the compact table by default: the spec's short labels, each with its definition
    assert headers[:3] == ["lesion", "lesion_class", "volume"]
    assert "voxels x voxel volume" in widget.table.horizontalHeaderItem(2).toolTip()
    gd = headers.index("Gd enh.")
    assert "Depends on the outline" in widget.table.horizontalHeaderItem(gd).toolTip()
    assert widget.table.height() >= 9 * widget.table.verticalHeader().defaultSectionSize()
    widget.all_columns.setChecked(True)
    headers = [
        widget.table.horizontalHeaderItem(c).text() for c in range(widget.table.columnCount())
    ]
    widget.table.sortItems(headers.index("voxels"), Qt.SortOrder.DescendingOrder)
    voxels = model.table()["voxels"]
    shown = [voxels[i] for i in table_ids(widget)]
    assert shown == sorted(shown, reverse=True)
    largest = table_ids(widget)[0]
    assert voxels[largest] == voxels.max()
    select_row(qtbot, widget, largest)
    assert layer.selected_label == largest


def test_widget_follows_a_case_opened_after_a_plain_labels_layer(
    make_napari_viewer, truth_case, qtbot
):
    """Opened on a plain Labels layer, the widget says "open a case first"; once the
    case is open it must measure (attach to) the case's bound lesions layer."""
    viewer = make_napari_viewer()
    viewer.add_labels(np.zeros((4, 8, 8), np.uint8), name="plain")
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Lesions")
    assert widget.binding is None
    assert "open a case first" in widget.summary.text()
    add_case(viewer, truth_case)
    lesions = viewer.layers["lesions"]
    assert binding_for(lesions) is not None
    assert "open a case first" not in widget.summary.text()
    assert widget.layer is lesions and widget.binding is binding_for(lesions)
    qtbot.waitUntil(lambda: len(table_ids(widget)) == 18)


def test_removing_the_lesions_layer_clears_summary_and_shell(truth_view, qtbot):
    viewer, layer, widget = truth_view
    widget.select_lesion(3)
    widget.shell_check.setChecked(True)
    assert viewer.layers[SHELL_LAYER].visible
    assert "Lesion 3" in widget.summary.text()
    viewer.layers.remove(layer)
    assert widget.layer is None and widget.binding is None
    assert widget.table.rowCount() == 0
    # nothing left describes or outlines a lesion of the removed layer
    assert "Lesion 3" not in widget.summary.text()
    assert SHELL_LAYER not in viewer.layers or not viewer.layers[SHELL_LAYER].visible
