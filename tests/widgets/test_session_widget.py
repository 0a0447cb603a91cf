"""A blinded reading session in the GUI: codes only, autosave, resume, nothing leaks."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import ui_strings
from napari.utils.notifications import notification_manager
from qtpy.QtCore import Qt

from napari_uspio import make_phantom
from napari_uspio._napari.bindings import binding_for
from napari_uspio.core.study.manifest import init_study, load_study

READERS = ("reader_anna", "reader_bob", "reader_cleo")
PIN = "9753"  # each reader's, chosen at their first sign-in
CASES = ("sub-101_ses-01", "sub-102_ses-01", "sub-103_ses-02")
SHOT_ENV = "NAPARI_USPIO_SHOT"  # a PNG path: the server-study test saves a window grab


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("blind")
    for seed, name in enumerate(CASES, start=1):
        make_phantom(root / "cases" / name, seed=seed, shape_xyz=(96, 96, 20))
    init_study(root / "study", root / "cases", list(READERS), seed=11)
    return root / "study"


def _sign_in(make_napari_viewer, qtbot, study_dir, reader, pin=PIN):
    viewer = make_napari_viewer()
    _, session = viewer.window.add_plugin_dock_widget("napari-uspio", "Reading session")
    viewer.window.add_plugin_dock_widget("napari-uspio", "Lesions", tabify=True)
    _, ratings = viewer.window.add_plugin_dock_widget("napari-uspio", "Ratings", tabify=True)
    qtbot.keyClicks(session.study, str(study_dir))
    qtbot.keyClicks(session.reader, reader)
    qtbot.keyClicks(session.pin, pin)
    qtbot.keyClick(session.pin, Qt.Key.Key_Return)  # Enter in the PIN field signs in
    _opened(qtbot, session)
    return viewer, session, ratings


def _opened(qtbot, widget) -> None:
    """Wait until the case being read on the worker is shown."""
    qtbot.waitUntil(lambda: not widget.loading, timeout=60000)


def _answer(qtbot, widget, answer: str) -> str:
    """Answer the open *Mark case done* question; return its text."""
    box = widget.confirm_box
    assert box is not None and box.isVisible()
    text = box.text()
    qtbot.mouseClick(
        next(b for b in box.buttons() if b.text() == answer), Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: widget.confirm_box is None)
    _opened(qtbot, widget)
    return text


def test_blind_session_autosaves_resumes_and_leaks_nothing(make_napari_viewer, qtbot, study_dir):
    first_note = len(notification_manager.records)  # notifications of this test only
    viewer, widget, ratings_widget = _sign_in(make_napari_viewer, qtbot, study_dir, READERS[0])
    session = widget.session
    first = session.entry
    order = load_study(study_dir).order(READERS[0])
    assert first.code == order[0].code and first.code in viewer.title
    assert "case 1 of 3" in widget.state.text()
    widget._clock.stop()  # drive the clock by hand
    widget._tick()
    assert "0:01 on this case" in widget.state.text() and "case 1 of 3" in widget.state.text()
    layer = viewer.layers["lesions"]
    assert binding_for(layer) is session.binding
    assert not ratings_widget.reading.isVisibleTo(ratings_widget)  # no file export in a study
    layer.brush_size = 4
    with layer.block_history():
        layer.paint((6, 30, 30), 1)
    session.binding.ratings.set(1, gd="shell", uspio="ring", comment="looks active")
    painted = np.array(layer.data, copy=True)
    widget._unsaved_s = 7
    widget._flush_time()

    # a fresh process would see it all: resume in a new viewer on the same case
    viewer2, widget2, _ = _sign_in(make_napari_viewer, qtbot, study_dir, READERS[0])
    assert widget2.session.entry.code == first.code
    np.testing.assert_array_equal(viewer2.layers["lesions"].data, painted)
    assert widget2.session.binding.ratings.get(1).comment == "looks active"
    assert widget2.session.store.case_state(READERS[0], first.code).seconds_spent >= 7

    # done locks the case and opens the next; reopening is explicit and audited
    widget2.mark_done()
    asked = _answer(qtbot, widget2, "Mark done")  # lesion 1 has Gd and USPIO only
    assert asked == f"Mark case {first.code} done? Lesion 1 is not fully rated (1 of 1 lesions)."
    assert widget2.session.entry.code == order[1].code
    assert "case 2 of 3" in widget2.state.text()
    assert widget2.done_cases.itemText(0) == first.code
    widget2.reason.setText("missed a lesion")
    widget2.reopen()
    _opened(qtbot, widget2)
    assert widget2.session.entry.code == first.code
    log = widget2.session.store.audit_log(READERS[0])
    assert any(e.action == "reopen" and "missed a lesion" in str(e.detail) for e in log)

    # nothing identifying anywhere in either viewer's UI
    leaks = [str(study_dir.parent / "cases"), "sub-", "ses-", "phantom", *CASES, *READERS[1:]]
    leaks += [p.name for p in (study_dir.parent / "cases" / CASES[0]).glob("*.nii.gz")]
    strings = ui_strings(viewer, widget, first_note) + ui_strings(viewer2, widget2, first_note)
    assert any(first.code in text for text in strings)  # the scan does see the UI
    for text in strings:
        for leak in leaks:
            assert leak not in text, f"{leak!r} shown in {text!r}"


def test_pin_is_chosen_once_then_needed_and_done_asks_first(make_napari_viewer, qtbot, study_dir):
    reader = READERS[1]
    viewer, widget, _ = _sign_in(make_napari_viewer, qtbot, study_dir, reader, pin="")
    assert widget.session is None and "choose a PIN of at least 4" in widget.state.text()
    qtbot.keyClicks(widget.pin, PIN)
    qtbot.mouseClick(widget.sign_in_button, Qt.MouseButton.LeftButton)
    _opened(qtbot, widget)
    assert widget.session is not None and widget.pin.text() == ""  # the PIN is now theirs
    first = widget.session.entry.code
    viewer2, other, _ = _sign_in(make_napari_viewer, qtbot, study_dir, reader, pin="1111")
    assert other.session is None and "wrong PIN for reader" in other.state.text()
    log = widget.session.store.audit_log(reader)
    assert [e.action for e in log].count("set pin") == 1
    assert log[-1].action == "refused sign-in" and log[-1].detail == "wrong PIN"

    # no lesion yet: Mark case done says so, and Keep reading locks nothing
    widget.done_button.click()
    text = _answer(qtbot, widget, "Keep reading")
    assert text == f"Mark case {first} done? The case has no lesion delineated."
    assert widget.session.entry.code == first
    # a lesion not fully rated: named by its id
    layer = viewer.layers["lesions"]
    layer.brush_size = 3
    layer.paint((4, 40, 40), 1)
    layer.paint((4, 60, 60), 2)
    widget.session.binding.ratings.set(1, gd="none", uspio="none", qsm_rim="absent")
    widget.session.binding.ratings.set(1, central_vein="absent", confidence="high")
    widget.done_button.click()
    assert "Lesion 2 is not fully rated (1 of 2 lesions)." in _answer(qtbot, widget, "Mark done")
    assert widget.session.entry.code != first
    assert widget.session.store.case_state(reader, first).status == "done"


def test_study_shows_only_its_roles(make_napari_viewer, study_dir, tmp_path):
    from napari_uspio._napari.reading_session import ReadingSession
    from napari_uspio.core.study.session import StudySession

    init_study(
        tmp_path / "s",
        study_dir.parent / "cases",
        ["ra"],
        seed=3,
        shown_roles=("flair", "m0", "mmt"),
    )
    viewer = make_napari_viewer()
    session = ReadingSession(StudySession(tmp_path / "s", "ra"))
    session.open_next(viewer)
    assert [layer.name for layer in viewer.layers] == [
        "flair",
        "m0",
        "mmt",
        "mtr",
        "wm_mask",
        "lesions",
    ]
    session.close_case(viewer)
    assert len(viewer.layers) == 0 and viewer.title.endswith("reading session")


def test_a_case_that_cannot_be_read_is_reported_blind_when_reached(
    make_napari_viewer, qtbot, phantom_cases, tmp_path
):
    import shutil

    from napari_uspio.core.adjudication.status import status_lines

    shutil.copytree(phantom_cases(2, (64, 64, 12), 2), tmp_path / "cases")
    study = init_study(tmp_path / "study", tmp_path / "cases", [READERS[0]], seed=2)
    second = study.order(READERS[0])[1]
    flair = next(study.case_folder(second.case_id).glob("*FLAIR*.nii.gz"))
    intact = flair.read_bytes()
    flair.write_bytes(intact[:2000])  # truncated: its prefetch fails, quietly for now
    viewer, widget, _ = _sign_in(make_napari_viewer, qtbot, study.folder, READERS[0])
    assert widget.session.entry is not None and "Not done" not in widget.state.text()
    layers = list(viewer.layers)

    widget.mark_done()
    _answer(qtbot, widget, "Mark done")
    text = widget.state.text()
    assert f"Not done: case {second.code} cannot be opened" in text and "coordinator" in text
    assert "sub-" not in text and flair.name not in text  # blind: the code only
    assert list(viewer.layers) == layers and not viewer.layers["lesions"].editable  # locked
    assert not widget.progress.isVisible() and widget.next_button.isEnabled()
    assert any(flair.name in line for line in status_lines(study))  # the coordinator sees it

    flair.write_bytes(intact)  # the coordinator replaced the file
    qtbot.mouseClick(widget.next_button, Qt.MouseButton.LeftButton)
    _opened(qtbot, widget)
    assert widget.session.entry.code == second.code and viewer.layers["lesions"].editable
    assert list(viewer.layers) == layers  # swapped into the same layers


def test_a_server_study_shows_what_waits_to_be_sent(
    make_napari_viewer, qtbot, phantom_cases, pg_url, pg_server, tmp_path, monkeypatch
):
    from napari_uspio.core.study.spool import SPOOL_ENV

    monkeypatch.setenv(SPOOL_ENV, str(tmp_path / "spool"))
    study = init_study(tmp_path / "study", phantom_cases(2, (64, 64, 12), 5), ["r1"], seed=3,
                       store=pg_url)  # fmt: skip
    viewer, widget, _ = _sign_in(make_napari_viewer, qtbot, study.folder, "r1")
    widget._clock.stop()
    store = widget.session.core.store
    qtbot.waitUntil(lambda: store.pending() == 0, timeout=20000)
    widget._tick()
    assert "all changes are on the server" in widget.state.text()
    layer = viewer.layers["lesions"]
    pg_server.kill()
    try:
        with layer.block_history():
            layer.paint((6, 30, 30), 1)  # painting goes on: the spool acknowledges it
        qtbot.waitUntil(lambda: store.sender.offline_since is not None, timeout=20000)
        widget._tick()
        text = widget.state.text()
        assert "waiting to be sent (server unreachable since" in text, text
        if SHOT_ENV in os.environ:  # a look at the widget while the server is down
            widget.parentWidget().raise_()
            qtbot.wait(50)
            viewer.window._qt_window.grab().save(os.environ[SHOT_ENV])
    finally:
        pg_server.start()
    qtbot.waitUntil(lambda: store.pending() == 0, timeout=30000)
    widget._tick()
    assert "all changes are on the server" in widget.state.text()
