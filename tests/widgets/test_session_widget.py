"""A blinded reading session in the GUI: codes only, autosave, resume, nothing leaks."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ui_strings
from napari.utils.notifications import notification_manager

from napari_uspio import make_phantom
from napari_uspio._napari.bindings import binding_for
from napari_uspio.core.study.manifest import init_study, load_study

READERS = ("reader_anna", "reader_bob", "reader_cleo")
CASES = ("sub-101_ses-01", "sub-102_ses-01", "sub-103_ses-02")


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("blind")
    for seed, name in enumerate(CASES, start=1):
        make_phantom(root / "cases" / name, seed=seed, shape_xyz=(96, 96, 20))
    init_study(root / "study", root / "cases", list(READERS), seed=11)
    return root / "study"


def _sign_in(make_napari_viewer, study_dir, reader):
    viewer = make_napari_viewer()
    _, session = viewer.window.add_plugin_dock_widget("napari-uspio", "Reading session")
    viewer.window.add_plugin_dock_widget("napari-uspio", "Lesions", tabify=True)
    _, ratings = viewer.window.add_plugin_dock_widget("napari-uspio", "Ratings", tabify=True)
    session.study.setText(str(study_dir))
    session.reader.setText(reader)
    session.sign_in()
    return viewer, session, ratings


def test_blind_session_autosaves_resumes_and_leaks_nothing(make_napari_viewer, study_dir):
    first_note = len(notification_manager.records)  # notifications of this test only
    viewer, widget, ratings_widget = _sign_in(make_napari_viewer, study_dir, READERS[0])
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
    viewer2, widget2, _ = _sign_in(make_napari_viewer, study_dir, READERS[0])
    assert widget2.session.entry.code == first.code
    np.testing.assert_array_equal(viewer2.layers["lesions"].data, painted)
    assert widget2.session.binding.ratings.get(1).comment == "looks active"
    assert widget2.session.store.case_state(READERS[0], first.code).seconds_spent >= 7

    # done locks the case and opens the next; reopening is explicit and audited
    widget2.mark_done()
    assert widget2.session.entry.code == order[1].code
    assert "case 2 of 3" in widget2.state.text()
    assert widget2.done_cases.itemText(0) == first.code
    widget2.reason.setText("missed a lesion")
    widget2.reopen()
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


def test_coordinator_creates_a_study_from_the_gui(make_napari_viewer, study_dir, tmp_path):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Reading session")
    widget.study.setText(str(tmp_path / "new_study"))
    widget.cases_dir.setText(str(study_dir.parent / "cases"))
    widget.reader_ids.setText("ra, rb")
    widget.seed.setValue(42)
    widget.create_button.click()
    study = load_study(tmp_path / "new_study")
    assert study.seed == 42 and [r.id for r in study.readers] == ["ra", "rb"]
    assert sorted(study.cases) == sorted(CASES)
    assert "Study created: 3 cases" in widget.state.text()
    widget.create_button.click()  # a second time: refused, clearly, nothing broken
    assert widget.state.text().startswith("Not done:")


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
