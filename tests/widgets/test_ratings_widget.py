"""The Ratings widget driven by keyboard in a real viewer; export, close, reopen, continue."""

from __future__ import annotations

import pandas as pd
import pytest
from qtpy.QtCore import Qt

from napari_uspio import load_case, make_phantom, phantom_truth
from napari_uspio._napari.bindings import binding_for
from napari_uspio._napari.open_case import add_case
from napari_uspio._widgets.ratings_widget import NEXT_KEY
from napari_uspio.core.fields import RATINGS
from napari_uspio.core.volume import LabelMap

KEYS = {(field.name, choice.value): choice.key for field in RATINGS for choice in field.choices}


@pytest.fixture(scope="module")
def small_case(tmp_path_factory):
    folder = make_phantom(
        tmp_path_factory.mktemp("rate") / "case01", seed=1, shape_xyz=(96, 96, 20)
    )
    return folder


def _open(make_napari_viewer, folder, truth=True):
    viewer = make_napari_viewer()
    case = load_case(folder)
    add_case(viewer, case)
    layer = viewer.layers["lesions"]
    if truth:
        layer.data = LabelMap.from_file(folder / "truth" / "lesions_truth.nii.gz", "lesions").data
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Ratings")
    widget.setFocus()
    return viewer, layer, widget


def _press(qtbot, widget, key: str):
    qtbot.keyClicks(widget, key.lower())


def _rate_by_keyboard(qtbot, widget, truth_row):
    for field in ("gd", "uspio", "qsm_rim", "central_vein"):
        _press(qtbot, widget, KEYS[(field, truth_row[field])])
    if truth_row["overlap"] != "n/a":
        _press(qtbot, widget, KEYS[("overlap", truth_row["overlap"])])
    _press(qtbot, widget, KEYS[("confidence", "high")])


def test_shortcuts_rate_the_selected_lesion(make_napari_viewer, qtbot, small_case):
    viewer, layer, widget = _open(make_napari_viewer, small_case)
    layer.selected_label = 1
    _press(qtbot, widget, "W")  # Gd nodular
    _press(qtbot, widget, "S")  # USPIO ring
    row = layer.features.set_index("index").loc[1]
    assert (row["gd"], row["uspio"], row["lesion_class"]) == ("nodular", "ring", "USPIO+/Gd+")
    assert widget.buttons["gd"]["nodular"].isChecked()
    _press(qtbot, widget, "0")  # overlap n/a while both enhance: refused, with the reason
    assert "overlap" in widget.message.text() and binding_for(layer).ratings.get(1).overlap is None
    _press(qtbot, widget, KEYS[("overlap", "20-80%")])
    assert binding_for(layer).ratings.get(1).overlap == "20-80%"
    _press(qtbot, widget, "Q")  # Gd none under an overlap grade: refused
    assert "clear the overlap first" in widget.message.text()
    assert binding_for(layer).ratings.get(1).gd == "nodular"
    _press(qtbot, widget, KEYS[("overlap", "20-80%")])  # pressing a set choice again keeps it
    assert binding_for(layer).ratings.get(1).overlap == "20-80%"
    qtbot.keyClick(widget, Qt.Key.Key_Backspace)  # clearing is its own key (unrated != none)
    assert binding_for(layer).ratings.get(1).overlap is None
    assert "cleared" in widget.message.text()
    _press(qtbot, widget, "Q")
    assert binding_for(layer).ratings.get(1).gd == "none"
    assert "Lesion 1" in widget.title.text() and "USPIO+/Gd-" in widget.title.text()
    # the button texts show their keys, the progress counts rated lesions
    assert widget.buttons["uspio"]["iso"].text().endswith("[F]")
    assert widget.progress.text().startswith("rated 0 of ")


def test_next_unrated_walks_and_centres(make_napari_viewer, qtbot, small_case):
    viewer, layer, widget = _open(make_napari_viewer, small_case)
    layer.selected_label = 1
    _press(qtbot, widget, NEXT_KEY)
    assert layer.selected_label == 2
    world_z = viewer.dims.point[0]
    box = binding_for(layer).model.lesion_bbox(2)
    z0 = layer.data_to_world((box[0].start, 0, 0))[0]
    z1 = layer.data_to_world((box[0].stop - 1, 0, 0))[0]
    assert min(z0, z1) - 1e-6 <= world_z <= max(z0, z1) + 1e-6


def test_rate_export_close_reopen_continue(make_napari_viewer, qtbot, small_case, tmp_path):
    truth = phantom_truth(small_case).set_index("lesion")
    viewer, layer, widget = _open(make_napari_viewer, small_case)
    ids = binding_for(layer).model.ids.tolist()
    layer.selected_label = ids[0]
    for _ in ids[:-1]:  # rate all but the last by keyboard, walking with N
        _rate_by_keyboard(qtbot, widget, truth.loc[int(layer.selected_label)])
        _press(qtbot, widget, NEXT_KEY)
    assert widget.progress.text() == f"rated {len(ids) - 1} of {len(ids)}"
    widget.comment.setText('second look, "faint" ring')
    qtbot.keyClick(widget.comment, Qt.Key.Key_Return)
    widget.reading.reader.setText("r1")
    widget.reading.folder.setText(str(tmp_path))
    qtbot.mouseClick(widget.reading.export_button, Qt.MouseButton.LeftButton)
    lesions = pd.read_csv(tmp_path / "case01_r1_lesions.csv")
    assert lesions["lesion"].tolist() == ids
    assert lesions["lesion_class"].tolist()[:-1] == [
        truth.loc[i, "lesion_class"] for i in ids[:-1]
    ]
    assert pd.isna(lesions["lesion_class"].iloc[-1])  # the unrated lesion stays unrated
    summary = pd.read_csv(tmp_path / "case01_r1_summary.csv")
    assert summary.loc[0, "group"] == "UEL" and summary.loc[0, "reader"] == "r1"
    saved = binding_for(layer).table()
    # "close napari": a new viewer, the same case, reopen, continue with the last lesion
    viewer.close()
    viewer2, layer2, widget2 = _open(make_napari_viewer, small_case, truth=False)
    widget2.reading.reader.setText("r1")
    widget2.reading.folder.setText(str(tmp_path))
    qtbot.mouseClick(widget2.reading.reopen_button, Qt.MouseButton.LeftButton)
    reopened = binding_for(layer2).table()
    pd.testing.assert_frame_equal(reopened, saved, check_dtype=False)
    assert widget2.progress.text() == f"rated {len(ids) - 1} of {len(ids)}"
    layer2.selected_label = ids[0]
    _press(qtbot, widget2, NEXT_KEY)
    assert layer2.selected_label == ids[-1]  # continues with the one left unrated
    _rate_by_keyboard(qtbot, widget2, truth.loc[ids[-1]])
    assert widget2.progress.text() == f"rated {len(ids)} of {len(ids)}"
