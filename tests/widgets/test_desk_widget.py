"""The Reading desk dock: fits the screen, tabs, and its buttons drive the desk."""

from __future__ import annotations

from qtpy.QtCore import Qt

from napari_uspio import load_case
from napari_uspio._napari.desk import desk_for
from napari_uspio._napari.open_case import add_case
from napari_uspio._widgets.desk_widget import DeskWidget


def test_reading_desk_fits_1600_x_900_with_napari_panels(make_napari_viewer, qtbot, phantom_dir):
    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Reading desk")
    assert isinstance(widget, DeskWidget)
    add_case(viewer, load_case(phantom_dir))
    window = viewer.window._qt_window
    window.resize(1600, 900)
    qtbot.wait(100)
    hint = window.minimumSizeHint()
    assert hint.height() <= 900 and hint.width() <= 1600, hint
    assert [widget.tabs.tabText(i) for i in range(3)] == ["Ratings", "Lesions", "Session"]
    widget.tabs.setCurrentIndex(1)
    table = widget.lesions.table
    assert table.minimumHeight() >= 9 * table.verticalHeader().defaultSectionSize()


def test_bar_buttons_switch_compare_and_overlay(make_napari_viewer, qtbot, phantom_dir):
    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Reading desk")
    add_case(viewer, load_case(phantom_dir))
    desk = desk_for(viewer)
    assert widget.compare_button.text() == "Compare [Y]"
    qtbot.mouseClick(widget.compare_button, Qt.MouseButton.LeftButton)
    assert desk.compare.active and desk.compare.panels[:2] == ["t1_pre_gd", "t1_post_gd"]
    widget.panel_actions["flair"].setChecked(True)  # an extra panel, relaid at once
    assert desk.compare.panels[-1] == "flair" and len(desk.compare.panels) == 5
    qtbot.mouseClick(widget.compare_button, Qt.MouseButton.LeftButton)
    assert not desk.compare.active
    qtbot.mouseClick(widget.overlay_button, Qt.MouseButton.LeftButton)
    assert desk.overlay == "fill" and viewer.layers["lesions"].contour == 0
