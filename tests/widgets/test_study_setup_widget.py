"""The coordinator's Study setup dock: create a study, reset a PIN, see progress."""

from __future__ import annotations

from qtpy.QtCore import Qt

from napari_uspio.core.study.manifest import load_study
from napari_uspio.core.study.session import StudySession


def test_coordinator_creates_a_study_resets_a_pin_and_sees_progress(
    make_napari_viewer, qtbot, phantom_cases, tmp_path
):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Study setup (coordinator)")
    cases = phantom_cases(2, (64, 64, 12), 2)
    qtbot.keyClicks(widget.study, str(tmp_path / "new_study"))
    qtbot.keyClicks(widget.cases_dir, str(cases))
    qtbot.keyClicks(widget.reader_ids, "ra, rb")
    qtbot.keyClicks(widget.adjudicator_ids, "adj")
    widget.seed.setValue(42)
    qtbot.mouseClick(widget.create_button, Qt.MouseButton.LeftButton)
    study = load_study(tmp_path / "new_study")
    assert study.seed == 42 and [r.id for r in study.readers] == ["ra", "rb", "adj"]
    assert sorted(study.cases) == ["sub-01", "sub-02"]
    assert "Study created: 2 cases" in widget.state.text()
    qtbot.mouseClick(widget.create_button, Qt.MouseButton.LeftButton)  # again: refused
    assert widget.state.text().startswith("Not done:")

    # ra chooses a PIN, forgets it; the coordinator resets it; ra chooses another
    StudySession(study.folder, "ra", "1234").close()
    qtbot.keyClicks(widget.pin_reader, "ra")
    qtbot.mouseClick(widget.reset_pin_button, Qt.MouseButton.LeftButton)
    assert "PIN of ra reset" in widget.state.text()
    StudySession(study.folder, "ra", "5678").close()
    widget.pin_reader.setText("nobody")
    qtbot.mouseClick(widget.reset_pin_button, Qt.MouseButton.LeftButton)
    assert "Not done:" in widget.state.text() and "nobody" in widget.state.text()

    # status on a worker: readers' progress and the adjudicator's
    qtbot.mouseClick(widget.status_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "adjudication adj" in widget.status.toPlainText(), timeout=20000)
    lines = widget.status.toPlainText().splitlines()
    assert lines[0].endswith("2 cases, seed 42")
    assert lines[1].split()[:3] == ["reader", "role", "done"]
    assert any(line.startswith("ra ") and "0 of 2" in line for line in lines)
    assert lines[-1] == (
        "adjudication adj: 0 of 0 disputed items decided, 0 pending; cases ready 0, "
        "waiting for readers 2"
    )
