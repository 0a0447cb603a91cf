"""The Reading desk dock: fits the screen, tabs, and its buttons drive the desk."""

from __future__ import annotations

import numpy as np
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


# ---------------------------------------------------------------- a study read by keys
PIN = "2468"
#: Two lesions' ratings as keys: Gd nodular, USPIO ring, overlap 20-80%, QSM rim present,
#: central vein absent, confidence medium; then Gd none, USPIO none, rim absent, vein absent,
#: confidence high (no overlap: neither enhances).
RATING_KEYS = (("W", "S", "8", "R", "B", "X"), ("Q", "A", "T", "B", "C"))


def _type(qtbot, viewer, key: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    code = Qt.Key(ord(key)) if key.isdigit() else Qt.Key(ord(key.upper()))
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, code, modifier)


def _paint_at(qtbot, viewer, x: float, y: float) -> None:
    """A click with the brush at a fraction (x, y) of the canvas, as a reader paints."""
    from qtpy.QtCore import QPoint
    from qtpy.QtTest import QTest

    canvas = viewer.window._qt_viewer.canvas.native
    point = QPoint(int(canvas.width() * x), int(canvas.height() * y))
    qtbot.wait(50)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)


def _confirm(qtbot, widget, answer: str) -> str:
    """Answer the *Mark case done* question; return its text."""
    box = widget.confirm_box
    assert box is not None and box.isVisible()
    text = box.text()
    button = next(b for b in box.buttons() if b.text() == answer)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.confirm_box is None)
    qtbot.waitUntil(lambda: not widget.loading, timeout=60000)  # the next case, if any
    return text


def test_three_readers_read_the_study_with_mouse_and_keys(
    make_napari_viewer, qtbot, phantom_cases, tmp_path
):
    from napari_uspio._napari.bindings import binding_for
    from napari_uspio.core.study.manifest import init_study, load_study

    roles = ("t1_pre_gd", "t1_post_gd", "t1_pre_uspio", "t1_post_uspio", "flair")
    study = init_study(
        tmp_path / "study",
        phantom_cases(2, (64, 64, 12), 2),
        ["r1", "r2", "r3"],
        seed=5,
        shown_roles=roles,
    )
    for reader in ("r1", "r2", "r3"):
        viewer = make_napari_viewer(show=True)
        viewer.window._qt_window.resize(1600, 900)
        _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Reading desk")
        session = widget.session
        widget.tabs.setCurrentWidget(session)
        qtbot.keyClicks(session.study, str(study.folder))
        qtbot.keyClicks(session.reader, reader)
        qtbot.keyClicks(session.pin, PIN)  # the first sign-in chooses it
        qtbot.mouseClick(session.sign_in_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda s=session: not s.loading, timeout=60000)  # read on a worker
        assert session.session is not None, session.state.text()
        widget.tabs.setCurrentWidget(widget.ratings)
        for k in range(2):
            layer = viewer.layers["lesions"]
            ratings = binding_for(layer).ratings
            if k == 0:
                _type(qtbot, viewer, "Y")  # pre | post side by side, outlines on each
            assert desk_for(viewer).compare.active  # and it stays so at the next case
            for n, (x, y) in enumerate(((0.25, 0.25), (0.75, 0.75)), start=1):
                _type(qtbot, viewer, "M")  # a new lesion, painted in a panel
                _paint_at(qtbot, viewer, x, y)
                assert (np.asarray(layer.data) == n).any(), f"{reader}: lesion {n} not painted"
                if n == 2 and k == 0:
                    continue  # left unrated: Mark case done says so
                for key in RATING_KEYS[n - 1]:
                    _type(qtbot, viewer, key)
                assert ratings.get(n).complete, desk_for(viewer).message
            assert layer.mode == "paint" and layer.visible  # no key changed napari's state
            if k == 0:  # strokes and ratings undo and redo in one history, from the canvas
                undo, redo = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
                _type(qtbot, viewer, "Z", undo)  # lesion 2's stroke
                assert not (np.asarray(layer.data) == 2).any()
                _type(qtbot, viewer, "Z", undo)  # lesion 1's confidence
                assert ratings.get(1).confidence is None
                for _ in range(2):
                    _type(qtbot, viewer, "Z", undo | redo)
                assert ratings.get(1).confidence == "medium"
                assert (np.asarray(layer.data) == 2).any()
            qtbot.mouseClick(session.done_button, Qt.MouseButton.LeftButton)
            if k == 0:
                text = _confirm(qtbot, session, "Keep reading")
                assert "Lesion 2 is not fully rated (1 of 2 lesions)." in text
                assert session.session.entry is not None  # nothing locked
                _type(qtbot, viewer, "N")  # the unrated one, from the canvas
                assert int(layer.selected_label) == 2
                for key in RATING_KEYS[1]:
                    _type(qtbot, viewer, key)
                qtbot.mouseClick(session.done_button, Qt.MouseButton.LeftButton)
            assert "not fully rated" not in _confirm(qtbot, session, "Mark done")
        assert "all 2 cases done" in session.state.text()
        session.sign_out()

    with load_study(study.folder).open_store() as store:
        assert all(p.done == p.total == 2 for p in store.status())
        for reader in ("r1", "r2", "r3"):
            for entry in store.order(reader):
                rated = store.ratings(reader, entry.code)
                assert sorted(rated) == [1, 2] and rated[1]["overlap"] == "20-80%"
                assert rated[2]["confidence"] == "high"
            assert store.pin_hash(reader) is not None
