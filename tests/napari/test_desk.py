"""The reading desk driven as a reader does: keys typed on the canvas, compare, overlay."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest

from napari_uspio import load_case
from napari_uspio._napari.bindings import binding_for
from napari_uspio._napari.canvas_text import canvas_text
from napari_uspio._napari.desk import BRUSH_MM, desk_for
from napari_uspio._napari.open_case import add_case
from napari_uspio._napari.reading_keys import reading_keys
from napari_uspio.core.fields import RATINGS
from napari_uspio.core.volume import LabelMap

KEYS = {(f.name, c.value): c.key for f in RATINGS for c in f.choices}


@pytest.fixture
def reading(make_napari_viewer, phantom_dir):
    """A viewer reading the phantom with its true lesions, as a reader finds it."""
    viewer = make_napari_viewer(show=True)
    add_case(viewer, load_case(phantom_dir))
    layer = viewer.layers["lesions"]
    layer.data = LabelMap.from_file(phantom_dir / "truth" / "lesions_truth.nii.gz", "lesions").data
    layer.selected_label = 1
    layer.mode = "paint"
    return viewer, layer


def _canvas(viewer):
    return viewer.window._qt_viewer.canvas.native


def _type(qtbot, viewer, key: str, modifier=Qt.KeyboardModifier.NoModifier):
    code = getattr(Qt.Key, f"Key_{key}") if len(key) > 1 else Qt.Key(ord(key.upper()))
    qtbot.keyClick(_canvas(viewer), code, modifier)


def _napari_state(viewer, layer):
    return (
        layer.mode,
        int(layer.selected_label),
        layer.preserve_labels,
        [lay.visible for lay in viewer.layers],
    )


def test_rating_keys_on_the_canvas_rate_and_change_nothing_of_napari(qtbot, reading):
    viewer, layer = reading
    before = _napari_state(viewer, layer)
    # E, F, V, B, Z, X, P are napari Labels / viewer shortcuts: here they rate
    for field, value in [
        ("gd", "shell"), ("uspio", "focal"), ("central_vein", "present"),
        ("qsm_rim", "present"), ("confidence", "medium"),
    ]:  # fmt: skip
        _type(qtbot, viewer, KEYS[(field, value)])
    _type(qtbot, viewer, KEYS[("overlap", "<20%")])
    rating = binding_for(layer).ratings.get(1)
    assert (rating.gd, rating.uspio, rating.central_vein, rating.confidence) == (
        "shell", "focal", "present", "medium",
    )  # fmt: skip
    assert rating.overlap == "<20%", desk_for(viewer).message
    assert _napari_state(viewer, layer) == before  # no mode, label or visibility changed
    assert "Lesion 1" in canvas_text(viewer).text("message")  # the key said what it set
    _type(qtbot, viewer, KEYS[("gd", "shell")])  # a second press sets again, never clears
    assert binding_for(layer).ratings.get(1).gd == "shell"


def test_clear_is_its_own_key_and_ratings_undo_with_strokes(qtbot, reading):
    viewer, layer = reading
    ratings = binding_for(layer).ratings
    _type(qtbot, viewer, KEYS[("gd", "nodular")])
    _type(qtbot, viewer, "Q", Qt.KeyboardModifier.ShiftModifier)  # Shift + a Gd key clears Gd
    assert ratings.get(1).gd is None
    _type(qtbot, viewer, KEYS[("uspio", "ring")])
    layer.paint((22, 40, 40), 1)  # a stroke between two rating changes
    painted = np.asarray(layer.data).copy()
    _type(qtbot, viewer, KEYS[("confidence", "low")])
    _type(qtbot, viewer, "Z", Qt.KeyboardModifier.ControlModifier)  # the rating
    assert ratings.get(1).confidence is None and ratings.get(1).uspio == "ring"
    assert np.array_equal(layer.data, painted)
    _type(qtbot, viewer, "Z", Qt.KeyboardModifier.ControlModifier)  # then the stroke
    assert not np.array_equal(layer.data, painted)
    _type(qtbot, viewer, "Z", Qt.KeyboardModifier.ControlModifier)  # then the USPIO rating
    assert ratings.get(1).uspio is None
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    for _ in range(3):
        _type(qtbot, viewer, "Z", redo)
    assert ratings.get(1).uspio == "ring" and ratings.get(1).confidence == "low"
    assert np.array_equal(layer.data, painted)


def test_next_unrated_and_new_lesion_from_the_canvas(qtbot, reading):
    viewer, layer = reading
    binding = binding_for(layer)
    _type(qtbot, viewer, "N")
    assert int(layer.selected_label) == 2
    box = binding.model.lesion_bbox(2)
    z = layer.world_to_data(viewer.dims.point)[0]
    assert box[0].start - 0.5 <= z <= box[0].stop - 0.5
    _type(qtbot, viewer, "M")
    assert int(layer.selected_label) == binding.ratings.next_free_id(binding.model.ids)
    assert layer.mode == "paint" and layer.brush_size == BRUSH_MM


def test_napari_keys_come_back_when_the_case_closes(qtbot, reading):
    viewer, layer = reading
    _type(qtbot, viewer, "E")  # while reading: Gd shell
    assert binding_for(layer).ratings.get(1).gd == "shell" and layer.mode == "paint"
    assert len(layer.keymap) == len(reading_keys())
    desk_for(viewer).unbind()
    assert not layer.keymap and not viewer.keymap
    _type(qtbot, viewer, "E")  # napari's own eraser key again
    assert layer.mode == "erase"


def test_overlay_outlines_by_default_cycles_and_selected_stands_out(qtbot, reading):
    viewer, layer = reading
    assert layer.contour == 1 and layer.opacity == 1.0 and layer.visible
    colours = layer.colormap.map(np.array([1, 2], dtype=layer.data.dtype))
    assert not np.allclose(colours[0], colours[1])  # selected (1) is not drawn like 2
    _type(qtbot, viewer, "O")
    assert layer.contour == 0 and layer.opacity < 0.5 and layer.visible
    _type(qtbot, viewer, "O")
    assert not layer.visible
    _type(qtbot, viewer, "O")
    assert layer.visible and layer.contour == 1


def test_flick_swaps_pre_and_post_in_place(qtbot, reading):
    viewer, layer = reading
    _type(qtbot, viewer, "G")
    shown = [lay.name for lay in viewer.layers if lay.visible and lay is not layer]
    assert shown == ["t1_post_gd"]
    assert "t1_post_gd" in canvas_text(viewer).text("series")
    _type(qtbot, viewer, "G")
    shown = [lay.name for lay in viewer.layers if lay.visible and lay is not layer]
    assert shown == ["t1_pre_gd"]


def test_compare_layout_paints_the_one_map_from_any_panel(qtbot, reading):
    viewer, layer = reading
    desk = desk_for(viewer)
    _type(qtbot, viewer, "Y")
    assert viewer.canvas.grid.enabled and desk.compare.panels == [
        "t1_pre_gd", "t1_post_gd", "t1_pre_uspio", "t1_post_uspio",
    ]  # fmt: skip
    tiles = {}
    for i, lay in enumerate(viewer.layers):
        if lay.visible:
            tiles.setdefault(viewer.canvas.grid.position(i, viewer.layers), []).append(lay.name)
    assert len(tiles) == 4 and all(len(names) == 2 for names in tiles.values())
    assert all(any(n.startswith("lesions") for n in names) for names in tiles.values())
    assert viewer.layers.selection.active is layer
    # paint with the mouse in the last panel (bottom right): the one lesions map changes
    new = binding_for(layer).ratings.next_free_id(binding_for(layer).model.ids)
    layer.selected_label = new
    qtbot.wait(200)
    canvas = _canvas(viewer)
    point = QPoint(int(canvas.width() * 0.75), int(canvas.height() * 0.75))
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    assert (np.asarray(layer.data) == new).sum() > 0
    assert all(np.shares_memory(m.data, layer.data) for m in desk.compare.mirrors)
    _type(qtbot, viewer, "Z", Qt.KeyboardModifier.ControlModifier)
    assert (np.asarray(layer.data) == new).sum() == 0, desk.message  # one undo history
    _type(qtbot, viewer, "Y")
    assert not viewer.canvas.grid.enabled
    assert viewer.layers[-1] is layer and not any(m.visible for m in desk.compare.mirrors)


def test_readme_lists_the_reading_keymap():
    from pathlib import Path

    from helpers import keymap_markdown

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert keymap_markdown() in readme, "README.md: paste this keymap:\n" + keymap_markdown()


def test_removing_the_lesions_layer_lets_the_desk_go_of_the_case(make_napari_viewer, phantom_dir):
    import gc
    import weakref

    viewer = make_napari_viewer(show=True)
    add_case(viewer, load_case(phantom_dir))
    desk = desk_for(viewer)
    case = weakref.ref(viewer.layers["lesions"].metadata["case"])
    desk.toggle_compare()  # the compare layout is undone too
    viewer.layers.remove(viewer.layers["lesions"])
    assert desk.binding is None and not viewer.canvas.grid.enabled
    assert desk.press(next(iter(KEYS.values()))) is False  # its keys are gone
    viewer.layers.clear()
    gc.collect()
    assert case() is None  # nothing of the viewer keeps the case's arrays alive
